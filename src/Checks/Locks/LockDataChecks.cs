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
        // Tickets, not CPUs, order the waiters: any renaming of the CPUs is an execution too.
        ex.Symmetric(LockTorture.Spawn(ex, 2, 2, _ => l.ArchSpinLock(), _ => l.ArchSpinUnlock()), l.Val);
    });
}

/// <summary>
/// bcachefs's two-state shared lock with two adders and one blocker. The blocker writes its data
/// under the block state and reads each adder's; each adder writes its own data under the add
/// state and reads the blocker's. The states exclude each other, so every read must see the other
/// state's last write; the two adders hold the add state together, so an adder's put races with
/// the other's take unless both are marked.
/// </summary>
[Check]
public sealed class TwoStateLockDataCheck : Check
{
    public override string Name => "two-state-lock-data";

    public override string Description => "two_state_lock_t, two adders and a blocker, 1 round each, around plain protected data: no stale read, no lost wakeup";

    public override IReadOnlyList<Type> Primitives => [typeof(TwoStateLock)];

    public override IReadOnlyList<Variant> Variants { get; } = [Variant.Fixed("bch2_two_state_lock/unlock: cmpxchg_acquire() to take, atomic_long_sub_return_release() to put")];

    public const int Adders = 2;
    private const int BlockerRounds = 1;

    public override Scenario Build(Variant variant) => new(Adders + 1, ex => Spawn(ex, new TwoStateLock("lock")));

    /// <summary>The scenario on a given lock (pagecache-lock runs it on its variants): the tasks and the end checks.</summary>
    public static void Spawn(Execution ex, TwoStateLock l)
    {
        var blocked = new ProtectedData("blocker");
        var added = Enumerable.Range(0, Adders).Select(a => new ProtectedData($"adder{a}")).ToArray();
        ex.Spawn("blocker", 0, async () =>
        {
            for (var round = 0; round < BlockerRounds; round++)
            {
                await l.Bch2TwoStateLock(0);
                await blocked.CriticalSection();
                foreach (var a in added)
                    await a.Observe();
                await l.Bch2TwoStateUnlock(0);
            }
        });
        for (var a = 0; a < Adders; a++)
        {
            var mine = added[a];
            ex.Spawn($"adder{a}", a + 1, async () =>
            {
                await l.Bch2TwoStateLock(1);
                await mine.CriticalSection();
                await blocked.Observe();
                await l.Bch2TwoStateUnlock(1);
            });
        }

        ex.AtEnd("lock free", () =>
        {
            Assert(l.V.Peek() == 0, $"lock count {l.V.Peek()} at the end");
            blocked.CheckTotal(BlockerRounds);
            foreach (var a in added)
                a.CheckTotal(1);
        });
    }
}
