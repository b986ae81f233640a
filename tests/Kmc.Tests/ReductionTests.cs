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
    private const int FullSearchExecutions = 10_000;

    public static IEnumerable<object[]> Models => [["sc"], ["lkmm"], ["tso"]];

    [Theory]
    [MemberData(nameof(Models))]
    public void Reduced_search_reaches_the_same_failures_and_final_states_as_the_full_search(string model)
    {
        var compared = 0;
        var mismatches = new List<string>();
        foreach (var check in CheckRegistry.All)
        {
            foreach (var variant in check.Variants)
            {
                var scenario = check.Build(variant);
                var options = new ExploreOptions
                {
                    Strategy = "dfs",
                    PreemptionBound = -1,
                    StaleBound = model == "sc" ? -1 : 1,
                    MaxSteps = 400,
                    Memory = MemoryModels.Factory(model),
                    AllOutcomes = true,
                };
                var run = 0;
                var full = new NativeExplorer().Explore(scenario, options with { Reduction = false, Cancelled = () => ++run > FullSearchExecutions });
                if (!full.Exhausted)
                {
                    output.WriteLine($"skipped {check.Name}/{variant.Name}: the full search needs more than {FullSearchExecutions} executions");
                    continue;
                }

                var reduced = new NativeExplorer().Explore(scenario, options);
                Assert.True(reduced.Reduced);
                Assert.True(reduced.Exhausted);
                compared++;
                output.WriteLine($"{check.Name}/{variant.Name}: {full.Executions} -> {reduced.Executions} executions, {full.Outcomes!.Count} outcomes");
                if (!full.Outcomes!.SetEquals(reduced.Outcomes!))
                {
                    mismatches.Add($"{check.Name}/{variant.Name}: only full: [{string.Join("; ", full.Outcomes.Except(reduced.Outcomes!))}] " +
                                   $"only reduced: [{string.Join("; ", reduced.Outcomes!.Except(full.Outcomes))}]");
                }
            }
        }

        Assert.True(compared >= 20, $"only {compared} configurations were small enough to compare");
        Assert.Empty(mismatches);
    }
}
