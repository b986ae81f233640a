using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Closures;

/// <summary>
/// closure_wait_event(&amp;waitlist, flag != 0) in each waiter; a waker sets the flag and calls
/// closure_wake_up(). No wakeup may be lost (a Hang), no waiter may return with the condition
/// false, and no stack closure may be left on the waitlist (or touched) after its owner returns;
/// at every step, a closure on the waitlist is live (<see cref="ClosureWaitlistInvariant"/>).
/// </summary>
public abstract class ClosureWaitEventCheckBase : Check
{
    protected abstract int Waiters { get; }

    protected virtual bool Upstream => false;

    public override IReadOnlyList<Type> Primitives => Upstream ? [typeof(ClosureUpstream)] : [typeof(Closure)];

    public override IReadOnlyList<Variant> Variants => Upstream ? s_upstreamVariants : s_variants;

    private static readonly IReadOnlyList<Variant> s_variants =
    [
        ClosureVariants.FixedSync,
        ClosureVariants.WaitEventCondBeforeWait,
        ClosureVariants.SyncDoneAcquire,
    ];

    private static readonly IReadOnlyList<Variant> s_upstreamVariants =
    [
        ClosureVariants.UpstreamFixed,
        ClosureVariants.WaitEventCondBeforeWait,
    ];

    public override Scenario Build(Variant variant) => Scenario(new ClosureFlavor(Upstream, variant), Upstream, Waiters);

    /// <summary>The scenario with <paramref name="cv"/>'s closure code (a test's broken port, too); <paramref name="upstream"/> picks the remaining bits the waitlist invariant reads.</summary>
    public static Scenario Scenario(ClosureFlavor cv, bool upstream, int waiters, bool waitlistInvariant = true) => new(waiters + 1, ex =>
    {
        var list = new ClosureWaitlist("waitlist");
        var flag = new Loc<int>("flag");
        var returned = new Loc<int>("waiters returned");
        if (waitlistInvariant)
            ClosureWaitlistInvariant.Declare(ex, list, upstream);
        for (var i = 0; i < waiters; i++)
        {
            ex.Spawn($"waiter{i}", i, async () =>
            {
                await cv.WaitEvent(list, async () => await ReadOnce(flag) != 0);
                var f = await ReadOnce(flag);
                Assert(f != 0, "closure_wait_event() returned with the condition false");
                await WriteOnce(returned, await ReadOnce(returned) + 1);
            });
        }

        ex.Spawn("waker", waiters, async () =>
        {
            await WriteOnce(flag, 1);
            await cv.WakeUp(list);
        });

        ex.AtEnd("waitlist empty", () =>
            Assert(list.List.First.Peek() == null, $"{list.List.First.Peek()?.DisplayName} is still on the waitlist after its owner returned"));
    });
}

[Check]
public sealed class ClosureWaitEventCheck : ClosureWaitEventCheckBase
{
    protected override int Waiters => 1;

    public override string Name => "closure-wait-event";

    public override string Description =>
        "closure_wait_event() waiter + waker (flag, closure_wake_up): no lost wakeup, condition true on return, waitlist empty";
}

[Check]
public sealed class ClosureWaitEvent2WaitersCheck : ClosureWaitEventCheckBase
{
    protected override int Waiters => 2;

    public override string Name => "closure-wait-event.2-waiters";

    // The sync-done-acquire fix is searched exhaustively on the 1-waiter scenario (296
    // executions); here its lkmm search takes 319,800 executions (63 s) for no new shape.
    public override IReadOnlyList<Variant> Variants { get; } =
    [
        ClosureVariants.FixedSync,
        ClosureVariants.WaitEventCondBeforeWait,
    ];

    public override string Description =>
        "2 closure_wait_event() waiters + 1 waker on one waitlist: no lost wakeup, condition true on return, waitlist empty";
}

[Check]
public sealed class ClosureWaitEventUpstreamCheck : ClosureWaitEventCheckBase
{
    protected override int Waiters => 1;

    protected override bool Upstream => true;

    public override string Name => "closure-wait-event@upstream";

    public override string Description =>
        "closure-wait-event on the current upstream closure_wait_event() (CLASS(closure_stack) with its closure_sync() destructor)";
}

[Check]
public sealed class ClosureWaitEvent2WaitersUpstreamCheck : ClosureWaitEventCheckBase
{
    protected override int Waiters => 2;

    protected override bool Upstream => true;

    public override string Name => "closure-wait-event.2-waiters@upstream";

    public override string Description =>
        "closure-wait-event.2-waiters on the current upstream closure_wait_event()";
}
