using System.Diagnostics;
using Kmc.Models.Scheduling.Reduction;

namespace Kmc.Models.Scheduling;

/// <summary>
/// The native explorer: every task is a coroutine on one thread, and the policy picks which
/// one resumes at each scheduling point. Random and PCT sample; "dfs" searches exhaustively.
/// </summary>
public sealed class NativeExplorer : IExplorer
{
    public string Name => "native";

    public IReadOnlyList<string> Strategies { get; } = ["random", "pct", "dfs"];

    public ExplorationResult Explore(Scenario scenario, ExploreOptions options)
    {
        if (!Strategies.Contains(options.Strategy))
            throw new ArgumentException($"unknown strategy '{options.Strategy}' for the native driver (use {string.Join(", ", Strategies)})");
        // Under sc no choice is weak, so a stale bound cuts nothing: it must not turn off what
        // only a search without one may do (end woken spins, which cut osq-3cpu-1round's sc
        // search from 100,486 executions to 1,881).
        if (options.Memory == null && options.StaleBound >= 0)
            options = options with { StaleBound = -1 };
        return FirstPasses.Apply(options) ? ExploreWithFirstPasses(scenario, options) : Search(scenario, options with { FirstPasses = null });
    }

    /// <summary>
    /// The first passes (see <see cref="FirstPasses"/>) taking turns with the unbounded search. A
    /// failure any of them finds ends the whole; otherwise the unbounded search runs exactly as it
    /// would alone, its end stops the passes, and its verdict is the result's.
    /// </summary>
    private ExplorationResult ExploreWithFirstPasses(Scenario scenario, ExploreOptions options) =>
        TakeTurns(scenario, options, withSearch: true).Result!;

    /// <summary>
    /// Runs the first passes of <paramref name="options"/> (which must have some) taking turns
    /// among themselves, without the unbounded search, up to the first failure. A search split over
    /// threads runs them so, once, on one thread, before it splits: its first passes are one
    /// worker's, and a failure they find is found and numbered alike.
    /// </summary>
    public FirstPassOutcome RunFirstPasses(Scenario scenario, ExploreOptions options) => TakeTurns(scenario, options, withSearch: false);

    /// <summary>One search of <see cref="TakeTurns"/>: a pass (its bound) or the unbounded search (-1).</summary>
    private sealed class Turn(int bound)
    {
        public readonly int Bound = bound;
        public IEnumerator<ExplorationResult?> Steps = null!;
        public int Executions;
        public ExplorationResult? Result;
        public bool Stopping;

        /// <summary>Runs this search's next execution; true when it ended (<see cref="Result"/> set).</summary>
        public bool Next()
        {
            Steps.MoveNext();
            if (Steps.Current is not { } r)
            {
                Executions++;
                return false;
            }

            Result = r;
            if (r.Failure != null)
                Executions++;
            return true;
        }

        /// <summary>Ends the search at its next turn, without running another execution.</summary>
        public void Stop()
        {
            Stopping = true;
            while (Result == null)
                Next();
        }
    }

    private FirstPassOutcome TakeTurns(Scenario scenario, ExploreOptions options, bool withSearch)
    {
        var passes = options.FirstPasses ?? throw new ArgumentException("no first passes to run");
        var watch = Stopwatch.StartNew();
        // The sync context is cleared so awaits in model code resume inline on this thread.
        using var _ = new NoSynchronizationContext(suppressFlow: true);
        var turns = new Dictionary<int, Turn>();
        Turn Start(int bound, ExploreOptions o)
        {
            var t = new Turn(bound);
            t.Steps = SearchSteps(scenario, o with { Cancelled = () => t.Stopping || options.Cancelled?.Invoke() == true }).GetEnumerator();
            return turns[bound] = t;
        }

        foreach (var bound in passes.Bounds)
            Start(bound, passes.PassOptions(options, bound));
        var search = withSearch ? Start(-1, options with { FirstPasses = null }) : null;
        // A cycle that gives the unbounded search no turn would never end it: it gets the last.
        var cycle = withSearch && !passes.Cycle.Contains(-1) ? [.. passes.Cycle, -1] : passes.Cycle;
        try
        {
            while (true)
            {
                var ran = false;
                foreach (var slot in cycle)
                {
                    if (!turns.TryGetValue(slot, out var t) || t.Result != null)
                        continue;
                    ran = true;
                    if (!t.Next())
                        continue;
                    if (t.Result!.Failure != null)
                        return Found(t);
                    if (t == search)
                        return Searched();
                }

                if (!ran)
                    return new FirstPassOutcome(null, Runs(), passes.Budget, Total(), Sum(r => r.Decisions), Sum(r => r.Steps), watch.Elapsed);
            }
        }
        finally
        {
            foreach (var t in turns.Values)
                t.Steps.Dispose();
        }

        int Total() => turns.Values.Sum(t => t.Executions);
        long Sum(Func<ExplorationResult, long> of) => turns.Values.Where(t => t.Result != null).Sum(t => of(t.Result!));

        IReadOnlyList<FirstPassRun> Runs() => passes.Bounds.Select(b => turns[b]).Select(t => new FirstPassRun(t.Bound, t.Executions,
            t.Result is { Exhausted: true }, t.Result?.Failure != null, t.Stopping || t.Result == null)).ToList();

        string Passes(string then) => $"{FirstPasses.Describe(Runs(), passes.Budget)}{then}";

        // A failure: the passes still running stop where they are; their executions count.
        FirstPassOutcome Found(Turn t)
        {
            foreach (var other in turns.Values.Where(o => o != t && o.Result == null && o != search))
                other.Stop();
            var r = t.Result!;
            var searchText = search == null ? "" : $", taking turns with the unbounded search ({search.Executions:N0} executions)";
            var found = r with
            {
                Executions = Total(),
                FailingExecution = Total(),
                Decisions = Sum(x => x.Decisions),
                Steps = Sum(x => x.Steps),
                Bounds = t == search ? $"{r.Bounds}; {Passes($", taking turns with it: {r.Executions:N0} executions of its own")}"
                    : $"{r.Bounds}; found by a first pass; {Passes(searchText)}",
                FoundInFirstPass = t == search ? null : t.Bound,
                FirstPassRuns = Runs(),
                Elapsed = watch.Elapsed,
                EstimatedPlainExecutions = null,
            };
            return new FirstPassOutcome(found, found.FirstPassRuns, passes.Budget, found.Executions, found.Decisions, found.Steps, watch.Elapsed);
        }

        // The unbounded search ended: it has the verdict, and the passes have nothing left to add.
        FirstPassOutcome Searched()
        {
            foreach (var other in turns.Values.Where(o => o.Result == null))
                other.Stop();
            var main = search!.Result!;
            var result = main with
            {
                Executions = Total(),
                Decisions = Sum(x => x.Decisions),
                Steps = Sum(x => x.Steps),
                Bounds = $"{main.Bounds}; {Passes($", taking turns with the unbounded search: {main.Executions:N0} executions of its own")}",
                FirstPassRuns = Runs(),
                Elapsed = watch.Elapsed,
            };
            return new FirstPassOutcome(result, result.FirstPassRuns, passes.Budget, result.Executions, result.Decisions, result.Steps, watch.Elapsed);
        }
    }

    /// <summary>One search to its end (see <see cref="SearchSteps"/>).</summary>
    private ExplorationResult Search(Scenario scenario, ExploreOptions options)
    {
        // The sync context is cleared so awaits in model code resume inline on this thread.
        using var _ = new NoSynchronizationContext(suppressFlow: true);
        using var steps = SearchSteps(scenario, options).GetEnumerator();
        while (steps.MoveNext())
        {
            if (steps.Current is { } result)
                return result;
        }

        throw new UnreachableException();
    }

    /// <summary>
    /// A search, one execution at a time, so that several searches can take turns on one thread
    /// (see <see cref="ExploreWithFirstPasses"/>): null after each counted execution that did not
    /// fail, then the result as the last item (a failing execution is counted in it, not before it).
    /// The caller holds the synchronization context cleared (see <see cref="NoSynchronizationContext"/>).
    /// </summary>
    private IEnumerable<ExplorationResult?> SearchSteps(Scenario scenario, ExploreOptions options)
    {
        var watch = Stopwatch.StartNew();
        var exhaustive = options.Strategy == "dfs";
        if (options.StateCache && !exhaustive)
            throw new ArgumentException("the state cache is for the exhaustive search (strategy dfs)");
        if (options.StateCache && options.DfsParts > 1)
            throw new ArgumentException("a state-cached search cannot be split into parts: a state one part prunes may have been explored only in another part's share");
        var cache = options.StateCache ? new StateCache(options.PreemptionBound, options.StaleBound) : null;
        if (options.DfsParts > 1 && !exhaustive)
            throw new ArgumentException("only an exhaustive search (strategy dfs) splits into parts");
        var dpor = exhaustive && ReducesSearch(options)
            ? new DporPolicy(options.StaleBound, options.IncrementalRaces,
                options.DfsParts > 1 ? new DporSplit(options.DfsPart, options.DfsParts, options.DfsSplitDepth, options.SplitBoard) : null,
                options.ReadsFromSleep)
            : null;
        if (options.Symmetry && dpor == null)
            options = options with { Symmetry = false };
        var symmetryProbed = false;
        var dfs = exhaustive && dpor == null ? new DfsPolicy(options.PreemptionBound, options.StaleBound, part: options.DfsPart, parts: options.DfsParts) : null;
        var decisions = new List<int>();
        long totalDecisions = 0;
        long totalSteps = 0;
        var stepBoundHits = 0;
        var spinPruned = 0L;
        var spinWoken = 0L;
        var staleRepeatsSkipped = 0L;
        var symmetryCovered = 0L;
        string? symmetry = null;
        var symmetryOrdered = false;
        var staleBoundReached = 0;
        var executions = 0;
        var exhausted = false;
        var timedOut = false;
        var outcomes = options.AllOutcomes ? new SortedSet<string>(StringComparer.Ordinal) : null;

        var expectedSteps = options.Strategy == "pct" ? ProbeSteps(scenario, options) : 50;
        var scratch = new Scratch();
        var nextProgress = options.SearchProgressEvery;
        var random = new RandomPolicy(new Rng(0));
        while (exhaustive || executions < options.Iterations)
        {
            if (options.TimeoutSeconds is { } limit && watch.Elapsed.TotalSeconds > limit)
            {
                timedOut = true;
                break;
            }

            if (options.Cancelled?.Invoke() == true)
                break;

            if (options.ExecutionBudget is { } budget && executions >= budget)
                break;

            // Another part failed in an earlier unit: that failure is the result.
            if (dpor?.Split is { Overtaken: true })
                break;

            ISchedulePolicy policy;
            if (dpor != null)
            {
                dpor.BeginExecution();
                policy = dpor;
            }
            else if (dfs != null)
            {
                dfs.BeginExecution();
                policy = dfs;
            }
            else
            {
                if (options.Strategy == "pct")
                {
                    policy = new PctPolicy(Rng.ForExecution(options.Seed, options.FirstExecution + executions), options.PctDepth, expectedSteps);
                }
                else
                {
                    random.Rng.ReseedForExecution(options.Seed, options.FirstExecution + executions);
                    policy = random;
                }
            }

            decisions.Clear();
            var ex = RunOnce(scenario, options, policy, decisions, record: false, scratch, cache, searching: true);
            if (cache?.Off is { } off)
            {
                // Pruning so far may rest on states the fingerprint did not fully name: start again without it.
                var restartedAfter = executions + 1;
                foreach (var step in Restart(scenario, options with { StateCache = false, TimeoutSeconds = options.TimeoutSeconds - watch.Elapsed.TotalSeconds },
                             $"; state cache off: {off} (restarted without it after {restartedAfter} executions)"))
                    yield return step;
                yield break;
            }

            if (ex.Symmetry != null && !symmetryProbed)
            {
                // Tried once the scenario is seen to declare one; contradicted, it is not used: the
                // search starts again and explores every renaming.
                symmetryProbed = true;
                if (SymmetryProbe.Violation(scenario, options) is { } refused)
                {
                    foreach (var step in Restart(scenario, options with { Symmetry = false, TimeoutSeconds = options.TimeoutSeconds - watch.Elapsed.TotalSeconds },
                                 $", declared symmetry not used (every renaming explored): {refused}"))
                        yield return step;
                    yield break;
                }
            }

            if (dpor?.Split is { Owned: false })
            {
                // Another part's unit: this part only walked its steps above the split.
                if (!dpor.EndExecution(ex.Tasks.Count))
                {
                    exhausted = true;
                    break;
                }

                continue;
            }

            if (dfs is { Owned: false })
            {
                // Another part's unit (cut at the split depth, or ended above it): that part counts it.
                if (!dfs.Advance())
                {
                    exhausted = true;
                    break;
                }

                continue;
            }

            executions++;
            dpor?.Split?.Counted();
            totalDecisions += decisions.Count;
            totalSteps += ex.StepCount;
            if (ex.StepBoundHit)
                stepBoundHits++;
            if (ex.SpinPruned)
                spinPruned++;
            if (ex.SpinWoken)
                spinWoken++;
            staleRepeatsSkipped += ex.StaleRepeatsSkipped;
            if (ex.SymmetryCovered)
                symmetryCovered++;
            if (ex.Symmetry is { } declared)
            {
                symmetry ??= declared.Describe();
                symmetryOrdered |= declared.Ordered;
            }
            if (dfs is { StaleBoundReached: true } || dpor is { StaleBoundReached: true })
                staleBoundReached++;
            if (executions % 1024 == 0)
                options.Progress?.Invoke(executions);

            if (outcomes != null)
            {
                if (ex.Failure != null)
                    outcomes.Add($"{ex.Failure.Kind} at {Path.GetFileName(ex.Failure.Location)}");
                else if (!ex.Redundant && !ex.StepBoundHit && !ex.SpinPruned && !ex.SpinWoken)
                    outcomes.Add(FinalState(ex));
            }
            else if (ex.Failure != null)
            {
                if (dpor?.Split is { } failedSplit)
                    failedSplit.Board?.Failed(failedSplit.Unit);
                yield return new ExplorationResult
                {
                    Driver = Name,
                    Strategy = options.Strategy,
                    Failure = ex.Failure,
                    Executions = executions,
                    FailingExecution = options.FirstExecution + executions,
                    Decisions = totalDecisions,
                    Steps = totalSteps,
                    StepBoundHits = stepBoundHits,
                    Bounds = Bounds(options, exhaustive, dpor != null, staleBoundReached: null) + CacheText(cache) + SymmetryText(symmetry, symmetryOrdered),
                    Reduced = dpor != null,
                    CachedStates = cache?.States,
                    CachePruned = cache?.Pruned ?? 0,
                    SleepBlocked = dpor?.SleepBlocked ?? 0,
                    SpinPruned = spinPruned,
                    SpinWoken = spinWoken,
                    StaleRepeatsSkipped = staleRepeatsSkipped,
                    Symmetry = symmetry,
                    SymmetryCovered = symmetryCovered,
                    Elapsed = watch.Elapsed,
                    Schedule = decisions.ToArray(),
                    SplitUnits = dpor?.Split?.Units,
                    FailingUnit = dpor?.Split?.Unit,
                };
                yield break;
            }

            // The policy moves on before another search takes its turn: it reads only this execution.
            // An execution ended before its end (a failure, the step bound, a woken spin) leaves
            // the races of the other tasks' remaining steps unseen: DPOR tries those tasks earlier.
            var cut = ex.Failure != null || ex.StepBoundHit || ex.SpinWoken;
            var more = dpor != null ? dpor.EndExecution(ex.Tasks.Count, cut ? Unfinished(ex) : 0) : dfs?.Advance();
            yield return null;
            if (more == false)
            {
                exhausted = true;
                break;
            }

            if (exhaustive && options.SearchProgress != null && (executions & 255) == 0 && watch.Elapsed >= nextProgress)
            {
                nextProgress = watch.Elapsed + options.SearchProgressEvery;
                options.SearchProgress(new SearchProgress(executions, watch.Elapsed, dpor?.FractionDone ?? dfs!.FractionDone, Cached: cache is { Off: null }));
            }
        }

        options.Progress?.Invoke(executions);
        yield return new ExplorationResult
        {
            Driver = Name,
            Strategy = options.Strategy,
            Executions = executions,
            Decisions = totalDecisions,
            Steps = totalSteps,
            Exhausted = exhausted,
            TimedOut = timedOut,
            StepBoundHits = stepBoundHits,
            Bounds = Bounds(options, exhaustive, dpor != null, staleBoundReached) + CacheText(cache) + SymmetryText(symmetry, symmetryOrdered),
            Reduced = dpor != null,
            CachedStates = cache?.States,
            CachePruned = cache?.Pruned ?? 0,
            SleepBlocked = dpor?.SleepBlocked ?? 0,
            SpinPruned = spinPruned,
            SpinWoken = spinWoken,
            StaleRepeatsSkipped = staleRepeatsSkipped,
            Symmetry = symmetry,
            SymmetryCovered = symmetryCovered,
            SplitUnits = dpor?.Split?.Units,
            Complete = exhausted && stepBoundHits == 0 && options.PreemptionBound < 0
                       && (options.Memory == null || options.StaleBound < 0 || staleBoundReached == 0),
            Elapsed = watch.Elapsed,
            Outcomes = outcomes,
            // Only a search that stopped before its end needs to say how much is left.
            // A first pass stops at its budget or with the search beside it: what is left of its tree is no one's concern.
            EstimatedPlainExecutions = exhaustive && !exhausted && options.ExecutionBudget == null ? EstimateTreeSize(scenario, options) : null,
        };
    }

    /// <summary>What the verdict says of a state cache: how many states, and the chance a fingerprint collision merged two.</summary>
    private static string CacheText(StateCache? cache)
    {
        if (cache == null)
            return "";
        var n = (double)cache.States;
        var p = n * n / Math.Pow(2, 129);
        var full = cache.Full ? $"; the cache filled at {StateCache.MaxStates:N0} states and later ones were not remembered" : "";
        return $", state cache ({cache.States:N0} states; 128-bit fingerprints: the chance that a collision merged two states and hid one is about n²/2^129 = {p:G2}, as with SPIN's hash-compact{full})";
    }

    /// <summary>The search started again with other options: its steps, its result naming why in its bounds.</summary>
    private IEnumerable<ExplorationResult?> Restart(Scenario scenario, ExploreOptions options, string why)
    {
        foreach (var step in SearchSteps(scenario, options))
        {
            if (step is { } result)
            {
                yield return result with { Bounds = result.Bounds + why };
                yield break;
            }

            yield return null;
        }
    }

    private static string SymmetryText(string? symmetry, bool ordered) =>
        symmetry == null ? ""
        : ordered ? $", symmetry: {symmetry}"
        : $", symmetry: {symmetry}, but no task ever wrote it through a store or atomic kmc can hold back: it cut nothing";

    /// <summary>Random probes per estimate: enough for the order of magnitude, a few milliseconds.</summary>
    public const int EstimateProbes = 32;

    /// <summary>
    /// Knuth's estimate of how many executions the plain search (with these bounds, without
    /// reduction) has: the mean, over random probes, of the product of the option counts on the
    /// path. The reduced search runs at most that many. Probes use their own fixed seed, so the
    /// estimate is the same on every run.
    /// </summary>
    private static double EstimateTreeSize(Scenario scenario, ExploreOptions options)
    {
        var rng = new Rng(0x4B4E_5554_48UL);
        var probe = new DfsPolicy(options.PreemptionBound, options.StaleBound, rng);
        var sum = 0.0;
        for (var i = 0; i < EstimateProbes; i++)
        {
            probe.BeginExecution();
            RunOnce(scenario, options, probe, new List<int>(), record: false);
            sum += probe.ProbeProduct;
        }

        return sum / EstimateProbes;
    }

    /// <summary>The tasks (a bit per id below 64) that had not finished when the execution ended.</summary>
    private static ulong Unfinished(Execution ex)
    {
        ulong mask = 0;
        foreach (var t in ex.Tasks)
        {
            if (!t.Done && t.Id < 64)
                mask |= 1UL << t.Id;
        }

        return mask;
    }

    /// <summary>The values of every location the execution created, as one sorted line.</summary>
    private static string FinalState(Execution ex) =>
        "final " + string.Join(", ", (ex.Locations ?? []).Select(l => $"{l.Name}={l.Show()}").Order(StringComparer.Ordinal));

    /// <summary>
    /// The exhaustive search is reduced (source-DPOR) unless the user turned it off or bounds
    /// preemptions: bounded partial-order reduction needs more than a sleep set to stay complete
    /// for the bound (Coons et al., OOPSLA 2013), so a preemption-bounded search stays plain.
    /// </summary>
    public static bool ReducesSearch(ExploreOptions options) => options.Reduction && options.PreemptionBound < 0 && !options.StateCache;

    /// <summary>
    /// What "within the bounds" means for an exhaustive search. The stale bound is named only under
    /// a weak model (sc makes no weak-memory choices), and a bound no execution reached is said to
    /// be so: then it cut nothing, and the verdict is complete for every weak behaviour.
    /// </summary>
    private static string? Bounds(ExploreOptions options, bool exhaustive, bool reduced, int? staleBoundReached)
    {
        if (!exhaustive)
            return null;
        var text = options.PreemptionBound < 0 ? "no preemption bound" : $"preemption bound {options.PreemptionBound}";
        text += reduced ? ", source-DPOR" : options.StateCache ? ", no partial-order reduction" : options.Reduction ? ", no reduction with a preemption bound" : ", no reduction";
        if (options.Memory == null)
            return text;
        if (options.StaleBound < 0)
            return text + ", no stale bound";
        return text + $", stale bound {options.StaleBound}" + (staleBoundReached == 0 ? " (never reached)" : "");
    }

    /// <summary>
    /// PCT spreads its priority change points over the expected length of an execution. It is
    /// measured once, on a run that does not depend on where a search starts, so that every part
    /// of a split search draws the same change points as a single run would.
    /// </summary>
    private static int ProbeSteps(Scenario scenario, ExploreOptions options)
    {
        var probe = RunOnce(scenario, options, new RandomPolicy(new Rng(options.Seed ^ 0x5EED_0F_9C7UL)), new List<int>(), record: false);
        return Math.Max(50, probe.StepCount);
    }

    public ReplayResult Replay(Scenario scenario, ExploreOptions options, IReadOnlyList<int>? schedule, string? coyoteTrace)
    {
        if (schedule == null)
            throw new ReplayDivergedException("this trace has no native schedule (it was recorded by another driver)");
        using var _ = new NoSynchronizationContext(suppressFlow: true);
        var ex = RunOnce(scenario, options, new ReplayPolicy(schedule), new List<int>(), record: true);
        if (ex.Diverged != null)
            throw ex.Diverged;
        return new ReplayResult(ex.Failure, ex.Recorder!.Steps, ex.StepBoundHit);
    }

    /// <summary>Runs one execution to its end: all tasks done, a failure, a hang or the step bound.</summary>
    public static Execution RunOnce(Scenario scenario, ExploreOptions options, ISchedulePolicy policy, List<int> decisions, bool record) =>
        RunOnce(scenario, options, policy, decisions, record, new Scratch());

    /// <summary>What one search reuses from execution to execution instead of allocating it per run.</summary>
    private sealed class Scratch
    {
        public readonly List<SimTask> Enabled = new();
        public readonly List<ValueTask> Started = new();

        /// <summary>The driver, pointed at each execution's policy and decision list in turn.</summary>
        public readonly NativeDriver Driver;

        public Scratch() => Driver = new NativeDriver(Started);

        /// <summary>The settings every execution of the search shares (a weak model adds its own memory to a copy).</summary>
        public ExecutionOptions? Settings;

        /// <summary>
        /// The execution the search runs again and again (<see cref="Execution.Reset"/>): each run
        /// is read to its end before the next one starts (null: none yet, or recycling is off).
        /// </summary>
        public Execution? Execution;
    }

    /// <param name="searching">the exhaustive search's own run (a replay, a probe or a minimisation step runs every woken spin on: the schedule it follows may come from a bounded first pass)</param>
    private static Execution RunOnce(Scenario scenario, ExploreOptions options, ISchedulePolicy policy, List<int> decisions, bool record, Scratch scratch,
        StateCache? cache = null, bool searching = false)
    {
        var driver = scratch.Driver;
        driver.Use(policy, decisions, cache);
        Footprints.ResetKeys();
        cache?.BeginExecution();
        Footprints.Created = null;
        var settings = scratch.Settings ??= new ExecutionOptions
        {
            TrackLocations = options.AllOutcomes,
            Cpus = scenario.Cpus,
            Preemptive = scenario.Preemptive,
            MaxSteps = options.MaxSteps,
            Record = record,
            DetectRaces = options.DetectRaces,
            DetectUseAfterLeave = options.DetectUseAfterLeave,
            RacesOnlyNoted = options.RacesOnlyNoted,
            // The state cache's fingerprint does not hold a loop's last reads.
            SpinPruning = options.SpinPruning && cache == null,
            PruneWokenSpins = searching && options.SpinPruning && options.WokenSpinPruning && cache == null
                              && options.Strategy == "dfs" && options.PreemptionBound < 0 && options.StaleBound < 0,
            SkipStaleSpinRepeats = searching && options.SpinPruning && options.StaleRepeatSkipping && cache == null
                                   && options.Strategy == "dfs" && options.StaleBound < 0,
            Symmetry = options.Symmetry && cache == null,
        };
        var exOptions = options.Memory == null ? settings : settings with { Memory = options.Memory() };
        Execution ex;
        if (scratch.Execution is { } again)
        {
            again.Reset(exOptions);
            ex = again;
        }
        else
        {
            ex = new Execution(exOptions, driver);
            if (options.Recycle)
                scratch.Execution = ex;
        }

        cache?.Attach(ex);

        if (options.AllOutcomes)
        {
            ex.TrackLocations();
            Footprints.Created = ex.Locations;
        }

        Execution.Enter(ex, null);
        try
        {
            scenario.Setup(ex);
            for (var i = 0; i < ex.TaskList.Count; i++)
            {
                if (Execution.TakePendingBody(ex.TaskList[i]) is { } body)
                    driver.Start(ex, ex.TaskList[i], body);
            }

            var enabled = scratch.Enabled;
            var tasks = ex.TaskList;
            var reducing = policy as DporPolicy;
            var split = policy as DfsPolicy;
            var here = Execution.Here;
            while (!ex.Aborted)
            {
                if (split is { Cut: true })
                {
                    ex.AbortRedundant();
                    break;
                }

                // Rebuilt in place: the set is mostly the one the last step saw, and rewriting an
                // unchanged list (clearing it, storing each task again) costs the step loop more than
                // comparing it does.
                var allDone = true;
                var count = 0;
                for (var i = 0; i < tasks.Count; i++)
                {
                    var t = tasks[i];
                    if (t.Done)
                        continue;
                    allDone = false;
                    if (!ex.CanRun(t))
                        continue;
                    if (t.WaitsAfterLook && ex.EndsWokenSpins)
                    {
                        // Woken after a look without effect: covered from here on (see ExecutionOptions.PruneWokenSpins).
                        ex.EndWokenSpin();
                        break;
                    }
                    if (count < enabled.Count)
                    {
                        if (enabled[count] != t)
                            enabled[count] = t;
                    }
                    else
                    {
                        enabled.Add(t);
                    }

                    count++;
                }

                if (ex.SpinWoken)
                    break;
                if (count < enabled.Count)
                    enabled.RemoveRange(count, enabled.Count - count);

                if (allDone)
                    break;
                if (enabled.Count == 0)
                {
                    if (ex.Symmetry?.AnyWaiting() == true)
                        ex.AbortSymmetryCovered();
                    else if (ex.StaleSpinWait())
                        ex.AbortSpinPruned();
                    else
                        ex.Fail(ex.DescribeHang());
                    break;
                }

                if (cache != null && split is { Replaying: false } && (cache.Off != null || cache.SeenBefore(ex, split.Preemptions, split.StaleSpent)))
                {
                    // A state explored before (or a cache that just turned itself off): nothing new below.
                    ex.AbortRedundant();
                    break;
                }

                SimTask pick;
                if (reducing != null)
                {
                    var next = reducing.PickStep(enabled, ex.LastRun, ex.Memory.StoreCount);
                    if (next == null)
                    {
                        // Every task that could run sleeps: this trace was explored from an earlier state.
                        ex.AbortRedundant();
                        break;
                    }

                    pick = next;
                    if (enabled.Count > 1)
                        decisions.Add(pick.Id);
                    BeginFootprint(ex, pick, reducing.StepFootprint);
                }
                else if (enabled.Count == 1)
                {
                    pick = enabled[0];
                }
                else
                {
                    pick = policy.PickTask(enabled, ex.LastRun);
                    decisions.Add(pick.Id);
                }

                var resume = pick.Continuation!;
                pick.Continuation = null;
                if (ex.Recording)
                    pick.ResumedChain = CallChain.OfContinuation(resume);
                here.Task = pick;
                if (cache != null)
                {
                    cache.BeginStep(pick);
                    resume();
                    cache.EndStep();
                }
                else if (reducing == null)
                {
                    resume();
                }
                else
                {
                    try
                    {
                        resume();
                    }
                    finally
                    {
                        Footprints.Current = null;
                        ex.StepFootprint = null;
                    }
                }

                here.Task = null;
            }

            ex.RunFinalChecks();
            return ex;
        }
        finally
        {
            Footprints.Created = null;
            if (cache != null)
                StateCache.EndExecution();
            Execution.Leave();
            driver.ReleaseFinished();
        }
    }

    /// <summary>
    /// Starts collecting the step's footprint. A task ending a spin-wait reads what its condition
    /// reads; a condition that reads nothing the kernel API can name (a sleep's task state, a
    /// grace period) makes the step depend on everything. Tasks that share a CPU contend for it
    /// (preemption, irqs, sleeping, priorities): their steps all write the CPU.
    /// </summary>
    private static void BeginFootprint(Execution ex, SimTask pick, Footprint fp)
    {
        Footprints.Current = fp;
        ex.StepFootprint = fp;
        if (pick.Blocker != null)
        {
            pick.Blocker();
            if (fp.Count == 0)
                fp.MarkUntracked();
            fp.WaitKeys = fp.Count;
        }

        if (pick.Cpu.TaskCount > 1)
            fp.Write(Footprints.CpuKey(pick.Cpu.Id));
    }

    private sealed class NativeDriver(List<ValueTask> started) : IExecutionDriver
    {
        private ISchedulePolicy _policy = null!;
        private List<int> _decisions = null!;
        private StateCache? _cache;

        /// <summary>Points the driver at the next execution's policy, decision list and state cache.</summary>
        public void Use(ISchedulePolicy policy, List<int> decisions, StateCache? cache)
        {
            _policy = policy;
            _decisions = decisions;
            _cache = cache;
        }

        public bool Synchronous => false;

        public void SchedulingPoint(Execution ex, SimTask task) => throw new UnreachableException();

        public int Choose(Execution ex, SimTask? task, int n)
        {
            var v = _policy.PickChoice(n);
            _decisions.Add(v);
            _cache?.Chose(v);
            return v;
        }

        public int ChooseWeak(Execution ex, SimTask? task, int n, int sc)
        {
            var v = _policy.PickWeakChoice(n, sc);
            _decisions.Add(v);
            _cache?.Chose(v);
            return v;
        }

        public bool StaleAllowed(Execution ex) => _policy.StaleAllowed();

        public int LastChoiceNode(Execution ex) => _policy.LastChoiceNode;

        public void RecordChoice(Execution ex, int value, bool replacesLast)
        {
            if (replacesLast)
                _decisions[^1] = value;
            else
                _decisions.Add(value);
        }

        public int SkipAlternatives(Execution ex, int node, ulong alternatives) => _policy.SkipAlternatives(node, alternatives);

        public void OnSpawn(Execution ex, SimTask task, Func<ValueTask> body)
        {
            var parent = Execution.CurrentTask;
            Start(ex, task, body);
            Execution.Enter(ex, parent);
        }

        /// <summary>Runs the task up to its first scheduling point, where it parks its continuation.</summary>
        public void Start(Execution ex, SimTask task, Func<ValueTask> body)
        {
            Execution.Enter(ex, task);
            started.Add(ex.RunTask(task, body));
            Execution.Enter(ex, null);
        }

        /// <summary>
        /// Consumes the finished tasks' results, which hands their (pooled) state machines back
        /// for the next execution; a task an abort left parked is simply dropped.
        /// </summary>
        public void ReleaseFinished()
        {
            foreach (var run in started)
            {
                if (run.IsCompleted)
                    run.GetAwaiter().GetResult();
            }

            started.Clear();
        }
    }
}

/// <summary>Clears the synchronization context for a scope (test runners install one).</summary>
internal readonly struct NoSynchronizationContext : IDisposable
{
    private readonly SynchronizationContext? _saved;
    private readonly AsyncFlowControl? _flow;

    public NoSynchronizationContext()
        : this(suppressFlow: false)
    {
    }

    /// <param name="suppressFlow">
    /// Also stop capturing the execution context for the scope (the native explorer: every task
    /// runs inline on this one thread, so there is nothing to flow). With a context captured, each
    /// resumed async method runs through ExecutionContext.RunInternal, a save and restore of the
    /// thread's contexts at every scheduling point; with flow suppressed, state machines capture
    /// none and resume by a direct MoveNext. Not for the Coyote driver, whose threads need it.
    /// </param>
    public NoSynchronizationContext(bool suppressFlow)
    {
        _saved = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        _flow = suppressFlow && !ExecutionContext.IsFlowSuppressed() ? ExecutionContext.SuppressFlow() : null;
    }

    public void Dispose()
    {
        _flow?.Undo();
        SynchronizationContext.SetSynchronizationContext(_saved);
    }
}
