// Port of closures in their current upstream form: lib/closure.c + include/linux/closure.h after
// Kent Overstreet's 2025-10 series ("closures: closure_sub() uses cmpxchg", "closures:
// CLOSURE_SLEEPING", "closures: kill closure.closure_get_happened", posted to akpm 2025-10-12),
// as carried today by bcachefs as fs/vendor/closure.[ch] (bcachefs-tools 57a9ccb3 / bb56585c,
// i.e. with "closures: don't queue with rcu read lock held", the smp_rmb() pairings and
// "closures: restore the closure_sync() fast path").
//
// What changed against the 2018 design (Closure.cs):
// * closure_sub() is a try_cmpxchg_release loop that decides normal put / requeue / done and
//   takes the sleeper out in the same atomic step; closure_put() is closure_sub(cl, 1).
// * No on-stack closure_syncer and no closure_sync_fn: __closure_sync() stores cl->sleeper, sets
//   CLOSURE_SLEEPING with the same sub that drops its ref, and sleeps until the final put clears
//   the bit. After that cmpxchg the putter touches only the sleeper task (kept alive by RCU).
// * closure_sync()'s fast path is again closure_nr_remaining(cl) > 1 (a relaxed read).
// * Counter checks are WARN()s (closure_val_checks) instead of BUG_ON()s.
// Each historical bug of this lineage is a ClosureUpstreamVariant that differs from this code only
// where its fix did. Written from reading those sources; no code copied.
//
// Model notes: sleeping inside closure_sub()'s read-side section (the C5 bug) is reported by
// schedule()'s check for an RCU reader. schedule_timeout() is a recorded choice: the timer fires
// first, or a wakeup comes first.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Closures;

/// <summary>The versions of the upstream closure code the @upstream checks run.</summary>
public enum ClosureUpstreamVariant
{
    /// <summary>The current form.</summary>
    Fixed,

    /// <summary>C7 (aca67c86, 2026-01 .. bb56585c, 2026-08): closure_sync()'s fast-path check commented out.</summary>
    SyncZeroedFastpath,

    /// <summary>C5, before "closures: don't queue with rcu read lock held" (57a9ccb3): guard(rcu) over all of closure_sub().</summary>
    QueueUnderRcu,

    /// <summary>
    /// Before the 2025-10 series: closure_put_after_sub() on atomic_sub_return_release(), the on-stack
    /// closure_syncer woken by closure_sync_fn, and __closure_sync_timeout()'s cmpxchg undo that
    /// returns once it sees the count at 0, while the final putter still uses the closure.
    /// </summary>
    SyncerTimeoutRace,

    /// <summary>Own mutation: closure_wait_event() tests the condition before putting itself on the waitlist.</summary>
    WaitEventCondBeforeWait,

    /// <summary>
    /// kmc's proposed fix, not upstream code: the sync loops leave on atomic_read_acquire() of
    /// remaining (pairs with the final closure_sub()'s release cmpxchg), and closure_sub() re-reads
    /// remaining with atomic_read_acquire() after a failed try_cmpxchg, so the retry's read of
    /// cl->fn is ordered after the put that beat it.
    /// </summary>
    AcquireFixes,
}

/// <summary>struct closure, current upstream form.</summary>
[KernelPort("lib/closure.c", "2025-10 CLOSURE_SLEEPING series as in bcachefs fs/vendor/closure.c (2026-08)")]
public sealed class ClosureUpstream : KObject, IClosure
{
    public const int ClosureBitsStart = 1 << 24;
    public const int ClosureDestructor = 1 << 24;
    public const int ClosureSleeping = 1 << 26;
    public const int ClosureWaiting = 1 << 28;
    public const int ClosureRunning = 1 << 30;
    public const int ClosureGuardMask =
        ((ClosureDestructor | ClosureSleeping | ClosureWaiting | ClosureRunning) << 1) | (ClosureBitsStart >> 1);
    public const int ClosureRemainingMask = ClosureBitsStart - 1;
    public const int ClosureRemainingInitializer = 1 | ClosureRunning;

    /// <summary>enum closure_state over the count, for reports (a set guard bit shows as leftover hex).</summary>
    public static readonly BitLayout RemainingLayout = new BitLayout()
        .Flag("CLOSURE_DESTRUCTOR", ClosureDestructor).Flag("CLOSURE_SLEEPING", ClosureSleeping).Flag("CLOSURE_WAITING", ClosureWaiting)
        .Flag("CLOSURE_RUNNING", ClosureRunning).Field("remaining", ClosureRemainingMask);

    public ClosureUpstream(string name, ClosureUpstreamVariant variant = ClosureUpstreamVariant.Fixed)
    {
        Name = name;
        Variant = variant;
        Remaining = new Atomic(name + ".remaining") { Layout = RemainingLayout };
        Fn = new Loc<ClosureFn?>(name + ".fn");
        Wq = new Loc<ClosureWorkqueue?>(name + ".wq");
        Sleeper = new Loc<SimTask?>(name + ".sleeper");
        S = new Loc<ClosureSyncer?>(name + ".s");
        Parent = new Loc<ClosureUpstream?>(name + ".parent");
        WorkPending = new Loc<bool>(name + ".work.pending");
        List = new LlistNode(this, name + ".list");
    }

    public string Name { get; }
    public ClosureUpstreamVariant Variant { get; }

    public Atomic Remaining { get; }
    public Loc<ClosureFn?> Fn { get; }
    public Loc<ClosureWorkqueue?> Wq { get; }

    /// <summary>cl->sleeper: the task in closure_sync(), valid while CLOSURE_SLEEPING is set.</summary>
    public Loc<SimTask?> Sleeper { get; }

    /// <summary>cl->s: only the pre-2025 code of the SyncerTimeoutRace variant uses it (it shares the union slot).</summary>
    public Loc<ClosureSyncer?> S { get; }

    public Loc<ClosureUpstream?> Parent { get; }
    public Loc<bool> WorkPending { get; }
    public LlistNode List { get; }

    public override string DisplayName => Allocation is null ? Name : base.DisplayName;

    private bool Pre2025 => Variant == ClosureUpstreamVariant.SyncerTimeoutRace;

    // ---- include/linux/closure.h ------------------------------------------------------------

    /// <summary>closure_val_checks(): WARN on guard bits, and on a count of 0 with flags other than DESTRUCTOR/SLEEPING.</summary>
    private void ClosureValChecks(int nw, int d)
    {
        var count = nw & ClosureRemainingMask;
        WarnOn((nw & ClosureGuardMask) != 0, $"closure {Name} has guard bits set: 0x{nw:x}, delta {d}");
        WarnOn(count == 0 && (nw & ~(ClosureDestructor | ClosureSleeping)) != 0,
            $"closure {Name} ref hit 0 with incorrect flags set: 0x{nw:x}");
    }

    /// <summary>closure_nr_remaining(): a relaxed read of the count.</summary>
    public async ValueTask<int> ClosureNrRemaining() => await AtomicRead(Remaining) & ClosureRemainingMask;

    /// <summary>The count closure_sync() decides on: acquire under <see cref="ClosureUpstreamVariant.AcquireFixes"/>.</summary>
    private async ValueTask<int> SyncRemaining() =>
        Variant == ClosureUpstreamVariant.AcquireFixes ? await AtomicReadAcquire(Remaining) : await AtomicRead(Remaining);

    /// <summary>closure_put(): closure_sub(cl, 1).</summary>
    public ValueTask ClosurePut() => ClosureSub(1);

    /// <summary>closure_sync(): sleep until the count is 1.</summary>
    public async ValueTask ClosureSync()
    {
        // The C7 regression commented out this check: a zeroed closure goes to __closure_sync().
        if (Variant == ClosureUpstreamVariant.SyncZeroedFastpath || (await SyncRemaining() & ClosureRemainingMask) > 1)
            await __ClosureSync();
    }

    /// <summary>closure_sync_timeout(): 0 once the count is 1, -ETIME when the timeout elapsed first.</summary>
    public async ValueTask<int> ClosureSyncTimeout(long timeout) =>
        (await SyncRemaining() & ClosureRemainingMask) > 1 ? await __ClosureSyncTimeout(timeout) : 0;

    /// <summary>set_closure_fn(): plain stores, ordered by the release cmpxchg of the following sub.</summary>
    public async ValueTask SetClosureFn(ClosureFn? fn, ClosureWorkqueue? wq)
    {
        await PlainWrite(Fn, fn);
        await PlainWrite(Wq, wq);
    }

    /// <summary>closure_queue(): run fn inline, or hand the closure to the workqueue.</summary>
    public async ValueTask ClosureQueue()
    {
        var wq = await PlainRead(Wq);
        if (wq != null)
        {
            BugOn(!await wq.QueueWork(this), "!queue_work(wq, &cl->work)");
        }
        else
        {
            var fn = await PlainRead(Fn);
            await fn!.Invoke(this);
        }
    }

    /// <summary>closure_get() (with the CONFIG_DEBUG_CLOSURES check).</summary>
    public async ValueTask ClosureGet()
    {
        var r = await AtomicIncReturn(Remaining);
        BugOn((r & ClosureRemainingMask) <= 1, "(atomic_inc_return(&cl->remaining) & CLOSURE_REMAINING_MASK) <= 1");
    }

    /// <summary>closure_get_not_zero(): take a ref unless the count already hit 0.</summary>
    public async ValueTask<bool> ClosureGetNotZero()
    {
        var old = await AtomicRead(Remaining);
        for (;;)
        {
            if ((old & ClosureRemainingMask) == 0)
                return false;
            var (ok, found) = await TryCmpxchgAcquire(Remaining, old, old + 1);
            if (ok)
                return true;
            old = found;
        }
    }

    /// <summary>closure_init()</summary>
    public async ValueTask ClosureInit(ClosureUpstream? parent)
    {
        await PlainWrite(Fn, null);
        await PlainWrite(Parent, parent);
        if (parent != null)
            await parent.ClosureGet();
        await AtomicSet(Remaining, ClosureRemainingInitializer);
    }

    ValueTask IClosure.ClosureInit(IClosure? parent) => ClosureInit((ClosureUpstream?)parent);

    /// <summary>closure_init_stack(): memset + count 1|RUNNING (also what CLASS(closure_stack)'s constructor yields).</summary>
    public async ValueTask ClosureInitStack()
    {
        await PlainWrite(Fn, null);
        await PlainWrite(Wq, null);
        await PlainWrite(Sleeper, null);
        await PlainWrite(S, null);
        await PlainWrite(Parent, null);
        await AtomicSet(Remaining, ClosureRemainingInitializer);
    }

    /// <summary>continue_at(): drop the running ref; the caller must return right after.</summary>
    public async ValueTask ContinueAt(ClosureFn? fn, ClosureWorkqueue? wq)
    {
        await SetClosureFn(fn, wq);
        await ClosureSub(ClosureRunning + 1);
    }

    /// <summary>continue_at_nobarrier(): the ref passes to fn.</summary>
    public async ValueTask ContinueAtNobarrier(ClosureFn fn, ClosureWorkqueue? wq)
    {
        await SetClosureFn(fn, wq);
        await ClosureQueue();
    }

    /// <summary>closure_return()</summary>
    public ValueTask ClosureReturn() => ContinueAt(null, null);

    /// <summary>closure_return_with_destructor()</summary>
    public async ValueTask ClosureReturnWithDestructor(ClosureFn destructor)
    {
        await SetClosureFn(destructor, null);
        await ClosureSub(ClosureRunning - ClosureDestructor + 1);
    }

    /// <summary>closure_call()</summary>
    public async ValueTask ClosureCall(ClosureFn fn, ClosureWorkqueue? wq, ClosureUpstream? parent)
    {
        await ClosureInit(parent);
        await ContinueAtNobarrier(fn, wq);
    }

    ValueTask IClosure.ClosureCall(ClosureFn fn, ClosureWorkqueue? wq, IClosure? parent) => ClosureCall(fn, wq, (ClosureUpstream?)parent);

    ValueTask<bool> IClosure.ClosureWait(ClosureWaitlist list) => ClosureWait(list, this);

    ValueTask IClosure.ClosureWakeUp(ClosureWaitlist list) => ClosureWakeUp(list);

    /// <summary>closure_wake_up(): smp_mb() for the waitlist, then __closure_wake_up().</summary>
    public static async ValueTask ClosureWakeUp(ClosureWaitlist list)
    {
        await SmpMb();
        await __ClosureWakeUp(list);
    }

    /// <summary>
    /// closure_wait_event(waitlist, cond): the fast check, then __closure_wait_event() with its
    /// CLASS(closure_stack) closure, whose scope destructor is the final closure_sync().
    /// </summary>
    public static async ValueTask ClosureWaitEvent(ClosureWaitlist list, Func<ValueTask<bool>> cond,
        ClosureUpstreamVariant variant = ClosureUpstreamVariant.Fixed)
    {
        if (await cond())
            return;
        var cl = OnStack(() => new ClosureUpstream("cl", variant), "cl");
        await cl.ClosureInitStack();
        for (;;)
        {
            if (variant == ClosureUpstreamVariant.WaitEventCondBeforeWait)
            {
                // Mutation: a wakeup between the test and closure_wait() finds nobody to wake.
                if (await cond())
                    break;
                await ClosureWait(list, cl);
            }
            else
            {
                await ClosureWait(list, cl);
                if (await cond())
                    break;
            }

            await cl.ClosureSync();
        }

        await ClosureWakeUp(list);
        await cl.ClosureSync(); // class_closure_stack_destructor()
        var r = await AtomicRead(cl.Remaining);
        BugOn((r & ClosureWaiting) != 0, "closure_wait_event() returns with cl still on a waitlist");
        BugOn((r & ClosureRemainingMask) != 1, "closure_wait_event() returns with refs outstanding");
        FrameReturn(cl);
    }

    // ---- lib/closure.c ----------------------------------------------------------------------

    private enum NewClosureState { NormalPut, Requeue, Done }

    /// <summary>closure_sub(): one cmpxchg decides the put, clears SLEEPING and takes the sleeper out.</summary>
    public async ValueTask ClosureSub(int v)
    {
        if (Pre2025)
        {
            await ClosurePutAfterSub(await AtomicSubReturnRelease(v, Remaining));
            return;
        }

        NewClosureState s;
        SimTask? sleeper;
        RcuReadLock(); // keeps the sleeper's task_struct alive
        var old = await AtomicReadAcquire(Remaining);
        for (;;)
        {
            var nw = old - v;
            sleeper = null;
            if ((nw & ClosureRemainingMask) != 0)
            {
                s = NewClosureState.NormalPut;
            }
            else
            {
                var fn = await PlainRead(Fn);
                if ((fn != null || (nw & ClosureSleeping) != 0) && (nw & ClosureDestructor) == 0)
                {
                    s = NewClosureState.Requeue;
                    nw += ClosureRemainingInitializer;
                }
                else
                {
                    s = NewClosureState.Done;
                }

                if ((nw & ClosureSleeping) != 0)
                {
                    await SmpRmb(); // pairs with the release cmpxchg in closure_sync()
                    sleeper = await PlainRead(Sleeper);
                }

                nw &= ~ClosureSleeping;
            }

            ClosureValChecks(nw, -v);
            var (ok, found) = await TryCmpxchgRelease(Remaining, old, nw);
            if (ok)
                break;
            old = Variant == ClosureUpstreamVariant.AcquireFixes ? await AtomicReadAcquire(Remaining) : found;
        }

        if (s == NewClosureState.NormalPut)
        {
            RcuReadUnlock();
            return;
        }

        if (sleeper != null)
        {
            await SmpMb();
            await WakeUpProcess(sleeper);
            RcuReadUnlock();
            return;
        }

        // C5: the fix ends the RCU section here, before closure_queue() may run fn inline.
        if (Variant != ClosureUpstreamVariant.QueueUnderRcu)
            RcuReadUnlock();

        await SmpRmb(); // pairs with the release cmpxchg in continue_at() et al.
        if (s == NewClosureState.Requeue)
        {
            await ClosureQueue();
        }
        else
        {
            var parent = await PlainRead(Parent);
            var destructor = await PlainRead(Fn);
            // closure_debug_destroy(cl): nothing to model.
            if (destructor != null)
                await destructor.Invoke(this);
            if (parent != null)
                await parent.ClosurePut();
        }

        if (Variant == ClosureUpstreamVariant.QueueUnderRcu)
            RcuReadUnlock(); // guard(rcu)() ends with the function
    }

    /// <summary>__closure_wake_up(): wake every closure on the list, FIFO.</summary>
    public static async ValueTask __ClosureWakeUp(ClosureWaitlist list)
    {
        var taken = await LlistDelAll(list.List);
        var reverse = LlistReverseOrder(taken);
        foreach (var node in LlistForEach(reverse))
        {
            var cl = (ClosureUpstream)node.Container;
            // closure_set_waiting(cl, 0): debug only.
            await cl.ClosureSub(ClosureWaiting + 1);
        }
    }

    /// <summary>closure_wait(): false when cl is already on a waitlist.</summary>
    public static async ValueTask<bool> ClosureWait(ClosureWaitlist list, ClosureUpstream cl)
    {
        if ((await AtomicRead(cl.Remaining) & ClosureWaiting) != 0)
            return false;
        // closure_set_waiting(cl, _RET_IP_): debug only.
        var r = await AtomicAddReturn(ClosureWaiting + 1, cl.Remaining);
        cl.ClosureValChecks(r, ClosureWaiting + 1);
        await LlistAdd(cl.List, list.List);
        return true;
    }

    /// <summary>The sleep loop shared by __closure_sync() and closure_return_sync().</summary>
    private async ValueTask SleepWhileSleeping()
    {
        for (;;)
        {
            await SetCurrentState(TaskState.Uninterruptible);
            var r = await SyncRemaining();
            if ((r & ClosureSleeping) == 0)
                break;
            await Schedule();
        }

        SetCurrentStateNoBarrier(TaskState.Running);
    }

    /// <summary>__closure_sync(): drop our ref and set SLEEPING in one sub; sleep until the final put clears it.</summary>
    public async ValueTask __ClosureSync()
    {
        if (Pre2025)
        {
            await SyncerClosureSync();
            return;
        }

        await PlainWrite(Sleeper, Current);
        await ClosureSub(ClosureRemainingInitializer - ClosureSleeping);
        await SleepWhileSleeping();
    }

    /// <summary>closure_return_sync(): like closure_sync() but ends the closure (DESTRUCTOR: no re-arm), then puts the parent.</summary>
    public async ValueTask ClosureReturnSync()
    {
        await PlainWrite(Sleeper, Current);
        await ClosureSub(ClosureRemainingInitializer - ClosureDestructor - ClosureSleeping);
        await SleepWhileSleeping();
        var parent = await PlainRead(Parent);
        if (parent != null)
            await parent.ClosurePut();
    }

    /// <summary>schedule_timeout(): the timer may fire before any wakeup (a recorded choice); returns the time left.</summary>
    private static async ValueTask<long> ScheduleTimeout(long timeout)
    {
        if (timeout == 0 || ChooseBool("schedule_timeout(): the timer fires before any wakeup"))
        {
            SetCurrentStateNoBarrier(TaskState.Running);
            await Schedule();
            return 0;
        }

        await Schedule();
        return timeout;
    }

    /// <summary>__closure_sync_timeout(): on timeout, undo the SLEEPING sub with a cmpxchg, unless the final put already cleared it.</summary>
    public async ValueTask<int> __ClosureSyncTimeout(long timeout)
    {
        if (Pre2025)
            return await SyncerClosureSyncTimeout(timeout);

        var ret = 0;
        await PlainWrite(Sleeper, Current);
        await ClosureSub(ClosureRemainingInitializer - ClosureSleeping);
        for (;;)
        {
            await SetCurrentState(TaskState.Uninterruptible);
            var old = await SyncRemaining();
            if ((old & ClosureSleeping) == 0)
                break;
            if (timeout == 0)
            {
                var undone = false;
                for (;;)
                {
                    if ((old & ClosureSleeping) == 0)
                        break;
                    var nw = old + ClosureRemainingInitializer - ClosureSleeping;
                    ClosureValChecks(nw, ClosureRemainingInitializer - ClosureSleeping);
                    var (ok, found) = await TryCmpxchg(Remaining, old, nw);
                    if (ok)
                    {
                        undone = true;
                        break;
                    }

                    old = Variant == ClosureUpstreamVariant.AcquireFixes ? await AtomicReadAcquire(Remaining) : found;
                }

                if (undone)
                    ret = -62; // -ETIME
                break;
            }

            timeout = await ScheduleTimeout(timeout);
        }

        SetCurrentStateNoBarrier(TaskState.Running);
        return ret;
    }

    // ---- the pre-2025 code the SyncerTimeoutRace variant runs (lib/closure.c, 2024) ----------

    /// <summary>closure_put_after_sub() (2024): the thread that brings the count to 0 owns the closure.</summary>
    private async ValueTask ClosurePutAfterSub(int flags)
    {
        var r = flags & ClosureRemainingMask;
        WarnOn((flags & ClosureGuardMask) != 0, $"closure {Name} has guard bits set: 0x{flags:x}");
        WarnOn(r == 0 && (flags & ~ClosureDestructor) != 0, $"closure {Name} ref hit 0 with incorrect flags set: 0x{flags:x}");
        if (r != 0)
            return;
        await SmpAcquireAfterCtrlDep();
        var fn = await PlainRead(Fn);
        if (fn != null && (flags & ClosureDestructor) == 0)
        {
            await AtomicSet(Remaining, ClosureRemainingInitializer);
            await ClosureQueue();
        }
        else
        {
            var parent = await PlainRead(Parent);
            if (fn != null)
                await fn.Invoke(this);
            if (parent != null)
                await parent.ClosurePut();
        }
    }

    private static readonly ClosureFn s_closureSyncFn = new("closure_sync_fn", cl => ClosureSyncFn((ClosureUpstream)cl));

    /// <summary>closure_sync_fn() (2019-2025): read the task before publishing done, under RCU.</summary>
    private static async ValueTask ClosureSyncFn(ClosureUpstream cl)
    {
        var s = await PlainRead(cl.S);
        RcuReadLock();
        var p = await ReadOnce(s!.Task);
        await PlainWrite(s.Done, 1);
        await WakeUpProcess(p!);
        RcuReadUnlock();
    }

    /// <summary>__closure_sync() (2019-2025) with the on-stack closure_syncer.</summary>
    private async ValueTask SyncerClosureSync()
    {
        var s = OnStack(() => new ClosureSyncer(Current), "s");
        await PlainWrite(S, s);
        await ContinueAt(s_closureSyncFn, null);
        for (;;)
        {
            await SetCurrentState(TaskState.Uninterruptible);
            if (await PlainRead(s.Done) != 0)
                break;
            await Schedule();
        }

        SetCurrentStateNoBarrier(TaskState.Running);
        FrameReturn(s);
    }

    /// <summary>__closure_sync_timeout() (2024): the undo gives up when it sees the count at 0 or RUNNING set.</summary>
    private async ValueTask<int> SyncerClosureSyncTimeout(long timeout)
    {
        var s = OnStack(() => new ClosureSyncer(Current), "s");
        var ret = 0;
        await PlainWrite(S, s);
        await ContinueAt(s_closureSyncFn, null);
        for (;;)
        {
            await SetCurrentState(TaskState.Uninterruptible);
            if (await PlainRead(s.Done) != 0)
                break;
            if (timeout == 0)
            {
                var v = await AtomicRead(Remaining);
                var success = false;
                for (;;)
                {
                    var old = v;
                    if (old == 0 || (old & ClosureRunning) != 0)
                    {
                        success = true; // "the final closure_put() has happened"
                        break;
                    }

                    var nw = old + ClosureRemainingInitializer;
                    v = await AtomicCmpxchg(Remaining, old, nw);
                    if (v == old)
                        break;
                }

                if (success)
                    break;
                ret = -62; // -ETIME
            }

            timeout = await ScheduleTimeout(timeout);
        }

        SetCurrentStateNoBarrier(TaskState.Running);
        FrameReturn(s);
        return ret;
    }
}
