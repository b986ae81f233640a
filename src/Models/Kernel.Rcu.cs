using System.Runtime.CompilerServices;

namespace Kmc.Models;

// RCU as CONFIG_PREEMPT_RCU has it: rcu_read_lock() only counts nesting in the task, it does not
// disable preemption, so a reader can be preempted inside its section (with a non-preemptive
// scenario no task is ever preempted, which is what !PREEMPT_RCU's preempt_disable() buys, so the
// same code serves both). A grace period waits for tasks, not CPUs: for the sections that were
// open when it started. What a grace period orders under a weak model is the memory model's part
// (MemoryModel.OnGracePeriodStart and friends); sc needs only the waiting.
public static partial class Kernel
{
    /// <summary>rcu_read_lock(): enters (or nests) a read-side critical section.</summary>
    public static void RcuReadLock([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        if (t.RcuReadLockNesting++ == 0)
        {
            t.RcuLockedAt = $"{file}:{line}";
            if (!ex.IsSc)
                ex.Memory.OnRcuReadLock(t);
            ex.Races?.OnRcuReadLock(t);
        }

        if (ex.Recording)
            ex.Record(t, "rcu_read_lock", null, $"nesting {t.RcuReadLockNesting}", fn, file, line, memory: ex.MemoryNote);
    }

    /// <summary>rcu_read_unlock(): the outermost one ends the section, and with it what grace periods wait for.</summary>
    public static void RcuReadUnlock([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        if (t.RcuReadLockNesting == 0)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"rcu_read_unlock() by {t.Name} without a matching rcu_read_lock(): not in an RCU read-side critical section", $"{file}:{line}"));
        }

        if (--t.RcuReadLockNesting == 0)
        {
            var token = ex.IsSc ? null : ex.Memory.OnRcuReadUnlock(t);
            t.RcuLockedAt = null;
            ex.Rcu.SectionEnded(t, token, ex.Races?.OnRcuReadUnlock(t));
        }

        if (ex.Recording)
            ex.Record(t, "rcu_read_unlock", null, $"nesting {t.RcuReadLockNesting}", fn, file, line, memory: ex.MemoryNote);
    }

    /// <summary>rcu_read_lock_held(): whether the current task is inside a read-side critical section.</summary>
    public static bool RcuReadLockHeld() => Execution.CurrentTask.RcuReadLockNesting > 0;

    /// <summary>
    /// rcu_dereference(p): READ_ONCE() of an RCU-protected pointer, whose later loads through it
    /// are dependency-ordered (the weak models order pointer-valued loads). As with CONFIG_PROVE_RCU,
    /// using it outside a read-side critical section is reported: the object may be freed under it.
    /// </summary>
    public static ValueTask<T> RcuDereference<T>(Loc<T> p, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : class?
    {
        var t = Execution.CurrentTask;
        if (t.RcuReadLockNesting == 0)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"suspicious RCU usage: rcu_dereference({p.Name}) by {t.Name} outside an RCU read-side critical section", $"{file}:{line}"));
        }

        return Load(p, MemOrder.Once, "rcu_dereference", fn, file, line);
    }

    /// <summary>
    /// rcu_dereference_protected(p, c): the update side's plain load, legal outside a read-side
    /// section because <paramref name="c"/> (lockdep_is_held(), or 1 for a sole updater) says nobody
    /// else may change <paramref name="p"/>.
    /// </summary>
    public static ValueTask<T> RcuDereferenceProtected<T>(Loc<T> p, bool c, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : class?
    {
        if (!c)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"suspicious RCU usage: rcu_dereference_protected({p.Name}) by {Execution.CurrentTask.Name} without the update-side protection it names", $"{file}:{line}"));
        }

        return Load(p, MemOrder.Plain, "rcu_dereference_protected", fn, file, line);
    }

    /// <summary>rcu_assign_pointer(p, v): publishes v with smp_store_release(), so a reader that sees v sees its initialisation.</summary>
    public static ValueTask RcuAssignPointer<T>(Loc<T> p, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : class?
        => Store(p, v, MemOrder.Release, "rcu_assign_pointer", fn, file, line);

    /// <summary>
    /// synchronize_rcu(): sleeps until every task that was inside a read-side critical section
    /// when the grace period started has left it. Inside the caller's own section that can never
    /// happen: reported at once as a hang.
    /// </summary>
    public static async ValueTask SynchronizeRcu([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        if (t.RcuReadLockNesting > 0)
        {
            throw new KernelFailureException(new Failure(FailureKind.Hang,
                $"synchronize_rcu() by {t.Name} inside its own RCU read-side critical section (rcu_read_lock() at {Path.GetFileName(t.RcuLockedAt)}): " +
                $"the grace period waits for {t.Name} to leave it, and {t.Name} waits for the grace period", $"{file}:{line}"));
        }

        CheckMaySleep(t, "synchronize_rcu()", file, line);
        await GracePeriodWait(ex, t, "synchronize_rcu", "synchronize_rcu(): a grace period", fn, file, line);
    }

    /// <summary>
    /// The grace period itself, a scheduling point where it starts (which sections it waits for
    /// depends on where) and, if it waits, a sleep the scheduler sees as blocked until the last
    /// of those sections ends.
    /// </summary>
    private static async ValueTask GracePeriodWait(Execution ex, SimTask t, string op, string what, string fn, string file, int line)
    {
        await ex.Point(t, null, null);
        Scheduling.Reduction.Footprints.Untracked();
        var gp = ex.Rcu.Start(ex, t);
        if (gp.Waiting.Count == 0)
        {
            ex.Rcu.End(ex, gp);
            if (ex.Recording)
                ex.Record(t, op, null, "grace period: no reader inside rcu_read_lock()", fn, file, line, memory: ex.MemoryNote);
            return;
        }

        if (ex.Recording)
            ex.Record(t, op, null, $"grace period starts: waits for {gp.Names}", fn, file, line, memory: ex.MemoryNote);
        t.Sleeping = true;
        if (t.Cpu.Occupant == t)
            t.Cpu.Occupant = null;
        // Not in a finally: when a driver ends the execution here, the task stays asleep for the hang report.
        await ex.Point(t, () => gp.Waiting.Count == 0, $"{what} waiting for {gp.Names} to call rcu_read_unlock()",
            new WaitSite(fn, file, line));
        Scheduling.Reduction.Footprints.Untracked();
        t.Sleeping = false;
        t.Cpu.Occupant = t;
        ex.Rcu.End(ex, gp);
        if (ex.Recording)
            ex.Record(t, op, null, "grace period ends: every reader it waited for has left", fn, file, line, memory: ex.MemoryNote);
    }

    /// <summary>
    /// call_rcu(head, func): func(head) runs after a grace period that starts after this call.
    /// It runs in a task of its own ("rcuc/CPU:n", on the caller's CPU), whose grace period and
    /// invocation are scheduling points like any other; the invocation is in softirq context, so
    /// a callback that sleeps is "scheduling while atomic". Callbacks are not ordered among themselves.
    /// </summary>
    public static async ValueTask CallRcu(RcuHead head, Func<RcuHead, ValueTask> func, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        Scheduling.Reduction.Footprints.Untracked();
        await ex.Point(t, null, null);
        Scheduling.Reduction.Footprints.Untracked();
        if (head.Queued)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"call_rcu() of {head.Name} by {t.Name} while it is still queued (ODEBUG: activate active rcu_head)", $"{file}:{line}"));
        }

        head.Queued = true;
        var name = $"rcuc/{t.Cpu.Id}:{ex.Rcu.Callbacks++}";
        ex.Spawn(name, t.Cpu.Id, async () =>
        {
            var (ex2, self) = Ctx();
            await GracePeriodWait(ex2, self, "grace period", $"the grace period before {head.Name}'s callback", fn, file, line);
            head.Queued = false;
            self.PreemptCount++;
            if (ex2.Recording)
                ex2.Record(self, "rcu_do_batch", head.Name, "invokes the callback (softirq: may not sleep)", fn, file, line);
            await func(head);
            self.PreemptCount--;
        });
        if (ex.Recording)
            ex.Record(t, "call_rcu", head.Name, $"queued: {name} invokes it after a grace period", fn, file, line);
    }

    /// <summary>kfree_rcu(obj, rhf): kfree(obj) after a grace period, through call_rcu() on its rcu_head.</summary>
    public static ValueTask KfreeRcu(KObject obj, RcuHead head, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => CallRcu(head, _ => Kfree(obj, fn, file, line), fn, file, line);

    // ---- might_sleep() ---------------------------------------------------------------------

    /// <summary>might_sleep(): reports the caller if it could not sleep here (atomic context, irqs off, or an RCU reader).</summary>
    public static void MightSleep([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => CheckMaySleep(Execution.CurrentTask, $"might_sleep() in {fn}", file, line);

    /// <summary>The check of might_sleep() (CONFIG_DEBUG_ATOMIC_SLEEP), for every API that may block.</summary>
    internal static void CheckMaySleep(SimTask t, string what, string file, int line)
    {
        if (t.RcuReadLockNesting > 0)
            throw SleepInRcuReader(t, what, file, line);
        if (t.PreemptCount > 0 || t.Cpu.IrqsDisabled)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"BUG: sleeping function called from invalid context: {t.Name} calls {what} with preempt_count {t.PreemptCount}, irqs {(t.Cpu.IrqsDisabled ? "disabled" : "enabled")}",
                $"{file}:{line}"));
        }
    }

    /// <summary>A reader that blocks holds up every grace period behind it (and, under !PREEMPT_RCU, ends one under itself).</summary>
    internal static KernelFailureException SleepInRcuReader(SimTask t, string what, string file, int line) =>
        new(new Failure(FailureKind.Assertion,
            $"BUG: sleeping function called from invalid context: {t.Name} calls {what} inside an RCU read-side critical section " +
            $"(RCU nest depth {t.RcuReadLockNesting}, rcu_read_lock() at {Path.GetFileName(t.RcuLockedAt)})", $"{file}:{line}"));
}
