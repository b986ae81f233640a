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
/// both searches end within the budget, they must have explored the same executions.
/// </summary>
public static class DporRaceBench
{
    /// <summary>The configurations: the exhaustive bench's headline ones, and a lock whose executions are long under tso.</summary>
    public static IEnumerable<(string Check, string Variant, string Model)> Targets =>
        ExhaustiveBench.Targets.Append(("ticket-spinlock", "fixed", "tso"));

    /// <summary>The most seconds one search of the table takes: enough for a stable rate.</summary>
    public const double MaxBudgetSeconds = 20;

    private readonly record struct Timed(ExplorationResult R, double CpuSeconds)
    {
        public double Rate => R.Executions / Math.Max(CpuSeconds, 1e-3);

        public override string ToString() =>
            $"{R.Executions:N0} ({R.SleepBlocked:N0} sleep-blocked){(R.Exhausted ? ", complete" : "")} in {CpuSeconds:F2} CPU-s: {Rate:N0}/CPU-s";
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
            var ratio = incremental.Rate / Math.Max(whole.Rate, 1e-9);
            ratios.Add(ratio);
            var same = whole.R.Exhausted && incremental.R.Exhausted
                ? whole.R.Executions == incremental.R.Executions && whole.R.SleepBlocked == incremental.R.SleepBlocked ? "yes" : "NO"
                : "n/a (unfinished)";
            table.AddRow(checkName, variantName, model, whole.ToString(), incremental.ToString(), $"{ratio:F2}x", same);
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
        if (result.Failure is { } f)
            throw new KmcInputException($"bench: {check.Name}/{variant.Name} failed under {settings.MemoryModel} ({f.Kind}); it is declared to pass");
        return new Timed(result, cpu);
    }
}
