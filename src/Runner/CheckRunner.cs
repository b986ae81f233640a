using System.Reflection;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Models.Scheduling.Reduction;

namespace Kmc.Checks.Framework;

/// <summary>The outcome of exploring one check on one variant.</summary>
public sealed record CheckRun(
    Check Check,
    Variant Variant,
    RunSettings Settings,
    ExplorationResult Result,
    Expectation Expected,
    TraceFile? Trace)
{
    /// <summary>A run that checked nothing (see <see cref="ExplorationResult.Inconclusive"/>) matches no expectation.</summary>
    public bool MatchesExpectation => Result.Inconclusive == null && Expected.Matches(Result.Failure);

    /// <summary>A bug was expected and the search ran to its end without finding one.</summary>
    public bool LostPower => Expected.IsDeclared && Expected.BugExpected && Result.Failure == null && Result.Inconclusive == null;

    /// <summary>One line on why the observed outcome is not the expected one.</summary>
    public string? Mismatch() => MatchesExpectation
        ? null
        : Result.Inconclusive is { } why
            ? $"{Check.Name}/{Variant.Name}: inconclusive: {why}"
        : !Expected.IsDeclared
            ? $"{Check.Name}/{Variant.Name}: no expectation is declared for this generated variant (observed {(Result.Failure == null ? "pass" : Result.Failure.Kind.ToString())})"
        : Expected.BugExpected
            ? Result.Failure == null
                ? $"{Check.Name}/{Variant.Name}: the known bug was not found in {Result.Executions} executions: the checker lost power"
                : $"{Check.Name}/{Variant.Name}: expected {Expected}, found {Result.Failure.Kind}: {FirstLine(Result.Failure.Message)}"
            : $"{Check.Name}/{Variant.Name}: the fixed code failed: {Result.Failure!.Kind}: {FirstLine(Result.Failure.Message)}";

    private static string FirstLine(string s) => s.Split('\n')[0];
}

public static class CheckRunner
{
    public static string KmcVersion { get; } =
        typeof(CheckRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0";

    /// <summary>Explores the check; on a failure, replays it with recording on to get the interleaving.</summary>
    public static CheckRun Run(Check check, Variant variant, RunSettings settings, Action<int>? progress = null, Func<bool>? cancelled = null,
        Action<SearchProgress>? searchProgress = null)
    {
        var explorer = settings.Explorer();
        var options = settings.ToExploreOptions(progress, cancelled) with { SearchProgress = searchProgress };
        var result = explorer.Explore(FaultQueries.Build(check, variant, settings), options);
        return Finish(check, variant, settings, explorer, options, result);
    }

    /// <summary>
    /// An exhaustive search split over <paramref name="parts"/> threads, each exploring its share
    /// of the tree with its own copy of the scenario. The plain dfs (no reduction, or a preemption
    /// bound) divides the subtrees below its first decisions (<see cref="DfsPolicy.SplitDepth"/>),
    /// and its parts together run exactly the one search's executions; source-DPOR searches the
    /// top of the tree more fully so that it divides alike (<see cref="Kmc.Models.Scheduling.Reduction.DporSplit"/>),
    /// and runs a few per cent more. The result is the one search's verdict: the executions of all
    /// parts, complete only if every part is. On a failure, the plain split takes the failing part
    /// with the lowest number (parts after it stop; the executions counted are those of the parts
    /// up to it), source-DPOR the failure in the earliest unit, so the result does not depend on
    /// which thread ran faster. A state-cached search does not split (one line, no search).
    /// </summary>
    /// <param name="depth">source-DPOR: the branching decisions above the split (see <see cref="DporSplit.Depth"/>)</param>
    public static CheckRun RunSplit(Check check, Variant variant, RunSettings settings, int parts, int depth = DporSplit.DefaultDepth)
    {
        if (parts < 1)
            throw new ArgumentException($"a search splits into 1 or more parts (got {parts})");
        if (settings.Driver != "native" || settings.Strategy != "dfs")
            throw new ArgumentException($"only the native exhaustive search (dfs) splits into parts (got {settings.Driver}/{settings.Strategy})");
        if (settings.StateCache)
            throw new ArgumentException("a state-cached search does not split into parts: a state one part prunes may have been explored only in another part's share (--state-cache off splits)");
        var reduced = settings.Reduction && settings.PreemptionBound < 0;
        var explorer = new NativeExplorer();
        var options = settings.ToExploreOptions();
        FirstPassOutcome? passes = null;
        if (FirstPasses.Apply(options))
        {
            // Once, before the split (see NativeExplorer.RunFirstPasses): the same first failure as one thread's.
            passes = explorer.RunFirstPasses(FaultQueries.Build(check, variant, settings), options);
            if (passes.Found is { } found)
                return Finish(check, variant, settings, explorer, options, found);
            if (options.TimeoutSeconds is { } limit)
                options = options with { TimeoutSeconds = Math.Max(limit - passes.Elapsed.TotalSeconds, 1e-3) };
        }

        options = options with { FirstPasses = null, SplitBoard = reduced ? new SplitBoard() : null, DfsSplitDepth = depth };
        var results = new ExplorationResult[parts];
        var firstFailed = parts;
        var threads = Enumerable.Range(0, parts).Select(k => new Thread(() =>
        {
            // Source-DPOR parts stop by the board (see SplitBoard); plain ones by part number.
            var part = options with { DfsPart = k, DfsParts = parts, Cancelled = reduced ? options.Cancelled : () => Volatile.Read(ref firstFailed) < k };
            results[k] = explorer.Explore(FaultQueries.Build(check, variant, settings), part);
            if (results[k].Failure != null)
            {
                int seen;
                while (k < (seen = Volatile.Read(ref firstFailed)) && Interlocked.CompareExchange(ref firstFailed, k, seen) != seen)
                {
                }
            }
        }, maxStackSize: 16 << 20)).ToList();
        foreach (var t in threads)
            t.Start();
        foreach (var t in threads)
            t.Join();

        var merged = reduced ? MergeReduced(results, options.SplitBoard!, options.DfsSplitDepth) : MergePlain(results, firstFailed);
        return Finish(check, variant, settings, explorer, options, passes?.Before(merged) ?? merged);
    }

    private static ExplorationResult MergePlain(ExplorationResult[] results, int firstFailed)
    {
        var parts = results.Length;
        var counted = results.Take(Math.Min(firstFailed + 1, parts)).ToList();
        return (firstFailed < parts ? results[firstFailed] : results[0]) with
        {
            Executions = counted.Sum(r => r.Executions),
            Decisions = counted.Sum(r => r.Decisions),
            Steps = counted.Sum(r => r.Steps),
            StepBoundHits = counted.Sum(r => r.StepBoundHits),
            FailingExecution = firstFailed < parts ? counted.Sum(r => r.Executions) : 0,
            Exhausted = counted.All(r => r.Exhausted),
            TimedOut = counted.Any(r => r.TimedOut),
            Complete = counted.All(r => r.Complete),
            Bounds = MergedBounds(counted, $"split over {parts} threads"),
            Elapsed = TimeSpan.FromTicks(results.Max(r => r.Elapsed.Ticks)),
            EstimatedPlainExecutions = counted.All(r => r.Exhausted) ? null : counted.Select(r => r.EstimatedPlainExecutions).FirstOrDefault(e => e != null),
        };
    }

    /// <summary>The parts of a split source-DPOR search as one result (see <see cref="SplitBoard"/>).</summary>
    private static ExplorationResult MergeReduced(ExplorationResult[] results, SplitBoard board, int depth)
    {
        var parts = results.Length;
        var units = results.Max(r => r.SplitUnits ?? 0);
        var how = $"split over {parts} threads ({units:N0} subtrees below the first {depth} branching decisions)";
        var failing = Enumerable.Range(0, parts).Where(k => results[k].Failure != null).OrderBy(k => results[k].FailingUnit).Select(k => (int?)k).FirstOrDefault();
        if (failing is { } k)
        {
            var f = results[k];
            // The parts stopped early: how many subtrees there are is not known, only where the failure is.
            how = $"split over {parts} threads, found in subtree {f.FailingUnit + 1:N0} (subtrees: paths through the first {depth} branching decisions)";
            var executions = (int)(board.ExecutionsBefore(f.FailingUnit!.Value, except: k) + f.Executions);
            return f with
            {
                Executions = executions,
                FailingExecution = executions,
                Decisions = results.Sum(r => r.Decisions),
                Steps = results.Sum(r => r.Steps),
                Bounds = $"{f.Bounds}, {how}",
                Elapsed = TimeSpan.FromTicks(results.Max(r => r.Elapsed.Ticks)),
            };
        }

        var exhausted = results.All(r => r.Exhausted);
        return results[0] with
        {
            Executions = results.Sum(r => r.Executions),
            Decisions = results.Sum(r => r.Decisions),
            Steps = results.Sum(r => r.Steps),
            StepBoundHits = results.Sum(r => r.StepBoundHits),
            SleepBlocked = results.Sum(r => r.SleepBlocked),
            SpinPruned = results.Sum(r => r.SpinPruned),
            SpinWoken = results.Sum(r => r.SpinWoken),
            StaleRepeatsSkipped = results.Sum(r => r.StaleRepeatsSkipped),
            Symmetry = results.Select(r => r.Symmetry).FirstOrDefault(d => d != null),
            SymmetryCovered = results.Sum(r => r.SymmetryCovered),
            Exhausted = exhausted,
            TimedOut = results.Any(r => r.TimedOut),
            Complete = results.All(r => r.Complete),
            Bounds = MergedBounds(results, how),
            Elapsed = TimeSpan.FromTicks(results.Max(r => r.Elapsed.Ticks)),
            Outcomes = results[0].Outcomes == null ? null : results.SelectMany(r => r.Outcomes!).ToHashSet(StringComparer.Ordinal),
            EstimatedPlainExecutions = exhausted ? null : results.Select(r => r.EstimatedPlainExecutions).FirstOrDefault(e => e != null),
        };
    }

    /// <summary>A bound some part reached, else the first part's (which says "never reached"), and how the search was split.</summary>
    private static string MergedBounds(IReadOnlyList<ExplorationResult> results, string how) =>
        (results.Select(r => r.Bounds).FirstOrDefault(b => b != null && !b.EndsWith("(never reached)", StringComparison.Ordinal)) ?? results[0].Bounds) + $", {how}";

    private static CheckRun Finish(Check check, Variant variant, RunSettings settings, IExplorer explorer, ExploreOptions options, ExplorationResult result)
    {
        TraceFile? trace = null;
        if (result.Failure != null)
        {
            // The failing schedule is one of the search that found it: with its symmetry, or without.
            options = options with { Symmetry = result.Symmetry != null };
            var replay = explorer.Replay(FaultQueries.Build(check, variant, settings), options, result.Schedule, result.CoyoteTrace);
            if (replay.Failure == null || replay.Failure.Kind != result.Failure.Kind)
            {
                throw new InvalidOperationException(
                    $"{check.Name}/{variant.Name}: replaying the failing schedule gave {replay.Failure?.ToString() ?? "no failure"} " +
                    $"instead of {result.Failure}: the scenario is not deterministic under the scheduler");
            }

            var schedule = result.Schedule;
            Minimization? minimization = null;
            if (settings.Minimize && result.Schedule != null)
                (schedule, replay, minimization) = Minimize(check, variant, settings, options, explorer, result.Schedule, replay);

            trace = new TraceFile
            {
                KmcVersion = KmcVersion,
                Check = check.Name,
                Variant = variant.Name,
                Driver = explorer.Name,
                Strategy = settings.Strategy,
                Seed = settings.Seed,
                Options = new TraceOptions(settings.FirstExecution + settings.Iterations, settings.MaxSteps, settings.PctDepth, settings.PreemptionBound, settings.MemoryModel, settings.StaleBound,
                    settings is { Strategy: "dfs", PreemptionBound: < 0 } ? settings.FirstPass : null, settings.SpinPruning,
                    result.Symmetry != null ? true : null),
                FoundInFirstPass = result.FoundInFirstPass,
                ModelHash = ModelHash.Of(check),
                FailingExecution = result.FailingExecution,
                Failure = replay.Failure!,
                Faults = FaultQueries.Effective(check, settings) is { Length: > 0 } f ? f : null,
                Schedule = schedule,
                Minimization = minimization,
                CoyoteTrace = result.CoyoteTrace,
                Steps = replay.Steps,
            };
        }

        return new CheckRun(check, variant, settings, result, variant.ExpectedUnder(settings.MemoryModel), trace);
    }

    /// <summary>
    /// Shortens the failing schedule before it is reported. The minimised schedule must replay to
    /// the same failure kind; if it somehow does not, the original is kept.
    /// </summary>
    private static (IReadOnlyList<int>, ReplayResult, Minimization?) Minimize(Check check, Variant variant, RunSettings settings, ExploreOptions options,
        IExplorer explorer, IReadOnlyList<int> original, ReplayResult originalReplay)
    {
        var min = Minimizer.Minimize(FaultQueries.Build(check, variant, settings), options, original, originalReplay.Failure!);
        if (min.Minimized.CompareTo(min.Original) >= 0)
        {
            return (original, originalReplay,
                new Minimization(originalReplay.Steps.Count, min.Original.Preemptions, originalReplay.Steps.Count, min.Original.Preemptions, min.Runs));
        }

        var replay = explorer.Replay(FaultQueries.Build(check, variant, settings), options, min.Schedule, null);
        if (replay.Failure?.Kind != originalReplay.Failure!.Kind)
            return (original, originalReplay, null);
        return (min.Schedule, replay,
            new Minimization(originalReplay.Steps.Count, min.Original.Preemptions, replay.Steps.Count, min.Minimized.Preemptions, min.Runs));
    }
}

/// <summary>What replaying a trace showed.</summary>
public sealed record ReplayOutcome(bool Reproduced, Failure? Failure, IReadOnlyList<Step> Steps, string Summary);

public static class TraceReplayer
{
    /// <summary>
    /// Replays a trace on its check and variant (or another variant of the same check). The
    /// trace must come from the same model code; a replay on its own variant must give the
    /// identical interleaving.
    /// </summary>
    public static ReplayOutcome Replay(TraceFile trace, string? variantName = null)
    {
        var check = CheckRegistry.Get(trace.Check);
        var variant = check.GetVariant(variantName ?? trace.Variant);
        var hash = ModelHash.Of(check);
        if (hash != trace.ModelHash)
        {
            throw new KmcInputException(
                $"the trace was recorded from different model code (trace {trace.ModelHash}, this build {hash}); re-record it (kmc run {trace.Check} --variant {trace.Variant} --seed {trace.Seed})");
        }

        var settings = trace.Settings();
        var explorer = settings.Explorer();
        ReplayResult replay;
        try
        {
            replay = explorer.Replay(FaultQueries.Build(check, variant, settings), trace.ReplayOptions(settings), trace.Schedule, trace.CoyoteTrace);
        }
        catch (ReplayDivergedException e) when (variant.Name != trace.Variant)
        {
            return new ReplayOutcome(false, null, [], $"the schedule does not fit variant '{variant.Name}': {e.Message}");
        }
        catch (ReplayDivergedException e)
        {
            throw new KmcInputException($"the trace does not match this code: {e.Message}");
        }

        if (variant.Name != trace.Variant)
        {
            var summary = replay.Failure == null
                ? $"runs clean on variant '{variant.Name}' ({replay.Steps.Count} steps)"
                : $"fails on variant '{variant.Name}' too: {replay.Failure}";
            return new ReplayOutcome(replay.Failure != null, replay.Failure, replay.Steps, summary);
        }

        var diverged = FirstDifference(trace.Steps, replay.Steps);
        if (diverged != null)
            throw new KmcInputException($"the trace does not match this code: {diverged}");
        if (replay.Failure == null || replay.Failure.Kind != trace.Failure.Kind || replay.Failure.Message != trace.Failure.Message)
            throw new KmcInputException($"the trace does not match this code: it ended with {replay.Failure?.ToString() ?? "no failure"}, the trace with {trace.Failure}");
        return new ReplayOutcome(true, replay.Failure, replay.Steps, $"reproduced in {replay.Steps.Count} identical steps: {replay.Failure}");
    }

    private static string? FirstDifference(IReadOnlyList<Step> expected, IReadOnlyList<Step> actual)
    {
        for (var i = 0; i < Math.Min(expected.Count, actual.Count); i++)
        {
            // A trace written before steps had call chains still replays: it has none to compare.
            if (expected[i] != (expected[i].Chain is null ? actual[i] with { Chain = null } : actual[i]))
                return $"step {i + 1} was '{expected[i]}', the replay did '{actual[i]}'";
        }

        return expected.Count == actual.Count ? null : $"the trace has {expected.Count} steps, the replay {actual.Count}";
    }
}
