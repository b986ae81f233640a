using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>The page-cache model's readahead (fixed and the pre-fix blocking get), its public ReadPage, and fpunch.</summary>
public class PagecacheReadaheadTests
{
    private static CheckRun Run(string check, string variant, string model, int iterations = 2000)
    {
        var c = CheckRegistry.Get(check);
        return CheckRunner.Run(c, c.GetVariant(variant), new RunSettings { Iterations = iterations, MemoryModel = model });
    }

    [Theory]
    [InlineData("pagecache-readahead-dio", "sc")]
    [InlineData("pagecache-readahead-dio", "tso")]
    [InlineData("pagecache-readahead-dio", "lkmm")]
    [InlineData("pagecache-fpunch", "sc")]
    [InlineData("pagecache-fpunch", "tso")]
    [InlineData("pagecache-fpunch", "lkmm")]
    public void Fixed_passes(string check, string model)
    {
        var run = Run(check, "fixed", model);
        Xunit.Assert.Null(run.Result.Failure);
        Xunit.Assert.Equal(2000, run.Result.Executions);
    }

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void Readahead_with_a_blocking_get_deadlocks_against_dio(string model)
    {
        var run = Run("pagecache-readahead-dio", "readahead-blocking-get", model);
        Xunit.Assert.Equal(FailureKind.Hang, run.Result.Failure?.Kind);
        Xunit.Assert.True(run.MatchesExpectation);
        // the two halves of the ABBA: dio waits for the page readahead holds, readahead for the lock dio holds
        Xunit.Assert.Contains("lock_page(A.page[0])", run.Result.Failure!.Message);
        Xunit.Assert.Contains("PagecacheLockGet", run.Result.Failure.Message);
    }

    [Theory]
    [InlineData("pagecache-readahead-dio", "sc")]
    [InlineData("pagecache-readahead-dio", "lkmm")]
    [InlineData("pagecache-fpunch", "sc")]
    [InlineData("pagecache-fpunch", "tso")]
    [InlineData("pagecache-fpunch", "lkmm")]
    public void Without_the_lock_a_stale_page_survives(string check, string model)
    {
        var run = Run(check, "no-lock", model);
        Xunit.Assert.Equal(FailureKind.Assertion, run.Result.Failure?.Kind);
        Xunit.Assert.Contains("stale page", run.Result.Failure!.Message);
    }

    /// <summary>
    /// A user's own readahead written with the model's public methods: the generic code adds the
    /// page locked, then ->readahead() takes the add side (blocking or tryget) and reads it with ReadPage.
    /// </summary>
    private static Scenario UserReadahead(bool blocking) => new(2, ex =>
    {
        var a = new AddressSpace(1, "A", [1], new Disk("disk", 2), PagecacheVariant.Fixed);
        ex.Spawn("dio", 0, async () => await a.DioWrite(0, 2));
        ex.Spawn("readahead", 1, async () =>
        {
            await a.AddLock.PagecacheAddGet();
            var added = await a.AddToPageCacheLocked(0);
            await a.AddLock.PagecacheAddPut();
            if (!added)
                return;
            if (blocking)
            {
                await a.AddLock.PagecacheAddGet();
            }
            else if (!await a.AddLock.PagecacheAddTryget())
            {
                await a.RemoveLockedPage(0);
                return;
            }

            await a.ReadPage(0);
            await a.AddLock.PagecacheAddPut();
        });
        ex.AtEnd("page cache consistent with disk", () => a.AssertConsistent());
    });

    [Fact]
    public void A_users_readahead_built_from_the_models_methods_shows_the_same_deadlock()
    {
        var options = new ExploreOptions { Strategy = "random", Iterations = 2000, Seed = 1 };
        Xunit.Assert.Equal(FailureKind.Hang, new NativeExplorer().Explore(UserReadahead(blocking: true), options).Failure?.Kind);
        Xunit.Assert.Null(new NativeExplorer().Explore(UserReadahead(blocking: false), options).Failure);
    }

    [Fact]
    public void Fpunch_leaves_a_hole_and_drops_the_cached_page_even_when_dirty()
    {
        var result = new NativeExplorer().Explore(new Scenario(1, ex =>
        {
            var disk = new Disk("disk", 2);
            var a = new AddressSpace(1, "A", [10, 20], disk, PagecacheVariant.Fixed);
            ex.Spawn("T", 0, async () =>
            {
                await a.BufferedWrite(1, 7);
                await a.FallocatePunchHole(1, 2);
                Assert(await a.BufferedRead(1) == 0, "a read of the punched page does not return the hole");
                Assert(await a.BufferedRead(0) == 10, "fpunch touched the page before the hole");
            });
            ex.AtEnd("consistent", () => a.AssertConsistent());
        }), new ExploreOptions { Strategy = "dfs", PreemptionBound = -1 });
        Xunit.Assert.Null(result.Failure);
        Xunit.Assert.True(result.Exhausted);
    }
}
