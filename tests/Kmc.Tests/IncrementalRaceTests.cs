using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// Source-DPOR's incremental race analysis (only the steps after the prefix an execution shares
/// with the one before, see Kmc.Models.Scheduling.Reduction.RaceFinder) against the analysis of
/// every step of every execution: on the variants of several checks (fixed and buggy), under each
/// memory model, the reduced search must explore the same executions (count, sleep-set-blocked,
/// cut, pruned), reach the same failures and final states, and stop at the same first failure
/// with the same schedule.
/// </summary>
public class IncrementalRaceTests(ITestOutputHelper output)
{
    /// <summary>Executions per search: enough to leave most of these trees explored in full, and the rest far into their tree.</summary>
    private const int Budget = 1_500;

    private static readonly string[] Checks =
    [
        "counter", "kref", "lglock", "mcs-spinlock-2cpu", "osq-1round", "qspinlock", "ticket-spinlock",
        "two-state-lock-data", "closure-sync", "rcu", "wakeup", "pagecache-lock",
    ];

    public static IEnumerable<object[]> Models => [["sc"], ["tso"], ["lkmm"]];

    private static ExploreOptions Options(string model, bool incremental, bool allOutcomes) =>
        ReductionTests.UnboundedDfs(model, staleBound: 2) with { AllOutcomes = allOutcomes, ExecutionBudget = Budget, IncrementalRaces = incremental };

    [Theory]
    [MemberData(nameof(Models))]
    public void Incremental_race_analysis_explores_the_same_executions_as_the_whole_execution_analysis(string model)
    {
        int compared = 0, complete = 0, failing = 0, blocked = 0;
        foreach (var check in Checks.Select(CheckRegistry.Get))
        {
            foreach (var variant in check.Variants)
            {
                var scenario = check.Build(variant);
                var whole = new NativeExplorer().Explore(scenario, Options(model, incremental: false, allOutcomes: true));
                var incremental = new NativeExplorer().Explore(scenario, Options(model, incremental: true, allOutcomes: true));
                var name = $"{check.Name}/{variant.Name} under {model}";
                Assert.True(whole.Reduced && incremental.Reduced, name);
                Assert.Equal((whole.Executions, whole.SleepBlocked, whole.StepBoundHits, whole.SpinPruned, whole.Exhausted),
                    (incremental.Executions, incremental.SleepBlocked, incremental.StepBoundHits, incremental.SpinPruned, incremental.Exhausted));
                Assert.True(whole.Outcomes!.SetEquals(incremental.Outcomes!),
                    $"{name}: only whole: [{string.Join("; ", whole.Outcomes.Except(incremental.Outcomes!))}] only incremental: [{string.Join("; ", incremental.Outcomes!.Except(whole.Outcomes))}]");
                output.WriteLine($"{name}: {whole.Executions} executions ({whole.SleepBlocked} sleep-blocked){(whole.Exhausted ? ", complete" : "")}, {whole.Outcomes.Count} outcomes");
                compared++;
                if (whole.Exhausted)
                    complete++;
                if (whole.SleepBlocked > 0)
                    blocked++;
                if (!whole.Outcomes.Any(o => o.Contains(" at ", StringComparison.Ordinal)))
                    continue;

                // A search that stops at its first failure: the same execution, the same schedule.
                failing++;
                var first = new NativeExplorer().Explore(scenario, Options(model, incremental: false, allOutcomes: false));
                var firstIncremental = new NativeExplorer().Explore(scenario, Options(model, incremental: true, allOutcomes: false));
                Assert.Equal(first.Failure?.Kind, firstIncremental.Failure?.Kind);
                Assert.Equal(first.Failure?.Location, firstIncremental.Failure?.Location);
                Assert.Equal(first.FailingExecution, firstIncremental.FailingExecution);
                Assert.Equal(first.Schedule, firstIncremental.Schedule);
            }
        }

        output.WriteLine($"{compared} searches, {complete} complete, {failing} with failures, {blocked} with sleep-set-blocked executions");
        // The comparison covers finished trees, failures and sleep sets, or it shows little. Under
        // tso every access reads and writes the store buffers (any access may drain any buffer),
        // so steps of different tasks are all dependent and a sleep set never blocks.
        Assert.True(compared >= 20 && complete >= 5 && failing >= 5 && blocked >= (model == "tso" ? 0 : 5),
            $"{compared} searches, {complete} complete, {failing} failing, {blocked} sleep-blocked");
    }
}
