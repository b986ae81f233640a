using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// Step invariants (<see cref="StepInvariant"/>): checked after every step that writes what they
/// watch, found in transient states under the partial-order reduction, replayed exactly.
/// </summary>
public class StepInvariantTests
{
    private static ExploreOptions Dfs(bool reduction) => new()
    {
        Strategy = "dfs", PreemptionBound = -1, MaxSteps = 200, DetectRaces = false, Reduction = reduction,
    };

    /// <summary>
    /// Two tasks each raise and lower their own flag: every write of one task is independent of
    /// every write of the other, and both are back to 0 at the end. "Not both raised" breaks only
    /// in the transient state between T0's raise and T1's lower (or the other way round).
    /// </summary>
    private static Scenario TwoFlags(Action<int>? evaluated = null) => new(2, ex =>
    {
        var x = new Loc<int>("x");
        var y = new Loc<int>("y");
        var unwatched = new Loc<int>("z");
        var checks = 0;
        ex.Invariant("not both raised", () =>
        {
            evaluated?.Invoke(++checks);
            return x.Peek() == 1 && y.Peek() == 1 ? "x == 1 and y == 1" : null;
        }).Watch(x).Watch(y);
        foreach (var (name, cpu, flag) in new[] { ("T0", 0, x), ("T1", 1, y) })
        {
            ex.Spawn(name, cpu, async () =>
            {
                await WriteOnce(flag, 1);
                await WriteOnce(unwatched, cpu);
                await WriteOnce(flag, 0);
            });
        }
    });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_transient_violation_between_independent_writes_is_found_with_and_without_reduction(bool reduction)
    {
        var result = new NativeExplorer().Explore(TwoFlags(), Dfs(reduction));
        Xunit.Assert.Equal(reduction, result.Reduced);
        Xunit.Assert.Equal(FailureKind.Assertion, result.Failure?.Kind);
        Xunit.Assert.Contains("invariant 'not both raised' broken", result.Failure!.Message);
        Xunit.Assert.Contains("x == 1 and y == 1", result.Failure.Message);
    }

    [Fact]
    public void Without_the_invariant_the_reduced_search_runs_the_independent_writes_in_one_order()
    {
        // The same tasks with no invariant: the reduction explores few executions, which is why
        // the invariant must make the watched writes dependent (the test above).
        var plain = new Scenario(2, ex =>
        {
            var x = new Loc<int>("x");
            var y = new Loc<int>("y");
            var z = new Loc<int>("z");
            foreach (var (name, cpu, flag) in new[] { ("T0", 0, x), ("T1", 1, y) })
            {
                ex.Spawn(name, cpu, async () =>
                {
                    await WriteOnce(flag, 1);
                    await WriteOnce(z, cpu);
                    await WriteOnce(flag, 0);
                });
            }
        });
        var reduced = new NativeExplorer().Explore(plain, Dfs(reduction: true));
        var full = new NativeExplorer().Explore(plain, Dfs(reduction: false));
        Xunit.Assert.True(reduced.Exhausted && full.Exhausted);
        Xunit.Assert.Null(reduced.Failure);
        Xunit.Assert.True(reduced.Executions < full.Executions, $"{reduced.Executions} vs {full.Executions}");
    }

    [Fact]
    public void The_violation_replays_exactly_and_shows_in_the_trace_after_the_step_that_broke_it()
    {
        var explorer = new NativeExplorer();
        var found = explorer.Explore(TwoFlags(), Dfs(reduction: true));
        Xunit.Assert.NotNull(found.Schedule);
        var replay = explorer.Replay(TwoFlags(), Dfs(reduction: true), found.Schedule, null);
        Xunit.Assert.Equal(found.Failure, replay.Failure);
        var last = replay.Steps[^1];
        Xunit.Assert.Equal("invariant broken", last.Op);
        Xunit.Assert.Equal("not both raised", last.Target);
        // The step before it is the write that raised the second flag.
        var breaking = replay.Steps[^2];
        Xunit.Assert.Equal("WRITE_ONCE", breaking.Op);
        Xunit.Assert.Equal("1", breaking.Value);
        Xunit.Assert.Contains($"broken by {breaking.Task}'s last step", replay.Failure!.Message);
    }

    [Fact]
    public void The_coyote_driver_checks_invariants_too()
    {
        var result = new CoyoteExplorer().Explore(TwoFlags(), new ExploreOptions { Strategy = "random", Iterations = 200, Seed = 1, MaxSteps = 200, DetectRaces = false });
        Xunit.Assert.Equal(FailureKind.Assertion, result.Failure?.Kind);
        Xunit.Assert.Contains("invariant 'not both raised' broken", result.Failure!.Message);
    }

    [Fact]
    public void An_invariant_is_evaluated_only_after_steps_that_write_what_it_watches()
    {
        // One task: two writes of the watched x and two of the unwatched z. Evaluated on the
        // state the setup left, then after each write of x: 3 times, not 5.
        var max = 0;
        var scenario = new Scenario(1, ex =>
        {
            var x = new Loc<int>("x");
            var z = new Loc<int>("z");
            ex.Invariant("x is 0 or 1", () =>
            {
                max++;
                return x.Peek() is 0 or 1 ? null : "x out of range";
            }).Watch(x);
            ex.Spawn("T", 0, async () =>
            {
                await WriteOnce(x, 1);
                await WriteOnce(z, 5);
                await WriteOnce(z, 6);
                await WriteOnce(x, 0);
            });
        });
        var result = new NativeExplorer().Explore(scenario, Dfs(reduction: false));
        Xunit.Assert.Null(result.Failure);
        Xunit.Assert.Equal(1, result.Executions);
        Xunit.Assert.Equal(3, max);
    }
}
