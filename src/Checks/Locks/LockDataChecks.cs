using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Basics;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Locks;

// The other locks of the weakened-barrier benchmark around the same protected plain data as
// qspinlock and MCS, so that a lost acquire or release shows as a stale read. Their own
// checks (ticket-spinlock, pagecache-lock) test exclusion through marked or ghost state only,
// where a missing ordering of the critical section goes unseen.
// The OSQ has no such check on purpose: its hand-off is WRITE_ONCE(next->locked, 1) against a
// relaxed spin, so it orders nothing for an owner section (mutex_optimistic_spin() takes the
// mutex with its own acquire once it owns the OSQ). Plain data under the OSQ alone does read
// stale under lkmm, as the design says it may; the OSQ benchmark runs the osq check instead.

/// <summary>The generic ticket spinlock around plain protected data.</summary>
[Check]
public sealed class TicketSpinlockDataCheck : Check
{
    public override string Name => "ticket-spinlock-data";

    public override string Description => "generic ticket spinlock, 2 CPUs x 2 rounds around plain protected data: one holder, no stale read, no hang";

    public override IReadOnlyList<Type> Primitives => [typeof(TicketSpinlock)];

    public override IReadOnlyList<Variant> Variants { get; } = [Variant.Fixed("atomic_fetch_add() takes the ticket, acquire spin on the owner, release store of the owner")];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var l = new TicketSpinlock("lock");
        LockTorture.Spawn(ex, 2, 2, _ => l.ArchSpinLock(), _ => l.ArchSpinUnlock());
    });
}

/// <summary>
/// bcachefs's two-state shared lock with one adder and one blocker, each writing the protected
/// data in its state: the two states exclude each other, so each must see the other's writes.
/// </summary>
[Check]
public sealed class TwoStateLockDataCheck : Check
{
    public override string Name => "two-state-lock-data";

    public override string Description => "two_state_lock_t, an adder and a blocker x 2 rounds around plain protected data: no stale read, no lost wakeup";

    public override IReadOnlyList<Type> Primitives => [typeof(TwoStateLock)];

    public override IReadOnlyList<Variant> Variants { get; } = [Variant.Fixed("bch2_two_state_lock/unlock: cmpxchg_acquire() to take, atomic_long_sub_return_release() to put")];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var l = new TwoStateLock("lock");
        var data = new ProtectedData("lock");
        for (var t = 0; t < 2; t++)
        {
            var s = 1 - t;
            ex.Spawn(s == 1 ? "adder" : "blocker", t, async () =>
            {
                for (var round = 0; round < 2; round++)
                {
                    await l.Bch2TwoStateLock(s);
                    await data.CriticalSection();
                    await l.Bch2TwoStateUnlock(s);
                }
            });
        }

        ex.AtEnd("lock free", () =>
        {
            Assert(l.V.Peek() == 0, $"lock count {l.V.Peek()} at the end");
            data.CheckTotal(4);
        });
    });
}
