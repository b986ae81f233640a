using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What the partial-order reduction buys: the exhaustive search with source-DPOR (no preemption
/// bound; with the check's declared task symmetry, and without it) against the plain search, on the configurations the reduction was built for (their
/// targets in the header of each row) and on every variant of the suite. The headline table also
/// runs the plain search with the state cache (a visited-state set, no DPOR), with its states.
/// Executions and time of all are measured in one run, so the ratios hold on a loaded machine.
/// Both tables also run the unbounded search with its first passes (see <see cref="FirstPasses"/>):
/// the suite table its time to first bug against the plain bounded dfs, the headline table what the
/// passes cost on fixed code.
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
        DporRaceBench.Run(defaults, Math.Min(timeoutSeconds, DporRaceBench.MaxBudgetSeconds), only);
        ReadsFromBench.Run(defaults, timeoutSeconds, only);
        var notes = new List<string>();
        var table = new Table().AddColumns("check", "variant", "model", "source-DPOR, no preemption or stale bound", "source-DPOR, --no-symmetry", "executions no symmetry/symmetry",
            "plain dfs, no preemption or stale bound", "plain dfs, preemption bound 2 (default stale bound)", "executions plain/DPOR", "plain dfs + state cache, no preemption bound", "time DPOR/cache", "first passes + source-DPOR", "time first passes + DPOR / DPOR alone");
        foreach (var (check, variant, model) in Targets.Where(t => only == null || only.Contains(t.Check)))
            AddRow(table, check, variant, model, defaults, timeoutSeconds, notes);
        AnsiConsole.Write(table);
        foreach (var note in notes)
            AnsiConsole.WriteLine(note);

        var suite = new Table().AddColumns("check", "variant", "lkmm expected", "source-DPOR alone, no stale bound (--no-first-pass)", "first passes + source-DPOR",
            "plain dfs, preemption bound 2", "time new/plain", "time new/DPOR alone");
        var slower = new List<string>();
        var worst = (Ratio: 0.0, Name: "");
        var passCost = new List<(string Name, double Alone, double New)>();
        foreach (var check in CheckRegistry.All.Where(c => only == null || only.Contains(c.Name)))
        {
            foreach (var variant in check.Variants)
            {
                var settings = defaults with { MemoryModel = "lkmm", Strategy = "dfs", TimeoutSeconds = timeoutSeconds, Minimize = false };
                var alone = new Cell(Warm(() => CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, StaleBound = -1, FirstPass = false }).Result));
                var first = new Cell(Warm(() => CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, StaleBound = -1, FirstPass = true }).Result));
                var plain = new Cell(Warm(() => CheckRunner.Run(check, variant, settings with { PreemptionBound = 2, Reduction = false }).Result));
                var expected = variant.ExpectedUnder("lkmm");
                var ratio = first.R.Elapsed.TotalSeconds / Math.Max(plain.R.Elapsed.TotalSeconds, 1e-3);
                var overhead = first.R.Elapsed.TotalSeconds / Math.Max(alone.R.Elapsed.TotalSeconds, 1e-3);
                var name = $"{check.Name}/{variant.Name}";
                if (expected.BugExpected && plain.R.Failure != null)
                {
                    if (first.R.Failure == null || ratio > 2 && first.R.Elapsed.TotalSeconds > 0.05)
                        slower.Add(name);
                    if (first.R.Failure != null && ratio > worst.Ratio)
                        worst = (ratio, name);
                }

                if (alone.R.Failure == null && first.R.Failure == null)
                    passCost.Add((name, alone.R.Elapsed.TotalSeconds, first.R.Elapsed.TotalSeconds));
                suite.AddRow(Markup.Escape(check.Name), Markup.Escape(variant.Name), expected.BugExpected ? $"bug {expected.Kind?.ToString() ?? "(any)"}" : "pass",
                    alone.ToString(), first.ToString() + FoundBy(first.R), plain.ToString(), $"{ratio:F2}x", $"{overhead:F2}x");
            }
        }

        AnsiConsole.Write(suite);
        AnsiConsole.WriteLine(slower.Count == 0
            ? "every bug the bounded plain dfs finds, the search with first passes finds too, at most 2x slower (or within 0.05 s)"
            : $"slower by more than 2x or missed by the search with first passes within {timeoutSeconds} s: {string.Join(", ", slower)}");
        AnsiConsole.WriteLine($"worst time to first bug, first passes + source-DPOR / plain dfs with preemption bound 2: {worst.Ratio:F2}x ({worst.Name})");
        if (passCost.Count > 0)
        {
            AnsiConsole.WriteLine($"searches without a failure: {passCost.Sum(c => c.Alone):F2} s alone, {passCost.Sum(c => c.New):F2} s with first passes " +
                                  $"({passCost.Sum(c => c.New) / Math.Max(passCost.Sum(c => c.Alone), 1e-3):F2}x)");
        }
    }

    /// <summary>Which first pass found the failure, if one did.</summary>
    private static string FoundBy(ExplorationResult r) => r.FoundInFirstPass is { } bound ? $" (first pass, bound {bound})" : "";

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
        // The searches alone: the first passes are measured in their own column. No stale bound:
        // a complete verdict is what the targets ask for; the old bounded dfs keeps the default one.
        var settings = defaults with { MemoryModel = model, Strategy = "dfs", TimeoutSeconds = timeoutSeconds, Minimize = false, FirstPass = false, StaleBound = -1 };
        var reduced = CheckRunner.Run(check, variant, settings with { PreemptionBound = -1 }).Result;
        // The check's declared task symmetry (if any) against every renaming of its tasks.
        var unsymmetric = reduced.Symmetry == null ? reduced : CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, Symmetry = false }).Result;
        var symmetryText = reduced.Symmetry == null ? "n/a (no symmetry declared)"
            : unsymmetric.Exhausted && reduced.Exhausted ? $"{(double)unsymmetric.Executions / Math.Max(1, reduced.Executions):F1}x"
            : reduced.Exhausted ? $"> {(double)unsymmetric.Executions / Math.Max(1, reduced.Executions):F1}x (no symmetry unfinished in {timeoutSeconds} s)"
            : "n/a (symmetry unfinished)";
        var plain = CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, Reduction = false }).Result;
        var bounded = CheckRunner.Run(check, variant, settings with { PreemptionBound = 2, Reduction = false, StaleBound = defaults.StaleBound }).Result;
        var cached = CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, StateCache = true }).Result;
        var first = CheckRunner.Run(check, variant, settings with { PreemptionBound = -1, FirstPass = true }).Result;
        var firstCost = first.Exhausted && reduced.Exhausted ? $"{first.Elapsed.TotalSeconds / Math.Max(reduced.Elapsed.TotalSeconds, 1e-3):F2}x" : "n/a (unfinished)";
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
        table.AddRow(checkName, variantName, model, new Cell(reduced).ToString(), new Cell(unsymmetric).ToString(), symmetryText, new Cell(plain).ToString(), new Cell(bounded).ToString(), ratioText,
            Markup.Escape(new Cell(cached).ToString()), cacheText, Markup.Escape(new Cell(first).ToString()), firstCost);
        if (cached.CachedStates == null && cached.Bounds?.IndexOf("state cache off", StringComparison.Ordinal) is >= 0 and var at)
            notes.Add($"{checkName} {model}: {cached.Bounds[at..]}");
    }
}
