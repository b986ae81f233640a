namespace Kmc.Models;

/// <summary>The notifier actions of the CPU hotplug notifier chain (include/linux/cpu.h, v3.x-v4.9).</summary>
public enum CpuAction
{
    /// <summary>CPU_UP_PREPARE: the CPU is about to come up; not online yet, nothing runs on it.</summary>
    CpuUpPrepare,
    /// <summary>CPU_ONLINE: the CPU is up and its tasks may run.</summary>
    CpuOnline,
    /// <summary>CPU_DOWN_PREPARE: the CPU is about to go down; still online.</summary>
    CpuDownPrepare,
    /// <summary>CPU_DEAD: the CPU is down and nothing runs on it.</summary>
    CpuDead,
}

/// <summary>struct notifier_block on the CPU hotplug chain (register_cpu_notifier()).</summary>
public sealed class CpuNotifier(string name, Func<CpuAction, int, ValueTask> call)
{
    public string Name { get; } = name;

    /// <summary>notifier_call(nb, action, hcpu); the model has no NOTIFY_BAD, so it returns nothing.</summary>
    public Func<CpuAction, int, ValueTask> Call { get; } = call;
}

/// <summary>A dynamic cpuhp state (cpuhp_setup_state(CPUHP_AP_ONLINE_DYN, ...)): its startup and teardown callbacks.</summary>
public sealed record CpuhpState(int Id, string Name, Func<int, ValueTask>? Startup, Func<int, ValueTask>? Teardown);

/// <summary>
/// The CPU hotplug state of one execution: cpu_possible_mask, cpu_online_mask, the notifier
/// chain, the cpuhp states and the hotplug lock (cpu_hotplug_begin/get_online_cpus).
/// </summary>
/// <remarks>
/// What the model does, and what it leaves out:
/// <list type="bullet">
/// <item>Every CPU is possible; all are online unless the scenario boots one offline
/// (<see cref="Execution.BootCpuOffline"/>). A CPU comes up or goes down only when a task calls
/// <see cref="Kernel.CpuUp"/> or <see cref="Kernel.CpuDown"/> (the sysfs "online" file's
/// cpu_up()/cpu_down()); the explorer schedules that task like any other, so where the change
/// lands among the other tasks' steps is a scheduling decision, recorded and replayed.</item>
/// <item>The step that sets or clears the CPU's online bit is untracked for the partial-order
/// reduction (it changes which tasks may run) and writes cpu_online_mask's key, so it is
/// dependent with every step, including every read of the mask.</item>
/// <item>Going down waits for stop_machine(): every online CPU must run its stopper, so any task
/// on an online CPU with preemption or interrupts off holds the CPU down back (that is why
/// preempt_disable() keeps CPUs from going offline). Coming up needs no such agreement: the new
/// CPU marks itself online whatever the others are doing.</item>
/// <item>kmc's tasks are pinned to their CPU (kthread_bind()): a task on an offline CPU is not
/// migrated, it waits for the CPU to come back; a hang report names the CPU as offline. The
/// kernel would migrate an unbound task; a scenario that needs that spawns it on another CPU.</item>
/// <item>Notifiers and cpuhp callbacks run on the task calling cpu_up()/cpu_down(), not on the
/// CPU's hotplug thread; all cpuhp states are dynamic online states (CPUHP_AP_ONLINE_DYN):
/// startup after CPU_ONLINE, teardown (in reverse order) before CPU_DOWN_PREPARE. Callbacks
/// cannot fail (no NOTIFY_BAD, no rollback).</item>
/// </list>
/// </remarks>
public sealed class Hotplug
{
    internal Hotplug(int cpus)
    {
        Possible = new Cpumask("cpu_possible_mask", cpus, Scheduling.Reduction.Footprints.CpuPossibleMaskKey);
        Online = new Cpumask("cpu_online_mask", cpus, Scheduling.Reduction.Footprints.CpuOnlineMaskKey);
        for (var c = 0; c < cpus; c++)
        {
            Possible.Set(c, true);
            Online.Set(c, true);
        }
    }

    public Cpumask Possible { get; }
    public Cpumask Online { get; }

    internal List<CpuNotifier> Notifiers { get; } = [];
    internal List<CpuhpState> States { get; } = [];

    /// <summary>cpu_hotplug.active_writer: the task inside cpu_up()/cpu_down(), or null.</summary>
    internal SimTask? Writer;

    /// <summary>cpu_hotplug.refcount: get_online_cpus() sections open.</summary>
    internal int Readers;
}
