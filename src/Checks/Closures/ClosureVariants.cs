using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Primitives.Closures;

namespace Kmc.Checks.Closures;

/// <summary>The closure variants shared by the closure checks, by name.</summary>
public static class ClosureVariants
{
    /// <summary>A bug only a weak memory model can show: passes under sc, declared as a bug under lkmm.</summary>
    public static Variant WeakMemory(string name, string description) =>
        new(name, description, Expectation.Pass)
        {
            PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
        };

    /// <summary>A weak-memory bug of a closure_sync() caller: under sc and tso the s->done data race (see <see cref="FixedSync"/>) still shows.</summary>
    public static Variant WeakMemorySync(string name, string description) =>
        new(name, description, Expectation.Bug(FailureKind.DataRace))
        {
            PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
        };

    public static readonly Variant Fixed =
        Variant.Fixed("lib/closure.c 2018 series with the C1 (rcu + READ_ONCE(s->task)), C3 (closure_get_happened) and C4 (release put + acquire at zero) fixes");

    /// <summary>
    /// The fixed code as closure_sync() callers see it. Under lkmm it fails: __closure_sync()
    /// reads the plain s.done without acquire, so a waiter that finds done == 1 without
    /// sleeping (the put landed between set_current_state() and the test) may then read the
    /// putters' data stale (MP with no read-side ordering; a control dependency does not order
    /// later loads). Sleeping is safe (the wakeup orders); the no-sleep path is not. Every check
    /// whose scenario reads shared state after closure_sync() returns declares it (closure-sync,
    /// closure-sync-zeroed, closure-wait-event, whose final refcount read is stale the same way).
    /// The same hole is a data race under every model: closure_sync_fn()'s plain s->done = 1 and
    /// __closure_sync()'s plain test of s.done are not ordered by happens-before when the waiter
    /// does not sleep (herd7 flags closure-sync-nosleep-2018 with a data race); under lkmm either
    /// the race or the stale read is found first.
    /// </summary>
    public static readonly Variant FixedSync = Fixed with
    {
        Expected = Expectation.Bug(FailureKind.DataRace),
        PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
    };

    /// <summary>
    /// The s->done data race of the fixed code (see <see cref="FixedSync"/>) is in these variants
    /// too and may be found before their own bug, under every model (and under lkmm the stale read).
    /// </summary>
    private static readonly IReadOnlyDictionary<string, Expectation> AnyBugUnderLkmm =
        new Dictionary<string, Expectation> { ["sc"] = Expectation.AnyBug, ["tso"] = Expectation.AnyBug, ["lkmm"] = Expectation.AnyBug };

    public static readonly Variant SyncWakeupRace = new("sync-wakeup-race",
        "C1 before a22a9602: closure_sync_fn sets s->done, then reads cl->s->task: the waiter may already have returned",
        Expectation.Bug(FailureKind.UseAfterFree)) { PerMemoryModel = AnyBugUnderLkmm };

    public static readonly Variant SyncFnDoneHoisted = new("sync-fn-done-hoisted",
        "C2: GCC 9.1 hoists the plain s->done = 1 above READ_ONCE(s->task) in closure_sync_fn (the reordered code, modelled as written)",
        Expectation.Bug(FailureKind.UseAfterFree)) { PerMemoryModel = AnyBugUnderLkmm };

    public static readonly Variant SyncRelaxedFastpath = WeakMemorySync("sync-relaxed-fastpath",
        "C3 before \"closures: Fix race in closure_sync()\": the fast path skips __closure_sync on a relaxed count read of 1, so nothing orders the other task's put before the caller's reads");

    public static readonly Variant BarriersRelaxed = WeakMemory("barriers-relaxed",
        "C4 done wrong: _release puts without smp_acquire__after_ctrl_dep() when the count hits zero: the continuation may miss the other putters' writes");

    public static readonly Variant SyncZeroedFastpath = new("sync-zeroed-fastpath",
        "C7 regression aca67c86: the closure_sync() fast-path check commented out; __closure_sync on a zeroed closure subtracts from remaining 0 into the guard bits",
        Expectation.Bug(FailureKind.Assertion));

    public static readonly Variant WaitEventCondBeforeWait = new("wait-event-cond-before-wait",
        "own mutation: closure_wait_event() tests the condition before closure_wait(): a wake_up in between is lost",
        Expectation.Bug(FailureKind.Hang)) { PerMemoryModel = AnyBugUnderLkmm };

    public static readonly Variant SyncDoneAcquire = new("sync-done-acquire",
        "kmc's proposed fix, not upstream code: closure_sync_fn() sets s->done with smp_store_release() and __closure_sync() tests it with smp_load_acquire(); closes the lkmm hole of the fixed code (tests/Kmc.Tests/ClosureLitmus: herd7 7.58 finds the hole, closure-sync-nosleep-2018 Sometimes with a data race; the same acquire on the upstream form is Never)",
        Expectation.Pass);

    private static readonly Dictionary<string, ClosureVariant> s_byName = new()
    {
        ["sync-done-acquire"] = ClosureVariant.SyncDoneAcquire,
        ["fixed"] = ClosureVariant.Fixed,
        ["sync-wakeup-race"] = ClosureVariant.SyncWakeupRace,
        ["sync-fn-done-hoisted"] = ClosureVariant.SyncFnDoneHoisted,
        ["sync-relaxed-fastpath"] = ClosureVariant.SyncRelaxedFastpath,
        ["barriers-relaxed"] = ClosureVariant.BarriersRelaxed,
        ["sync-zeroed-fastpath"] = ClosureVariant.SyncZeroedFastpath,
        ["wait-event-cond-before-wait"] = ClosureVariant.WaitEventCondBeforeWait,
    };

    /// <summary>The 2018 port's variant: the Variant's <see cref="Variant.Port"/>, else by name.</summary>
    public static ClosureVariant Of(Variant v) => v.PortVariant(s_byName, "closure");

    // ---- the current upstream form (ClosureUpstream), run by the @upstream checks ----------------

    public static readonly Variant UpstreamFixed =
        Variant.Fixed("current upstream closures: cmpxchg closure_sub() with CLOSURE_SLEEPING and cl->sleeper (2025-10 series), RCU section ending before closure_queue(), closure_sync() fast path restored");

    /// <summary>
    /// The upstream code as closure_sync() callers see it. Under lkmm kmc finds the same read-side
    /// hole as in the 2018 code (see <see cref="FixedSync"/>): __closure_sync() leaves its loop on a
    /// relaxed atomic_read() of remaining without CLOSURE_SLEEPING, and nothing orders the caller's
    /// later reads of the putters' data after it. A kmc finding, confirmed by herd7 7.58 with the
    /// mainline linux-kernel.cat: tests/Kmc.Tests/ClosureLitmus/closure-sync-nosleep-upstream.litmus
    /// is Sometimes, its -acquire version (kmc's proposed fix) Never
    /// (tests/Kmc.Tests/Litmus/herd7-verdicts.tsv).
    /// </summary>
    /// The same hole is a data race under every model: the caller's plain reads of the putters'
    /// data are not ordered after their plain writes by anything but that relaxed read.
    public static readonly Variant UpstreamFixedSync = UpstreamFixed with
    {
        Expected = Expectation.Bug(FailureKind.DataRace),
        PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
    };

    /// <summary>
    /// The upstream code under the refcount check. Under lkmm kmc finds closure_sub()'s retry loop
    /// deciding on a plain read of cl->fn that follows a failed (so unordered) try_cmpxchg: the read
    /// may miss the owner's set_closure_fn() published by its release cmpxchg, and the closure is
    /// then put with a stale decision that trips the guard-bit WARN. A kmc finding, confirmed by
    /// herd7 7.58 with the mainline linux-kernel.cat: closure-sub-retry-fn.litmus is Sometimes (with
    /// a data race on cl->fn), its -acquire version Never (tests/Kmc.Tests/Litmus/herd7-verdicts.tsv).
    /// That data race is found under every model: the retry loop's plain read of cl->fn is not
    /// ordered after the owner's plain set_closure_fn() (under lkmm the stale decision may come first).
    /// </summary>
    public static readonly Variant UpstreamFixedRefcount = UpstreamFixed with
    {
        Expected = Expectation.Bug(FailureKind.DataRace),
        PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
    };

    /// <summary>
    /// The upstream code (and kmc's acquire-fixes) under closure-sync-timeout: closure_sub()'s retry
    /// loop reads cl->sleeper plainly on a decision taken from a value of remaining that a
    /// timed-out closure_sync_timeout() has since replaced, while the waiter, in its next
    /// closure_sync(), stores cl->sleeper again: a data race (benign: the failing try_cmpxchg
    /// discards what was read), found by kmc under every model, the same shape as the cl->fn race
    /// herd7 confirms (<see cref="UpstreamFixedRefcount"/>); not confirmed with herd7 itself.
    /// </summary>
    public static Variant SleeperRace(Variant v) => v with
    {
        Expected = Expectation.Bug(FailureKind.DataRace),
        PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
    };

    public static readonly Variant UpstreamSyncZeroedFastpath = new("sync-zeroed-fastpath",
        "C7 regression aca67c86 (2026-01, restored by bb56585c): the closure_sync() fast-path check commented out; __closure_sync on a zeroed closure subtracts from remaining 0 into the guard bits",
        Expectation.Bug(FailureKind.Assertion));

    public static readonly Variant UpstreamQueueUnderRcu = new("queue-under-rcu",
        "C5 before \"closures: don't queue with rcu read lock held\" (57a9ccb3): guard(rcu) spans all of closure_sub(), so a continuation run inline by closure_queue() sleeps in an RCU read-side section",
        Expectation.Bug(FailureKind.Assertion));

    public static readonly Variant UpstreamSyncerTimeoutRace = new("syncer-timeout-race",
        "before the 2025-10 CLOSURE_SLEEPING series: __closure_sync_timeout() times out, sees the count at 0 and returns while the final putter is still in closure_put_after_sub()/closure_sync_fn on the caller's stack closure",
        Expectation.Bug(FailureKind.UseAfterFree)) { PerMemoryModel = AnyBugUnderLkmm };

    public static readonly Variant UpstreamAcquireFixes = new("acquire-fixes",
        "kmc's proposed fix, not upstream code: closure_sync() and its loops decide on atomic_read_acquire() of remaining, and closure_sub() re-reads remaining with acquire after a failed try_cmpxchg; closes both lkmm holes of the upstream code (tests/Kmc.Tests/ClosureLitmus; herd7 7.58 confirms: the holes Sometimes, the acquire versions Never)",
        Expectation.Pass);

    private static readonly Dictionary<string, ClosureUpstreamVariant> s_upstreamByName = new()
    {
        ["acquire-fixes"] = ClosureUpstreamVariant.AcquireFixes,
        ["fixed"] = ClosureUpstreamVariant.Fixed,
        ["sync-zeroed-fastpath"] = ClosureUpstreamVariant.SyncZeroedFastpath,
        ["queue-under-rcu"] = ClosureUpstreamVariant.QueueUnderRcu,
        ["syncer-timeout-race"] = ClosureUpstreamVariant.SyncerTimeoutRace,
        ["wait-event-cond-before-wait"] = ClosureUpstreamVariant.WaitEventCondBeforeWait,
    };

    /// <summary>The upstream port's variant: the Variant's <see cref="Variant.Port"/>, else by name.</summary>
    public static ClosureUpstreamVariant UpstreamOf(Variant v) => v.PortVariant(s_upstreamByName, "upstream closure");
}

/// <summary>
/// One version of the closure code with one of its variants: makes closures and runs the waitlist
/// macros. Built from a variant of one of kmc's two ports, or from a user's own port: any
/// <see cref="IClosure"/> factory with its closure_wait_event() and closure_wake_up().
/// </summary>
public sealed class ClosureFlavor
{
    private readonly Func<string, IClosure> _new;
    private readonly Func<ClosureWaitlist, Func<ValueTask<bool>>, ValueTask> _waitEvent;
    private readonly Func<ClosureWaitlist, ValueTask> _wakeUp;

    public ClosureFlavor(bool upstream, Variant v)
    {
        if (upstream)
        {
            var cv = ClosureVariants.UpstreamOf(v);
            _new = name => new ClosureUpstream(name, cv);
            _waitEvent = (list, cond) => ClosureUpstream.ClosureWaitEvent(list, cond, cv);
            _wakeUp = ClosureUpstream.ClosureWakeUp;
        }
        else
        {
            var cv = ClosureVariants.Of(v);
            _new = name => new Closure(name, cv);
            _waitEvent = (list, cond) => Closure.ClosureWaitEvent(list, cond, cv);
            _wakeUp = Closure.ClosureWakeUp;
        }
    }

    /// <summary>A user's own closure port: its constructor, closure_wait_event() and closure_wake_up().</summary>
    public ClosureFlavor(Func<string, IClosure> make, Func<ClosureWaitlist, Func<ValueTask<bool>>, ValueTask> waitEvent,
        Func<ClosureWaitlist, ValueTask> wakeUp)
    {
        _new = make;
        _waitEvent = waitEvent;
        _wakeUp = wakeUp;
    }

    public IClosure New(string name) => _new(name);

    public ValueTask WaitEvent(ClosureWaitlist list, Func<ValueTask<bool>> cond) => _waitEvent(list, cond);

    public ValueTask WakeUp(ClosureWaitlist list) => _wakeUp(list);
}
