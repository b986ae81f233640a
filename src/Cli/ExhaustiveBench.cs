using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What the partial-order reduction buys: the exhaustive search with source-DPOR (no preemption
/// bound) against the plain search, on the configurations the reduction was built for (their
/// targets in the header of each row) and on every variant of the suite. The headline table also
/// runs the plain search with the state cache (a visited-state set, no DPOR), with its states.
/// Executions and time of all are measured in one run, so the ratios hold on a loaded machine.
/// </summary>
public static class ExhaustiveBench
{
    /// <summary>The headline configurations: check, variant, memory model.</summary>
    public static readonly (string Check, string Variant, string Model)[] Targets =
    [
        ("lglock-3cpu-2round", "fixed", "sc"),
        ("lglock-4cpu", "fixed", "sc"),
        ("osq-3cpu-1round", "fixed", "lkmm"),
        ("osq-3cpu-1round", "fixed", "sc"),
        ("osq-4cpu-1round", "fixed", "sc"),
        ("osq-3cpu", "fixed", "sc"),
    ];

    private sealed record Cell(ExplorationResult R)
    {
        public override string ToString()
        {
            var what = R.Failure != null ? $"{R.Failure.Kind} at {R.FailingExecution:N0}"
                : R.Complete ? $"verified in {R.Executions:N0}"
                : R.Exhausted ? $"bounded, {R.Executions:N0}"
                : $"unknown after {R.Executions:N0}";
            var states = R.CachedStates is { } n ? $" ({n:N0} states)" : "";
            return $"{what}{states} / {R.Elapsed.TotalSeconds:F2} s";
        }
    }

    public static void Run(RunSettings defaults, double timeoutSeconds, IReadOnlyList<string>? only)
    {
        var notes = new List<string>();
        var table = new Table().AddColumns("check", "variant", "model", "source-DPOR, no preemption bound", "plain dfs, no preemption bound", "plain dfs, preemption bound 2",
            "executions plain/DPOR", "plain dfs + state cache, no preemption bound", "time DPOR/cache");
        foreach (var (check, variant, model) in Targets.Where(t => only == null || only.Contains(t.Check)))
            AddRow(table, check, variant, model, defaults, timeoutSeconds, notes);
        AnsiConsole.Write(table);
        foreach (var note in notes)
            AnsiConsole.WriteLine(note);

        var suite = new Table().AddColumns("check", "variant", "lkmm expected", "source-DPOR, no preemption bound", "plain dfs, preemption bound 2", "time DPOR/plain");
        var slower = new List<string>();
        foreach (var check in CheckRegistry.All.Where(c => only == null || only.Contains(c.Name)))
        {
            foreach (var variant in check.Variants)
            {
                var settings = defaults with { MemoryModel = "lkmm", Strategy = "dfs", TimeoutSeconds = timeoutSeconds, Minimize = false };
                var reduced = new Cell(Warm(() => CheckRunner.Run(check, variant, settings with { PreemptionBound = -1 }).Result));
                var plain = new Cell(Warm(() => CheckRunner.Run(check, variant, settings with { PreemptionBound = 2, Reduction = false }).Result));
                var expected = variant.ExpectedUnder("lkmm");
                var ratio = reduced.R.Elapsed.TotalSeconds / Math.Max(plain.R.Elapsed.TotalSeconds, 1e-3);
                if (expected.BugExpected && plain.R.Failure != null && (reduced.R.Failure == null || ratio > 2 && reduced.R.Elapsed.TotalSeconds > 0.05))
                    slower.Add($"{check.Name}/{variant.Name}");
                suite.AddRow(Markup.Escape(check.Name), Markup.Escape(variant.Name), expected.BugExpected ? $"bug {expected.Kind?.ToString() ?? "(any)"}" : "pass",
                    reduced.ToString(), plain.ToString(), $"{ratio:F2}x");
            }
        }

        AnsiConsole.Write(suite);
        AnsiConsole.WriteLine(slower.Count == 0
            ? "every bug the bounded plain dfs finds, source-DPOR finds too, at most 2x slower"
            : $"slower by more than 2x or missed by source-DPOR within {timeoutSeconds} s: {string.Join(", ", slower)}");
    }

    /// <summary>A search that ends within this many seconds is timed again (see <see cref="Warm"/>).</summary>
    public const double RetimeBelowSeconds = 2;

    /// <summary>
    /// The search timed with its code compiled. The first search of a variant in the process pays
    /// the JIT for the variant's code and for the search's own paths (about 0.15 s for the first
    /// search of the run, tens of milliseconds for the first reduced one): more than a short search
    /// itself takes, so whichever search of a pair ran first looked slower to its first bug. A
    /// short search is run twice and the second run is the one reported; the search is
    /// deterministic, so only its time differs. A long one is timed once (the JIT is noise there).
    /// </summary>
    private static ExplorationResult Warm(Func<ExplorationResult> search)
    {
        var first = search();
        return first.Elapsed.TotalSeconds < RetimeBelowSeconds ? search() : first;
    }

    private static void AddRow(Table table, string checkName, string variantName, string model, RunSettings defaults, double timeoutSeconds, List<string> notes)
    {
        var check = CheckRegistry.Get(checkName);
        var variant = check.GetVariant(variantName);
        var settings = defaults with { MemoryModel = model, Strategy = "dfs", TimeoutSeconds = timeoutSeconds, Minimize = false };
        var reduced = CheckRunner.Run(check, variant, settings with { PreemptionBound = -1 }).Result;
        var plain = CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, Reduction = false }).Result;
        var bounded = CheckRunner.Run(check, variant, settings with { PreemptionBound = 2, Reduction = false }).Result;
        var cached = CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, StateCache = true }).Result;
        var ratio = (double)plain.Executions / Math.Max(1, reduced.Executions);
        var ratioText = plain.Exhausted && reduced.Exhausted ? $"{ratio:F0}x"
            : reduced.Exhausted ? $"> {ratio:F0}x (plain unfinished in {timeoutSeconds} s)"
            : "n/a (neither finished)";
        var speedup = reduced.Elapsed.TotalSeconds / Math.Max(cached.Elapsed.TotalSeconds, 1e-3);
        var cacheText = cached.CachedStates == null ? "n/a (cache off: see the note)"
            : cached.Exhausted && reduced.Exhausted ? $"{speedup:F1}x"
            : cached.Exhausted ? $"> {speedup:F1}x (DPOR unfinished in {timeoutSeconds} s)"
            : reduced.Exhausted ? $"< {speedup:F2}x (cache unfinished in {timeoutSeconds} s)"
            : "n/a (neither finished)";
        table.AddRow(checkName, variantName, model, new Cell(reduced).ToString(), new Cell(plain).ToString(), new Cell(bounded).ToString(), ratioText,
            Markup.Escape(new Cell(cached).ToString()), cacheText);
        if (cached.CachedStates == null && cached.Bounds?.IndexOf("state cache off", StringComparison.Ordinal) is >= 0 and var at)
            notes.Add($"{checkName} {model}: {cached.Bounds[at..]}");
    }
}
