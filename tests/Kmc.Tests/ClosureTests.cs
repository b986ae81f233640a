using Kmc.Checks.Framework;
using Kmc.Models;

namespace Kmc.Tests;

public class ClosureTests
{
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "random", int iterations = 2000, int? bound = null)
    {
        var c = CheckRegistry.Get(check);
        // The closures' functional properties; their declared data races (s->done) are tested in RaceTests and WeakMemoryTests.
        var s = new RunSettings { Driver = driver, Strategy = strategy, Iterations = iterations, Seed = 1, MemoryModel = "sc", DetectRaces = false };
        if (bound is { } b)
            s = s with { PreemptionBound = b };
        return CheckRunner.Run(c, c.GetVariant(variant), s);
    }

    [Theory]
    [InlineData("closure-refcount")]
    [InlineData("closure-sync")]
    [InlineData("closure-sync.2-putters")]
    [InlineData("closure-sync-zeroed")]
    [InlineData("closure-wait-event")]
    [InlineData("closure-wait-event.2-waiters")]
    public void FixedPassesNative(string check)
    {
        // Functional properties only: the fixed code's declared s->done data race is tested in RaceTests/WeakMemoryTests.
        var run = Run(check, "fixed");
        Assert.Null(run.Result.Failure);
    }

    [Theory]
    [InlineData("closure-refcount")]
    [InlineData("closure-sync")]
    [InlineData("closure-wait-event")]
    public void FixedPassesCoyote(string check)
    {
        var run = Run(check, "fixed", driver: "coyote", strategy: "random", iterations: 100);
        Assert.Null(run.Result.Failure);
    }

    [Theory]
    [InlineData("closure-sync", "sync-wakeup-race", FailureKind.UseAfterFree)]
    [InlineData("closure-sync", "sync-fn-done-hoisted", FailureKind.UseAfterFree)]
    [InlineData("closure-sync.2-putters", "sync-wakeup-race", FailureKind.UseAfterFree)]
    [InlineData("closure-sync-zeroed", "sync-zeroed-fastpath", FailureKind.Assertion)]
    [InlineData("closure-wait-event", "wait-event-cond-before-wait", FailureKind.Hang)]
    [InlineData("closure-wait-event.2-waiters", "wait-event-cond-before-wait", FailureKind.Hang)]
    public void ScBugsFound(string check, string variant, FailureKind kind)
    {
        var run = Run(check, variant);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.True(run.MatchesExpectation);
        Assert.NotNull(run.Trace);
    }

    [Theory]
    [InlineData("closure-sync", "sync-relaxed-fastpath")]
    [InlineData("closure-refcount", "barriers-relaxed")]
    public void WeakMemoryVariantsPassUnderSc(string check, string variant)
    {
        var run = Run(check, variant);
        Assert.Null(run.Result.Failure);
        Assert.True(run.Variant.ExpectedUnder("lkmm").BugExpected);
    }

    [Theory]
    [InlineData("closure-refcount", "fixed", null)]
    [InlineData("closure-sync", "fixed", null)]
    [InlineData("closure-sync-zeroed", "fixed", null)]
    [InlineData("closure-wait-event", "fixed", null)]
    [InlineData("closure-sync", "sync-wakeup-race", FailureKind.UseAfterFree)]
    [InlineData("closure-sync", "sync-fn-done-hoisted", FailureKind.UseAfterFree)]
    [InlineData("closure-wait-event", "wait-event-cond-before-wait", FailureKind.Hang)]
    public void Exhaustive2Task(string check, string variant, FailureKind? kind)
    {
        var run = Run(check, variant, strategy: "dfs", iterations: 100_000);
        if (kind is null)
        {
            Assert.Null(run.Result.Failure);
            Assert.True(run.Result.Exhausted);
        }
        else
        {
            Assert.Equal(kind, run.Result.Failure?.Kind);
        }
    }
}
