using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What the incremental race analysis of source-DPOR buys (see Kmc.Models.Scheduling.Reduction.RaceFinder):
/// the same reduced search with races found over every step of every execution and over only the
/// steps after the prefix an execution shares with the one before, in one run, each with the same
/// budget. Reported per CPU-second of the process, so a loaded machine shifts both alike. Where
/// both searches end within the budget (the tree explored, or the first failure found), they must
/// have explored the same executions.
/// </summary>
public static class DporRaceBench
{
    /// <summary>The configurations: the exhaustive bench's headline ones, and a lock whose executions are long under tso.</summary>
    public static IEnumerable<(string Check, string Variant, string Model)> Targets =>
        ExhaustiveBench.Targets.Append(("ticket-spinlock", "fixed", "tso"));

    /// <summary>The most seconds one search of the table takes: enough for a stable rate.</summary>
    public const double MaxBudgetSeconds = 20;

    /// <summary>Searches shorter than this are not timed (clock resolution and the JIT dominate).</summary>
    private const double MinCpuSeconds = 0.2;

    private readonly record struct Timed(ExplorationResult R, double CpuSeconds)
    {
        public double Rate => R.Executions / Math.Max(CpuSeconds, 1e-3);

        /// <summary>The search ended on its own (its tree explored, or a failure found), not at the budget.</summary>
        public bool Ended => R.Exhausted || R.Failure != null;

        public override string ToString()
        {
            var end = R.Failure != null ? $", {R.Failure.Kind} at {R.FailingExecution:N0}" : R.Exhausted ? ", complete" : "";
            return $"{R.Executions:N0} ({R.SleepBlocked:N0} sleep-blocked){end} in {CpuSeconds:F2} CPU-s: {Rate:N0}/CPU-s";
        }
    }

    public static void Run(RunSettings defaults, double budgetSeconds, IReadOnlyList<string>? only)
    {
        var table = new Table().AddColumns("check", "variant", "model", "whole-execution race analysis", "incremental race analysis",
            "executions per CPU-s, incremental/whole", "same executions");
        var ratios = new List<double>();
        foreach (var (checkName, variantName, model) in Targets.Where(t => only == null || only.Contains(t.Check)))
        {
            var check = CheckRegistry.Get(checkName);
            var variant = check.GetVariant(variantName);
            var settings = defaults with { MemoryModel = model, Strategy = "dfs", PreemptionBound = -1, Minimize = false, FirstPass = false };
            // The first search of a check pays the JIT for its code: warm both paths before timing.
            Search(check, variant, settings, incremental: false, 0.3);
            Search(check, variant, settings, incremental: true, 0.3);
            var whole = Search(check, variant, settings, incremental: false, budgetSeconds);
            var incremental = Search(check, variant, settings, incremental: true, budgetSeconds);
            // A search that ends at once (a failure in the first executions) has no rate to speak of.
            var timed = Math.Min(whole.CpuSeconds, incremental.CpuSeconds) >= MinCpuSeconds;
            var ratio = incremental.Rate / Math.Max(whole.Rate, 1e-9);
            if (timed)
                ratios.Add(ratio);
            var same = whole.Ended && incremental.Ended
                ? whole.R.Executions == incremental.R.Executions && whole.R.SleepBlocked == incremental.R.SleepBlocked
                  && whole.R.Failure?.Kind == incremental.R.Failure?.Kind ? "yes" : "NO"
                : "n/a (unfinished)";
            table.AddRow(checkName, variantName, model, whole.ToString(), incremental.ToString(), timed ? $"{ratio:F2}x" : $"n/a (under {MinCpuSeconds} CPU-s)", same);
        }

        AnsiConsole.Write(table);
        if (ratios.Count > 0)
            AnsiConsole.WriteLine($"race analysis: geometric mean of executions per CPU-second, incremental/whole: {Math.Exp(ratios.Average(Math.Log)):F2}x (budget {budgetSeconds} s per search)");
    }

    private static Timed Search(Check check, Variant variant, RunSettings settings, bool incremental, double seconds)
    {
        var options = settings.ToExploreOptions() with { TimeoutSeconds = seconds, IncrementalRaces = incremental };
        var process = Process.GetCurrentProcess();
        var before = process.TotalProcessorTime;
        var result = new NativeExplorer().Explore(FaultQueries.Build(check, variant, settings), options);
        process.Refresh();
        var cpu = (process.TotalProcessorTime - before).TotalSeconds;
        return new Timed(result, cpu);
    }
}
