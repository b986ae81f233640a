using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What the incremental race analysis of source-DPOR buys (see Kmc.Models.Scheduling.Reduction.RaceFinder):
/// the same reduced search with races found over every step of every execution and over only the
/// steps after the prefix an execution shares with the one before, in one run. The whole-execution
/// search runs for the time budget; the incremental one then runs exactly as many executions, so
/// both time the same part of the tree (executions deeper in a tree cost more or less than the
/// first ones) and must have explored the same executions. Time is CPU time of the process, so a
/// loaded machine shifts both alike.
/// </summary>
public static class DporRaceBench
{
    /// <summary>The configurations: the exhaustive bench's headline ones, and a lock whose executions are long under tso.</summary>
    public static IEnumerable<(string Check, string Variant, string Model)> Targets =>
        ExhaustiveBench.Targets.Append(("ticket-spinlock", "fixed", "tso"));

    /// <summary>The most seconds the whole-execution search of a row takes: enough for a stable rate.</summary>
    public const double MaxBudgetSeconds = 20;

    /// <summary>Searches shorter than this are not timed (clock resolution and the JIT dominate).</summary>
    private const double MinCpuSeconds = 0.2;

    private readonly record struct Timed(ExplorationResult R, double CpuSeconds)
    {
        public double Rate => R.Executions / Math.Max(CpuSeconds, 1e-3);

        public override string ToString()
        {
            var end = R.Failure != null ? $", {R.Failure.Kind} at {R.FailingExecution:N0}" : R.Exhausted ? ", complete" : "";
            return $"{R.Executions:N0} ({R.SleepBlocked:N0} sleep-blocked){end} in {CpuSeconds:F2} CPU-s: {Rate:N0}/CPU-s";
        }
    }

    public static void Run(RunSettings defaults, double budgetSeconds, IReadOnlyList<string>? only)
    {
        var table = new Table().AddColumns("check", "variant", "model", "whole-execution race analysis", "incremental race analysis, as many executions",
            "executions per CPU-s, incremental/whole", "same executions");
        var ratios = new List<double>();
        foreach (var (checkName, variantName, model) in Targets.Where(t => only == null || only.Contains(t.Check)))
        {
            var check = CheckRegistry.Get(checkName);
            var variant = check.GetVariant(variantName);
            var settings = defaults with { MemoryModel = model, Strategy = "dfs", PreemptionBound = -1, Minimize = false, FirstPass = false };
            // The first search of a check pays the JIT for its code: warm both paths before timing.
            Search(check, variant, settings, incremental: false, o => o with { TimeoutSeconds = 0.3 });
            Search(check, variant, settings, incremental: true, o => o with { TimeoutSeconds = 0.3 });
            var whole = Search(check, variant, settings, incremental: false, o => o with { TimeoutSeconds = budgetSeconds });
            // A generous time limit only guards against an incremental search far slower than the other.
            var incremental = Search(check, variant, settings, incremental: true,
                o => o with { ExecutionBudget = whole.R.Executions, TimeoutSeconds = 10 * budgetSeconds });
            // A search that ends at once (a failure in the first executions) has no rate to speak of.
            var timed = Math.Min(whole.CpuSeconds, incremental.CpuSeconds) >= MinCpuSeconds;
            var ratio = incremental.Rate / Math.Max(whole.Rate, 1e-9);
            if (timed)
                ratios.Add(ratio);
            var same = whole.R.Executions == incremental.R.Executions && whole.R.SleepBlocked == incremental.R.SleepBlocked
                       && whole.R.Exhausted == incremental.R.Exhausted && whole.R.Failure?.Kind == incremental.R.Failure?.Kind;
            table.AddRow(checkName, variantName, model, whole.ToString(), incremental.ToString(),
                timed ? $"{ratio:F2}x" : $"n/a (under {MinCpuSeconds} CPU-s)", same ? "yes" : "NO");
        }

        AnsiConsole.Write(table);
        if (ratios.Count > 0)
            AnsiConsole.WriteLine($"race analysis: geometric mean of executions per CPU-second, incremental/whole: {Math.Exp(ratios.Average(Math.Log)):F2}x (whole-execution search {budgetSeconds} s per row)");
    }

    private static Timed Search(Check check, Variant variant, RunSettings settings, bool incremental, Func<ExploreOptions, ExploreOptions> budget)
    {
        var (result, cpu) = CpuTimed.Explore(check, variant, settings, budget(settings.ToExploreOptions() with { IncrementalRaces = incremental }));
        return new Timed(result, cpu);
    }
}
