using System.Text;

namespace Kmc.Models;

/// <summary>
/// Fair non-termination of spin loops, in the sense of await termination (Lahav, Namakonov,
/// Oberhauser, Podkopaev, Vafeiadis, "Making Weak Memory Models Fair", OOPSLA 2021, as GenMC
/// checks it with --check-liveness): a spin-wait is an await loop, whose iterations have no
/// side effects and whose exit depends only on the locations it re-reads. Under fair scheduling
/// (every runnable task eventually runs) and the assumption that a spin re-reads after every
/// write it can see, such a loop runs forever exactly when an execution reaches a state in which
/// every unfinished task is blocked: spinning on a condition that is false on the latest values
/// (under lkmm, for smp_cond_load_*(), on every store the spinner may still read: a spin that
/// could end on an older store is a step, whose SC alternative reads the newest and spins on),
/// or asleep. kmc models each spin as a blocked task (<see cref="Kernel.SpinUntil"/>), so the
/// explorers reach that state as "no task can move", and the infinite fair execution is that
/// state followed by the cycle of spin iterations, each re-reading the same values.
///
/// This class tells the livelocks among those states: a task that could run (what it waits for
/// holds, or it waits for nothing) is kept off its CPU by a task that spins there with
/// preemption off or at a higher scheduling class. The starved task is named, with the loop that
/// starves it and the cycle of iterations that repeats. Every other blocked state stays a
/// <see cref="FailureKind.Hang"/> (a deadlock, or a lost wakeup).
/// </summary>
public static class Liveness
{
    /// <summary>The livelock report of a state in which no task can move, or null when no runnable task is starved.</summary>
    public static Failure? Starvation(Execution ex)
    {
        foreach (var t in ex.Tasks)
        {
            if (t.Done || t.Sleeping || (t.Blocker != null && !t.Blocker()))
                continue;
            if (KeeperOf(ex, t) is not { } keeper || !Spinning(keeper.Task))
                continue;
            return Report(ex, t, keeper.Task, keeper.Why);
        }

        return null;
    }

    private static bool Spinning(SimTask t) => !t.Done && !t.Sleeping && t.Blocker != null && !t.Blocker();

    /// <summary>Who keeps a runnable task off its CPU, and by which rule of the CPU's scheduler.</summary>
    private static (SimTask Task, string Why)? KeeperOf(Execution ex, SimTask t)
    {
        if (ex.HigherClassOnCpu(t) is { } rt)
            return (rt, $"{ClassName(rt)} over {ClassName(t)}{(rt.PreemptCount > 0 ? ", preemption off" : "")}");
        var occupant = t.Cpu.Occupant;
        if (occupant != null && occupant != t && !occupant.Done && !occupant.Sleeping)
        {
            if (occupant.PreemptCount > 0)
                return (occupant, $"preemption off, preempt_count={occupant.PreemptCount}");
            if (occupant.Cpu.IrqsDisabled)
                return (occupant, "interrupts off");
            if (!ex.Options.Preemptive)
                return (occupant, "no CONFIG_PREEMPT");
        }

        return null;
    }

    private static string ClassName(SimTask t) => t.SchedClass == SchedClass.Rt ? "SCHED_FIFO" : "SCHED_NORMAL";

    private static Failure Report(Execution ex, SimTask starved, SimTask keeper, string why)
    {
        var cpu = starved.Cpu.Id;
        var sb = new StringBuilder();
        sb.Append(starved.Name).Append(" starves: runnable on CPU").Append(cpu).Append(", but ").Append(keeper.Name)
            .Append(" keeps CPU").Append(cpu).Append(" (").Append(why).Append(") spinning on ").Append(keeper.BlockedOn ?? "a condition");
        if (keeper.BlockedAt != null)
            sb.Append(" at ").Append(keeper.BlockedAt);
        sb.Append(", and no other task can end that spin");
        foreach (var t in ex.Tasks.Where(t => !t.Done && t.OpenProgress.Count > 0))
            sb.Append("\n  progress property violated: ").Append(t.OpenProgress[^1]).Append(" (").Append(t.Name).Append(" never gets there)");
        sb.Append("\n  cycle repeated forever under fair scheduling (each spin re-reads after every write it can see; none comes):");
        foreach (var t in ex.Tasks.Where(t => !t.Done))
        {
            sb.Append("\n    ").Append(t.Name).Append("@CPU").Append(t.Cpu.Id).Append(": ");
            if (t == starved)
                sb.Append("runnable, not scheduled: CPU").Append(cpu).Append(" runs ").Append(keeper.Name);
            else if (Spinning(t))
                sb.Append("re-reads ").Append(t.BlockedOn ?? "its condition").Append(" -> still false, spins again").Append(t.BlockedAt is null ? "" : $" ({t.BlockedAt})");
            else if (t.Sleeping)
                sb.Append("asleep in ").Append(t.BlockedOn ?? "schedule()");
            else
                sb.Append("runnable, not scheduled");
        }

        return new Failure(FailureKind.Livelock, sb.ToString(), keeper.BlockedAt);
    }
}

public static partial class Kernel
{
    /// <summary>
    /// Opens a progress property the current task must get through, such as "every osq_lock()
    /// returns or gives up", until <see cref="ProgressEnd"/>: a livelock or hang report names the
    /// properties the stuck tasks are inside. Ghost state: no scheduling point, nothing recorded.
    /// Not a using/finally pair on purpose: when a driver ends a stuck execution by unwinding its
    /// tasks (Coyote does), the property must stay open for the report.
    /// </summary>
    public static void ProgressBegin(string property) => Execution.CurrentTask.OpenProgress.Add(property);

    /// <summary>Closes the innermost progress property of the current task.</summary>
    public static void ProgressEnd()
    {
        var open = Execution.CurrentTask.OpenProgress;
        open.RemoveAt(open.Count - 1);
    }
}
