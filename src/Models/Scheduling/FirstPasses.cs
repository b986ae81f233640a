namespace Kmc.Models.Scheduling;

/// <summary>
/// Iterative context bounding in front of an unbounded exhaustive search (Musuvathi and Qadeer,
/// "Iterative context bounding for systematic testing of multithreaded programs", PLDI 2007):
/// most concurrency bugs need very few preemptions, so plain dfs passes with preemption bounds
/// 0, 1 and 2 run first, each cut after <see cref="Budget"/> executions (and a share of the time
/// limit), and then the unbounded search (source-DPOR, or the plain or state-cached dfs) runs as
/// it would alone. The passes only reorder where bugs are looked for first: the verdict of a
/// search that finds nothing is the unbounded search's, which repeats all they covered.
/// </summary>
/// <remarks>
/// The passes are plain dfs, not bounded DPOR: sleep sets and source sets lose executions under a
/// preemption bound unless extra backtrack points are added (Coons, Musuvathi and McKinley,
/// "Bounded partial-order reduction", OOPSLA 2013), and a pass that misses an execution is
/// harmless here (the search after it is complete) but one that claims a bounded verdict is not;
/// plain dfs keeps each pass exact within its bound and its budget.
///
/// Why these budgets: the bounded trees nest (bound 0 within 1 within 2), so a pass repeats the
/// one before it, and a pass that finishes within its budget cost only as much as its tree. In the
/// suite (kmc bench --exhaustive) every known bug the plain dfs with bound 2 finds lies within its
/// first few thousand executions, while the fixed variants' unbounded searches run from tens to
/// hundreds of thousands of executions: <see cref="DefaultBudget"/> per pass finds the former and
/// costs the latter at most <see cref="DefaultBudget"/> times the number of passes.
/// </remarks>
/// <param name="Bounds">the preemption bounds of the passes, in the order they run</param>
/// <param name="Budget">executions per pass at most</param>
/// <param name="TimeShare">with a time limit: the share of it all passes together may take</param>
public sealed record FirstPasses(IReadOnlyList<int> Bounds, int Budget, double TimeShare)
{
    public const int DefaultBudget = 2000;

    /// <summary>A quarter of a time limit at most: the unbounded search keeps the rest.</summary>
    public const double DefaultTimeShare = 0.25;

    public static readonly FirstPasses Default = new([0, 1, 2], DefaultBudget, DefaultTimeShare);

    /// <summary>Whether a search with these options runs the passes first: an unbounded, unsplit dfs looking for the first failure.</summary>
    public static bool Apply(ExploreOptions options) =>
        options is { FirstPasses: not null, Strategy: "dfs", PreemptionBound: < 0, AllOutcomes: false, DfsParts: 1 };

    /// <summary>The options of the pass with bound <paramref name="bound"/> of a search with <paramref name="options"/>.</summary>
    public ExploreOptions PassOptions(ExploreOptions options, int bound, double? timeoutSeconds) => options with
    {
        PreemptionBound = bound,
        Reduction = false,
        StateCache = false,
        FirstPasses = null,
        ExecutionBudget = Budget,
        TimeoutSeconds = timeoutSeconds,
        SearchProgress = null,
    };

    /// <summary>The passes as the verdict names them.</summary>
    public static string Describe(IReadOnlyList<FirstPassRun> runs, int budget) => runs.Count == 0
        ? ""
        : $"first passes (plain dfs, at most {budget:N0} executions each): " + string.Join(", ", runs.Select(r => r.ToString()));
}

/// <summary>One first pass as it ran: its preemption bound, its executions, and how it ended.</summary>
public sealed record FirstPassRun(int Bound, int Executions, bool Exhausted, bool Found, bool TimedOut)
{
    public override string ToString() =>
        $"preemption bound {Bound}: {Executions:N0} executions" + (Found ? " (found the failure)" : Exhausted ? " (its whole tree)" : TimedOut ? " (its share of the time limit)" : " (its budget)");
}

/// <summary>
/// What the first passes of a search did: the failure one found (numbered across the passes), or
/// the executions they ran before the unbounded search.
/// </summary>
public sealed record FirstPassOutcome(ExplorationResult? Found, IReadOnlyList<FirstPassRun> Runs, int Budget, int Executions, long Decisions, long Steps, TimeSpan Elapsed)
{
    /// <summary>
    /// The unbounded search's result with the passes before it counted: executions, decisions and
    /// steps of all, the failing execution numbered across them, the time of both, and the passes
    /// named in the bounds. The verdict (complete, bounded, step-bound cuts) stays the search's own.
    /// </summary>
    public ExplorationResult Before(ExplorationResult main) => main with
    {
        Executions = Executions + main.Executions,
        FailingExecution = main.Failure != null ? Executions + main.FailingExecution : main.FailingExecution,
        Decisions = Decisions + main.Decisions,
        Steps = Steps + main.Steps,
        Bounds = $"{main.Bounds}; {FirstPasses.Describe(Runs, Budget)}, then the unbounded search: {main.Executions:N0} executions",
        FirstPassRuns = Runs,
        Elapsed = Elapsed + main.Elapsed,
    };
}
