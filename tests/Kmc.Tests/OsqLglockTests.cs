using Kmc.Checks.Framework;
using Kmc.Models;

namespace Kmc.Tests;

public class OsqLglockTests
{
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "random", int iterations = 2000, ulong seed = 1)
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        return CheckRunner.Run(c, v, new RunSettings { Driver = driver, Strategy = strategy, Iterations = iterations, Seed = seed, MemoryModel = "sc" });
    }

    [Theory]
    [InlineData("osq", "fixed")]
    [InlineData("osq", "acquire-only-tail-xchg")]
    [InlineData("osq", "arm64-monitor-wait")]
    [InlineData("osq-3cpu", "fixed")]
    [InlineData("osq-3cpu", "acquire-only-tail-xchg")]
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
        var run = Run(check, variant, driver: "coyote", iterations: 50);
        Assert.Null(run.Result.Failure);
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
        var run = Run(check, variant);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.True(run.MatchesExpectation, run.Mismatch());
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
