using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>wait_queue_entry: a sleeper on a wait queue.</summary>
public sealed class WaitQueueEntry
{
    public WaitQueueEntry(SimTask task, bool autoRemove = true)
    {
        Task = task;
        AutoRemove = autoRemove;
    }

    public SimTask Task { get; }

    /// <summary>autoremove_wake_function (DEFINE_WAIT) rather than default_wake_function.</summary>
    public bool AutoRemove { get; }

    internal WaitQueueHead? On;
}

/// <summary>wait_queue_head: a spinlock and a list of sleepers.</summary>
public sealed class WaitQueueHead
{
    internal readonly List<WaitQueueEntry> Entries = new();

    public WaitQueueHead(string name)
    {
        Name = name;
        Lock = new SpinlockT(name + ".lock");
        Head = new Loc<int>(name + ".head");
    }

    public string Name { get; }
    public SpinlockT Lock { get; }

    /// <summary>Stands for the list head in memory: waitqueue_active() reads it, list changes write it.</summary>
    internal Loc<int> Head { get; }

    public int Count => Entries.Count;
}

public static partial class Kernel
{
    // ---- task state, schedule() and wakeups ------------------------------------------------

    /// <summary>set_current_state(): smp_store_mb(current->__state, state).</summary>
    public static async ValueTask SetCurrentState(TaskState state, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        await ex.Point(t, null, null);
        Scheduling.Reduction.Footprints.Untracked();
        t.State = state;
        ex.Fence(t, FenceKind.Mb);
        if (ex.Recording)
            ex.Record(t, "set_current_state", t.Name + "->__state", state.ToString().ToUpperInvariant(), fn, file, line);
    }

    /// <summary>__set_current_state(): the same store without the barrier.</summary>
    public static void SetCurrentStateNoBarrier(TaskState state, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        t.State = state;
        if (ex.Recording)
            ex.Record(t, "__set_current_state", t.Name + "->__state", state.ToString().ToUpperInvariant(), fn, file, line);
    }

    /// <summary>
    /// schedule(): a task whose state is not TASK_RUNNING sleeps until wake_up_process() sets it
    /// back. A wakeup that came before (and already set TASK_RUNNING) makes it return at once;
    /// one that came before set_current_state() is lost, exactly as in the kernel.
    /// </summary>
    public static async ValueTask Schedule([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        if (t.RcuReadLockNesting > 0)
            throw SleepInRcuReader(t, "schedule()", file, line);
        if (t.PreemptCount > 0)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"BUG: scheduling while atomic: {t.Name} calls schedule() with preempt_count {t.PreemptCount}", $"{file}:{line}"));
        }

        await ex.Point(t, null, null);

        Scheduling.Reduction.Footprints.Untracked();
        if (t.State == TaskState.Running)
        {
            ex.Races?.OnScheduled(t);
            if (ex.Recording)
                ex.Record(t, "schedule", null, "TASK_RUNNING: returns at once", fn, file, line);
            return;
        }

        if (ex.Recording)
            ex.Record(t, "schedule", null, "sleeps", fn, file, line);
        t.Sleeping = true;
        if (t.Cpu.Occupant == t)
            t.Cpu.Occupant = null;
        // Not in a finally: when a driver ends the execution here, the task stays asleep for the hang report.
        await ex.Point(t, () => t.State == TaskState.Running, "schedule(): waiting for a wakeup", new WaitSite(fn, file, line));
        Scheduling.Reduction.Footprints.Untracked();
        t.Sleeping = false;
        t.Cpu.Occupant = t;
        ex.Races?.OnScheduled(t);
        if (ex.Recording)
            ex.Record(t, "schedule", null, "woken", fn, file, line);
    }

    /// <summary>wake_up_process(): true when the task was asleep (not TASK_RUNNING) and is now runnable.</summary>
    public static async ValueTask<bool> WakeUpProcess(SimTask p, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        await ex.Point(t, null, null);
        Scheduling.Reduction.Footprints.Untracked();
        return TryToWakeUp(ex, t, p, fn, file, line);
    }

    private static bool TryToWakeUp(Execution ex, SimTask waker, SimTask p, string fn, string file, int line)
    {
        // try_to_wake_up() orders the wakeup after the waker's prior accesses (smp_mb__after_spinlock).
        ex.Fence(waker, FenceKind.Mb);
        var woke = p.State != TaskState.Running && !p.Done;
        if (woke)
        {
            p.State = TaskState.Running;
            ex.Races?.OnWake(waker, p);
        }
        if (ex.Recording)
            ex.Record(waker, "wake_up_process", p.Name, woke ? "woken" : "already running", fn, file, line, wakes: woke ? p.Name : null);
        return woke;
    }

    // ---- wait queues -----------------------------------------------------------------------

    /// <summary>DEFINE_WAIT(): an entry for the current task with autoremove_wake_function.</summary>
    public static WaitQueueEntry DefineWait() => new(Current, autoRemove: true);

    /// <summary>prepare_to_wait(): queue the entry (if not queued) and set the task state, under the queue lock.</summary>
    public static async ValueTask PrepareToWait(WaitQueueHead wq, WaitQueueEntry wait, TaskState state, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        var flags = await SpinLockIrqsave(wq.Lock, fn, file, line);
        if (wait.On == null)
        {
            wait.On = wq;
            t.QueuedOn = wq;
            wq.Entries.Add(wait);
            ex.Store(t, wq.Head, wq.Entries.Count, MemOrder.Once, rmw: false);
            if (ex.Recording)
                ex.Record(t, "prepare_to_wait", wq.Name, $"queued {t.Name}", fn, file, line);
        }

        t.State = state;
        ex.Fence(t, FenceKind.Mb);
        if (ex.Recording)
            ex.Record(t, "set_current_state", t.Name + "->__state", state.ToString().ToUpperInvariant(), fn, file, line);
        await SpinUnlockIrqrestore(wq.Lock, flags, fn, file, line);
    }

    /// <summary>finish_wait(): back to TASK_RUNNING and off the queue if a waker did not already remove us.</summary>
    public static async ValueTask FinishWait(WaitQueueHead wq, WaitQueueEntry wait, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        SetCurrentStateNoBarrier(TaskState.Running, fn, file, line);
        if (wait.On != null)
        {
            var flags = await SpinLockIrqsave(wq.Lock, fn, file, line);
            Unqueue(ex, t, wq, wait);
            await SpinUnlockIrqrestore(wq.Lock, flags, fn, file, line);
        }
    }

    private static void Unqueue(Execution ex, SimTask t, WaitQueueHead wq, WaitQueueEntry wait)
    {
        if (wait.On == null)
            return;
        wq.Entries.Remove(wait);
        wait.On = null;
        if (wait.Task.QueuedOn == wq)
            wait.Task.QueuedOn = null;
        ex.Store(t, wq.Head, wq.Entries.Count, MemOrder.Once, rmw: false);
    }

    /// <summary>wake_up(): wake every sleeper on the queue (each is exclusive-free here), under the queue lock.</summary>
    public static async ValueTask WakeUp(WaitQueueHead wq, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        var flags = await SpinLockIrqsave(wq.Lock, fn, file, line);
        if (wq.Entries.Count == 0 && ex.Recording)
            ex.Record(t, "wake_up", wq.Name, "no sleepers", fn, file, line);
        foreach (var wait in wq.Entries.ToArray())
        {
            var woke = TryToWakeUp(ex, t, wait.Task, fn, file, line);
            if (woke && wait.AutoRemove)
                Unqueue(ex, t, wq, wait);
        }

        await SpinUnlockIrqrestore(wq.Lock, flags, fn, file, line);
    }

    /// <summary>waitqueue_active(): a lockless peek at the list; needs a barrier on both sides to be safe.</summary>
    public static async ValueTask<bool> WaitqueueActive(WaitQueueHead wq, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => await Load(wq.Head, MemOrder.Plain, "waitqueue_active", fn, file, line) != 0;

    /// <summary>
    /// wait_event(wq, condition): the kernel's ___wait_event loop. The condition is model code
    /// (it reads shared memory through the kernel API), evaluated after the task is queued.
    /// </summary>
    public static async ValueTask WaitEvent(WaitQueueHead wq, Func<ValueTask<bool>> condition, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        // might_sleep() comes first, as in the kernel: a caller that must not sleep is wrong even when the condition already holds.
        CheckMaySleep(Current, "wait_event()", file, line);
        if (await condition())
            return;
        var wait = DefineWait();
        for (;;)
        {
            await PrepareToWait(wq, wait, TaskState.Uninterruptible, fn, file, line);
            if (await condition())
                break;
            await Schedule(fn, file, line);
        }

        await FinishWait(wq, wait, fn, file, line);
    }
}
