using Kmc.Checks.Framework;
using Kmc.Checks.Locks;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// The lock alone, in its later bcachefs form two_state_lock_t: two adders and a blocker around
/// plain protected data (the scenario of two-state-lock-data, on this check's variants). Add and
/// block are never held at once (checked on every acquisition), each state reads the other's
/// last writes, nobody sleeps forever, the count returns to 0.
/// </summary>
[Check]
public sealed class PagecacheLockExclusionCheck : Check
{
    public override string Name => "pagecache-lock";

    public override string Description => "two_state_lock_t: 2 adders + 1 blocker around plain protected data: exclusion, no stale read, no lost wakeup";

    public override IReadOnlyList<Type> Primitives => [typeof(TwoStateLock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("bch2_two_state_lock/unlock"),
        new("trylock-no-cmpxchg",
            "own mutation: bch2_two_state_trylock() tests the state, then atomic_long_add()s: an adder and a blocker both get in",
            Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) =>
        new(TwoStateLockDataCheck.Adders + 1, ex => TwoStateLockDataCheck.Spawn(ex,
            new TwoStateLock("lock", variant.Name == "fixed" ? TwoStateVariant.Fixed : TwoStateVariant.TrylockNoCmpxchg)));
}
