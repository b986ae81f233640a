using System.Runtime.CompilerServices;
using Kmc.Models.Scheduling.Reduction;

namespace Kmc.Models;

/// <summary>CPU masks and CPU hotplug (kernel/cpu.c, include/linux/cpumask.h); see <see cref="Hotplug"/> for the model.</summary>
public static partial class Kernel
{
    public const int EBUSY = 16, EINVAL = 22;

    /// <summary>cpu_online_mask</summary>
    public static Cpumask CpuOnlineMask => Execution.Current.Hotplug.Online;

    /// <summary>cpu_possible_mask</summary>
    public static Cpumask CpuPossibleMask => Execution.Current.Hotplug.Possible;

    /// <summary>cpu_online(cpu)</summary>
    public static bool CpuOnline(int cpu, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => CpumaskTestCpu(cpu, CpuOnlineMask, fn, file, line);

    /// <summary>num_online_cpus()</summary>
    public static int NumOnlineCpus()
    {
        var mask = CpuOnlineMask;
        Footprints.Read(mask.Key);
        return mask.Bits().Length;
    }

    /// <summary>for_each_possible_cpu(cpu): every CPU of the machine (the possible mask never changes).</summary>
    public static IEnumerable<int> ForEachPossibleCpu() => Enumerable.Range(0, NrCpuIds);

    /// <summary>for_each_online_cpu(cpu): as the kernel's, re-reads the live mask at every step of the loop.</summary>
    public static IEnumerable<int> ForEachOnlineCpu([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => ForEachCpu(CpuOnlineMask, fn, file, line);

    /// <summary>
    /// for_each_cpu(cpu, mask): each iteration is cpumask_next(cpu, mask) on the mask as it is
    /// then, so a bit set or cleared while the loop's body runs is seen (or missed) exactly as a
    /// kernel loop would see it.
    /// </summary>
    public static IEnumerable<int> ForEachCpu(Cpumask mask, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        for (var cpu = CpumaskNext(-1, mask, fn, file, line); cpu < mask.NrCpuIds; cpu = CpumaskNext(cpu, mask, fn, file, line))
            yield return cpu;
    }

    /// <summary>cpumask_next(n, mask): the next set bit above n, or nr_cpu_ids.</summary>
    public static int CpumaskNext(int n, Cpumask mask, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var ex = Execution.Current;
        Footprints.Read(mask.Key);
        var next = n + 1;
        while (next < mask.NrCpuIds && !mask.Test(next))
            next++;
        if (ex.Recording && Execution.InTask)
            ex.Record(Execution.CurrentTask, "cpumask_next", mask.Name, next < mask.NrCpuIds ? $"CPU{next}" : "end", fn, file, line);
        return next;
    }

    /// <summary>cpumask_test_cpu(cpu, mask)</summary>
    public static bool CpumaskTestCpu(int cpu, Cpumask mask, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var ex = Execution.Current;
        Footprints.Read(mask.Key);
        var v = mask.Test(cpu);
        if (ex.Recording && Execution.InTask)
            ex.Record(Execution.CurrentTask, "cpumask_test_cpu", $"{mask.Name}[{cpu}]", v ? "true" : "false", fn, file, line);
        return v;
    }

    /// <summary>cpumask_set_cpu(cpu, mask) (cpu_set() before v2.6.28's rename); a port's own mask, not the kernel's.</summary>
    public static void CpumaskSetCpu(int cpu, Cpumask mask, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => WriteBit(cpu, mask, true, "cpumask_set_cpu", fn, file, line);

    /// <summary>cpumask_clear_cpu(cpu, mask) (cpu_clear())</summary>
    public static void CpumaskClearCpu(int cpu, Cpumask mask, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => WriteBit(cpu, mask, false, "cpumask_clear_cpu", fn, file, line);

    private static void WriteBit(int cpu, Cpumask mask, bool value, string op, string fn, string file, int line)
    {
        var ex = Execution.Current;
        if (mask == ex.Hotplug.Online || mask == ex.Hotplug.Possible)
        {
            throw new KernelFailureException(new Failure(FailureKind.ModelCrash,
                $"{op}({cpu}, {mask.Name}): only CPU hotplug changes the kernel's masks (use cpu_up()/cpu_down())", $"{file}:{line}"));
        }

        Footprints.Write(mask.Key);
        mask.Set(cpu, value);
        if (ex.Recording && Execution.InTask)
            ex.Record(Execution.CurrentTask, op, $"{mask.Name}[{cpu}]", value ? "1" : "0", fn, file, line);
    }

    // ---- callbacks -------------------------------------------------------------------------

    /// <summary>register_cpu_notifier() / register_hotcpu_notifier(): called for every later hotplug event.</summary>
    public static void RegisterCpuNotifier(CpuNotifier nb)
    {
        Footprints.Untracked();
        Execution.Current.Hotplug.Notifiers.Add(nb);
    }

    /// <summary>cpuhp_setup_state_nocalls(CPUHP_AP_ONLINE_DYN, name, startup, teardown): no callback runs now. Returns the state.</summary>
    public static int CpuhpSetupStateNocalls(string name, Func<int, ValueTask>? startup, Func<int, ValueTask>? teardown)
    {
        Footprints.Untracked();
        var states = Execution.Current.Hotplug.States;
        var state = new CpuhpState(states.Count, name, startup, teardown);
        states.Add(state);
        return state.Id;
    }

    /// <summary>cpuhp_setup_state(): as the nocalls form, then startup() for every CPU online now, under get_online_cpus().</summary>
    public static async ValueTask<int> CpuhpSetupState(string name, Func<int, ValueTask>? startup, Func<int, ValueTask>? teardown,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        await GetOnlineCpus(fn, file, line);
        var id = CpuhpSetupStateNocalls(name, startup, teardown);
        if (startup != null)
        {
            foreach (var cpu in ForEachOnlineCpu(fn, file, line))
                await startup(cpu);
        }

        await PutOnlineCpus(fn, file, line);
        return id;
    }

    // ---- the hotplug lock ------------------------------------------------------------------

    /// <summary>get_online_cpus() (cpus_read_lock()): sleeps while a hotplug operation runs, then keeps CPUs from coming or going.</summary>
    public static async ValueTask GetOnlineCpus([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        var hp = ex.Hotplug;
        CheckMaySleep(t, "get_online_cpus()", file, line);
        await ex.Point(t, null, null);
        Footprints.Untracked();
        if (hp.Writer != null && hp.Writer != t)
            await SleepUntil(ex, t, () => hp.Writer == null, "cpu_hotplug.lock (a CPU hotplug operation)", fn, file, line);
        hp.Readers++;
        if (ex.Recording)
            ex.Record(t, "get_online_cpus", "cpu_hotplug", hp.Readers.ToString(), fn, file, line);
    }

    /// <summary>put_online_cpus() (cpus_read_unlock())</summary>
    public static async ValueTask PutOnlineCpus([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, null, null);
        Footprints.Untracked();
        if (ex.Hotplug.Readers == 0)
            throw new KernelFailureException(new Failure(FailureKind.Assertion, $"put_online_cpus() by {t.Name} without get_online_cpus()", $"{file}:{line}"));
        ex.Hotplug.Readers--;
        if (ex.Recording)
            ex.Record(t, "put_online_cpus", "cpu_hotplug", ex.Hotplug.Readers.ToString(), fn, file, line);
    }

    // ---- cpu_up() and cpu_down() -----------------------------------------------------------

    /// <summary>
    /// cpu_up(cpu): CPU_UP_PREPARE, then the CPU marks itself online (the scheduled hotplug
    /// event), then CPU_ONLINE and the cpuhp startup callbacks. Returns 0, or -EINVAL when the
    /// CPU is online already.
    /// </summary>
    public static async ValueTask<int> CpuUp(int cpu, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        var hp = ex.Hotplug;
        CheckCpu(ex, cpu, "cpu_up", file, line);
        await CpuHotplugBegin(ex, t, fn, file, line);
        if (ex.Cpus[cpu].Online)
        {
            CpuHotplugDone(ex, t, "cpu_up", fn, file, line);
            return -EINVAL;
        }

        foreach (var nb in hp.Notifiers.ToArray())
            await nb.Call(CpuAction.CpuUpPrepare, cpu);

        // __cpu_up(): the new CPU runs start_secondary() and set_cpu_online(cpu, true).
        await ex.Point(t, null, null);
        SetCpuOnline(ex, t, cpu, true, fn, file, line);

        foreach (var nb in hp.Notifiers.ToArray())
            await nb.Call(CpuAction.CpuOnline, cpu);
        foreach (var state in hp.States.ToArray())
        {
            if (state.Startup != null)
                await state.Startup(cpu);
        }

        CpuHotplugDone(ex, t, "cpu_up", fn, file, line);
        return 0;
    }

    /// <summary>
    /// cpu_down(cpu): the cpuhp teardown callbacks and CPU_DOWN_PREPARE, then stop_machine() takes
    /// the CPU down once every online CPU can run its stopper (no task on one has preemption or
    /// interrupts off), then CPU_DEAD. Returns 0; -EBUSY for the last online CPU; -EINVAL when the
    /// CPU is offline already.
    /// </summary>
    public static async ValueTask<int> CpuDown(int cpu, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        var hp = ex.Hotplug;
        CheckCpu(ex, cpu, "cpu_down", file, line);
        if (cpu == t.Cpu.Id)
        {
            // The kernel would migrate the caller first; kmc's tasks are pinned.
            throw new KernelFailureException(new Failure(FailureKind.ModelCrash,
                $"{t.Name} calls cpu_down({cpu}) on its own CPU: kmc's tasks are pinned, so call it from a task on another CPU", $"{file}:{line}"));
        }

        await CpuHotplugBegin(ex, t, fn, file, line);
        var result = !ex.Cpus[cpu].Online ? -EINVAL : ex.Cpus.Count(c => c.Online) == 1 ? -EBUSY : 0;
        if (result != 0)
        {
            CpuHotplugDone(ex, t, "cpu_down", fn, file, line);
            return result;
        }

        for (var i = hp.States.Count - 1; i >= 0; i--)
        {
            if (hp.States[i].Teardown is { } teardown)
                await teardown(cpu);
        }

        foreach (var nb in hp.Notifiers.ToArray())
            await nb.Call(CpuAction.CpuDownPrepare, cpu);

        // stop_machine(take_cpu_down): every online CPU's stopper must get its CPU.
        await ex.Point(t, null, null);
        if (StopMachineHeldBy(ex, t) != null)
            await SleepUntil(ex, t, () => StopMachineHeldBy(ex, t) == null, $"stop_machine(take_cpu_down, CPU{cpu})", fn, file, line);
        SetCpuOnline(ex, t, cpu, false, fn, file, line);

        foreach (var nb in hp.Notifiers.ToArray())
            await nb.Call(CpuAction.CpuDead, cpu);
        CpuHotplugDone(ex, t, "cpu_down", fn, file, line);
        return 0;
    }

    /// <summary>A task on an online CPU that keeps stop_machine()'s stopper off it (preemption or interrupts off), or null.</summary>
    private static SimTask? StopMachineHeldBy(Execution ex, SimTask caller)
    {
        foreach (var u in ex.Tasks)
        {
            if (u != caller && !u.Done && !u.Sleeping && u.Cpu.Online
                && (u.PreemptCount > 0 || (u.Cpu.IrqsDisabled && u.Cpu.Occupant == u)))
                return u;
        }

        return null;
    }

    /// <summary>set_cpu_online(): the hotplug event itself, dependent with every other step.</summary>
    private static void SetCpuOnline(Execution ex, SimTask t, int cpu, bool online, string fn, string file, int line)
    {
        Footprints.Untracked();
        Footprints.Write(ex.Hotplug.Online.Key);
        ex.Hotplug.Online.Set(cpu, online);
        var c = ex.Cpus[cpu];
        c.Online = online;
        if (!online && c.Occupant != null)
            c.Occupant = null;
        if (ex.Recording)
            ex.Record(t, "set_cpu_online", $"CPU{cpu}", online ? "true: CPU up" : "false: CPU down", fn, file, line);
    }

    /// <summary>cpu_maps_update_begin() + cpu_hotplug_begin(): one hotplug operation at a time, once no get_online_cpus() section is open.</summary>
    private static async ValueTask CpuHotplugBegin(Execution ex, SimTask t, string fn, string file, int line)
    {
        var hp = ex.Hotplug;
        CheckMaySleep(t, "cpu_hotplug_begin()", file, line);
        await ex.Point(t, null, null);
        Footprints.Untracked();
        if (hp.Writer != null || hp.Readers > 0)
            await SleepUntil(ex, t, () => hp.Writer == null && hp.Readers == 0, "cpu_hotplug.lock (no get_online_cpus() section, no other hotplug)", fn, file, line);
        hp.Writer = t;
        if (ex.Recording)
            ex.Record(t, "cpu_hotplug_begin", "cpu_hotplug", null, fn, file, line);
    }

    private static void CpuHotplugDone(Execution ex, SimTask t, string op, string fn, string file, int line)
    {
        Footprints.Untracked();
        ex.Hotplug.Writer = null;
        if (ex.Recording)
            ex.Record(t, "cpu_hotplug_done", "cpu_hotplug", op, fn, file, line);
    }

    private static void CheckCpu(Execution ex, int cpu, string op, string file, int line)
    {
        if (cpu < 0 || cpu >= ex.Cpus.Count)
            throw new KernelFailureException(new Failure(FailureKind.ModelCrash, $"{op}({cpu}): no such CPU (this scenario has {ex.Cpus.Count})", $"{file}:{line}"));
    }

    /// <summary>A sleep until cond holds: the task gives up its CPU, and the scheduler sees it blocked.</summary>
    private static async ValueTask SleepUntil(Execution ex, SimTask t, Func<bool> cond, string what, string fn, string file, int line)
    {
        if (ex.Recording)
            ex.Record(t, "sleep", what, "waits", fn, file, line);
        t.Sleeping = true;
        if (t.Cpu.Occupant == t)
            t.Cpu.Occupant = null;
        await ex.Point(t, cond, what, new WaitSite(fn, file, line));
        t.Sleeping = false;
        t.Cpu.Occupant = t;
        Footprints.Untracked();
    }
}
