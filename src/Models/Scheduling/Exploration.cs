namespace Kmc.Models.Scheduling;

/// <summary>A scenario: the machine it needs and the code that sets up state and spawns tasks.</summary>
public sealed class Scenario
{
    public Scenario(int cpus, Action<Execution> setup, bool preemptive = true)
    {
        Cpus = cpus;
        Setup = setup;
        Preemptive = preemptive;
    }

    public int Cpus { get; }
    public bool Preemptive { get; }
    public Action<Execution> Setup { get; }
}

/// <summary>How to explore: the same options drive both explorers.</summary>
public sealed record ExploreOptions
{
    public string Strategy { get; init; } = "random";

    /// <summary>The data-race property (on unless a bench measures what it costs).</summary>
    public bool DetectRaces { get; init; } = true;

    /// <summary>See <see cref="ExecutionOptions.DetectUseAfterLeave"/>.</summary>
    public bool DetectUseAfterLeave { get; init; } = true;

    /// <summary>See <see cref="ExecutionOptions.RacesOnlyNoted"/>.</summary>
    public bool RacesOnlyNoted { get; init; }
    public int Iterations { get; init; } = 1000;
    public ulong Seed { get; init; }

    /// <summary>
    /// Native sampling: the index of the first execution to run. Each execution's schedule depends
    /// only on the seed and its index, so disjoint index ranges split one search over processes
    /// and machines with exactly the result of a single run.
    /// </summary>
    public int FirstExecution { get; init; }

    /// <summary>
    /// Coyote driver: which part of a split search this is (0: the whole search). Coyote runs its
    /// own per-iteration randomness from one 32-bit seed, so parts cannot split an index range;
    /// each part instead gets a Coyote seed hashed from the seed and the part (see
    /// <see cref="Rng.CoyoteSeed"/>).
    /// </summary>
    public int Part { get; init; }

    public int MaxSteps { get; init; } = 10_000;
    public double? TimeoutSeconds { get; init; }

    /// <summary>PCT: the bug depth d (d-1 priority change points).</summary>
    public int PctDepth { get; init; } = 3;

    /// <summary>Exhaustive search: the most preemptions per execution (negative: unbounded).</summary>
    public int PreemptionBound { get; init; } = 2;

    /// <summary>
    /// Exhaustive search: the most weak-memory choices per execution that do not take the
    /// sequentially consistent alternative (negative: unbounded). 0 explores only SC executions
    /// of a weak model. The other strategies sample and ignore it.
    /// </summary>
    public int StaleBound { get; init; } = -1;

    public Func<MemoryModel>? Memory { get; init; }

    /// <summary>
    /// Go on after failures and collect every distinct failure (kind and site) and every final
    /// state (the values of all locations) the search reaches: how a reduced search is checked
    /// against the full one.
    /// </summary>
    public bool AllOutcomes { get; init; }

    /// <summary>Exhaustive search: partial-order reduction (source-DPOR with sleep sets) when no preemption bound is set.</summary>
    public bool Reduction { get; init; } = true;

    /// <summary>
    /// The reduction's race analysis covers only the steps after the prefix an execution shares with
    /// the one before (<see cref="Reduction.RaceFinder"/>); false: every step of every execution, the
    /// reference it is tested and benchmarked against. The search explores the same executions either way.
    /// </summary>
    public bool IncrementalRaces { get; init; } = true;

    /// <summary>
    /// The reduction's sleep sets and races tell apart the stores a load may read (under lkmm,
    /// with an unbounded stale bound; see <see cref="Reduction.DporPolicy.ReadsFromSleep"/>);
    /// false: a load and a store to its location are dependent whichever store the load reads,
    /// the reference it is tested and benchmarked against.
    /// </summary>
    public bool ReadsFromSleep { get; init; } = true;

    /// <summary>
    /// Native driver: a marked spin loop (<see cref="Kernel.SpinLoop"/>) makes a task wait after an
    /// iteration that repeated the one before without effect (<see cref="ExecutionOptions.SpinPruning"/>).
    /// </summary>
    public bool SpinPruning { get; init; } = true;

    /// <summary>
    /// Exhaustive search with no preemption or stale bound: a task woken from a spin it waited in
    /// after seeing its condition false ends the execution (<see cref="ExecutionOptions.PruneWokenSpins"/>);
    /// false: it runs on, the reference this is tested against.
    /// </summary>
    public bool WokenSpinPruning { get; init; } = true;

    /// <summary>
    /// Whether the exhaustive search skips a spin load's alternatives that would only repeat a
    /// no-op iteration on a stale store of the same value (<see cref="ExecutionOptions.SkipStaleSpinRepeats"/>);
    /// on by default, off only as the reference its tests compare with.
    /// </summary>
    public bool StaleRepeatSkipping { get; init; } = true;

    /// <summary>
    /// Exhaustive search with partial-order reduction: honour a scenario's declared task symmetry
    /// (<see cref="Execution.Symmetric"/>, <see cref="TaskSymmetry"/>). Ignored by the other searches.
    /// </summary>
    public bool Symmetry { get; init; }

    /// <summary>
    /// Exhaustive search: a plain dfs that prunes states it has seen (<see cref="Scheduling.StateCache"/>),
    /// in place of source-DPOR. A scenario using state the cache cannot fingerprint runs without it.
    /// </summary>
    public bool StateCache { get; init; }

    /// <summary>Called now and then with the number of executions so far.</summary>
    public Action<int>? Progress { get; init; }

    /// <summary>Checked between executions; true stops the search early.</summary>
    public Func<bool>? Cancelled { get; init; }

    /// <summary>
    /// Exhaustive search: called about every <see cref="SearchProgressEvery"/> of wall-clock time
    /// with how far the search is. Only when it is called depends on the clock; the search does not.
    /// </summary>
    public Action<SearchProgress>? SearchProgress { get; init; }

    public TimeSpan SearchProgressEvery { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// An exhaustive search split into <see cref="DfsParts"/> parts: the one this search explores
    /// (plain dfs: see <see cref="DfsPolicy.SplitDepth"/>; source-DPOR: see <see cref="Reduction.DporSplit"/>).
    /// </summary>
    public int DfsPart { get; init; }

    public int DfsParts { get; init; } = 1;

    /// <summary>A split source-DPOR search: the branching scheduling nodes above the split (see <see cref="Reduction.DporSplit.Depth"/>).</summary>
    public int DfsSplitDepth { get; init; } = Scheduling.Reduction.DporSplit.DefaultDepth;

    /// <summary>A split source-DPOR search looking for the first failure: what its parts share (null: each runs its share to the end).</summary>
    public Scheduling.Reduction.SplitBoard? SplitBoard { get; init; }

    /// <summary>
    /// An unbounded exhaustive search: the preemption-bounded passes run before it (see
    /// <see cref="Scheduling.FirstPasses"/>; null: none, the search alone).
    /// </summary>
    public FirstPasses? FirstPasses { get; init; }

    /// <summary>Exhaustive search: stop after this many executions (null: run to the end), as a first pass does.</summary>
    public int? ExecutionBudget { get; init; }

    /// <summary>
    /// Native driver: one execution object (its CPUs, tasks and race-detector state) is reset and
    /// run again for each execution of the search instead of allocated anew. Off only to check
    /// that recycling changes nothing (RecyclingTests).
    /// </summary>
    public bool Recycle { get; init; } = true;
}

/// <summary>
/// How far an exhaustive search is: executions so far, and the share of its tree it has finished
/// as read from the current path (see <see cref="DfsPolicy.FractionDone"/>). The estimated total
/// is executions / fraction; a fraction that underflows to 0 has no estimate. With a state cache
/// (<paramref name="Cached"/>) a pruned subtree counts as done when the search passes it, but the
/// extrapolation prices what is still to come at the cost of what lies behind, when the cache was
/// emptier: later subtrees are cut sooner, so the total and the time left are usually too high,
/// often far too high (osq-3cpu-1round under sc: "0.4 % done, 3 h left" 2 s before it finished),
/// and the line says so. It is no bound either way: a subtree still to come may hold many new states.
/// </summary>
public sealed record SearchProgress(long Executions, TimeSpan Elapsed, double FractionDone, bool Cached = false)
{
    /// <summary>Executions the whole search will take, or null when the estimate overflows a double.</summary>
    public double? EstimatedTotal => FractionDone > 0 && double.IsFinite(Executions / FractionDone) ? Executions / FractionDone : null;

    /// <summary>One line for a terminal or a log.</summary>
    public override string ToString()
    {
        var rate = Executions / Math.Max(Elapsed.TotalSeconds, 1e-3);
        var head = $"dfs: {Executions:N0} executions in {Elapsed.TotalSeconds:F0} s ({rate:N0}/s)";
        if (EstimatedTotal is not { } total)
            return head + "; estimate overflows (the explored share of the tree is below double precision): the tree is far too large to finish";
        var left = Math.Max(0, total - Executions) / Math.Max(rate, 1e-9);
        if (Cached)
        {
            return head + $"; the search path says {FractionDone:P1} done, about {total:G3} executions in all, {Duration(left)} left " +
                   "(with the state cache usually far too high: it prices the subtrees still to come as those behind, but the cache cuts them more as it fills, so the search mostly ends much sooner)";
        }

        return head + $"; the search path says {FractionDone:P1} done, about {total:G3} executions in all, {Duration(left)} left " +
               "(rough: it assumes the subtrees still to come are as large as those behind, and moves as they turn out otherwise)";
    }

    private static string Duration(double seconds) => seconds switch
    {
        < 120 => $"{seconds:F0} s",
        < 7200 => $"{seconds / 60:F0} min",
        < 172800 => $"{seconds / 3600:F0} h",
        < 3.2e9 => $"{seconds / 86400:G3} days",
        _ => $"{seconds / 3.15e7:G3} years",
    };
}

/// <summary>What a search found, and how to get back to it.</summary>
public sealed record ExplorationResult
{
    public required string Driver { get; init; }
    public required string Strategy { get; init; }
    public Failure? Failure { get; init; }
    public bool BugFound => Failure != null;

    /// <summary>Executions (schedules) run, including the failing one.</summary>
    public int Executions { get; init; }

    /// <summary>1-based number of the execution that failed.</summary>
    public int FailingExecution { get; init; }

    /// <summary>Real decisions (more than one option) and choices taken over the whole search.</summary>
    public long Decisions { get; init; }

    /// <summary>Scheduling points passed over the whole search.</summary>
    public long Steps { get; init; }

    /// <summary>Exhaustive search ran out of schedules within its bounds: the verdict is complete.</summary>
    public bool Exhausted { get; init; }

    public bool TimedOut { get; init; }

    /// <summary>Executions cut short by the step bound (not failures, but not fully explored either).</summary>
    public int StepBoundHits { get; init; }

    /// <summary>Exhaustive search: the bounds it ran within, as the verdict names them.</summary>
    public string? Bounds { get; init; }

    public TimeSpan Elapsed { get; init; }

    /// <summary>With <see cref="ExploreOptions.AllOutcomes"/>: every distinct failure ("kind at site") and final state reached.</summary>
    public IReadOnlySet<string>? Outcomes { get; init; }

    /// <summary>Exhaustive search: Knuth's estimate of the executions of the unreduced tree within the bounds (infinite when it overflows a double).</summary>
    public double? EstimatedPlainExecutions { get; init; }

    /// <summary>The estimate in words, for verdicts.</summary>
    public string? EstimateText => EstimatedPlainExecutions is not { } e ? null
        : double.IsInfinity(e) ? "more than 1e308 (the estimate overflows)"
        : e < 1e6 ? $"~{e:N0}" : $"~{e:E1}";

    /// <summary>The exhaustive search used partial-order reduction.</summary>
    public bool Reduced { get; init; }

    /// <summary>
    /// The failure was found by a first pass (see <see cref="FirstPasses"/>): the preemption bound
    /// of that pass, a plain dfs; null when the search itself found it or none ran.
    /// </summary>
    public int? FoundInFirstPass { get; init; }

    /// <summary>The first passes that ran before the search, in order (empty: none).</summary>
    public IReadOnlyList<FirstPassRun> FirstPassRuns { get; init; } = [];

    /// <summary>A split source-DPOR search: the units (paths above the split) this part walked; after an exhausted part, all of them.</summary>
    public long? SplitUnits { get; init; }

    /// <summary>A split source-DPOR search: the unit of the failing execution.</summary>
    public long? FailingUnit { get; init; }

    /// <summary>Reduced search: executions abandoned because their trace had been explored already.</summary>
    public long SleepBlocked { get; init; }

    /// <summary>
    /// Executions abandoned because no task could move while one waited in a spin loop after
    /// repeating a stale read (<see cref="Execution.SpinPruned"/>): a sibling reads the newer store.
    /// </summary>
    public long SpinPruned { get; init; }

    /// <summary>
    /// Executions abandoned when a task that had seen its spin's condition false was woken
    /// (<see cref="Execution.SpinWoken"/>): the execution with the waking store first is explored.
    /// </summary>
    public long SpinWoken { get; init; }

    /// <summary>
    /// Alternatives of spin loads not run because each would have repeated a no-op iteration on
    /// a stale store of the value its sibling read, and stopped there (<see cref="ExecutionOptions.SkipStaleSpinRepeats"/>).
    /// </summary>
    public long StaleRepeatsSkipped { get; init; }

    /// <summary>What the spin rules abandoned, for a verdict (empty: nothing).</summary>
    private string SpinsStopped =>
        (SpinPruned > 0 ? $", {SpinPruned} stopped early: repeated zero-effect spin iteration on a stale read" : "")
        + (SpinWoken > 0 ? $", {SpinWoken} stopped early: a spin woken after a look without effect (the waking store is explored before the look)" : "")
        + (StaleRepeatsSkipped > 0 ? $", {StaleRepeatsSkipped} more not run: a spin's stale repeat of a value a sibling read" : "");

    /// <summary>
    /// The search honoured a declared task symmetry (<see cref="TaskSymmetry"/>): what it was; a
    /// failing schedule replays only with it (null: none was declared, or the search ignored it).
    /// </summary>
    public string? Symmetry { get; init; }

    /// <summary>Executions abandoned because a renaming of the interchangeable tasks covers them (<see cref="Execution.SymmetryCovered"/>).</summary>
    public long SymmetryCovered { get; init; }

    /// <summary>State-cached search: distinct states fingerprinted (null: no state cache ran).</summary>
    public long? CachedStates { get; init; }

    /// <summary>State-cached search: executions ended at a state seen before.</summary>
    public long CachePruned { get; init; }

    /// <summary>Exhausted with no bound cutting anything (no preemption bound, stale bound never reached, no step bound hit): a verified verdict.</summary>
    public bool Complete { get; init; }

    /// <summary>Native explorer: the decisions of the failing execution.</summary>
    public IReadOnlyList<int>? Schedule { get; init; }

    /// <summary>Coyote driver: Coyote's reproducible trace of the failing iteration.</summary>
    public string? CoyoteTrace { get; init; }

    /// <summary>
    /// Why a search without a failure checked nothing, or null: no execution ran (a time limit
    /// below one execution), or every execution was cut at the step bound before its end. Such a
    /// search is no pass.
    /// </summary>
    public string? Inconclusive => Failure != null ? null
        : Executions == 0 ? $"no execution ran{(TimedOut ? " within the time limit" : "")}: nothing was checked"
        : StepBoundHits >= Executions ? $"every one of the {Executions} executions was cut at the step bound before its end: nothing was checked to the end (raise maxSteps)"
        : null;

    public string Verdict()
    {
        if (Inconclusive is { } why)
            return $"INCONCLUSIVE: {why}";
        if (Failure != null)
        {
            var within = Bounds != null ? $" ({Bounds})" : "";
            return FailingExecution == Executions
                ? $"{Failure.Kind} found in execution {FailingExecution} of {Executions}{within}"
                : $"{Failure.Kind} found in execution {FailingExecution} ({Executions} run here){within}";
        }

        var bounded = StepBoundHits > 0 ? $", {StepBoundHits} cut at the step bound" : "";
        if (Exhausted)
        {
            var kind = Complete ? "verified (complete)" : "bounded";
            var redundant = SleepBlocked > 0 ? $", {SleepBlocked} of them stopped early as already explored"
                : CachePruned > 0 ? $", {CachePruned} of them stopped at a state seen before" : "";
            redundant += SpinsStopped;
            if (SymmetryCovered > 0)
                redundant += $", {SymmetryCovered} stopped early as a renaming of the interchangeable tasks";
            return $"no failure in all {Executions} executions within the bounds{(Bounds != null ? $" ({Bounds})" : "")}{bounded}{redundant}: {kind}";
        }
        var estimate = EstimateText is { } est ? $"; the unreduced tree within the bounds has an estimated {est} executions (Knuth)" : "";
        // An exhaustive search stopped before its end knows nothing about the rest.
        var unknown = Bounds != null ? ": unknown" : "";
        return $"no failure in {Executions} executions{(TimedOut ? " (time limit)" : "")}{bounded}{SpinsStopped}{estimate}{unknown}";
    }
}

/// <summary>A replayed execution with its recorded interleaving.</summary>
public sealed record ReplayResult(Failure? Failure, IReadOnlyList<Step> Steps, bool StepBoundHit);

/// <summary>A driver that can search a scenario and replay what it found.</summary>
public interface IExplorer
{
    string Name { get; }

    IReadOnlyList<string> Strategies { get; }

    ExplorationResult Explore(Scenario scenario, ExploreOptions options);

    /// <summary>Re-runs the failing execution of <paramref name="found"/> with recording on.</summary>
    ReplayResult Replay(Scenario scenario, ExploreOptions options, IReadOnlyList<int>? schedule, string? coyoteTrace);
}

/// <summary>SplitMix64: a tiny deterministic generator, the same on every runtime.</summary>
public sealed class Rng
{
    private ulong _state;

    public Rng(ulong seed) => _state = seed;

    public static Rng ForExecution(ulong seed, int execution) => new(ExecutionSeed(seed, execution));

    /// <summary>Makes this generator the one <see cref="ForExecution"/> would return, without allocating one.</summary>
    public void ReseedForExecution(ulong seed, int execution) => _state = ExecutionSeed(seed, execution);

    private static ulong ExecutionSeed(ulong seed, int execution) => Mix(seed ^ Mix((ulong)execution + 0x9E3779B97F4A7C15UL));

    /// <summary>
    /// The 32-bit seed Coyote gets for part <paramref name="part"/> of a search with a 64-bit
    /// seed: every bit of the seed and the part goes through the SplitMix64 finaliser. Coyote
    /// derives each iteration's randomness from its seed by small offsets, so passing the seed
    /// through (or seed + part) made seed s + k replay seed s's schedules shifted by k
    /// executions; hashed seeds of neighbouring parts and seeds land far apart in the 2^32 space.
    /// </summary>
    public static uint CoyoteSeed(ulong seed, int part) =>
        (uint)(Mix(Mix(seed) ^ Mix((ulong)part + 0x9E3779B97F4A7C15UL)) >> 32);

    public ulong Next()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>A value below <paramref name="n"/>: the next value modulo n (a mask when n is a power of two, the same number without a 64-bit division, which the step loop felt).</summary>
    public int Next(int n)
    {
        var x = Next();
        return (n & (n - 1)) == 0 ? (int)(x & (ulong)(n - 1)) : (int)(x % (ulong)n);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
