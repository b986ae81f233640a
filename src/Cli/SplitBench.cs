using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Kmc.Models.Scheduling.Reduction;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// kmc bench --split: the exhaustive search with source-DPOR on one thread against the same search
/// split over N (<see cref="DporSplit"/>), in one run: executions and time of each, the overhead
/// in executions (the extra branches searched in full above the split) and the speed-up in time.
/// The verdicts must agree; a row where they do not says so. Time ratios are only as good as the
/// cores free while it runs (the load average is printed); the execution ratio does not depend on it.
/// </summary>
public static class SplitBench
{
    /// <summary>
    /// Check, variant, memory model: fixed code that verifies in a fraction of a second to some
    /// seconds here, and known bugs. lglock-3cpu-2round (fixed, 7 million executions) and the
    /// lkmm osq-3cpu-1round (1.2 million) take minutes: name them with --check.
    /// </summary>
    public static readonly (string Check, string Variant, string Model)[] Targets =
    [
        ("lglock", "fixed", "lkmm"),
        ("lglock-preempt", "fixed", "lkmm"),
        ("osq-1round", "fixed", "lkmm"),
        ("osq-3cpu-1round", "fixed", "sc"),
        ("lglock-hotplug", "online-unsynchronised", "lkmm"),
        ("osq-1round", "acquire-only-tail-xchg", "lkmm"),
        ("lglock-3cpu-2round", "double-no-swap", "sc"),
    ];

    /// <summary>The rows for <paramref name="only"/>: its targets, or, for a check with none, each of its variants under sc.</summary>
    private static IEnumerable<(string Check, string Variant, string Model)> Rows(IReadOnlyList<string>? only) =>
        only == null ? Targets
            : only.SelectMany(name => Targets.Any(t => t.Check == name) ? Targets.Where(t => t.Check == name)
                : CheckRegistry.Get(name).Variants.Select(v => (name, v.Name, "sc")));

    public static void Run(int parts, double timeoutSeconds, int depth, IReadOnlyList<string>? only)
    {
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        AnsiConsole.WriteLine($"source-DPOR on 1 thread against {parts} threads, split below the first {depth} branching decisions " +
                              $"(cores {Environment.ProcessorCount}, load average {load}, at most {timeoutSeconds} s per search)");
        var table = new Table().AddColumns("check", "variant", "model", "1 thread", $"{parts} threads", "subtrees",
            $"executions {parts}/1", $"time 1/{parts}", "verdicts");
        var defaults = KmcConfig.Load(null);
        var disagree = 0;
        foreach (var (name, variantName, model) in Rows(only))
        {
            var check = CheckRegistry.Get(name);
            var variant = check.GetVariant(variantName);
            // The search alone: no first passes (they run once before a split, on one thread, as before it).
            var settings = defaults.For(name, model) with
            {
                Strategy = "dfs", PreemptionBound = -1, Reduction = true, StateCache = false, FirstPass = false, Minimize = false,
                TimeoutSeconds = timeoutSeconds, Seed = 1,
            };
            var one = Warm(() => CheckRunner.Run(check, variant, settings).Result);
            var split = Warm(() => CheckRunner.RunSplit(check, variant, settings, parts, depth).Result);
            var same = Same(one, split);
            if (!same)
                disagree++;
            var finished = one.Exhausted && split.Exhausted || one.Failure != null && split.Failure != null;
            table.AddRow(Markup.Escape(name), Markup.Escape(variantName), model, Cell(one), Cell(split), $"{split.SplitUnits ?? 0:N0}",
                finished ? $"{(double)split.Executions / Math.Max(1, one.Executions):F3}x" : "n/a (unfinished)",
                finished ? $"{one.Elapsed.TotalSeconds / Math.Max(split.Elapsed.TotalSeconds, 1e-3):F2}x" : "n/a (unfinished)",
                same ? "same" : "[red]DIFFER[/]");
        }

        AnsiConsole.Write(table);
        AnsiConsole.WriteLine(disagree == 0 ? "every split search gave the one-thread verdict" : $"{disagree} split search(es) gave another verdict than one thread");
    }

    /// <summary>
    /// A short search is timed on its second run, with its code compiled (see
    /// <see cref="ExhaustiveBench.RetimeBelowSeconds"/>): the search is deterministic, only its time differs.
    /// </summary>
    private static ExplorationResult Warm(Func<ExplorationResult> search)
    {
        var first = search();
        return first.Elapsed.TotalSeconds < ExhaustiveBench.RetimeBelowSeconds ? search() : first;
    }

    /// <summary>The same verdict: the same failure kind, or both complete, both bounded or both unfinished.</summary>
    private static bool Same(ExplorationResult a, ExplorationResult b) =>
        a.Failure?.Kind == b.Failure?.Kind && (a.Failure != null || (a.Exhausted, a.Complete, a.TimedOut) == (b.Exhausted, b.Complete, b.TimedOut));

    private static string Cell(ExplorationResult r)
    {
        var what = r.Failure != null ? $"{r.Failure.Kind} at {r.FailingExecution:N0}"
            : r.Complete ? $"verified in {r.Executions:N0}"
            : r.Exhausted ? $"bounded, {r.Executions:N0}"
            : $"unknown after {r.Executions:N0}";
        return $"{what} / {r.Elapsed.TotalSeconds:F2} s";
    }
}
