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
        LkmmBug("ArchMcsSpinLockContended.smp_cond_load_acquire",
            "the MCS hand-off's acquire orders the new queue head's wait on the lock word after the old head's set_locked(); without it "
            + "the LKMM lets the new head's atomic_cond_read_acquire() end on the lock word from before set_locked() (message passing "
            + "without acquire: the spin may read any store its view allows), so it sees locked and pending clear and claims the lock "
            + "while the old head holds it. The old head's later owner then races with it on the data, or the new head, its "
            + "try_cmpxchg failing on the locked byte, waits for a successor that never comes (a Hang)"),
        LkmmBug("ArchMcsSpinUnlockContended.smp_store_release",
            "the MCS hand-off's release orders the old head's set_locked() before node->locked = 1; without it the new head may see the "
            + "hand-off and still read the lock word from before set_locked() (LKMM: message passing without release), claim the lock "
            + "too, and hang or race as for the acquire side"),
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
/// The OSQ in osq-3cpu-1round (3 CPUs, each osq_lock() may give up), so that a middle node's
/// unqueue (Step C, and a prev that is itself unqueueing) is reached: 2 CPUs cannot show Step A's
/// cmpxchg(), the smp_wmb() or READ_ONCE(node->prev). The OSQ orders nothing for its owner
/// (osq_lock()'s normal return is a relaxed spin on node->locked; the mutex it guards is taken
/// with its own acquire), so its orderings protect only its own node fields. The sites whose only
/// job is a node's reuse are harmless here: with 2 rounds the fixed code itself races on the
/// reinitialised node (see OsqCheckBase.WithNodeReinitRace), and what each weakening adds there
/// was measured with the kernel's own store-only reinit races set aside, as KCSAN's default
/// CONFIG_KCSAN_ASSUME_PLAIN_WRITES_ATOMIC does (an experiment, not a kmc option: osq, 2 CPUs x 2
/// rounds, dfs exhausted at preemption bound 2 / stale bound 2 under sc (966), tso (143650) and
/// lkmm (3278); osq-3cpu, random 20000 under sc and lkmm).
/// </summary>
[Check]
public sealed class WeakenOsq : WeakenedCheck
{
    public override string Primitive => "osq";
    public override Check Base => CheckRegistry.Get("osq-3cpu-1round");

    public override IReadOnlyList<DeclaredWeakening> Declared { get; } =
    [
        RaceBug("OsqLock.atomic_xchg",
            "the tail xchg() publishes the node's init stores: relaxed (weaker still than the historical acquire-only-tail-xchg bug), a late "
            + "node->next = NULL erases the successor's link and both spin forever"),
        Harmless("OsqLock.smp_load_acquire",
            "the unqueue path's check of node->locked after a failed Step-A cmpxchg returns true to a caller that cannot rely on acquire "
            + "ordering from osq_lock() anyway: the normal hand-off is WRITE_ONCE(next->locked, 1) against a relaxed spin, and the "
            + "OSQ's users take their lock with their own acquire"),
        Harmless("OsqWaitNext.atomic_cmpxchg_acquire",
            "the acquire orders what follows a successful tail move-back: only this CPU's next osq_lock() reinitialising its own node. "
            + "Relaxed, the one new race kmc finds (2 CPUs x 2 rounds and 3 CPUs x 2 rounds, kernel's store-only reinit races set "
            + "aside) is a successor's plain prev->cpu read in Step B against this CPU's next plain node->cpu = curr: the same value "
            + "(a node's cpu never changes), and unordered in the LKMM with the acquire too (the plain read is not r-post-bounded "
            + "before the successor's acquire-only cmpxchg, and a release RMW's read acquires nothing): kmc orders that pair in the "
            + "fixed code only because it takes an _acquire/_release RMW as both (Races.cs, limits). With it set aside too, nothing "
            + "fails: the next round's other plain stores race only store-only, like the fixed code's (a successor's Step-A undo "
            + "wrote node->next = NULL, the same value)"),
        Undetected("OsqWaitNext.xchg",
            "its full barrier orders Step B's plain read of prev->cpu before Step C's WRITE_ONCE(prev->next, next), which prev reads "
            + "with xchg() before it re-enters osq_lock() and rewrites prev->cpu plainly. Relaxed, that pair is an LKMM data race (same "
            + "value, so harmless in effect, and KCSAN's default REPORT_VALUE_CHANGE_ONLY stays quiet). It needs 3 CPUs x 2 rounds "
            + "(osq-3cpu finds it at random execution 1 once the kernel's own store-only reinit races are set aside), where the fixed "
            + "code already fails with those races: kmc cannot tell them apart"),
        RaceBug("OsqLock.smp_wmb",
            "it orders node->prev = prev before WRITE_ONCE(prev->next, node). Without it, prev can take node from prev->next, unqueue "
            + "(Step C: WRITE_ONCE(node->prev, prev->prev)) and leave, while the plain node->prev = prev has not landed: the two "
            + "stores race, and the late one leaves node->prev naming the node that left"),
        LkmmBug("OsqLock.cmpxchg",
            "Step A's full cmpxchg(&prev->next, node, NULL) orders the undo before the tail move-back (osq_wait_next()'s "
            + "atomic_cmpxchg_acquire() orders nothing before it). Relaxed, a third CPU that queues behind prev after the move-back "
            + "links prev->next = itself, and the late NULL lands after that link in prev->next's coherence order: prev's unlock "
            + "waits for a next that never comes and the third CPU spins forever", FailureKind.Hang),
        Harmless("OsqUnlock.atomic_cmpxchg_release",
            "the uncontended unlock's release pairs with the next osq_lock()'s tail xchg (the kernel comment's \"pairs with "
            + "corresponding RELEASE in unlock() uncontended\"), but no user may rely on it: the contended hand-off is "
            + "WRITE_ONCE(next->locked, 1) against a relaxed spin. For the OSQ's own fields, the one new race kmc finds relaxed (2 "
            + "and 3 CPUs x 2 rounds, kernel's store-only reinit races set aside) is the same-value prev->cpu pair that "
            + "OsqWaitNext.atomic_cmpxchg_acquire describes, unordered in the LKMM with the release too; with it set aside, nothing "
            + "fails"),
        Harmless("OsqUnlock.xchg",
            "relaxed, the unlock's xchg(&node->next, NULL) still orders the hand-off WRITE_ONCE(next->locked, 1) after the successor's "
            + "node init: the hand-off goes through the pointer the xchg returned (an address dependency; the LKMM agrees, "
            + "tests/Kmc.Tests/RaceLitmus/relaxed-xchg-addr.litmus: no race). What the full barrier adds is ordering the successor's "
            + "link store WRITE_ONCE(prev->next, node) before this CPU's next plain node->next = NULL: coherence keeps their order "
            + "(the xchg read the link), and the LKMM race left is a store-only race of the kind the kernel already has on the same "
            + "field (OsqCheckBase.WithNodeReinitRace), which KCSAN's default ASSUME_PLAIN_WRITES_ATOMIC does not report. With those "
            + "set aside nothing fails (2 CPUs x 2 rounds exhausted, 3 CPUs x 2 rounds random 20000)"),
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
