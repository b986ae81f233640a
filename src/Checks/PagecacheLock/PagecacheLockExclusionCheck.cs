using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// The lock alone, in its later bcachefs form two_state_lock_t: two adders and a blocker. Add and
/// block are never held at once (checked on every acquisition), nobody sleeps forever, the
/// count returns to 0.
/// </summary>
[Check]
public sealed class PagecacheLockExclusionCheck : Check
{
    public override string Name => "pagecache-lock";

    public override string Description => "two_state_lock_t: 2 adders + 1 blocker, exclusion and no lost wakeup";

    public override IReadOnlyList<Type> Primitives => [typeof(TwoStateLock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("bch2_two_state_lock/unlock"),
        new("trylock-no-cmpxchg",
            "own mutation: bch2_two_state_trylock() tests the state, then atomic_long_add()s: an adder and a blocker both get in",
            Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) => new(3, ex =>
    {
        var l = new TwoStateLock("lock", variant.Name == "fixed" ? TwoStateVariant.Fixed : TwoStateVariant.TrylockNoCmpxchg);
        for (var t = 0; t < 3; t++)
        {
            var s = t < 2 ? 1 : 0;
            ex.Spawn(s == 1 ? $"add{t}" : "block", t, async () =>
            {
                await l.Bch2TwoStateLock(s);
                Note(s == 1 ? "in add state" : "in block state"); // the lock's own get asserts exclusion
                await l.Bch2TwoStateUnlock(s);
            });
        }

        ex.AtEnd("lock free", () => Assert(l.V.Peek() == 0, $"lock count {l.V.Peek()} at the end"));
    });
}
