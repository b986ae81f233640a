using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

public class FoundationTests
{
    public static TheoryData<string> Drivers => new() { "native", "coyote" };

    private static IExplorer Explorer(string driver) => driver == "native" ? new NativeExplorer() : new CoyoteExplorer();

    private static ExploreOptions Options(string driver, int iterations = 200, ulong seed = 1) => new()
    {
        Strategy = driver == "native" ? "random" : "random",
        Iterations = iterations,
        Seed = seed,
    };

    [Theory]
    [MemberData(nameof(Drivers))]
    public void NonAtomicCounterRaceIsFound(string driver)
    {
        var check = CheckRegistry.Get("counter");
        var run = CheckRunner.Run(check, check.GetVariant("no-lock"), new RunSettings { Driver = driver, Strategy = driver == "native" ? "random" : "portfolio", Iterations = 500 });
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(FailureKind.Assertion, run.Result.Failure!.Kind);
        Assert.Contains("increment was lost", run.Result.Failure.Message);
        Assert.NotNull(run.Trace);
        Assert.NotEmpty(run.Trace!.Steps);
        Assert.All(run.Trace.Steps, s => Assert.EndsWith("CounterCheck.cs", s.File));
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void SpinlockProtectedCounterPassesTenThousandSchedules(string driver)
    {
        var r = Explorer(driver).Explore(Scenarios.LockedCounter(), Options(driver, 10_000));
        Assert.Null(r.Failure);
        Assert.True(r.Executions >= 10_000, $"only {r.Executions} schedules");
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void LostWakeupIsFoundAsHang(string driver)
    {
        var check = CheckRegistry.Get("wakeup");
        var run = CheckRunner.Run(check, check.GetVariant("check-then-sleep"), new RunSettings { Driver = driver, Strategy = "random", Iterations = 500 });
        Assert.Equal(FailureKind.Hang, run.Result.Failure?.Kind);
        Assert.Contains("waiter", run.Result.Failure!.Message);
        Assert.Contains("sleeping in schedule()", run.Result.Failure.Message);
        Assert.True(run.MatchesExpectation);
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void WaitNothingSatisfiesIsReportedInTheFirstExecution(string driver)
    {
        var r = Explorer(driver).Explore(Scenarios.StuckWait(), Options(driver, 100));
        Assert.Equal(FailureKind.Hang, r.Failure?.Kind);
        Assert.Equal(1, r.FailingExecution);
        Assert.Contains("waiter on CPU0: spinning on flag != 0", r.Failure!.Message);
        Assert.DoesNotContain("bystander", r.Failure.Message);
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void UseAfterFreeIsDetectedWithBothSites(string driver)
    {
        var r = Explorer(driver).Explore(Scenarios.UseAfterFree(), Options(driver));
        Assert.Equal(FailureKind.UseAfterFree, r.Failure?.Kind);
        Assert.Contains("READ_ONCE of buf->data by reader after free", r.Failure!.Message);
        Assert.Contains("kmalloc at ./tests/Kmc.Tests/Scenarios.cs:", r.Failure.Message);
        Assert.Contains("freed at ./tests/Kmc.Tests/Scenarios.cs:", r.Failure.Message);
        Assert.Contains("Scenarios.cs:", r.Failure.Location);
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void DoubleFreeIsDetectedWithBothSites(string driver)
    {
        var r = Explorer(driver).Explore(Scenarios.DoubleFree(), Options(driver));
        Assert.Equal(FailureKind.DoubleFree, r.Failure?.Kind);
        Assert.Contains("first freed at ./tests/Kmc.Tests/Scenarios.cs:", r.Failure!.Message);
        Assert.Contains("kmalloc at", r.Failure.Message);
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void LeakIsDetectedWithItsAllocationSite(string driver)
    {
        var r = Explorer(driver).Explore(Scenarios.Leak(), Options(driver, 10));
        Assert.Equal(FailureKind.Leak, r.Failure?.Kind);
        Assert.Contains("leaky", r.Failure!.Message);
        Assert.StartsWith("./tests/Kmc.Tests/Scenarios.cs:", r.Failure.Location);
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void PreemptionDisabledHolderKeepsItsCpu(string driver)
    {
        // With preemption off the second task cannot get CPU0 while the first holds the lock: no hang.
        Assert.Null(Explorer(driver).Explore(Scenarios.SameCpuPreemption(disablePreemption: true), Options(driver, 300)).Failure);

        // With preemption on, the second task may take CPU0 and spin on the lock with preemption
        // still on: the holder gets the CPU back, so this too completes.
        Assert.Null(Explorer(driver).Explore(Scenarios.SameCpuPreemption(disablePreemption: false), Options(driver, 300)).Failure);
    }

    [Fact]
    public void ExhaustiveSearchGivesACompleteVerdict()
    {
        var r = new NativeExplorer().Explore(Scenarios.LockedCounter(), new ExploreOptions { Strategy = "dfs", PreemptionBound = -1, Reduction = false });
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
        Assert.True(r.Executions > 10, $"{r.Executions} executions");
        Assert.StartsWith($"no failure in all {r.Executions} executions", r.Verdict());

        // The same count again: the search is deterministic.
        var again = new NativeExplorer().Explore(Scenarios.LockedCounter(), new ExploreOptions { Strategy = "dfs", PreemptionBound = -1, Reduction = false });
        Assert.Equal(r.Executions, again.Executions);

        // The reduced search (the default with no preemption bound) is complete with fewer, and as deterministic.
        var reduced = new NativeExplorer().Explore(Scenarios.LockedCounter(), new ExploreOptions { Strategy = "dfs", PreemptionBound = -1 });
        Assert.True(reduced.Complete, reduced.Verdict());
        Assert.True(reduced.Executions < r.Executions);
        Assert.Equal(reduced.Executions, new NativeExplorer().Explore(Scenarios.LockedCounter(), new ExploreOptions { Strategy = "dfs", PreemptionBound = -1 }).Executions);

        // A tighter preemption bound explores fewer schedules.
        var bounded = new NativeExplorer().Explore(Scenarios.LockedCounter(), new ExploreOptions { Strategy = "dfs", PreemptionBound = 0 });
        Assert.True(bounded.Exhausted);
        Assert.True(bounded.Executions < r.Executions);
    }

    [Fact]
    public void ExhaustiveSearchFindsTheRace()
    {
        var check = CheckRegistry.Get("counter");
        var run = CheckRunner.Run(check, check.GetVariant("no-lock"), new RunSettings { Driver = "native", Strategy = "dfs", PreemptionBound = 1 });
        Assert.Equal(FailureKind.Assertion, run.Result.Failure?.Kind);
    }

    [Theory]
    [InlineData("native", "random")]
    [InlineData("native", "pct")]
    [InlineData("coyote", "random")]
    [InlineData("coyote", "portfolio")]
    public void SameSeedSameResult(string driver, string strategy)
    {
        var check = CheckRegistry.Get("ticket-spinlock");
        var settings = new RunSettings { Driver = driver, Strategy = strategy, Iterations = 3000, Seed = 5 };
        var a = CheckRunner.Run(check, check.GetVariant("nonatomic-ticket"), settings);
        var b = CheckRunner.Run(check, check.GetVariant("nonatomic-ticket"), settings);
        Assert.NotNull(a.Trace);
        Assert.Equal(a.Result.FailingExecution, b.Result.FailingExecution);
        Assert.Equal(a.Trace!.Steps, b.Trace!.Steps);
        Assert.Equal(a.Trace.Failure, b.Trace.Failure);
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void ReplayReproducesTheIdenticalInterleaving(string driver)
    {
        var check = CheckRegistry.Get("ticket-spinlock");
        var run = CheckRunner.Run(check, check.GetVariant("nonatomic-ticket"), new RunSettings { Driver = driver, Strategy = "random", Iterations = 3000 });
        Assert.NotNull(run.Trace);

        // Through the file, as kmc replay does.
        var dir = Directory.CreateTempSubdirectory("kmc-replay").FullName;
        var path = Path.Combine(dir, "trace.json");
        File.WriteAllText(path, run.Trace!.ToJson());
        var outcome = TraceReplayer.Replay(TraceFile.Load(path));
        Assert.True(outcome.Reproduced);
        Assert.Equal(run.Trace.Steps, outcome.Steps);
        Assert.Equal(run.Trace.Failure, outcome.Failure);

        // The same schedule on the fixed code does not fail.
        var onFixed = TraceReplayer.Replay(run.Trace, "fixed");
        Assert.False(onFixed.Reproduced);
    }

    [Fact]
    public void ModelHashDependsOnTheCheckAndItsPorts()
    {
        var a = ModelHash.Of(CheckRegistry.Get("ticket-spinlock"));
        var b = ModelHash.Of(CheckRegistry.Get("kref"));
        Assert.NotEqual(a, b);
        Assert.Equal(a, ModelHash.Of(CheckRegistry.Get("ticket-spinlock")));
        Assert.Equal(16, a.Length);
    }

    [Fact]
    public void EveryCheckHasAFixedVariantFirstAndUniqueVariantNames()
    {
        Assert.NotEmpty(CheckRegistry.All);
        foreach (var c in CheckRegistry.All)
        {
            // The fixed code may carry a data race found in the kernel code itself, declared with its reason.
            var first = c.Variants[0].Expected;
            Assert.True(!first.BugExpected || first.Kind == FailureKind.DataRace, $"{c.Name}: the first variant should be the fixed code");
            Assert.Equal(c.Variants.Count, c.Variants.Select(v => v.Name).Distinct().Count());
        }
    }
}
