using Kmc.Checks.Framework;
using Kmc.Models;

namespace Kmc.Tests;

public class OsqLglockTests
{
    /// <param name="races">off: the functional properties only, behind the OSQ's declared Step-A data race on 3 CPUs</param>
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "random", int iterations = 2000, ulong seed = 1,
        bool races = true)
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        return CheckRunner.Run(c, v, new RunSettings { Driver = driver, Strategy = strategy, Iterations = iterations, Seed = seed, MemoryModel = "sc", DetectRaces = races });
    }

    /// <summary>
    /// On 3 CPUs a waiter's Step-A cmpxchg(&amp;prev->next) can run while prev's owner, handed past,
    /// reinitialises its node with plain stores: the declared data race of the fixed code.
    /// Without the race property the same search passes.
    /// </summary>
    [Theory]
    [InlineData("fixed")]
    [InlineData("acquire-only-tail-xchg")]
    public void ThreeCpuOsqHasTheStepADataRace(string variant)
    {
        var run = Run("osq-3cpu", variant);
        Assert.Equal(FailureKind.DataRace, run.Result.Failure?.Kind);
        Assert.Contains("osq_node", run.Result.Failure!.Message);
        Assert.True(run.MatchesExpectation, run.Mismatch());
        var functional = Run("osq-3cpu", variant, races: false);
        Assert.Null(functional.Result.Failure);
    }

    [Theory]
    [InlineData("osq", "fixed")]
    [InlineData("osq", "acquire-only-tail-xchg")]
    [InlineData("osq", "arm64-monitor-wait")]
    [InlineData("osq-3cpu", "arm64-monitor-wait")]
    [InlineData("lglock", "fixed")]
    [InlineData("lglock-4cpu", "fixed")]
    [InlineData("lglock-preempt", "fixed")]
    public void PassingVariantsPassNative(string check, string variant)
    {
        var run = Run(check, variant);
        Assert.Null(run.Result.Failure);
        Assert.True(run.MatchesExpectation);
        Assert.Equal(2000, run.Result.Executions);
    }

    [Theory]
    [InlineData("osq", "fixed")]
    [InlineData("osq-3cpu", "fixed")]
    [InlineData("lglock", "fixed")]
    [InlineData("lglock-4cpu", "fixed")]
    [InlineData("lglock-preempt", "fixed")]
    public void FixedPassesCoyote(string check, string variant)
    {
        // osq-3cpu: the functional properties, behind its declared data race (see ThreeCpuOsqHasTheStepADataRace).
        var run = Run(check, variant, driver: "coyote", iterations: 50, races: check != "osq-3cpu");
        Assert.Null(run.Result.Failure);
        if (check != "osq-3cpu")
            Assert.True(run.MatchesExpectation);
    }

    [Theory]
    [InlineData("osq", "step-a-plain-store", FailureKind.Assertion)]
    [InlineData("osq", "wait-next-nonatomic-next", FailureKind.Assertion)]
    [InlineData("osq-3cpu", "step-a-plain-store", FailureKind.Assertion)]
    [InlineData("osq-3cpu", "wait-next-nonatomic-next", FailureKind.Assertion)]
    [InlineData("lglock", "double-no-swap", FailureKind.Hang)]
    [InlineData("lglock-4cpu", "double-no-swap", FailureKind.Hang)]
    [InlineData("lglock-preempt", "global-no-preempt-disable", FailureKind.Livelock)]
    public void BuggyVariantsFound(string check, string variant, FailureKind kind)
    {
        // On 3 CPUs the Step-A data race may come first: the bug itself is found behind it.
        var run = Run(check, variant, races: check != "osq-3cpu");
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.True(run.MatchesExpectation || check == "osq-3cpu", run.Mismatch());
        Assert.True(Run(check, variant).MatchesExpectation);
        Assert.NotNull(run.Trace);
    }

    // The Coyote driver costs about 5 s per bug found (its portfolio run and the replay), so
    // only one buggy variant per primitive runs under it.
    [Theory]
    [InlineData("osq", "step-a-plain-store", FailureKind.Assertion)]
    [InlineData("lglock", "double-no-swap", FailureKind.Hang)]
    public void BuggyVariantFoundCoyote(string check, string variant, FailureKind kind)
    {
        var run = Run(check, variant, driver: "coyote", iterations: 500);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.True(run.MatchesExpectation, run.Mismatch());
    }

    [Fact]
    public void AcquireOnlyTailXchgExpectsHangUnderLkmm()
    {
        var v = CheckRegistry.Get("osq").GetVariant("acquire-only-tail-xchg");
        Assert.False(v.ExpectedUnder("sc").BugExpected);
        Assert.Equal(Expectation.Bug(FailureKind.Hang), v.ExpectedUnder("lkmm"));
    }

    [Theory]
    [InlineData("osq-1round")]
    [InlineData("lglock")]
    public void ExhaustiveFixedHasNoFailure(string check)
    {
        var run = Run(check, "fixed", strategy: "dfs", iterations: 1_000_000);
        Assert.Null(run.Result.Failure);
        Assert.True(run.Result.Exhausted);
    }
}
