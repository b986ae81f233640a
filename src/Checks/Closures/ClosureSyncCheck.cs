using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Closures;

/// <summary>
/// closure_sync() on a stack closure: the waiter takes one ref per putter, hands the closure
/// and an on-stack buffer to the putters, and syncs. Each putter writes its slot of the buffer,
/// then closure_put(). closure_sync() must return only after every put, the buffer writes must
/// be visible after it returns, and nobody may touch the syncer or the closure once the
/// waiter's frame is gone.
/// </summary>
public abstract class ClosureSyncCheckBase : Check
{
    protected abstract int Putters { get; }

    protected virtual bool Upstream => false;

    /// <summary>Each putter also reads closure_nr_remaining() while it holds its ref (concurrently with the other puts).</summary>
    protected virtual bool PutterReadsRemaining => false;

    public override IReadOnlyList<Type> Primitives => Upstream ? [typeof(ClosureUpstream)] : [typeof(Closure)];

    public override IReadOnlyList<Variant> Variants => Upstream ? s_upstreamVariants : s_variants;

    private static readonly IReadOnlyList<Variant> s_variants =
    [
        ClosureVariants.FixedSync,
        ClosureVariants.SyncWakeupRace,
        ClosureVariants.SyncFnDoneHoisted,
        ClosureVariants.SyncRelaxedFastpath,
        ClosureVariants.SyncDoneAcquire,
    ];

    // The syncer bugs (C1, C2) and C3 belong to code the upstream form no longer has.
    private static readonly IReadOnlyList<Variant> s_upstreamVariants = [ClosureVariants.UpstreamFixedSync, ClosureVariants.UpstreamAcquireFixes];

    private sealed class Io : KObject
    {
        public Io(ClosureFlavor f, int n)
        {
            Cl = f.New("io.cl");
            Data = Enumerable.Range(0, n).Select(i => new Loc<int>($"io.data[{i}]")).ToArray();
        }

        public IClosure Cl { get; }
        public Loc<int>[] Data { get; }
    }

    public override Scenario Build(Variant variant) => new(Putters + 1, ex =>
    {
        var cv = new ClosureFlavor(Upstream, variant);
        var n = Putters;
        var waiterReturned = new Loc<int>("waiter returned");
        ex.Spawn("waiter", 0, async () =>
        {
            var io = OnStack(() => new Io(cv, n), "io");
            await io.Cl.ClosureInitStack();
            for (var i = 0; i < n; i++)
            {
                var idx = i;
                await io.Cl.ClosureGet();
                ex.Spawn($"putter{idx}", idx + 1, async () =>
                {
                    await PlainWrite(io.Data[idx], 1);
                    if (PutterReadsRemaining)
                    {
                        var r = await io.Cl.ClosureNrRemaining();
                        Assert(r >= 1, $"putter{idx} holds a ref but closure_nr_remaining() is {r}");
                    }

                    await io.Cl.ClosurePut();
                });
            }

            await io.Cl.ClosureSync();
            var r = await ClosureNrRemainingOf(io.Cl);
            Assert(r == 1, $"closure_sync() returned with {r} refs remaining (expected only ours)");
            for (var i = 0; i < n; i++)
            {
                var d = await PlainRead(io.Data[i]);
                Assert(d == 1, $"after closure_sync() io.data[{i}] is {d}: the put's prior write is not visible");
            }

            FrameReturn(io);
            await WriteOnce(waiterReturned, 1);
        });
        ex.AtEnd("waiter returned", () => Assert(waiterReturned.Peek() == 1, "the waiter never returned"));
    });

    private static ValueTask<int> ClosureNrRemainingOf(IClosure cl) => cl.ClosureNrRemaining();
}

[Check]
public sealed class ClosureSyncCheck : ClosureSyncCheckBase
{
    protected override int Putters => 1;

    public override string Name => "closure-sync";

    public override string Description =>
        "waiter + 1 putter: closure_sync() returns after the put, sees its data, never touches the on-stack syncer after returning";
}

/// <summary>
/// closure-sync with the putter reading closure_nr_remaining() (a relaxed atomic_read() of a
/// count other tasks change: how bcachefs uses it, in debug checks and progress reports) while
/// it holds its ref, concurrently with the waiter's own put in closure_sync(). The read must be
/// marked: made plain, it races with that put.
/// </summary>
[Check]
public sealed class ClosureSyncNrRemainingCheck : ClosureSyncCheckBase
{
    protected override int Putters => 1;

    protected override bool PutterReadsRemaining => true;

    public override string Name => "closure-sync.nr-remaining";

    public override string Description =>
        "closure-sync, the putter also reading closure_nr_remaining() while it holds its ref: at least its own ref, no race with the waiter's put";

    public override IReadOnlyList<Variant> Variants { get; } = [ClosureVariants.FixedSync, ClosureVariants.SyncDoneAcquire];
}

[Check]
public sealed class ClosureSync3TaskCheck : ClosureSyncCheckBase
{
    protected override int Putters => 2;

    public override string Name => "closure-sync.2-putters";

    public override string Description =>
        "waiter + 2 putters: closure_sync() returns after every put, sees their data, never touches the on-stack syncer after returning";
}

[Check]
public sealed class ClosureSyncUpstreamCheck : ClosureSyncCheckBase
{
    protected override int Putters => 1;

    protected override bool Upstream => true;

    public override string Name => "closure-sync@upstream";

    public override string Description =>
        "closure-sync on the current upstream closures (CLOSURE_SLEEPING): returns after the put, sees its data, the putter never touches the closure after its final cmpxchg";
}

[Check]
public sealed class ClosureSync2PuttersUpstreamCheck : ClosureSyncCheckBase
{
    protected override int Putters => 2;

    protected override bool Upstream => true;

    public override string Name => "closure-sync.2-putters@upstream";

    public override string Description =>
        "closure-sync.2-putters on the current upstream closures (CLOSURE_SLEEPING)";
}

/// <summary>
/// C7: closure_sync() on a closure that was kzalloc'd and never initialised (bcachefs'
/// O_DIRECT path when no bio was submitted) must be a no-op; a second dio with a real
/// completion runs alongside.
/// </summary>
[Check]
public class ClosureSyncZeroedCheck : Check
{
    protected virtual bool Upstream => false;

    /// <summary>Each putter also reads closure_nr_remaining() while it holds its ref (concurrently with the other puts).</summary>
    protected virtual bool PutterReadsRemaining => false;

    public override string Name => "closure-sync-zeroed";

    public override string Description =>
        "closure_sync() on a zeroed (never initialised) closure is a no-op; a second, initialised closure syncs on a completion";

    public override IReadOnlyList<Type> Primitives => [typeof(Closure)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        ClosureVariants.FixedSync,
        ClosureVariants.SyncZeroedFastpath,
        ClosureVariants.SyncDoneAcquire,
    ];

    private sealed class Dio : KObject
    {
        public Dio(string name, ClosureFlavor f) => Cl = f.New(name + "->cl");

        public IClosure Cl { get; }
    }

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var cv = new ClosureFlavor(Upstream, variant);
        ex.Spawn("dio", 0, async () =>
        {
            // No bio was submitted: the closure was never initialised.
            var idle = Kzalloc(() => new Dio("idle", cv), "idle_dio");
            await idle.Cl.ClosureSync();
            await Kfree(idle);

            var dio = Kzalloc(() => new Dio("dio", cv), "dio");
            await dio.Cl.ClosureInit(null);
            await dio.Cl.ClosureGet();
            ex.Spawn("bio_endio", 1, async () => await dio.Cl.ClosurePut());
            await dio.Cl.ClosureSync();
            var r = await dio.Cl.ClosureNrRemaining();
            Assert(r == 1, $"closure_sync() returned with {r} refs remaining");
            await Kfree(dio);
        });
    });
}

/// <summary>C7 where it actually happened: the 2026 regression was in the CLOSURE_SLEEPING code.</summary>
[Check]
public sealed class ClosureSyncZeroedUpstreamCheck : ClosureSyncZeroedCheck
{
    protected override bool Upstream => true;

    public override string Name => "closure-sync-zeroed@upstream";

    public override string Description =>
        "closure-sync-zeroed on the current upstream closures: closure_sync() on a zeroed closure is a no-op";

    public override IReadOnlyList<Type> Primitives => [typeof(ClosureUpstream)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        ClosureVariants.UpstreamFixed,
        ClosureVariants.UpstreamSyncZeroedFastpath,
    ];
}
