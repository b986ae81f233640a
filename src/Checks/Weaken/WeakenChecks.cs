using Kmc.Checks.Framework;
using Kmc.Checks.Locks;
using Kmc.Models;
using static Kmc.Checks.Framework.DeclaredWeakening;

namespace Kmc.Checks.Weaken;

// The weakened-barrier benchmark (kmc weaken, and every kmc ci): per primitive, a base
// scenario whose fixed code passes under sc, tso and lkmm, and one generated variant per
// ordered call that code makes. The declarations below say what each weakening does and why;
// a site the probe finds that is not declared here fails ci as "undeclared".
// Under sc and tso a weakening shows only through the data-race property (RaceBug): sc ignores
// orderings, and the tso model's RMWs are full barriers and its loads and stores are never
// reordered with each other except store->load, but happens-before is the LKMM's under every
// model, so a plain access the weakened call no longer orders is a data race everywhere.

/// <summary>
/// qspinlock in qspinlock-3cpu-2round: an owner, a pending waiter, a queue head and, in the
/// second round, a CPU queued behind a successor of that head, so that every ordered call of
/// the slowpath is reached and the successor's WRITE_ONCE(prev->next, node) races with the new
/// queue head's READ_ONCE(node->next) after the MCS hand-off (qspinlock-4cpu, one round each,
/// has no third queued node: that READ_ONCE made plain survived there).
/// </summary>
[Check]
public sealed class WeakenQspinlock : WeakenedCheck
{
    public override string Primitive => "qspinlock";
    public override Check Base { get; } = new Qspinlock3Cpu2RoundCheck();

    public override IReadOnlyList<DeclaredWeakening> Declared { get; } =
    [
        RaceBug("QueuedFetchSetPendingAcquire.atomic_fetch_or_acquire",
            "a waiter that finds the lock free when it sets pending (0,0,0 -> 0,1,0) takes it with no acquire of the last unlock: it reads the protected data stale"),
        RaceBug("QueuedSpinTrylock.atomic_try_cmpxchg_acquire",
            "the queueing path's second trylock takes a just-released lock with no acquire: stale read of the protected data"),
        RaceBug("QueuedSpinLock.atomic_try_cmpxchg_acquire",
            "the uncontended fast path takes the lock with no acquire: stale read of the previous holder's data"),
        RaceBug("QueuedSpinUnlock.smp_store_release",
            "the unlock no longer orders the critical section before the locked byte's clear: the next holder reads the data stale"),
        RaceBug("TryPending.smp_cond_load_acquire",
            "the pending waiter's wait for the owner to go away is no longer an acquire (the comment's 'lock sequentiality'): stale read"),
        RaceBug("Queue.smp_cond_load_acquire",
            "the queue head's atomic_cond_read_acquire() for owner and pending to go away is relaxed; the claim (try_cmpxchg_relaxed or set_locked) orders nothing: stale read"),
        RaceBug("Queue.smp_wmb",
            "the node's initialisation is no longer ordered before xchg_tail() and WRITE_ONCE(prev->next, node): the predecessor's hand-off "
            + "node->locked = 1 can land before the late node->locked = 0, which erases it, and the successor spins forever. This is the "
            + "arm64 bug fixed in v4.16 by \"locking/qspinlock: Ensure node is initialised before updating prev->next\""),
        Undetected("ArchMcsSpinLockContended.smp_cond_load_acquire",
            "the MCS hand-off's acquire orders the new queue head's wait on the lock word after the old head's set_locked(); without it "
            + "the LKMM lets the new head read the locked byte before set_locked() (message passing without acquire) and take the lock "
            + "too. kmc cannot show this: a spin-wait ends on the newest value of what it spins on (Models: smp_cond_load_*), so the "
            + "new head's atomic_cond_read_acquire() on the lock word always sees set_locked(), and the sub-word stores are RMWs that "
            + "cannot land late; qspinlock-4cpu exhausted within the default bounds (58848 executions under lkmm)"),
        Undetected("ArchMcsSpinUnlockContended.smp_store_release",
            "the MCS hand-off's release orders the old head's set_locked() before node->locked = 1; without it the new head may see the "
            + "hand-off before set_locked() and take the lock too (LKMM: message passing without release). kmc cannot show this, for the "
            + "same reason as the acquire side (a spin-wait ends on the newest value; sub-word stores are RMWs)"),
    ];
}

/// <summary>The MCS lock in mcs-spinlock-2cpu: a holder and a waiter queued behind it.</summary>
[Check]
public sealed class WeakenMcs : WeakenedCheck
{
    public override string Primitive => "mcs-spinlock";
    public override Check Base { get; } = new McsSpinlock2CpuCheck();

    public override IReadOnlyList<DeclaredWeakening> Declared { get; } =
    [
        RaceBug("ArchMcsSpinLockContended.smp_cond_load_acquire",
            "the waiter handed the lock (node->locked == 1) does not acquire the holder's release: it reads the protected data stale"),
        RaceBug("ArchMcsSpinUnlockContended.smp_store_release",
            "the hand-off store node->locked = 1 no longer orders the critical section before it: the next holder reads the data stale"),
        RaceBug("McsSpinLock.xchg",
            "the tail xchg() is both the lock's acquire (no predecessor: stale read of the data) and what publishes the node's init stores "
            + "(a late node->locked = 0 erases the hand-off: the waiter spins forever)"),
        RaceBug("McsSpinUnlock.cmpxchg_release",
            "the uncontended unlock (tail back to NULL) no longer orders the critical section: the next locker reads the data stale"),
    ];
}

/// <summary>The generic ticket spinlock in ticket-spinlock-data.</summary>
[Check]
public sealed class WeakenTicket : WeakenedCheck
{
    public override string Primitive => "ticket-spinlock";
    public override Check Base { get; } = new TicketSpinlockDataCheck();

    public override IReadOnlyList<DeclaredWeakening> Declared { get; } =
    [
        RaceBug("ArchSpinLock.atomic_fetch_add",
            "the fast path (the fetched owner already equals the ticket) returns with the fetch_add as its only ordering: relaxed, an "
            + "uncontended lock reads the previous holder's data stale"),
        Harmless("ArchSpinLock.smp_mb",
            "it upgrades the RCpc atomic_cond_read_acquire() to RCsc, but the fully ordered atomic_fetch_add() just before the spin already "
            + "orders everything before the lock (a previous unlock included) with everything after it; the only accesses the fence adds "
            + "are the spin's own reads, which the acquire orders (the kernel comment: \"the extra orderings are free\")"),
        Harmless("ArchSpinLock.smp_cond_load_acquire",
            "the smp_mb() right after the spin orders the spin's last read before everything after it (a relaxed read followed by a "
            + "full fence is at least an acquire), so v6.6's slow path does not need the acquire; the two are redundant with each "
            + "other, one at a time (from v6.11 the lock is atomic_fetch_add_acquire() and the spin's acquire alone)"),
        RaceBug("ArchSpinUnlock.smp_store_release",
            "the owner increment no longer orders the critical section: the next ticket holder reads the data stale"),
    ];
}

/// <summary>bcachefs's two-state shared lock (the pagecache add lock) in two-state-lock-data.</summary>
[Check]
public sealed class WeakenTwoState : WeakenedCheck
{
    public override string Primitive => "two-state-lock";
    public override Check Base { get; } = new TwoStateLockDataCheck();

    public override IReadOnlyList<DeclaredWeakening> Declared { get; } =
    [
        RaceBug("Bch2TwoStateUnlock.atomic_sub_return_release",
            "the put that lets the other state in no longer orders this state's writes: the other side reads the data stale"),
        RaceBug("Bch2TwoStateTrylock.atomic_cmpxchg_acquire",
            "taking the lock in the other state no longer acquires the last put: stale read of the data"),
    ];
}

/// <summary>
/// The OSQ in osq-1round (2 CPUs, each osq_lock() may give up). The OSQ orders nothing for its
/// owner (osq_lock()'s normal return is a relaxed spin on node->locked; the mutex it guards
/// is taken with its own acquire), so its orderings protect only its own node fields.
/// </summary>
[Check]
public sealed class WeakenOsq : WeakenedCheck
{
    public override string Primitive => "osq";
    public override Check Base => CheckRegistry.Get("osq-1round");

    public override IReadOnlyList<DeclaredWeakening> Declared { get; } =
    [
        RaceBug("OsqLock.atomic_xchg",
            "the tail xchg() publishes the node's init stores: relaxed (weaker still than the historical acquire-only-tail-xchg bug), a late "
            + "node->next = NULL erases the successor's link and both spin forever"),
        Harmless("OsqLock.smp_load_acquire",
            "the unqueue path's check of node->locked after a failed Step-A cmpxchg returns true to a caller that cannot rely on acquire "
            + "ordering from osq_lock() anyway: the normal hand-off is WRITE_ONCE(next->locked, 1) against a relaxed spin, and the "
            + "OSQ's users take their lock with their own acquire"),
        Undetected("OsqWaitNext.atomic_cmpxchg_acquire",
            "moving the tail back from the last node orders that node's later reuse; with one round no node is reused (also not "
            + "found on 3 CPUs: osq-3cpu-1round exhausted, 13482 executions)"),
        Undetected("OsqWaitNext.xchg",
            "taking node->next with xchg() orders it against a successor's concurrent unqueue (Step A/C), which needs a third CPU "
            + "(and osq-3cpu-1round, 13482 executions exhausted, does not show it either)"),
        Undetected("OsqLock.smp_wmb",
            "it orders node->prev before prev->next, which only a third CPU's unqueue (Step C, reading node->prev) observes; "
            + "osq-3cpu-1round does not show it within its bounds either (14418 executions exhausted at preemption bound 2, stale bound 2)"),
        Undetected("OsqLock.cmpxchg",
            "Step A's cmpxchg(&prev->next, node, NULL) ordering matters when prev is itself unqueueing or a successor relinks: "
            + "osq-3cpu-1round finds it (a hang, dfs execution 424), this 2-CPU benchmark cannot"),
        Undetected("OsqUnlock.atomic_cmpxchg_release",
            "the uncontended unlock's release orders the owner's node accesses before the tail reset; the next osq_lock() here only "
            + "reinitialises its own node, so one round cannot show a reordering (not on 3 CPUs either: 13482 executions exhausted)"),
        Undetected("OsqUnlock.xchg",
            "relaxed, the unlock's xchg(&node->next, NULL) still orders the hand-off WRITE_ONCE(next->locked, 1) after the successor's "
            + "node init: the hand-off goes through the pointer the xchg returned (an address dependency; the LKMM agrees, "
            + "tests/Kmc.Tests/RaceLitmus/relaxed-xchg-addr.litmus: no race). What the full barrier adds is ordering the successor's "
            + "link store before this CPU's next osq_lock() reinitialising node->next, and with one round no node is reused"),
    ];
}

/// <summary>
/// Closures in closure-sync.nr-remaining (closure-sync with the putter also reading
/// closure_nr_remaining()), on its sync-done-acquire variant: the upstream fixed code has the
/// closure_sync() read-side hole under lkmm (see ClosureSyncCheck), so the baseline is the fix
/// kmc proposes, which passes under every model.
/// </summary>
[Check]
public sealed class WeakenClosures : WeakenedCheck
{
    public override string Primitive => "closures";
    public override Check Base => CheckRegistry.Get("closure-sync.nr-remaining");

    public override IReadOnlyList<DeclaredWeakening> HarmlessPlain { get; } =
    [
        Harmless("ClosureInitStack.atomic_set",
            "closure_init_stack() sets remaining before the closure is published: every other task's access comes after the owner's "
            + "closure_get() and the hand-off of the closure to the I/O (task creation here), so a plain store there races with "
            + "nothing, like the memset() just before it"),
        Harmless("ClosurePutAfterSub.atomic_set",
            "the last put re-arms a closure whose count reached zero: nobody else holds a ref, and the next access by another task "
            + "(closure_sync()'s caller reading remaining) is ordered after it by the hand-off that follows (closure_sync_fn()'s "
            + "release of s->done, acquired by __closure_sync())"),
        Harmless("ClosureSyncFn.READ_ONCE",
            "s->task is written only when s is initialised, before cl->s = &s and continue_at()'s release put publish it: no store "
            + "races with the load. The READ_ONCE() keeps the compiler from sinking the load below the s->done store (the GCC 9.1 "
            + "miscompile, variant sync-fn-done-hoisted); in this baseline that store is an smp_store_release(), which orders the "
            + "load before it anyway"),
    ];
    public override string BaseVariant => "sync-done-acquire";

    public override IReadOnlyList<DeclaredWeakening> Declared { get; } =
    [
        Harmless("ClosureGet.atomic_inc_return",
            "closure_get() is taken by a holder of a reference; an increment that cannot be the last orders nothing anyone waits for "
            + "(refcount_inc() is relaxed for the same reason); only the BUG_ON on its result uses the value"),
        LkmmBug("ClosurePutAfterSub.smp_acquire__after_ctrl_dep",
            "the last put's control dependency no longer orders its reads of cl->fn and cl->s after the count hit zero: it reads cl->s stale "
            + "(NULL) and dereferences it (a NULL-pointer oops, reported as NullDereference with the stale load behind it)"),
        RaceBug("ClosureSub.atomic_sub_return_release",
            "closure_sync()'s own put no longer publishes cl->s and cl->fn set just before it: the last putter reads them stale and "
            + "dereferences NULL"),
        RaceBug("ClosurePut.atomic_sub_return_release",
            "the I/O's put no longer orders its data write before the count drop: after closure_sync() the data is not visible"),
        RaceBug("ClosureSyncFn.smp_store_release",
            "the fix's release of s->done is relaxed: the waiter sees done but not the I/O's data (the very hole the fix closes)", tso: false),
        RaceBug("__ClosureSync.smp_load_acquire",
            "the fix's acquire of s->done is relaxed: the waiter sees done but reads the I/O's data stale (the hole the fix closes)", tso: false),
    ];
}
