using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Closures;

/// <summary>
/// closure_sync_timeout() on a stack closure against the final closure_put() (the race the 2025-10
/// CLOSURE_SLEEPING series fixed). The waiter syncs with a timeout; if it elapses it waits for the
/// rest without one ("still waiting" style, as bcachefs does), then reads the putter's data and
/// returns. Nobody may touch the closure or its syncer once the waiter's frame is gone.
/// </summary>
[Check]
public sealed class ClosureSyncTimeoutUpstreamCheck : Check
{
    public override string Name => "closure-sync-timeout@upstream";

    public override string Description =>
        "waiter closure_sync_timeout() (timer may fire) + 1 putter: returns after the put or undoes cleanly, never leaves the putter on a dead stack closure";

    public override IReadOnlyList<Type> Primitives => [typeof(ClosureUpstream)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        ClosureVariants.SleeperRace(ClosureVariants.UpstreamFixedSync),
        ClosureVariants.UpstreamSyncerTimeoutRace,
        ClosureVariants.SleeperRace(ClosureVariants.UpstreamAcquireFixes),
    ];

    private sealed class Io : KObject
    {
        public Io(ClosureUpstreamVariant v)
        {
            Cl = new ClosureUpstream("io.cl", v);
            Data = new Loc<int>("io.data");
        }

        public ClosureUpstream Cl { get; }
        public Loc<int> Data { get; }
    }

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var cv = ClosureVariants.UpstreamOf(variant);
        var waiterReturned = new Loc<int>("waiter returned");
        ex.Spawn("waiter", 0, async () =>
        {
            var io = OnStack(() => new Io(cv), "io");
            await io.Cl.ClosureInitStack();
            await io.Cl.ClosureGet();
            ex.Spawn("putter", 1, async () =>
            {
                await WriteOnce(io.Data, 1);
                await io.Cl.ClosurePut();
            });

            if (await io.Cl.ClosureSyncTimeout(timeout: 1) != 0)
            {
                Note("closure_sync_timeout() timed out: wait for the rest");
                await io.Cl.ClosureSync();
            }

            var d = await ReadOnce(io.Data);
            Assert(d == 1, $"after the sync io.data is {d}: it returned before the put");
            FrameReturn(io);
            await WriteOnce(waiterReturned, 1);
        });
        ex.AtEnd("waiter returned", () => Assert(waiterReturned.Peek() == 1, "the waiter never returned"));
    });
}
