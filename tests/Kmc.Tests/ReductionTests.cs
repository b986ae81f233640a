using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// The partial-order reduction against the full search on the same scenarios: every check's
/// variants, explored exhaustively with no preemption bound, must reach the same failures (kind
/// and site) and the same final states both ways. Configurations the full search cannot finish
/// within its budget of executions are skipped (and named in the output).
/// </summary>
public class ReductionTests(ITestOutputHelper output)
{
    /// <summary>A dfs with no preemption bound collecting every outcome: what the comparisons of searches run (sc needs no stale bound).</summary>
    internal static ExploreOptions UnboundedDfs(string model, int staleBound) => new()
    {
        Strategy = "dfs",
        PreemptionBound = -1,
        StaleBound = model == "sc" ? -1 : staleBound,
        MaxSteps = 400,
        Memory = MemoryModels.Factory(model),
        AllOutcomes = true,
    };

    private const int FullSearchExecutions = 3_000;

    public static IEnumerable<object[]> Models => [["sc"], ["lkmm"], ["tso"]];

    [Theory]
    [MemberData(nameof(Models))]
    public void Reduced_search_reaches_the_same_failures_and_final_states_as_the_full_search(string model)
    {
        var (compared, mismatches) = CompareOutcomes(CheckRegistry.All, model,
            without: o => o with { Reduction = false },
            with: r => Xunit.Assert.True(r.Reduced));
        Xunit.Assert.True(compared >= 15, $"only {compared} configurations were small enough to compare");
        Xunit.Assert.Empty(mismatches);
    }

    /// <summary>
    /// Spin pruning (<see cref="SpinLoop"/>) against the loops run as written, on the checks of the
    /// ports with retry loops: the same failures and final states both ways wherever the search
    /// without it ends within its budget (its executions cut at the step bound add nothing).
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("lkmm")]
    public void Spin_pruning_reaches_the_same_failures_and_final_states_as_the_loops_run_on(string model)
    {
        string[] families = ["osq", "qspinlock", "closure", "pagecache"];
        var (compared, mismatches) = CompareOutcomes(
            CheckRegistry.All.Where(c => families.Any(f => c.Name.StartsWith(f, StringComparison.Ordinal))), model,
            without: o => o with { SpinPruning = false },
            with: _ => { });
        Xunit.Assert.True(compared >= 6, $"only {compared} configurations were small enough to compare");
        Xunit.Assert.Empty(mismatches);
    }

    /// <summary>
    /// Every variant of <paramref name="checks"/> explored exhaustively (no preemption bound) with
    /// the search as configured and with <paramref name="without"/> applied: the outcomes (failure
    /// kind and site, final states) must be the same sets. Skips (and names) the configurations
    /// the search without it cannot finish within <see cref="FullSearchExecutions"/>.
    /// </summary>
    private (int Compared, List<string> Mismatches) CompareOutcomes(IEnumerable<Check> checks, string model,
        Func<ExploreOptions, ExploreOptions> without, Action<ExplorationResult> with)
    {
        var compared = 0;
        var mismatches = new List<string>();
        foreach (var check in checks)
        {
            foreach (var variant in check.Variants)
            {
                var scenario = check.Build(variant);
                var options = UnboundedDfs(model, staleBound: 1);
                var run = 0;
                var baseline = new NativeExplorer().Explore(scenario, without(options) with { Cancelled = () => ++run > FullSearchExecutions });
                if (!baseline.Exhausted)
                {
                    output.WriteLine($"skipped {check.Name}/{variant.Name}: the search without it needs more than {FullSearchExecutions} executions");
                    continue;
                }

                var result = new NativeExplorer().Explore(scenario, options);
                with(result);
                Xunit.Assert.True(result.Exhausted);
                compared++;
                output.WriteLine($"{check.Name}/{variant.Name}: {baseline.Executions} ({baseline.StepBoundHits} cut) -> {result.Executions} ({result.SpinPruned} dropped) executions, {baseline.Outcomes!.Count} outcomes");
                if (!baseline.Outcomes!.SetEquals(result.Outcomes!))
                {
                    mismatches.Add($"{check.Name}/{variant.Name}: only without: [{string.Join("; ", baseline.Outcomes.Except(result.Outcomes!))}] " +
                                   $"only with: [{string.Join("; ", result.Outcomes!.Except(baseline.Outcomes))}]");
                }
            }
        }

        foreach (var m in mismatches)
            output.WriteLine(m);
        return (compared, mismatches);
    }

    private static ExploreOptions Dfs(bool reduction, int preemptionBound = -1) => new()
    {
        Strategy = "dfs",
        PreemptionBound = preemptionBound,
        Reduction = reduction,
        MaxSteps = 1000,
    };

    [Fact]
    public void Two_lockers_of_two_rounds_are_explored_once_per_order_of_the_lock_acquisitions()
    {
        var check = CheckRegistry.Get("counter");
        var scenario = check.Build(check.GetVariant("spinlock"));
        var full = new NativeExplorer().Explore(scenario, Dfs(reduction: false));
        var reduced = new NativeExplorer().Explore(scenario, Dfs(reduction: true));
        Xunit.Assert.True(full.Exhausted && reduced.Exhausted);
        Xunit.Assert.Equal(44, full.Executions);
        // 4 acquisitions, 2 per task: C(4, 2) = 6 orders, each explored once; the other
        // executions were abandoned by the sleep sets as already explored.
        Xunit.Assert.Equal(6, reduced.Executions - reduced.SleepBlocked);
        Xunit.Assert.EndsWith(": verified (complete)", reduced.Verdict());
        Xunit.Assert.Contains("source-DPOR", reduced.Verdict());
    }

    [Fact]
    public void A_preemption_bound_keeps_the_plain_search_and_says_so()
    {
        var check = CheckRegistry.Get("counter");
        var r = new NativeExplorer().Explore(check.Build(check.GetVariant("spinlock")), Dfs(reduction: true, preemptionBound: 2));
        Xunit.Assert.False(r.Reduced);
        Xunit.Assert.Contains("no reduction with a preemption bound", r.Verdict());
        Xunit.Assert.EndsWith(": bounded", r.Verdict());
    }

    [Fact]
    public void Turning_reduction_off_is_refused_for_a_sampling_strategy()
    {
        var e = Xunit.Assert.Throws<KmcInputException>(() => new RunSettings { Strategy = "random", Reduction = false }.Validate("command line"));
        Xunit.Assert.Contains("dfs", e.Message);
    }

    /// <summary>
    /// Ghost state in a check (who is inside) is seen by the reduction through Ghost&lt;T&gt;: two
    /// tasks that enter a section with no lock are explored in the order that puts both inside.
    /// </summary>
    [Fact]
    public void Ghost_state_makes_steps_dependent()
    {
        var scenario = new Scenario(2, ex =>
        {
            var inside = new Ghost<int>();
            for (var cpu = 0; cpu < 2; cpu++)
            {
                ex.Spawn($"T{cpu}", cpu, async () =>
                {
                    await Kernel.CpuRelax();
                    inside.Value++;
                    Kernel.Assert(inside.Value == 1, "two tasks inside");
                    await Kernel.CpuRelax();
                    inside.Value--;
                });
            }
        });
        var r = new NativeExplorer().Explore(scenario, Dfs(reduction: true));
        Xunit.Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
    }

    [Fact]
    public void The_live_estimate_is_exact_on_a_uniform_tree_and_says_so_when_it_overflows()
    {
        // One task, ten binary choices: 1024 executions, every subtree the same size.
        var uniform = new Scenario(1, ex => ex.Spawn("T", 0, async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                Kernel.Choose(2, "bit");
                await Kernel.Barrier();
            }
        }));
        foreach (var reduction in new[] { false, true })
        {
            var seen = new List<SearchProgress>();
            var r = new NativeExplorer().Explore(uniform, Dfs(reduction) with { SearchProgress = seen.Add, SearchProgressEvery = TimeSpan.Zero });
            Xunit.Assert.Equal(1024, r.Executions);
            Xunit.Assert.Equal([256L, 512, 768], seen.Select(p => p.Executions));
            Xunit.Assert.All(seen, p => Xunit.Assert.Equal(1024.0, p.EstimatedTotal!.Value, 6));
        }

        var tiny = new SearchProgress(100, TimeSpan.FromSeconds(1), 1e-320);
        Xunit.Assert.Null(tiny.EstimatedTotal);
        Xunit.Assert.Contains("estimate overflows", tiny.ToString());
        // A state-cached search says its extrapolation is usually far too high.
        Xunit.Assert.Contains("usually far too high", new SearchProgress(100, TimeSpan.FromSeconds(1), 0.01, Cached: true).ToString());
        Xunit.Assert.DoesNotContain("too high", new SearchProgress(100, TimeSpan.FromSeconds(1), 0.01).ToString());
    }

    [Fact]
    public void Knuths_estimate_is_near_the_size_of_the_plain_tree_and_an_unfinished_search_is_unknown()
    {
        var check = CheckRegistry.Get("lglock");
        var scenario = check.Build(check.Variants[0]);
        var full = new NativeExplorer().Explore(scenario, Dfs(reduction: false));
        Xunit.Assert.True(full.Exhausted);
        Xunit.Assert.Null(full.EstimatedPlainExecutions); // a finished search needs none

        var ran = 0;
        var cut = new NativeExplorer().Explore(scenario, Dfs(reduction: false) with { Cancelled = () => ++ran > 5 });
        Xunit.Assert.False(cut.Exhausted);
        Xunit.Assert.InRange(cut.EstimatedPlainExecutions!.Value, full.Executions / 3.0, full.Executions * 3.0);
        Xunit.Assert.EndsWith(": unknown", cut.Verdict());
        Xunit.Assert.Contains("estimated", cut.Verdict());
    }
}
