// Port of bcache closures: lib/closure.c + include/linux/closure.h.
//
// Base: the 2018 series ("bcache: move closures to lib/", "closures: closure_wait_event()",
// "bcache: optimize continue_at_nobarrier()"; posted 2019-06 by Kent Overstreet, merged for 6.7),
// with every later fix of that design applied, as in torvalds/linux lib/closure.c @ 03c11eb3:
//   C1 "closures: fix a race on wakeup from closure_sync"    (a22a9602b88f)
//   C3 "closures: Fix race in closure_sync()"                 (closure_get_happened)
//   C4 "closures: Better memory barriers"                     (_release puts + acquire at zero)
// Each historical bug is a ClosureVariant that differs from this code only where its fix did.
// Written from reading the kernel code; no code copied.
//
// Model notes:
// * closure_sync_fn()'s rcu_read_lock() keeps the sleeper's task_struct alive across the
//   wakeup; tasks are never freed here, so what matters is that the waker never touches the
//   syncer (on the waiter's stack) after publishing done.
// * closure_queue() with a workqueue hands the closure to a simulated kworker task, spawned at
//   queue_work() time (ClosureWorkqueue below).
// * The closure is a KObject so it can live on a task's stack (OnStack); embedded in another
//   object, its locations belong to that object's allocation.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Closures;

/// <summary>The versions of the closure code the checks run.</summary>
public enum ClosureVariant
{
    /// <summary>The 2018 series with the C1, C3 and C4 fixes.</summary>
    Fixed,

    /// <summary>C1, before a22a9602: closure_sync_fn sets s->done, then reads cl->s->task.</summary>
    SyncWakeupRace,

    /// <summary>C2 (GCC 9.1 codegen, Marc Smith 2020-11): the plain store s->done = 1 hoisted above READ_ONCE(s->task).</summary>
    SyncFnDoneHoisted,

    /// <summary>C3, before "closures: Fix race in closure_sync()": relaxed count read on the fast path.</summary>
    SyncRelaxedFastpath,

    /// <summary>C4 done wrong: release puts but no smp_acquire__after_ctrl_dep() when the count hits zero.</summary>
    BarriersRelaxed,

    /// <summary>C7 regression (aca67c86): closure_sync() fast-path check commented out.</summary>
    SyncZeroedFastpath,

    /// <summary>Own mutation: closure_wait_event() tests the condition before putting itself on the waitlist.</summary>
    WaitEventCondBeforeWait,

    /// <summary>
    /// kmc's proposed fix, not upstream code: closure_sync_fn() publishes s->done with
    /// smp_store_release() and __closure_sync() tests it with smp_load_acquire(), so a waiter that
    /// finds it set without sleeping also sees what the putters wrote (and s.done is no longer a
    /// data race).
    /// </summary>
    SyncDoneAcquire,
}

/// <summary>closure_fn *: a named continuation, so traces show which function cl->fn is.</summary>
public sealed class ClosureFn(string name, Func<IClosure, ValueTask> fn) : INamed
{
    public string DisplayName { get; } = name;
    public Func<IClosure, ValueTask> Invoke { get; } = fn;
}

/// <summary>struct closure_syncer: lives on the stack of the task in __closure_sync().</summary>
public sealed class ClosureSyncer : KObject
{
    public ClosureSyncer(SimTask task)
    {
        Task = new Loc<SimTask?>("s.task", task);
        Done = new Loc<int>("s.done");
    }

    public Loc<SimTask?> Task { get; }
    public Loc<int> Done { get; }
}

/// <summary>struct closure_waitlist</summary>
public sealed class ClosureWaitlist(string name)
{
    public LlistHead List { get; } = new(name + ".list");
}

/// <summary>A minimal workqueue: queue_work() spawns a kworker that runs the work once.</summary>
public sealed class ClosureWorkqueue(string name) : INamed
{
    private int _workers;

    public string DisplayName { get; } = name;

    /// <summary>queue_work(wq, &amp;cl->work): false when the work was already pending.</summary>
    public async ValueTask<bool> QueueWork(IClosure cl)
    {
        // test_and_set_bit(WORK_STRUCT_PENDING_BIT): a value-returning atomic, fully ordered.
        if (await Xchg(cl.WorkPending, true))
            return false;
        var ex = Execution.Current;
        var cpu = (SmpProcessorId() + 1) % NrCpuIds;
        ex.Spawn($"kworker/{DisplayName}:{_workers++}", cpu, async () =>
        {
            // process_one_work(): clear PENDING, then call work->func (which aliases cl->fn).
            await Xchg(cl.WorkPending, false);
            var fn = await PlainRead(cl.Fn);
            BugOn(fn == null, "work->func == NULL");
            await fn!.Invoke(cl);
        });
        return true;
    }
}

/// <summary>struct closure</summary>
[KernelPort("lib/closure.c", "v4.20 (2018 series) + C1/C3/C4 fixes (lib/closure.c @ 03c11eb3)")]
public sealed class Closure : KObject, IClosure
{
    // remaining: the count in the low bits, flags above, each flag with a guard bit above it.
    public const int ClosureBitsStart = 1 << 26;
    public const int ClosureDestructor = 1 << 26;
    public const int ClosureWaiting = 1 << 28;
    public const int ClosureRunning = 1 << 30;
    public const int ClosureGuardMask = (ClosureDestructor | ClosureWaiting | ClosureRunning) << 1;
    public const int ClosureRemainingMask = ClosureBitsStart - 1;
    public const int ClosureRemainingInitializer = 1 | ClosureRunning;

    /// <summary>enum closure_state over the count, for reports (a set guard bit shows as leftover hex).</summary>
    public static readonly BitLayout RemainingLayout = new BitLayout()
        .Flag("CLOSURE_DESTRUCTOR", ClosureDestructor).Flag("CLOSURE_WAITING", ClosureWaiting).Flag("CLOSURE_RUNNING", ClosureRunning)
        .Field("remaining", ClosureRemainingMask);

    public Closure(string name, ClosureVariant variant = ClosureVariant.Fixed)
    {
        Name = name;
        Variant = variant;
        Remaining = new Atomic(name + ".remaining") { Layout = RemainingLayout };
        Fn = new Loc<ClosureFn?>(name + ".fn");
        Wq = new Loc<ClosureWorkqueue?>(name + ".wq");
        S = new Loc<ClosureSyncer?>(name + ".s");
        Parent = new Loc<Closure?>(name + ".parent");
        ClosureGetHappened = new Loc<bool>(name + ".closure_get_happened");
        WorkPending = new Loc<bool>(name + ".work.pending");
        List = new LlistNode(this, name + ".list");
    }

    public string Name { get; }
    public ClosureVariant Variant { get; }

    public Atomic Remaining { get; }
    public Loc<ClosureFn?> Fn { get; }
    public Loc<ClosureWorkqueue?> Wq { get; }
    public Loc<ClosureSyncer?> S { get; }
    public Loc<Closure?> Parent { get; }
    public Loc<bool> ClosureGetHappened { get; }
    public Loc<bool> WorkPending { get; }
    public LlistNode List { get; }

    public override string DisplayName => Allocation is null ? Name : base.DisplayName;

    ValueTask IClosure.ClosureInit(IClosure? parent) => ClosureInit((Closure?)parent);

    ValueTask IClosure.ClosureCall(ClosureFn fn, ClosureWorkqueue? wq, IClosure? parent) => ClosureCall(fn, wq, (Closure?)parent);

    ValueTask<bool> IClosure.ClosureWait(ClosureWaitlist list) => ClosureWait(list, this);

    ValueTask IClosure.ClosureWakeUp(ClosureWaitlist list) => ClosureWakeUp(list);

    // ---- include/linux/closure.h ------------------------------------------------------------

    /// <summary>closure_nr_remaining(): a relaxed read of the count.</summary>
    public async ValueTask<int> ClosureNrRemaining() => await AtomicRead(Remaining) & ClosureRemainingMask;

    /// <summary>closure_init(): cl must not be in use by anyone else.</summary>
    public async ValueTask ClosureInit(Closure? parent)
    {
        await ClosureMemset();
        await PlainWrite(Parent, parent);
        if (parent != null)
            await parent.ClosureGet();
        await AtomicSet(Remaining, ClosureRemainingInitializer);
    }

    /// <summary>closure_init_stack()</summary>
    public async ValueTask ClosureInitStack()
    {
        await ClosureMemset();
        await AtomicSet(Remaining, ClosureRemainingInitializer);
    }

    /// <summary>memset(cl, 0, sizeof(struct closure)) minus remaining, which the caller sets.</summary>
    private async ValueTask ClosureMemset()
    {
        await PlainWrite(Fn, null);
        await PlainWrite(Wq, null);
        await PlainWrite(S, null);
        await PlainWrite(Parent, null);
        if (Variant != ClosureVariant.SyncRelaxedFastpath)
            await PlainWrite(ClosureGetHappened, false);
    }

    /// <summary>closure_get(): the caller must already hold a ref (CONFIG_DEBUG_CLOSURES BUG_ON kept).</summary>
    public async ValueTask ClosureGet()
    {
        if (Variant != ClosureVariant.SyncRelaxedFastpath)
            await PlainWrite(ClosureGetHappened, true);
        var r = await AtomicIncReturn(Remaining);
        BugOn((r & ClosureRemainingMask) <= 1, "(atomic_inc_return(&cl->remaining) & CLOSURE_REMAINING_MASK) <= 1");
    }

    /// <summary>set_closure_fn()</summary>
    public async ValueTask SetClosureFn(ClosureFn? fn, ClosureWorkqueue? wq)
    {
        await PlainWrite(Fn, fn);
        await PlainWrite(Wq, wq);
        // "closures: Better memory barriers" removed smp_mb__before_atomic() here: the
        // _release put in closure_sub() orders these stores.
    }

    /// <summary>closure_queue(): run fn inline, or hand the closure to the workqueue.</summary>
    public async ValueTask ClosureQueue()
    {
        var wq = await PlainRead(Wq);
        if (wq != null)
        {
            // INIT_WORK(&cl->work, cl->work.func); BUG_ON(!queue_work(wq, &cl->work));
            BugOn(!await wq.QueueWork(this), "!queue_work(wq, &cl->work)");
        }
        else
        {
            var fn = await PlainRead(Fn);
            await fn!.Invoke(this);
        }
    }

    /// <summary>continue_at(): the caller gives up its ref and must return right after.</summary>
    public async ValueTask ContinueAt(ClosureFn? fn, ClosureWorkqueue? wq)
    {
        await SetClosureFn(fn, wq);
        await ClosureSub(ClosureRunning + 1);
    }

    /// <summary>continue_at_nobarrier(): the ref passes to fn; no count change.</summary>
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

    /// <summary>closure_call(): start fn asynchronously in a new closure, a child of parent.</summary>
    public async ValueTask ClosureCall(ClosureFn fn, ClosureWorkqueue? wq, Closure? parent)
    {
        await ClosureInit(parent);
        await ContinueAtNobarrier(fn, wq);
    }

    /// <summary>closure_sync(): sleep until the count is 1 (only our own ref left).</summary>
    public async ValueTask ClosureSync()
    {
        switch (Variant)
        {
            case ClosureVariant.SyncRelaxedFastpath:
                if (await ClosureNrRemaining() != 1)
                    await __ClosureSync();
                break;
            case ClosureVariant.SyncZeroedFastpath:
                // if (cl->closure_get_happened)   <- commented out by the regression
                await __ClosureSync();
                break;
            default:
                if (await PlainRead(ClosureGetHappened))
                    await __ClosureSync();
                break;
        }
    }

    /// <summary>closure_wake_up()</summary>
    public static async ValueTask ClosureWakeUp(ClosureWaitlist list)
    {
        await SmpMb();
        await __ClosureWakeUp(list);
    }

    /// <summary>
    /// closure_wait_event(waitlist, cond) (a macro in the kernel): the on-stack closure is
    /// allocated here and its frame ends when this returns.
    /// </summary>
    public static async ValueTask ClosureWaitEvent(ClosureWaitlist list, Func<ValueTask<bool>> cond, ClosureVariant variant = ClosureVariant.Fixed)
    {
        var cl = OnStack(() => new Closure("cl", variant), "cl");
        await cl.ClosureInitStack();
        for (;;)
        {
            if (variant == ClosureVariant.WaitEventCondBeforeWait)
            {
                // Mutation: the condition is tested before cl is on the waitlist, so a wakeup
                // between the test and closure_wait() finds nobody to wake.
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
        await cl.ClosureSync();
        // The owner returns: cl must not be on a waitlist nor hold anybody's ref.
        var r = await AtomicRead(cl.Remaining);
        BugOn((r & ClosureWaiting) != 0, "closure_wait_event() returns with cl still on a waitlist");
        BugOn((r & ClosureRemainingMask) != 1, "closure_wait_event() returns with refs outstanding");
        FrameReturn(cl);
    }

    // ---- lib/closure.c ----------------------------------------------------------------------

    /// <summary>closure_put_after_sub()</summary>
    private async ValueTask ClosurePutAfterSub(int flags)
    {
        var r = flags & ClosureRemainingMask;
        BugOn((flags & ClosureGuardMask) != 0, $"flags & CLOSURE_GUARD_MASK ({Name}.remaining = 0x{flags:x})");
        BugOn(r == 0 && (flags & ~ClosureDestructor) != 0, $"!r && (flags & ~CLOSURE_DESTRUCTOR) ({Name}.remaining = 0x{flags:x})");
        if (r != 0)
            return;

        if (Variant != ClosureVariant.BarriersRelaxed)
            await SmpAcquireAfterCtrlDep();
        if (Variant != ClosureVariant.SyncRelaxedFastpath)
            await PlainWrite(ClosureGetHappened, false);

        var fn = await PlainRead(Fn);
        if (fn != null && (flags & ClosureDestructor) == 0)
        {
            await AtomicSet(Remaining, ClosureRemainingInitializer);
            await ClosureQueue();
        }
        else
        {
            var parent = await PlainRead(Parent);
            var destructor = fn;
            // closure_debug_destroy(cl): nothing to model.
            if (destructor != null)
                await destructor.Invoke(this);
            if (parent != null)
                await parent.ClosurePut();
        }
    }

    /// <summary>closure_sub(): for clearing flags with the same atomic op as a put.</summary>
    public async ValueTask ClosureSub(int v) =>
        await ClosurePutAfterSub(await AtomicSubReturnRelease(v, Remaining));

    /// <summary>closure_put()</summary>
    public async ValueTask ClosurePut() =>
        await ClosurePutAfterSub(await AtomicSubReturnRelease(1, Remaining));

    /// <summary>__closure_wake_up(): wake every closure on the list, FIFO.</summary>
    public static async ValueTask __ClosureWakeUp(ClosureWaitlist list)
    {
        var taken = await LlistDelAll(list.List);
        // Reverse to keep FIFO order and fairness; the list is private now.
        var reverse = LlistReverseOrder(taken);
        foreach (var node in LlistForEach(reverse))
        {
            var cl = (Closure)node.Container;
            // closure_set_waiting(cl, 0): debug only.
            await cl.ClosureSub(ClosureWaiting + 1);
        }
    }

    /// <summary>closure_wait(): false when cl is already on a waitlist.</summary>
    public static async ValueTask<bool> ClosureWait(ClosureWaitlist list, Closure cl)
    {
        if ((await AtomicRead(cl.Remaining) & ClosureWaiting) != 0)
            return false;
        if (cl.Variant != ClosureVariant.SyncRelaxedFastpath)
            await PlainWrite(cl.ClosureGetHappened, true);
        // closure_set_waiting(cl, _RET_IP_): debug only.
        await AtomicAdd(ClosureWaiting + 1, cl.Remaining);
        await LlistAdd(cl.List, list.List);
        return true;
    }

    /// <summary>closure_sync_fn(): runs in whoever drops the last ref of a syncing closure.</summary>
    private static readonly ClosureFn s_closureSyncFn = new("closure_sync_fn", cl => ClosureSyncFn((Closure)cl));

    private static async ValueTask ClosureSyncFn(Closure cl)
    {
        switch (cl.Variant)
        {
            case ClosureVariant.SyncWakeupRace:
            {
                // cl->s->done = 1; wake_up_process(cl->s->task);
                var s = await PlainRead(cl.S);
                await PlainWrite(s!.Done, 1);
                var s2 = await PlainRead(cl.S);
                var task = await PlainRead(s2!.Task);
                await WakeUpProcess(task!);
                break;
            }
            case ClosureVariant.SyncFnDoneHoisted:
            {
                // The fixed source, as GCC 9.1 compiled it: the plain store to s->done moved
                // above the READ_ONCE(s->task) load.
                var s = await PlainRead(cl.S);
                RcuReadLock();
                await PlainWrite(s!.Done, 1);
                var p = await ReadOnce(s.Task);
                await WakeUpProcess(p!);
                RcuReadUnlock();
                break;
            }
            default:
            {
                var s = await PlainRead(cl.S);
                RcuReadLock();
                var p = await ReadOnce(s!.Task);
                if (cl.Variant == ClosureVariant.SyncDoneAcquire)
                    await SmpStoreRelease(s.Done, 1);
                else
                    await PlainWrite(s.Done, 1);
                await WakeUpProcess(p!);
                RcuReadUnlock();
                break;
            }
        }
    }

    /// <summary>__closure_sync(): drop our ref and sleep until closure_sync_fn says done.</summary>
    public async ValueTask __ClosureSync()
    {
        var s = OnStack(() => new ClosureSyncer(Current), "s");
        await PlainWrite(S, s);
        await ContinueAt(s_closureSyncFn, null);
        for (;;)
        {
            await SetCurrentState(TaskState.Uninterruptible);
            var done = Variant == ClosureVariant.SyncDoneAcquire ? await SmpLoadAcquire(s.Done) : await PlainRead(s.Done);
            if (done != 0)
                break;
            await Schedule();
        }

        SetCurrentStateNoBarrier(TaskState.Running);
        FrameReturn(s);
    }
}
