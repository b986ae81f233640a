using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What sleep sets and races over a load's reads-from choice buy (Kmc.Models.Scheduling.Reduction.DporPolicy.ReadsFromSleep):
/// the reduced exhaustive search under lkmm (no preemption or stale bound) with the refinement and
/// without, in one run: executions, executions stopped as already explored, verdict and CPU time.
/// </summary>
public static class ReadsFromBench
{
    /// <summary>lkmm configurations: the OSQ and lglock shapes of issue 14 and the other lkmm rows of the exhaustive bench.</summary>
    public static IEnumerable<(string Check, string Variant)> Targets =>
    [
        ("osq-1round", "fixed"),
        ("osq-3cpu-1round", "fixed"),
        ("lglock", "fixed"),
        ("lglock-3cpu-2round", "fixed"),
        ("lglock-4cpu", "fixed"),
        ("mcs-spinlock", "fixed"),
        ("ticket-spinlock", "fixed"),
    ];

    private readonly record struct Timed(ExplorationResult R, double CpuSeconds)
    {
        public override string ToString()
        {
            var end = R.Failure != null ? $", {R.Failure.Kind} at {R.FailingExecution:N0}" : R.Complete ? ", complete" : R.Exhausted ? ", bounded" : ", timed out";
            return $"{R.Executions:N0} ({R.SleepBlocked:N0} sleep-blocked){end} in {CpuSeconds:F2} CPU-s";
        }
    }

    public static void Run(RunSettings defaults, double budgetSeconds, IReadOnlyList<string>? only)
    {
        var table = new Table().AddColumns("check", "variant", "task level", "reads-from (sleep sets and races)",
            "executions with/without", "CPU time with/without", "same verdict");
        foreach (var (checkName, variantName) in Targets.Where(t => only == null || only.Contains(t.Check)))
        {
            var check = CheckRegistry.Get(checkName);
            var variant = check.GetVariant(variantName);
            var settings = defaults with { MemoryModel = "lkmm", Strategy = "dfs", PreemptionBound = -1, StaleBound = -1, Minimize = false, FirstPass = false };
            // The first search of a check pays the JIT for its code.
            Search(check, variant, settings, readsFrom: true, 0.3);
            var without = Search(check, variant, settings, readsFrom: false, budgetSeconds);
            var with = Search(check, variant, settings, readsFrom: true, budgetSeconds);
            var both = without.R.Complete && with.R.Complete;
            var same = without.R.Failure?.Kind == with.R.Failure?.Kind && (both || with.R.Failure != null);
            table.AddRow(checkName, variantName, without.ToString(), with.ToString(),
                both ? $"{(double)with.R.Executions / Math.Max(1, without.R.Executions):F3}" : "n/a (not both complete)",
                both ? $"{with.CpuSeconds / Math.Max(without.CpuSeconds, 1e-3):F2}" : "n/a",
                same ? "yes" : both ? "NO" : "n/a");
        }

        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"reads-from sleep sets and races: lkmm, no preemption or stale bound, {budgetSeconds} s per search");
    }

    private static Timed Search(Check check, Variant variant, RunSettings settings, bool readsFrom, double seconds)
    {
        var (result, cpu) = CpuTimed.Explore(check, variant, settings, settings.ToExploreOptions() with { ReadsFromSleep = readsFrom, TimeoutSeconds = seconds });
        return new Timed(result, cpu);
    }
}
