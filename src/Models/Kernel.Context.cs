using System.Runtime.CompilerServices;

namespace Kmc.Models;

public static partial class Kernel
{
    // ---- CPU and preemption ----------------------------------------------------------------

    public static int SmpProcessorId() => Execution.CurrentTask.Cpu.Id;

    public static int NrCpuIds => Execution.Current.Cpus.Count;

    public static void PreemptDisable([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        t.PreemptCount++;
        if (ex.Recording)
            ex.Record(t, "preempt_disable", null, t.PreemptCount.ToString(), fn, file, line);
    }

    /// <summary>preempt_enable(): dropping to zero makes the task preemptible again at its next step.</summary>
    public static void PreemptEnable([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        if (t.PreemptCount == 0)
            throw new KernelFailureException(new Failure(FailureKind.Assertion, $"preempt_enable() by {t.Name} with preempt_count 0", $"{file}:{line}"));
        t.PreemptCount--;
        if (ex.Recording)
            ex.Record(t, "preempt_enable", null, t.PreemptCount.ToString(), fn, file, line);
    }

    public static void LocalIrqDisable([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        t.Cpu.IrqsDisabled = true;
        ex.Record(t, "local_irq_disable", null, null, fn, file, line);
    }

    public static void LocalIrqEnable([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        t.Cpu.IrqsDisabled = false;
        ex.Record(t, "local_irq_enable", null, null, fn, file, line);
    }

    /// <summary>local_irq_save(): returns the flags to hand back to local_irq_restore().</summary>
    public static bool LocalIrqSave([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        var flags = t.Cpu.IrqsDisabled;
        t.Cpu.IrqsDisabled = true;
        ex.Record(t, "local_irq_save", null, flags ? "irqs were off" : "irqs were on", fn, file, line);
        return flags;
    }

    public static void LocalIrqRestore(bool flags, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        t.Cpu.IrqsDisabled = flags;
        ex.Record(t, "local_irq_restore", null, flags ? "irqs off" : "irqs on", fn, file, line);
    }

    public static bool IrqsDisabled() => Execution.CurrentTask.Cpu.IrqsDisabled;

    /// <summary>A bare scheduling point: cpu_relax() in a loop that is not a plain spin-wait.</summary>
    public static async ValueTask CpuRelax([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, null, null);
        ex.Record(t, "cpu_relax", null, null, fn, file, line);
    }

    // ---- spin-waits ------------------------------------------------------------------------

    /// <summary>
    /// <c>while (!cond) cpu_relax();</c> — modelled as a blocked task, not a loop: the explorers
    /// run it only once the condition holds, and a spin nothing can end is a hang.
    /// </summary>
    /// <remarks>
    /// Limit: the condition reads the newest values (<see cref="Loc{T}.Peek"/>), under every
    /// memory model. Under lkmm the loop's loads could also return older stores, so a spin that
    /// ends on a value that was already overwritten (a flag that went 1 then back to 0) is not
    /// explored here, and neither is a stale read of the locations it reads inside the condition
    /// (the task's view does not move). Where the wait is on one location's value, use
    /// <see cref="SmpCondLoadAcquire{T}"/> or <see cref="SmpCondLoadRelaxed{T}"/>, which explore
    /// those reads: it matters where a waiter takes a lock or a role on what it saw (a queue head
    /// that reads a lock word from before the previous owner's set_locked(), qspinlock).
    /// </remarks>
    public static async ValueTask SpinUntil(Func<bool> cond, string what, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, cond, what, new WaitSite(fn, file, line));
        ex.Record(t, "spin until", what, "true", fn, file, line);
    }

    /// <summary>
    /// A spin that may also give up because need_resched() (or a similar recorded condition)
    /// became true: returns true when <paramref name="cond"/> held, false when the task gave up.
    /// </summary>
    /// <remarks>
    /// Where the scenario sets <see cref="Execution.NeedReschedFromRunqueues"/>, need_resched() is
    /// no recorded choice: the spin re-reads it with its condition and gives up once another
    /// task of the same or a higher class wants the CPU (or <paramref name="alsoGiveUpWhen"/>
    /// holds, as a vendor's rt_task() test); otherwise the condition alone ends it.
    /// </remarks>
    public static async ValueTask<bool> SpinUntilOrGiveUp(Func<bool> cond, string what, string giveUpReason = "need_resched()",
        Func<bool>? alsoGiveUpWhen = null,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, null, what, new WaitSite(fn, file, line));
        // A give-up read from the runqueues or a caller's test is no load a spin loop records.
        if (t.ActiveLoop is { } loop && (ex.NeedReschedFromRunqueues || alsoGiveUpWhen != null))
            loop.Effect();
        if (cond())
        {
            ex.Record(t, "spin until", what, "true", fn, file, line);
            return true;
        }

        if (ex.NeedReschedFromRunqueues)
        {
            bool GiveUp() => ex.RunqueueNeedsResched(t) || (alsoGiveUpWhen?.Invoke() ?? false);
            if (!GiveUp())
                await ex.Point(t, () => cond() || GiveUp(), new WaitText(what, " || ", giveUpReason), new WaitSite(fn, file, line));
            if (cond())
            {
                ex.Record(t, "spin until", what, "true", fn, file, line);
                return true;
            }

            ex.Record(t, giveUpReason, what, "true: gives up", fn, file, line);
            return false;
        }

        if (alsoGiveUpWhen?.Invoke() ?? false)
        {
            ex.Record(t, giveUpReason, what, "true: gives up", fn, file, line);
            return false;
        }

        // The condition is false here, so spinning on would only wait: the task either waits
        // for it or the recorded give-up fires. Asking only now keeps the choice tree small.
        if (ex.Choose(t, 2) == 1)
        {
            ex.Record(t, giveUpReason, what, "true: gives up", fn, file, line);
            return false;
        }

        // The look above saw the condition false: the store that makes it true races with it, so
        // the exhaustive search may end the execution at the wake (ExecutionOptions.PruneWokenSpins).
        t.WaitsAfterLook = true;
        try
        {
            await ex.Point(t, cond, what, new WaitSite(fn, file, line));
        }
        finally
        {
            t.WaitsAfterLook = false;
        }

        ex.Record(t, "spin until", what, "true", fn, file, line);
        return true;
    }

    /// <summary>smp_cond_load_acquire(): spin until cond(*x), then return the value with acquire ordering.</summary>
    public static async ValueTask<T> SmpCondLoadAcquire<T>(Loc<T> x, Func<T, bool> cond, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        var (order, op) = ex.Orderings != null
            ? Hooked(ex, MemOrder.Acquire, rmw: false, "smp_cond_load_acquire", fn, file, line)
            : (MemOrder.Acquire, "smp_cond_load_acquire");
        var v = await CondLoad(ex, t, x, cond, order, op, fn, file, line);
        if (v is null)
            NoteNull(ex, t, x, op, fn, file, line);
        return v;
    }

    /// <summary>smp_cond_load_relaxed()</summary>
    public static ValueTask<T> SmpCondLoadRelaxed<T>(Loc<T> x, Func<T, bool> cond, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        return CondLoad(ex, t, x, cond, MemOrder.Once, "smp_cond_load_relaxed", fn, file, line);
    }

    /// <summary>
    /// The loop of smp_cond_load_*(), a blocked task until a read of <paramref name="x"/> may
    /// satisfy <paramref name="cond"/>. Under lkmm that read may return an older store than the
    /// newest (<see cref="MemoryModel.CanReadSatisfying{T}"/>), or catch up with a newest that
    /// does not satisfy and spin on; sc and tso read the newest value once it satisfies.
    /// </summary>
    private static async ValueTask<T> CondLoad<T>(Execution ex, SimTask t, Loc<T> x, Func<T, bool> cond, MemOrder order, string op,
        string fn, string file, int line)
    {
        var what = new WaitText(x.Name, " (", op, ")");
        var at = new WaitSite(fn, file, line);
        Func<bool> canEnd = () => ex.SpinCanEnd(t, x, cond);
        while (true)
        {
            await ex.Point(t, canEnd, what, at, x);
            Allocator.CheckLive(x, op, file, line, t);
            var (done, v) = ex.LoadSatisfying(t, x, order, cond);
            if (done)
            {
                ex.Record(t, op, x.Name, x.FormatValue(v), fn, file, line, memory: ex.MemoryNote);
                ex.RaceCheck(t, x, write: false, order, op, fn, file, line, v);
                return v;
            }

            ex.Record(t, op, x.Name, x.FormatValue(v) + ": spins on", fn, file, line, memory: ex.MemoryNote);
            ex.RaceCheck(t, x, write: false, MemOrder.Once, op, fn, file, line, v);
        }
    }

    // ---- recorded choices ------------------------------------------------------------------

    /// <summary>A nondeterministic value in [0, n), recorded so that a replay makes the same choice.</summary>
    public static int Choose(int n, string what, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        var v = n <= 1 ? 0 : ex.Choose(t, n);
        if (ex.Recording)
            ex.Record(t, "choose", what, v.ToString(), fn, file, line);
        return v;
    }

    public static bool ChooseBool(string what, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        var v = ex.Choose(t, 2) == 1;
        ex.Record(t, "choose", what, v ? "true" : "false", fn, file, line);
        return v;
    }

    /// <summary>need_resched(): whether the scheduler wants this CPU back. A recorded choice.</summary>
    public static bool NeedResched([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        if (!ex.NeedReschedFromRunqueues)
            return ChooseBool("need_resched()", fn, file, line);
        var v = ex.RunqueueNeedsResched(t);
        t.ActiveLoop?.Effect();
        ex.Record(t, "need_resched()", null, v ? "true" : "false", fn, file, line);
        return v;
    }

    /// <summary>vcpu_is_preempted(cpu): a recorded choice (false on bare metal, either on a guest).</summary>
    public static bool VcpuIsPreempted(int cpu, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => ChooseBool($"vcpu_is_preempted({cpu})", fn, file, line);

    // ---- assertions ------------------------------------------------------------------------

    public static void Assert(bool cond, string message, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (!cond)
            throw new KernelFailureException(new Failure(FailureKind.Assertion, message, $"{file}:{line}"));
    }

    /// <summary>
    /// <see cref="Assert(bool, string, string, string, int)"/> with an interpolated message, which is
    /// formatted only when the assertion fails (scenarios assert at every step; see <see cref="AssertMessage"/>).
    /// </summary>
    public static void Assert(bool cond, [InterpolatedStringHandlerArgument(nameof(cond))] ref AssertMessage message,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (!cond)
            throw new KernelFailureException(new Failure(FailureKind.Assertion, message.ToStringAndClear(), $"{file}:{line}"));
    }

    /// <summary>BUG_ON(cond)</summary>
    public static void BugOn(bool cond, string what, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (cond)
            throw new KernelFailureException(new Failure(FailureKind.Assertion, $"BUG_ON({what}) in {fn}", $"{file}:{line}"));
    }

    /// <summary>WARN_ON(cond): a warning in the kernel, a failed property here. Returns cond, as the C does.</summary>
    public static bool WarnOn(bool cond, string what, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (cond)
            throw new KernelFailureException(new Failure(FailureKind.Assertion, $"WARN_ON({what}) in {fn}", $"{file}:{line}"));
        return cond;
    }

    /// <summary>Adds a free-form line to the interleaving (what a port's pr_debug would say).</summary>
    public static void Note(string text, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        ex.Record(t, "note", null, text, fn, file, line);
    }

    // ---- allocation ------------------------------------------------------------------------

    /// <summary>kmalloc(): constructs the object; the result is tracked for use-after-free and leaks.</summary>
    public static T Kmalloc<T>(Func<T> construct, string? name = null, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : KObject
    {
        UncheckedAllocFault(name, typeof(T), "kmalloc", fn, file, line);
        return Alloc(construct, name, "kmalloc", fn, file, line);
    }

    /// <summary>kzalloc(): C# objects start zeroed, so only the trace differs from kmalloc.</summary>
    public static T Kzalloc<T>(Func<T> construct, string? name = null, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : KObject
    {
        UncheckedAllocFault(name, typeof(T), "kzalloc", fn, file, line);
        return Alloc(construct, name, "kzalloc", fn, file, line);
    }

    private static T Alloc<T>(Func<T> construct, string? name, string op, string fn, string file, int line) where T : KObject
    {
        var ex = Execution.Current;
        var t = Execution.InTask ? Execution.CurrentTask : null;
        var obj = ex.Allocator.Allocate(AllocKind.Heap, name ?? typeof(T).Name, $"{file}:{line}", t, construct);
        if (t != null)
            ex.Record(t, op, obj.DisplayName, null, fn, file, line);
        return obj;
    }

    /// <summary>kfree(): a scheduling point, since another task may still be about to touch the object.</summary>
    public static async ValueTask Kfree(KObject? obj, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (obj is null)
            return;
        var ex = Execution.Current;
        if (!Execution.InTask)
        {
            ex.Allocator.Free(obj, $"{file}:{line}", null);
            return;
        }

        var t = Execution.CurrentTask;
        await ex.Point(t, null, null);
        ex.Allocator.Free(obj, $"{file}:{line}", t);
        ex.Invariants?.Freed();
        ex.Record(t, "kfree", obj.DisplayName, null, fn, file, line);
    }

    /// <summary>An object on the current task's stack; <see cref="FrameReturn"/> ends its lifetime.</summary>
    public static T OnStack<T>(Func<T> construct, string? name = null, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : KObject
    {
        var (ex, t) = Ctx();
        var obj = ex.Allocator.Allocate(AllocKind.Stack, name ?? typeof(T).Name, $"{file}:{line}", t, construct);
        ex.Record(t, "on stack", obj.DisplayName, null, fn, file, line);
        return obj;
    }

    /// <summary>The function that declared an on-stack object returns: later accesses to it are use-after-free.</summary>
    public static void FrameReturn(KObject obj, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        ex.Allocator.EndFrame(obj, $"{file}:{line}", t);
        ex.Invariants?.Freed();
        ex.Record(t, "return", obj.DisplayName, "stack object dead", fn, file, line);
    }
}
