using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;

namespace Kmc.Tests;

/// <summary>The current upstream closures (ClosureUpstream) and the @upstream checks (tracker issue 4).</summary>
public class ClosureUpstreamTests
{
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "random", int iterations = 2000)
    {
        var c = CheckRegistry.Get(check);
        // The functional properties; the declared data races (cl->fn, cl->sleeper, the caller's data) are tested in RaceTests and WeakMemoryTests.
        return CheckRunner.Run(c, c.GetVariant(variant), new RunSettings { Driver = driver, Strategy = strategy, Iterations = iterations, Seed = 1, MemoryModel = "sc", DetectRaces = false });
    }

    [Theory]
    [InlineData("closure-refcount@upstream")]
    [InlineData("closure-sync@upstream")]
    [InlineData("closure-sync.2-putters@upstream")]
    [InlineData("closure-sync-zeroed@upstream")]
    [InlineData("closure-sync-timeout@upstream")]
    [InlineData("closure-wait-event@upstream")]
    [InlineData("closure-wait-event.2-waiters@upstream")]
    public void FixedPassesNative(string check)
    {
        // Functional properties only: the declared data races of the upstream code are tested in WeakMemoryTests/RaceTests.
        var run = Run(check, "fixed");
        Assert.Null(run.Result.Failure);
        Assert.Equal(2000, run.Result.Executions);
    }

    [Theory]
    [InlineData("closure-sync@upstream")]
    [InlineData("closure-sync-timeout@upstream")]
    [InlineData("closure-wait-event@upstream")]
    public void FixedPassesCoyote(string check)
    {
        var run = Run(check, "fixed", driver: "coyote", iterations: 100);
        Assert.Null(run.Result.Failure);
    }

    [Theory]
    [InlineData("closure-refcount@upstream", "queue-under-rcu", FailureKind.Assertion, "inside an RCU read-side critical section")]
    [InlineData("closure-sync-zeroed@upstream", "sync-zeroed-fastpath", FailureKind.Assertion, "guard bits set")]
    [InlineData("closure-sync-timeout@upstream", "syncer-timeout-race", FailureKind.UseAfterFree, "after its frame returned")]
    [InlineData("closure-wait-event@upstream", "wait-event-cond-before-wait", FailureKind.Hang, "")]
    [InlineData("closure-wait-event.2-waiters@upstream", "wait-event-cond-before-wait", FailureKind.Hang, "")]
    public void BugsFound(string check, string variant, FailureKind kind, string message)
    {
        var run = Run(check, variant);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.Contains(message, run.Result.Failure.Message);
        Assert.True(run.MatchesExpectation, run.Mismatch());
        Assert.NotNull(run.Trace);
    }

    [Theory]
    [InlineData("closure-sync@upstream", "fixed", null)]
    [InlineData("closure-sync-zeroed@upstream", "fixed", null)]
    [InlineData("closure-sync-timeout@upstream", "fixed", null)]
    [InlineData("closure-wait-event@upstream", "fixed", null)]
    [InlineData("closure-refcount@upstream", "fixed", null)]
    [InlineData("closure-sync-timeout@upstream", "syncer-timeout-race", FailureKind.UseAfterFree)]
    [InlineData("closure-refcount@upstream", "queue-under-rcu", FailureKind.Assertion)]
    [InlineData("closure-wait-event@upstream", "wait-event-cond-before-wait", FailureKind.Hang)]
    public void Exhaustive2Task(string check, string variant, FailureKind? kind)
    {
        var run = Run(check, variant, strategy: "dfs", iterations: 200_000);
        if (kind is null)
        {
            Assert.Null(run.Result.Failure);
            Assert.True(run.Result.Exhausted, run.Result.Verdict());
        }
        else
        {
            Assert.Equal(kind, run.Result.Failure?.Kind);
        }
    }

    /// <summary>
    /// The same sync race on both versions: the 2018 syncer and the CLOSURE_SLEEPING handshake
    /// both pass the same scenario, and the upstream putter's last access is the wakeup.
    /// </summary>
    [Fact]
    public void BothVersionsRunTheSameScenario()
    {
        var old = Run("closure-sync", "fixed");
        var up = Run("closure-sync@upstream", "fixed");
        Assert.Null(old.Result.Failure);
        Assert.Null(up.Result.Failure);
        Assert.Contains(CheckRegistry.Get("closure-sync@upstream").Primitives, t => t == typeof(ClosureUpstream));
    }

    /// <summary>closure_return_sync(): the owner waits for every put, the count ends at 0 (not re-armed), the parent is put once.</summary>
    [Fact]
    public void ClosureReturnSyncWaitsAndPutsParent()
    {
        var parentPuts = 0;
        Scenario S() => new(2, ex =>
        {
            var parent = new ClosureUpstream("parent");
            var cl = new ClosureUpstream("cl");
            var data = new Loc<int>("data");
            ex.Spawn("owner", 0, async () =>
            {
                await parent.ClosureInitStack();
                await cl.ClosureInit(parent);
                await cl.ClosureGet();
                ex.Spawn("putter", 1, async () =>
                {
                    await Kernel.WriteOnce(data, 1);
                    await cl.ClosurePut();
                });
                await cl.ClosureReturnSync();
                Kernel.Assert(await Kernel.ReadOnce(data) == 1, "closure_return_sync() returned before the put");
                Kernel.Assert(await cl.ClosureNrRemaining() == 0, "closure_return_sync() re-armed the count");
                Kernel.Assert(!await cl.ClosureGetNotZero(), "closure_get_not_zero() succeeded after closure_return_sync()");
                var p = await parent.ClosureNrRemaining();
                Kernel.Assert(p == 1, $"parent count {p}: the child's ref on it was not put exactly once");
                parentPuts++;
            });
        });
        var r = new NativeExplorer().Explore(S(), new ExploreOptions { Strategy = "dfs", Iterations = 100_000, PreemptionBound = 2 });
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
        Assert.True(parentPuts > 0);
    }
}
