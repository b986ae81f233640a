using Kmc.Checks.Framework;
using Kmc.Checks.Osq;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Osq;
using static Kmc.Models.Kernel;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// The OSQ's structural invariant (<see cref="OsqQueueInvariant"/>), checked at every step that
/// writes the queue. Races off: the two-round checks declare a node-reinit data race that would
/// end the search first; the invariant is about the queue's links, not that race. For the
/// invariant-only scenario, use-after-leave is off too: the careless ports' late store into a node
/// that left would otherwise be reported before the invariant sees the queue break.
/// </summary>
public class OsqInvariantTests(ITestOutputHelper output)
{
    private static CheckRun Run(string check, string variant, string strategy, int preemptionBound = 2, bool reduction = true) =>
        CheckRunner.Run(CheckRegistry.Get(check), CheckRegistry.Get(check).GetVariant(variant), new RunSettings
        {
            Strategy = strategy, Iterations = strategy == "dfs" ? 10_000_000 : 2000, Seed = 1, MemoryModel = "sc",
            DetectRaces = false, PreemptionBound = preemptionBound, Reduction = reduction, Minimize = false,
        });

    [Theory]
    [InlineData("osq-1round", -1)]
    [InlineData("osq", 2)]
    public void The_fixed_osq_keeps_its_queue_invariant_exhaustively(string check, int preemptionBound)
    {
        var run = Run(check, "fixed", "dfs", preemptionBound);
        output.WriteLine($"{check} pb {preemptionBound}: {run.Result.Executions} executions, {run.Result.Elapsed.TotalSeconds:F1}s");
        Xunit.Assert.Null(run.Result.Failure);
        Xunit.Assert.True(run.Result.Exhausted);
    }

    /// <summary>
    /// Only the OSQ and its invariant (no end checks, no tail check, no hand-off assertion): the
    /// invariant alone finds the careless ports, at the step that corrupts the queue, and holds
    /// on the fixed code exhaustively.
    /// </summary>
    private static Scenario InvariantOnly(int cpus, OsqVariant variant, int rounds = 1, bool declare = true) => new(cpus, ex =>
    {
        var osq = new OsqLockPort(cpus, variant);
        var lk = new OptimisticSpinQueue("osq");
        if (declare)
            OsqQueueInvariant.Declare(ex, osq, lk, cpus);
        for (var cpu = 0; cpu < cpus; cpu++)
        {
            ex.Spawn($"T{cpu}", cpu, async () =>
            {
                for (var r = 0; r < rounds; r++)
                {
                    PreemptDisable();
                    if (await osq.OsqLock(lk))
                        await osq.OsqUnlock(lk);
                    PreemptEnable();
                }
            });
        }
    });

    private static ExploreOptions Dfs(bool reduction = true) =>
        new() { Strategy = "dfs", PreemptionBound = -1, MaxSteps = 2000, DetectRaces = false, DetectUseAfterLeave = false, Reduction = reduction };

    /// <summary>
    /// What the invariant costs the reduced search: its watched writes are pairwise dependent.
    /// Both searches must end and agree (no failure); the counts are printed for the record.
    /// </summary>
    [Fact]
    public void The_invariant_costs_the_reduced_search_executions_but_not_its_verdict()
    {
        // Two rounds (or three CPUs) with the invariant take the reduced search minutes: see the guide.
        const int cpus = 2, rounds = 1;
        var without = new NativeExplorer().Explore(InvariantOnly(cpus, OsqVariant.Fixed, rounds, declare: false), Dfs());
        var with = new NativeExplorer().Explore(InvariantOnly(cpus, OsqVariant.Fixed, rounds), Dfs());
        output.WriteLine($"{cpus} CPUs x {rounds}: source-DPOR {without.Executions} executions without the invariant, {with.Executions} with it");
        foreach (var r in new[] { without, with })
        {
            Xunit.Assert.Null(r.Failure);
            Xunit.Assert.True(r.Exhausted);
        }

        Xunit.Assert.True(without.Executions < with.Executions);
        if (rounds == 1)
        {
            // The plain search of one round (a few seconds): the reduced search with the invariant stays far below it.
            var plain = new NativeExplorer().Explore(InvariantOnly(cpus, OsqVariant.Fixed, rounds), Dfs(reduction: false));
            output.WriteLine($"no reduction: {plain.Executions}");
            Xunit.Assert.Null(plain.Failure);
            Xunit.Assert.True(with.Executions < plain.Executions);
        }
    }

    [Theory]
    [InlineData(2, OsqVariant.Fixed)]
    [InlineData(2, OsqVariant.StepAPlainStore)]
    [InlineData(2, OsqVariant.WaitNextNonAtomicNext)]
    [InlineData(3, OsqVariant.StepAPlainStore)]
    public void The_invariant_alone_tells_the_careless_ports_from_the_fixed_code(int cpus, OsqVariant variant)
    {
        var result = new NativeExplorer().Explore(InvariantOnly(cpus, variant), Dfs());
        output.WriteLine($"{cpus} CPUs {variant}: {result.Executions} executions: {result.Failure}");
        if (variant == OsqVariant.Fixed)
        {
            Xunit.Assert.Null(result.Failure);
            Xunit.Assert.True(result.Exhausted);
        }
        else
        {
            Xunit.Assert.Equal(FailureKind.Assertion, result.Failure?.Kind);
            Xunit.Assert.Contains($"invariant '{OsqQueueInvariant.Name}' broken", result.Failure!.Message);
        }
    }
}
