namespace Kmc.Models.Scheduling;

/// <summary>
/// Iterative context bounding alongside an unbounded exhaustive search (Musuvathi and Qadeer,
/// "Iterative context bounding for systematic testing of multithreaded programs", PLDI 2007):
/// most concurrency bugs need very few preemptions, so plain dfs passes with preemption bounds
/// 0, 1 and 2 run beside the unbounded search (source-DPOR, or the plain or state-cached dfs), each
/// cut after <see cref="Budget"/> executions. They take turns execution by execution, in the order
/// of <see cref="Cycle"/>. The passes only change where bugs are looked for first: the verdict of a
/// search that finds nothing is the unbounded search's, which covers all they cover, and its end
/// stops them.
/// </summary>
/// <remarks>
/// The passes are plain dfs, not bounded DPOR: sleep sets and source sets lose executions under a
/// preemption bound unless extra backtrack points are added (Coons, Musuvathi and McKinley,
/// "Bounded partial-order reduction", OOPSLA 2013), and a pass that misses an execution is
/// harmless here (the unbounded search is complete) but one that claims a bounded verdict is not;
/// plain dfs keeps each pass exact within its bound and its budget.
///
/// Why turns and not one pass after the other: the bounded trees nest, and a pass run to its
/// budget before the next one starts delays every bug the next one finds first (weaken.qspinlock's
/// fetch_or_acquire weakening: the bound-2 dfs meets it at its 3rd execution, after the bound-0
/// and bound-1 trees, some 400 executions). In <see cref="DefaultCycle"/> the bound-2 pass has two
/// turns in three, so a bug the plain dfs with bound 2 finds within its budget is found within 1.5
/// times its executions; bounds 0 and 1, which meet some bugs far sooner in dfs order
/// (closure-wait-event.2-waiters: bound 0 at its 12th execution, bound 2 at its 1,311th), and the
/// unbounded search, which finds what needs more preemptions, share the other third. Not every
/// other turn: a DPOR execution costs two to three plain ones (its footprints and races), and with
/// a third of the turns each the other searches took up to twice the bound-2 dfs's time
/// (weaken.osq's OsqLock.smp_wmb weakening: 0.57 s against 0.28 s).
///
/// Why <see cref="DefaultBudget"/>: in the suite (kmc bench --exhaustive) every known bug the bound-2
/// dfs finds lies within its first 2,000 executions but one (pagecache-two-file-deadlock at 3,814,
/// which bound 1 meets at 279), while the unbounded searches of the fixed variants run from tens to
/// hundreds of thousands of executions. On fixed code the passes cost at most
/// <see cref="DefaultBudget"/> plain executions each, and on a small search at most their turns'
/// share: the search's end stops them.
/// </remarks>
/// <param name="Cycle">the turns, repeated: a pass's preemption bound, or -1 for the unbounded search</param>
/// <param name="Budget">executions per pass at most</param>
public sealed record FirstPasses(IReadOnlyList<int> Cycle, int Budget)
{
    public const int DefaultBudget = 2000;

    /// <summary>Bound 2 two turns in three; bound 0, bound 1 and the unbounded search one turn in nine each.</summary>
    public static readonly IReadOnlyList<int> DefaultCycle = [2, 0, 2, 2, 1, 2, 2, -1, 2];

    public static readonly FirstPasses Default = new(DefaultCycle, DefaultBudget);

    /// <summary>The preemption bounds of the passes.</summary>
    public IReadOnlyList<int> Bounds { get; } = Cycle.Where(b => b >= 0).Distinct().Order().ToList();

    /// <summary>Whether a search with these options runs the passes: an unbounded, unsplit dfs looking for the first failure.</summary>
    public static bool Apply(ExploreOptions options) =>
        options is { FirstPasses: not null, Strategy: "dfs", PreemptionBound: < 0, AllOutcomes: false, DfsParts: 1 };

    /// <summary>The options of the pass with bound <paramref name="bound"/> of a search with <paramref name="options"/>.</summary>
    public ExploreOptions PassOptions(ExploreOptions options, int bound) => options with
    {
        PreemptionBound = bound,
        Reduction = false,
        StateCache = false,
        FirstPasses = null,
        ExecutionBudget = Budget,
        SearchProgress = null,
        Progress = null,
    };

    /// <summary>The passes as the verdict names them.</summary>
    public static string Describe(IReadOnlyList<FirstPassRun> runs, int budget) =>
        $"first passes (plain dfs, at most {budget:N0} executions each): " + string.Join(", ", runs.Select(r => r.ToString()));
}

/// <summary>One first pass as it ran: its preemption bound, its executions, and how it ended.</summary>
public sealed record FirstPassRun(int Bound, int Executions, bool Exhausted, bool Found, bool Stopped)
{
    public override string ToString() =>
        $"preemption bound {Bound}: {Executions:N0} executions" + (Found ? " (found the failure)" : Exhausted ? " (its whole tree)" : Stopped ? " (stopped before its end)" : " (its budget)");
}

/// <summary>
/// What the first passes did: with the unbounded search, the whole result; without it (a split
/// search runs them first), the failure one found or null, and the executions they ran.
/// </summary>
public sealed record FirstPassOutcome(ExplorationResult? Result, IReadOnlyList<FirstPassRun> Runs, int Budget, int Executions, long Decisions, long Steps, TimeSpan Elapsed)
{
    /// <summary>The failure found, if any.</summary>
    public ExplorationResult? Found => Result?.Failure != null ? Result : null;

    /// <summary>
    /// A split unbounded search's result with the passes before it counted: executions, decisions
    /// and steps of all, the failing execution numbered across them, the time of both, and the
    /// passes named in the bounds. The verdict (complete, bounded, step-bound cuts) stays the search's.
    /// </summary>
    public ExplorationResult Before(ExplorationResult main) => main with
    {
        Executions = Executions + main.Executions,
        FailingExecution = main.Failure != null ? Executions + main.FailingExecution : main.FailingExecution,
        Decisions = Decisions + main.Decisions,
        Steps = Steps + main.Steps,
        Bounds = $"{main.Bounds}; {FirstPasses.Describe(Runs, Budget)} before it, then the unbounded search: {main.Executions:N0} executions",
        FirstPassRuns = Runs,
        Elapsed = Elapsed + main.Elapsed,
    };
}
