using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

/// <summary>
/// The preemption-bounded first passes before an unbounded dfs (<see cref="FirstPasses"/>): they
/// find a shallow bug early, leave the unbounded search's verdict as it was, and their traces replay.
/// </summary>
public class FirstPassTests
{
    /// <summary>Two unlocked increments: run one after the other they are right; the lost update needs one preemption between a read and its write.</summary>
    private static Scenario LostUpdate() => new(2, ex =>
    {
        var counter = new Loc<int>("counter");
        for (var i = 0; i < 2; i++)
        {
            ex.Spawn($"T{i}", i, async () =>
            {
                var v = await Kernel.ReadOnce(counter);
                await Kernel.WriteOnce(counter, v + 1);
            });
        }

        ex.AtEnd("count", () => Kernel.Assert(counter.Peek() == 2, $"counter {counter.Peek()}: an increment was lost"));
    });

    private static readonly ExploreOptions Unbounded = new() { Strategy = "dfs", PreemptionBound = -1, FirstPasses = FirstPasses.Default };

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_bug_needing_one_preemption_is_found_by_a_bounded_pass(bool reduction)
    {
        var r = new NativeExplorer().Explore(LostUpdate(), Unbounded with { Reduction = reduction });

        Assert.NotNull(r.Failure);
        Assert.InRange(r.FoundInFirstPass ?? -1, 1, 2);
        Assert.Equal([0, 1, 2], r.FirstPassRuns.Select(p => p.Bound));
        // Bound 0 finds nothing: the bug needs a preemption.
        Assert.False(r.FirstPassRuns[0].Found);
        Assert.True(r.FirstPassRuns.Single(p => p.Bound == r.FoundInFirstPass).Found);
        Assert.True(r.FirstPassRuns.Sum(p => p.Executions) <= r.Executions);
        Assert.Equal(r.Executions, r.FailingExecution);
        Assert.True(r.Executions <= 10, $"{r.Executions} executions");
        Assert.Contains("found by a first pass", r.Verdict());

        // The failing schedule replays to the same failure.
        var replay = new NativeExplorer().Replay(LostUpdate(), Unbounded, r.Schedule, null);
        Assert.Equal(r.Failure!.Message, replay.Failure?.Message);
    }

    [Fact]
    public void The_pass_with_bound_one_alone_finds_it_and_the_search_had_its_turns()
    {
        var r = new NativeExplorer().Explore(LostUpdate(), Unbounded with { FirstPasses = new FirstPasses([0, 1, -1], 2000) });

        Assert.Equal(1, r.FoundInFirstPass);
        Assert.False(r.FirstPassRuns[0].Found);
        Assert.True(r.FirstPassRuns[1].Found);
        Assert.True(r.Executions <= 10, $"{r.Executions} executions");
        // The turns: the passes' executions and the unbounded search's make the total.
        Assert.True(r.Executions > r.FirstPassRuns.Sum(p => p.Executions));
        Assert.Contains("taking turns with the unbounded search", r.Verdict());
    }

    [Fact]
    public void Passes_that_find_nothing_leave_the_search_and_its_verdict_as_they_were()
    {
        var alone = new NativeExplorer().Explore(Scenarios.LockedCounter(), Unbounded with { FirstPasses = null });
        var first = new NativeExplorer().Explore(Scenarios.LockedCounter(), Unbounded);

        Assert.True(alone.Complete);
        Assert.True(first.Complete);
        Assert.Null(first.Failure);
        Assert.Equal(3, first.FirstPassRuns.Count);
        var passes = first.FirstPassRuns.Sum(p => p.Executions);
        Assert.True(passes > 0);
        // The unbounded search beside the passes runs exactly what it runs alone; the total counts both.
        Assert.Equal(alone.Executions + passes, first.Executions);
        Assert.Equal(alone.SleepBlocked, first.SleepBlocked);
        Assert.Contains($"taking turns with the unbounded search: {alone.Executions:N0} executions of its own", first.Verdict());
        Assert.EndsWith(": verified (complete)", first.Verdict());
    }

    [Fact]
    public void A_pass_stops_at_its_budget_and_the_search_still_ends_it()
    {
        var small = new FirstPasses([2], Budget: 5);
        var r = new NativeExplorer().Explore(Scenarios.LockedCounter(3), Unbounded with { FirstPasses = small });

        var pass = Assert.Single(r.FirstPassRuns);
        Assert.Equal(5, pass.Executions);
        Assert.False(pass.Exhausted);
        Assert.Contains("preemption bound 2: 5 executions (its budget)", r.Verdict());
        Assert.True(r.Complete);
    }

    /// <summary>Fixed checks: with or without first passes, the same verdict from the same unbounded search (DPOR, plain, state-cached).</summary>
    [Theory]
    [InlineData("lglock", "fixed", "sc", true, false)]
    [InlineData("lglock", "fixed", "lkmm", true, false)]
    [InlineData("lglock", "fixed", "sc", true, true)]
    [InlineData("osq-1round", "fixed", "sc", true, false)]
    [InlineData("lglock", "fixed", "sc", false, false)]
    public void The_verdict_on_fixed_code_is_the_unbounded_searchs(string check, string variant, string model, bool reduction, bool cache)
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        var settings = new RunSettings
        {
            Strategy = "dfs", PreemptionBound = -1, MemoryModel = model, Reduction = reduction, StateCache = cache, Minimize = false, Seed = 1,
        };
        var alone = CheckRunner.Run(c, v, settings with { FirstPass = false }).Result;
        var first = CheckRunner.Run(c, v, settings).Result;

        Assert.Null(alone.Failure);
        Assert.Null(first.Failure);
        Assert.True(alone.Exhausted);
        Assert.Equal(alone.Complete, first.Complete);
        Assert.Equal(alone.Exhausted, first.Exhausted);
        Assert.Equal(alone.Executions + first.FirstPassRuns.Sum(p => p.Executions), first.Executions);
        Assert.Equal(alone.CachedStates, first.CachedStates);
        Assert.Equal(alone.Verdict().Split(':')[^1], first.Verdict().Split(':')[^1]);
    }

    [Fact]
    public void The_off_switch_is_the_search_alone()
    {
        var c = CheckRegistry.Get("closure-sync.2-putters@upstream");
        var v = c.GetVariant("fixed");
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, MemoryModel = "lkmm", Minimize = false, Seed = 1, FirstPass = false };
        var off = CheckRunner.Run(c, v, settings).Result;
        var plainExplorer = new NativeExplorer().Explore(FaultQueries.Build(c, v, settings), settings.ToExploreOptions() with { FirstPasses = null });

        Assert.Empty(off.FirstPassRuns);
        Assert.Null(off.FoundInFirstPass);
        Assert.Equal(plainExplorer.Executions, off.Executions);
        Assert.Equal(plainExplorer.FailingExecution, off.FailingExecution);
        Assert.Equal(plainExplorer.Schedule, off.Schedule);
        Assert.Equal(plainExplorer.Verdict(), off.Verdict());
        Assert.DoesNotContain("first pass", off.Verdict());
    }

    /// <summary>A first pass finds the declared bug of closure-sync.2-putters@upstream; its trace says so, and replays and re-records exactly.</summary>
    [Fact]
    public void A_first_pass_trace_replays_and_rerecords()
    {
        var c = CheckRegistry.Get("closure-sync.2-putters@upstream");
        var v = c.GetVariant("fixed");
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, MemoryModel = "lkmm", Seed = 1 };
        var run = CheckRunner.Run(c, v, settings);

        Assert.True(run.MatchesExpectation, run.Mismatch());
        Assert.NotNull(run.Result.FoundInFirstPass);
        var trace = run.Trace!;
        Assert.Equal(run.Result.FoundInFirstPass, trace.FoundInFirstPass);
        Assert.True(trace.Options.FirstPass);

        var path = Path.Combine(Directory.CreateTempSubdirectory("kmc-firstpass").FullName, "trace.json");
        File.WriteAllText(path, trace.ToJson());
        var loaded = TraceFile.Load(path);
        var outcome = TraceReplayer.Replay(loaded);
        Assert.True(outcome.Reproduced, outcome.Summary);
        Assert.Equal(trace.Failure.Message, outcome.Failure!.Message);

        // The trace's settings run the same search: the same pass finds the same execution.
        var again = CheckRunner.Run(c, v, loaded.Settings());
        Assert.Equal(trace.FailingExecution, again.Trace!.FailingExecution);
        Assert.Equal(trace.Schedule, again.Trace.Schedule);
    }

    /// <summary>
    /// A bounded pass runs woken spins on; the unbounded search ends them (ExecutionOptions.PruneWokenSpins).
    /// The pass's failing schedule wakes a spin loop, and it still replays under the search's own
    /// settings (no preemption or stale bound), where a replay that ended woken spins would stop short.
    /// </summary>
    [Fact]
    public void A_first_pass_trace_through_a_woken_spin_replays_under_the_unbounded_settings()
    {
        var c = CheckRegistry.Get("osq-3cpu-1round");
        var v = c.GetVariant("wait-next-nonatomic-next");
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, StaleBound = -1, MemoryModel = "lkmm", Seed = 1, Minimize = false };
        var run = CheckRunner.Run(c, v, settings);

        Assert.True(run.MatchesExpectation, run.Mismatch());
        Assert.NotNull(run.Result.FoundInFirstPass);
        Assert.Contains(run.Trace!.Steps, s => s.Op == "spin loop");
        var outcome = TraceReplayer.Replay(run.Trace!);
        Assert.True(outcome.Reproduced, outcome.Summary);
    }

    [Fact]
    public void A_trace_from_before_the_first_passes_reruns_without_them()
    {
        var options = new TraceOptions(2000, 5000, 3, -1, "sc", 2);
        var trace = new TraceFile
        {
            KmcVersion = "0", Check = "lglock", Variant = "fixed", Driver = "native", Strategy = "dfs", Seed = 1, Options = options,
            ModelHash = "x", FailingExecution = 1, Failure = new Failure(FailureKind.Assertion, "m", "here"), Schedule = [], Steps = [],
        };
        Assert.False(trace.Settings().FirstPass);
        Assert.True((trace with { Strategy = "random" }).Settings().FirstPass);
        Assert.True((trace with { Options = options with { FirstPass = true } }).Settings().FirstPass);
    }

    /// <summary>--workers: the passes run once, before the split, and the split search gives one search's verdict.</summary>
    [Theory]
    [InlineData("closure-sync.2-putters@upstream", "fixed", "lkmm")]
    [InlineData("lglock", "fixed", "sc")]
    public void A_split_search_runs_the_passes_once(string check, string variant, string model)
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, Reduction = false, MemoryModel = model, Minimize = false, Seed = 1 };
        var one = CheckRunner.Run(c, v, settings).Result;
        var split = CheckRunner.RunSplit(c, v, settings, 2).Result;

        Assert.Equal(one.Failure?.Kind, split.Failure?.Kind);
        Assert.Equal(3, split.FirstPassRuns.Count);
        if (one.Failure == null)
        {
            // The same unbounded search, split: its executions are one thread's.
            Assert.Equal(one.Executions - one.FirstPassRuns.Sum(p => p.Executions), split.Executions - split.FirstPassRuns.Sum(p => p.Executions));
            Assert.Equal(one.Complete, split.Complete);
            Assert.Contains("split over 2 threads", split.Verdict());
        }
    }
}
