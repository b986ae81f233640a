using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

/// <summary>A plain exhaustive search split over threads against the same search on one.</summary>
public class SplitDfsTests
{
    public static IEnumerable<object[]> Cases =>
        from name in new[] { "lglock", "ticket-spinlock", "osq-1round", "closure-refcount" }
        from variant in CheckRegistry.Get(name).Variants
        from parts in new[] { 2, 3 }
        select new object[] { name, variant.Name, parts };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Split_search_gives_the_verdict_of_one_search(string check, string variant, int parts)
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        var settings = new RunSettings
        {
            Strategy = "dfs", PreemptionBound = 2, StaleBound = 1, Reduction = false, MemoryModel = "lkmm", Minimize = false, Seed = 1,
        };
        var one = CheckRunner.Run(c, v, settings).Result;
        var split = CheckRunner.RunSplit(c, v, settings, parts).Result;

        Assert.Equal(one.Failure?.Kind, split.Failure?.Kind);
        Assert.Equal(one.Exhausted, split.Exhausted);
        if (one.Failure == null)
        {
            // Every execution belongs to exactly one part: the parts run the one search's executions.
            Assert.Equal(one.Executions, split.Executions);
            Assert.Equal(one.Steps, split.Steps);
            Assert.Equal(one.Complete, split.Complete);
            Assert.Equal(one.Verdict().Split(':')[^1], split.Verdict().Split(':')[^1]);
        }
    }

    [Fact]
    public void Every_execution_of_a_uniform_tree_falls_in_exactly_one_part()
    {
        var finals = new List<int>();
        Scenario Tree(List<int> into) => new(1, ex =>
        {
            var path = 0;
            ex.Spawn("T", 0, () =>
            {
                for (var i = 0; i < 9; i++)
                    path = path * 3 + Kernel.Choose(3, "digit");
                return ValueTask.CompletedTask;
            });
            // Final checks run only for executions the search keeps (not those cut at the split depth).
            ex.AtEnd("path", () => into.Add(path));
        });

        var options = new ExploreOptions { Strategy = "dfs", PreemptionBound = -1, Reduction = false, DfsParts = 4 };
        var total = 0;
        for (var k = 0; k < 4; k++)
        {
            var seen = new List<int>();
            var r = new NativeExplorer().Explore(Tree(seen), options with { DfsPart = k });
            Assert.True(r.Exhausted);
            total += r.Executions;
            finals.AddRange(seen);
        }

        Assert.Equal(19683, total);
        Assert.Equal(Enumerable.Range(0, 19683), finals.Order());
    }
}
