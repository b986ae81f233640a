using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

/// <summary>Outcome sets of small scenarios under a memory model, the way the litmus tests state them.</summary>
internal static class ExhaustiveOutcomes
{
    /// <summary>
    /// Every final outcome the scenario reaches under the model: native DFS with no preemption
    /// bound, so the set is complete (no execution may fail or hit the step bound).
    /// </summary>
    public static HashSet<string> Of(string model, Action<Execution, Action<string>> setup, int cpus = 2, int staleBound = -1)
    {
        var seen = new HashSet<string>();
        var result = new NativeExplorer().Explore(new Scenario(cpus, ex => setup(ex, o => seen.Add(o))), new ExploreOptions
        {
            Strategy = "dfs",
            PreemptionBound = -1,
            StaleBound = staleBound,
            MaxSteps = 1000,
            Memory = MemoryModels.Factory(model),
        });
        Xunit.Assert.Null(result.Failure);
        Xunit.Assert.True(result.Exhausted);
        Xunit.Assert.Equal(0, result.StepBoundHits);
        return seen;
    }
}
