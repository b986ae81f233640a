using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Assert = Xunit.Assert;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// Zero-effect spin iteration pruning (<see cref="SpinLoop"/>): a marked retry loop that repeats
/// without effect waits instead of running on, so the exhaustive search ends (complete) where the
/// loop was the only unbounded thing; a loop nothing can end is still a Hang; a repeat on a stale
/// read is dropped, not reported; switched off, the same loops run to the step bound.
/// </summary>
public class SpinLoopTests
{
    private static ExploreOptions Dfs(string model, bool pruning = true) => new()
    {
        Strategy = "dfs",
        PreemptionBound = -1,
        StaleBound = -1,
        MaxSteps = 300,
        Memory = MemoryModels.Factory(model),
        SpinPruning = pruning,
    };

    /// <summary>T0 polls <c>flag</c> in a marked cpu_relax() loop; T1 stores <paramref name="set"/> to it (0: T1 stores elsewhere).</summary>
    private static Scenario Poll(int set) => new(2, ex =>
    {
        var flag = new Loc<int>("flag");
        var other = new Loc<int>("other");
        ex.Spawn("T0", 0, async () =>
        {
            var loop = SpinLoop("wait for flag");
            for (;;)
            {
                await loop.Head();
                if (await ReadOnce(flag) == 1)
                    break;
                await CpuRelax();
            }
        });
        ex.Spawn("T1", 1, async () =>
        {
            if (set != 0)
                await WriteOnce(flag, set);
            else
                await WriteOnce(other, 1);
        });
    });

    public static IEnumerable<object[]> Models => [["sc"], ["tso"], ["lkmm"]];

    [Theory]
    [MemberData(nameof(Models))]
    public void A_polling_loop_that_a_store_ends_is_verified_complete(string model)
    {
        var r = new NativeExplorer().Explore(Poll(set: 1), Dfs(model));
        Assert.Null(r.Failure);
        Assert.True(r.Complete, r.Verdict());
        Assert.Equal(0, r.StepBoundHits);
        Assert.EndsWith(": verified (complete)", r.Verdict());
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Without_pruning_the_same_loop_runs_to_the_step_bound(string model)
    {
        var r = new NativeExplorer().Explore(Poll(set: 1), Dfs(model, pruning: false) with { Cancelled = CancelAfter(2_000) });
        Assert.Null(r.Failure);
        Assert.True(r.StepBoundHits > 0, r.Verdict());
        Assert.False(r.Complete);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void A_loop_nothing_can_end_is_still_a_hang(string model)
    {
        var r = new NativeExplorer().Explore(Poll(set: 0), Dfs(model));
        Assert.Equal(FailureKind.Hang, r.Failure?.Kind);
        Assert.Contains("T0 on CPU0: spinning on wait for flag: its iteration repeats, re-reading flag until one is stored to", r.Failure!.Message);
        Assert.Contains("SpinLoopTests.cs", r.Failure.Location);

        // Switched off, the same spin is only a run cut at the step bound: no verdict at all.
        var off = new NativeExplorer().Explore(Poll(set: 0), Dfs(model, pruning: false) with { Cancelled = CancelAfter(200) });
        Assert.Null(off.Failure);
        Assert.True(off.StepBoundHits > 0);
    }

    [Fact]
    public void A_loop_that_stores_a_value_nobody_waits_for_is_still_a_hang_under_lkmm_when_the_wait_is_stale_only_in_a_sibling()
    {
        // T1 stores 2, never 1: every read of T0 (the initial 0, or 2) repeats. A repeat on the
        // stale 0 after 2 was stored is dropped (a fair run reads 2); the repeat on 2 is the hang.
        var r = new NativeExplorer().Explore(Poll(set: 2), Dfs("lkmm"));
        Assert.Equal(FailureKind.Hang, r.Failure?.Kind);
        Assert.Contains("wait for flag", r.Failure!.Message);
    }

    [Fact]
    public void A_repeat_on_a_stale_read_is_dropped_not_reported()
    {
        var r = new NativeExplorer().Explore(Poll(set: 1), Dfs("lkmm"));
        Assert.Null(r.Failure);
        Assert.True(r.SpinPruned > 0, r.Verdict());
        Assert.Contains("stopped early: repeated zero-effect spin iteration on a stale read", r.Verdict());
        // Under sc a read is always the newest: nothing is dropped.
        Assert.Equal(0, new NativeExplorer().Explore(Poll(set: 1), Dfs("sc")).SpinPruned);
    }

    /// <summary>A retry counter is loop state beyond the reads: named in Head(state), it keeps the bounded retry's exit.</summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void Declared_loop_state_keeps_a_bounded_retry(string model)
    {
        var scenario = new Scenario(1, ex =>
        {
            var flag = new Loc<int>("flag");
            ex.Spawn("T0", 0, async () =>
            {
                var loop = SpinLoop("bounded retry");
                for (var tries = 0; ; tries++)
                {
                    await loop.Head(tries);
                    if (await ReadOnce(flag) == 1)
                        break;
                    Kernel.Assert(tries < 3, "gave up after 3 tries");
                    await CpuRelax();
                }
            });
        });
        var r = new NativeExplorer().Explore(scenario, Dfs(model));
        Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
        Assert.Contains("gave up after 3 tries", r.Failure!.Message);
    }

    /// <summary>An iteration that stores is never a repeat, even when it reads the same stores.</summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("lkmm")]
    public void An_iteration_with_a_store_is_not_a_repeat(string model)
    {
        var scenario = new Scenario(1, ex =>
        {
            var flag = new Loc<int>("flag");
            var count = new Loc<int>("count");
            ex.Spawn("T0", 0, async () =>
            {
                var loop = SpinLoop("counting loop");
                for (;;)
                {
                    await loop.Head();
                    if (await ReadOnce(flag) == 1)
                        break;
                    await WriteOnce(count, 1);
                }
            });
        });
        var r = new NativeExplorer().Explore(scenario, Dfs(model) with { MaxSteps = 50 });
        // It runs to the step bound: no repeat was taken as one.
        Assert.Null(r.Failure);
        Assert.True(r.StepBoundHits > 0, r.Verdict());
    }

    [Fact]
    public void Osq_one_round_under_lkmm_is_verified_with_pruning_and_cut_without()
    {
        var check = CheckRegistry.Get("osq-1round");
        var scenario = check.Build(check.GetVariant("fixed"));
        var options = Dfs("lkmm") with { MaxSteps = 5000 };
        var on = new NativeExplorer().Explore(scenario, options);
        Assert.Null(on.Failure);
        Assert.True(on.Complete, on.Verdict());
        Assert.EndsWith(": verified (complete)", on.Verdict());

        var off = new NativeExplorer().Explore(scenario, options with { SpinPruning = false, Cancelled = CancelAfter(on.Executions * 4) });
        Assert.False(off.Complete, off.Verdict());
    }

    [Fact]
    public void The_cli_switch_turns_it_off_and_traces_say_how_they_were_recorded()
    {
        var settings = new SettingsOverride { SpinPruning = false }.ApplyTo(new RunSettings());
        Assert.False(settings.SpinPruning);
        Assert.False(settings.ToExploreOptions().SpinPruning);
        Assert.True(new RunSettings().ToExploreOptions().SpinPruning);
        // A trace from before spin loops were marked replays without the pruning.
        Assert.Null(new TraceOptions(10, 100, 3, 2, "lkmm").SpinPruning);
    }

    private static Func<bool> CancelAfter(int executions)
    {
        var n = 0;
        return () => ++n > executions;
    }
}
