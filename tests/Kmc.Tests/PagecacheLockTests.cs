using Kmc.Checks.Framework;
using Kmc.Models;

namespace Kmc.Tests;

/// <summary>The pagecache add lock checks (tracker issue 5): fixed code passes, each known bug is found.</summary>
public class PagecacheLockTests
{
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "random",
        int iterations = 2000, ulong seed = 1, int preemptionBound = 2)
    {
        var c = CheckRegistry.Get(check);
        return CheckRunner.Run(c, c.GetVariant(variant), new RunSettings
        {
            Driver = driver,
            Strategy = strategy,
            Iterations = iterations,
            Seed = seed,
            PreemptionBound = preemptionBound,
        });
    }

    [Theory]
    [InlineData("pagecache-dio")]
    [InlineData("pagecache-fallocate")]
    [InlineData("pagecache-finsert")]
    [InlineData("pagecache-reservation")]
    [InlineData("pagecache-truncate")]
    [InlineData("pagecache-two-file-deadlock")]
    [InlineData("pagecache-recursion")]
    [InlineData("pagecache-lock")]
    public void FixedPassesNative(string check)
    {
        var run = Run(check, "fixed");
        Assert.Null(run.Result.Failure);
        Assert.True(run.MatchesExpectation, run.Mismatch());
        Assert.Equal(2000, run.Result.Executions);
    }

    [Theory]
    [InlineData("pagecache-dio")]
    [InlineData("pagecache-fallocate")]
    [InlineData("pagecache-finsert")]
    [InlineData("pagecache-reservation")]
    [InlineData("pagecache-truncate")]
    [InlineData("pagecache-two-file-deadlock")]
    [InlineData("pagecache-recursion")]
    [InlineData("pagecache-lock")]
    public void FixedPassesCoyote(string check)
    {
        var run = Run(check, "fixed", driver: "coyote", iterations: 50);
        Assert.Null(run.Result.Failure);
        Assert.True(run.MatchesExpectation, run.Mismatch());
    }

    [Theory]
    [InlineData("pagecache-dio", "no-lock", FailureKind.Assertion)]
    [InlineData("pagecache-fallocate", "no-lock", FailureKind.Assertion)]
    [InlineData("pagecache-finsert", "no-lock", FailureKind.Assertion)]
    [InlineData("pagecache-reservation", "no-lock", FailureKind.Assertion)]
    [InlineData("pagecache-truncate", "no-lock", FailureKind.Assertion)]
    [InlineData("pagecache-truncate", "truncate-isize-only", FailureKind.Assertion)]
    [InlineData("pagecache-two-file-deadlock", "abba-no-trylock", FailureKind.Hang)]
    [InlineData("pagecache-recursion", "no-recursion-handling", FailureKind.Hang)]
    [InlineData("pagecache-lock", "trylock-no-cmpxchg", FailureKind.Assertion)]
    public void BugFoundNative(string check, string variant, FailureKind kind)
    {
        var run = Run(check, variant);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.True(run.MatchesExpectation, run.Mismatch());
        Assert.NotNull(run.Trace);
    }

    [Theory]
    [InlineData("pagecache-dio", "no-lock", FailureKind.Assertion)]
    [InlineData("pagecache-truncate", "truncate-isize-only", FailureKind.Assertion)]
    [InlineData("pagecache-two-file-deadlock", "abba-no-trylock", FailureKind.Hang)]
    [InlineData("pagecache-recursion", "no-recursion-handling", FailureKind.Hang)]
    public void BugFoundCoyote(string check, string variant, FailureKind kind)
    {
        var run = Run(check, variant, driver: "coyote", iterations: 2000);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
    }

    [Fact]
    public void StaleStateMessagesNameTheRace()
    {
        var run = Run("pagecache-dio", "no-lock");
        Assert.Contains("stale page", run.Result.Failure!.Message);
        var trunc = Run("pagecache-truncate", "truncate-isize-only");
        Assert.Contains("A.page[2]", trunc.Result.Failure!.Message);
    }

    /// <summary>The seed's assertion: without the lock, writeback allocates a block the page never reserved.</summary>
    [Theory]
    [InlineData(1UL)]
    [InlineData(2UL)]
    [InlineData(3UL)]
    public void NoLockTripsReservationAccounting(ulong seed)
    {
        var run = Run("pagecache-reservation", "no-lock", seed: seed);
        Assert.Contains("disk usage increased by 1 block more than the 0 reserved", run.Result.Failure!.Message);
    }

    [Fact]
    public void TwoStateMutationBreaksExclusion()
    {
        var run = Run("pagecache-lock", "trylock-no-cmpxchg");
        Assert.Contains("held for add by 1 and for block by 1 at once", run.Result.Failure!.Message);
    }

    /// <summary>The smallest configurations of the fixed code, exhaustively (preemption bound 2).</summary>
    [Theory]
    [InlineData("pagecache-lock")]
    [InlineData("pagecache-dio")]
    [InlineData("pagecache-recursion")]
    [InlineData("pagecache-two-file-deadlock")]
    public void FixedExhaustive(string check)
    {
        var run = Run(check, "fixed", strategy: "dfs", iterations: 1_000_000);
        Assert.Null(run.Result.Failure);
        Assert.True(run.Result.Exhausted, run.Result.Verdict());
    }

    [Theory]
    [InlineData("pagecache-reservation")]
    [InlineData("pagecache-dio")]
    public void NoLockExhaustiveFindsBug(string check)
    {
        var run = Run(check, "no-lock", strategy: "dfs", iterations: 1_000_000);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(FailureKind.Assertion, run.Result.Failure!.Kind);
    }
}
