using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// A failure ends an execution before the other tasks take the steps they had left. The reduced
/// search collecting every outcome must still reach the failures and final states behind those
/// steps, as the full search does (DPOR's races are those of whole executions: see
/// DporPolicy.BacktrackBeforeFailure).
/// </summary>
public class FailureBacktrackTests
{
    private static ExplorationResult Explore(Scenario scenario, string model, bool reduction) =>
        new NativeExplorer().Explore(scenario, ReductionTests.UnboundedDfs(model, staleBound: 1) with { Reduction = reduction });

    /// <summary>
    /// "a" publishes x and then always fails; "b" fails if it reads x before "a" published it. The
    /// first execution runs "a" alone to its failure, so "b"'s read never meets "a"'s store there.
    /// </summary>
    private static Scenario FailsBeforeTheOtherTaskRuns() => new(2, ex =>
    {
        var x = new Loc<int>("x");
        var y = new Loc<int>("y");
        ex.Spawn("a", 0, async () =>
        {
            await WriteOnce(x, 1);
            Assert(await ReadOnce(y) == 1, "a always fails");
        });
        ex.Spawn("b", 1, async () =>
        {
            Assert(await ReadOnce(x) == 1, "b read x before a published it");
        });
    });

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void A_failure_that_ends_an_execution_early_hides_no_outcome_of_the_other_task(string model)
    {
        var full = Explore(FailsBeforeTheOtherTaskRuns(), model, reduction: false);
        var reduced = Explore(FailsBeforeTheOtherTaskRuns(), model, reduction: true);
        Xunit.Assert.True(full.Exhausted && reduced.Exhausted);
        Xunit.Assert.True(reduced.Reduced);
        Xunit.Assert.Equal(2, full.Outcomes!.Count);
        Xunit.Assert.Equal(full.Outcomes.Order(), reduced.Outcomes!.Order());
    }

    /// <summary>
    /// The case that showed the gap: lg_global_unlock_online() racing CPU hotplug fails at the
    /// unlock in the first execution, before the local lockers run; the full search also reaches
    /// the two ghost assertions (a local holder inside the global section).
    /// </summary>
    [Fact]
    public void Lglock_online_unsynchronised_reaches_every_failure_site_of_the_full_search()
    {
        var check = CheckRegistry.Get("lglock-hotplug");
        var scenario = check.Build(check.GetVariant("online-unsynchronised"));
        var full = Explore(scenario, "sc", reduction: false);
        var reduced = Explore(scenario, "sc", reduction: true);
        Xunit.Assert.True(full.Exhausted && reduced.Exhausted);
        Xunit.Assert.Equal(3, full.Outcomes!.Count(o => o.StartsWith("Assertion at", StringComparison.Ordinal)));
        Xunit.Assert.Equal(full.Outcomes.Order(), reduced.Outcomes!.Order());
        Xunit.Assert.True(reduced.Executions * 100 < full.Executions, $"{reduced.Executions} vs {full.Executions}");
    }
}
