using System.Reflection;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// A task parks one step object per kind of access again and again, and stores the access's
/// arguments into it only when they differ from the last ones (AccessStep.Park). "Differ" must
/// mean identity and bits, never Equals: a value equal to the last one but another object is a
/// different pointer. A step an aborted execution left parked must be free in the next execution.
/// </summary>
public class AccessStepReuseTests
{
    private static readonly ExploreOptions OneRun = new() { Strategy = "dfs", Iterations = 1, SpinPruning = false };

    [Fact]
    public void A_value_equal_to_the_last_one_stored_from_the_same_site_is_still_the_new_object()
    {
        var first = new string('a', 3);
        var second = new string('a', 3);
        Xunit.Assert.NotSame(first, second);
        string? seen = null;
        var r = new NativeExplorer().Explore(new Scenario(1, ex =>
        {
            var p = new Loc<string>("p", "");
            ex.Spawn("T0", 0, async () =>
            {
                foreach (var s in new[] { first, second })
                    await WriteOnce(p, s);
                seen = await ReadOnce(p);
            });
        }), OneRun);
        Xunit.Assert.Null(r.Failure);
        Xunit.Assert.Same(second, seen);
    }

    [Fact]
    public void Values_that_compare_equal_but_differ_in_their_bits_are_both_stored()
    {
        var seen = new List<double>();
        var r = new NativeExplorer().Explore(new Scenario(1, ex =>
        {
            var x = new Loc<double>("x");
            ex.Spawn("T0", 0, async () =>
            {
                foreach (var v in new[] { 0.0, -0.0, 0.0 })
                {
                    await WriteOnce(x, v);
                    seen.Add(await ReadOnce(x));
                }
            });
        }), OneRun);
        Xunit.Assert.Null(r.Failure);
        Xunit.Assert.Equal([false, true, false], seen.Select(double.IsNegative));
    }

    [Fact]
    public void The_same_site_reading_another_location_reads_that_location()
    {
        var seen = new List<int>();
        var r = new NativeExplorer().Explore(new Scenario(1, ex =>
        {
            var locs = new[] { new Loc<int>("a", 1), new Loc<int>("b", 2), new Loc<int>("c", 3) };
            ex.Spawn("T0", 0, async () =>
            {
                foreach (var l in locs.Concat(locs.Reverse()))
                    seen.Add(await ReadOnce(l));
            });
        }), OneRun);
        Xunit.Assert.Null(r.Failure);
        Xunit.Assert.Equal([1, 2, 3, 3, 2, 1], seen);
    }

    /// <summary>
    /// Every execution is cut at the step bound with both tasks parked. The next execution's
    /// tasks (the same task objects, reset) must find their steps free and park them again,
    /// not leave them behind and make new ones.
    /// </summary>
    [Fact]
    public void A_step_an_aborted_execution_left_parked_is_parked_again_in_the_next_one()
    {
        var steps = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var slots = typeof(SimTask).GetField("_steps", BindingFlags.Instance | BindingFlags.NonPublic)!;
        var r = new NativeExplorer().Explore(new Scenario(2, ex =>
        {
            var x = new Loc<int>("x");
            for (var i = 0; i < 2; i++)
            {
                var t = ex.Spawn($"T{i}", i, async () =>
                {
                    while (true)
                        await ReadOnce(x);
                });
                foreach (var slot in (Array)slots.GetValue(t)!)
                {
                    if (slot.GetType().GetField("Step")!.GetValue(slot) is { } step)
                        steps.Add(step);
                }
            }
        }), new ExploreOptions { Strategy = "random", Iterations = 50, Seed = 1, MaxSteps = 12, SpinPruning = false });
        Xunit.Assert.Equal(50, r.Executions);
        Xunit.Assert.Equal(50, r.StepBoundHits);
        // One load step per task (and the first points' kinds): not one more per execution.
        Xunit.Assert.InRange(steps.Count, 2, 4);
    }
}
