using Kmc.Checks.Basics;
using Kmc.Checks.Framework;
using Kmc.Models;

namespace Kmc.Tests;

/// <summary>KmcTest, the helper a user's own xunit tests call: it passes what holds and throws on what does not.</summary>
public class KmcTestHelperTests
{
    [Fact]
    public void FindsBugReturnsTheRunAndNoBugPasses()
    {
        var run = KmcTest.FindsBug<CounterCheck>("no-lock", FailureKind.Assertion);
        Assert.NotNull(run.Trace);
        Assert.Null(KmcTest.NoBug<CounterCheck>("spinlock").Result.Failure);
    }

    [Fact]
    public void NoBugOnABuggyVariantThrowsWithTheInterleavingAndAReplayableTrace()
    {
        var e = Assert.Throws<KmcTestException>(() => KmcTest.NoBug<CounterCheck>("no-lock"));
        Assert.Contains("counter/no-lock: expected no bug, found Assertion", e.Message);
        Assert.Contains("READ_ONCE", e.Message);
        var trace = e.Message.Split('\n').Single(l => l.StartsWith("trace: ", StringComparison.Ordinal))["trace: ".Length..].Split(' ')[0];
        Assert.True(File.Exists(trace), trace);
        Assert.True(TraceReplayer.Replay(TraceFile.Load(trace)).Reproduced);
    }

    [Fact]
    public void FindsBugOnTheFixedCodeThrows()
    {
        var e = Assert.Throws<KmcTestException>(() => KmcTest.FindsBug<CounterCheck>("spinlock", settings: new RunSettings { Iterations = 50 }));
        Assert.Contains("expected a bug, found none in 50 executions", e.Message);
    }

    [Fact]
    public void FindsBugOfTheWrongKindThrows()
    {
        var e = Assert.Throws<KmcTestException>(() => KmcTest.FindsBug<CounterCheck>("no-lock", FailureKind.UseAfterFree));
        Assert.Contains("expected UseAfterFree, found Assertion", e.Message);
    }

    [Fact]
    public void ExhaustiveProvesTheFixedCodeAndRefusesABoundedSearchAsComplete()
    {
        var run = KmcTest.Exhaustive<CounterCheck>("spinlock");
        Assert.True(run.Result.Complete);
        var bounded = new RunSettings { Strategy = "dfs", PreemptionBound = 0 };
        var cut = Assert.Throws<KmcTestException>(() => KmcTest.Exhaustive<CounterCheck>("spinlock", bounded));
        Assert.Contains("not complete", cut.Message);
        Assert.True(KmcTest.Exhaustive<CounterCheck>("spinlock", bounded, complete: false).Result.Exhausted);
        Assert.Throws<KmcTestException>(() => KmcTest.Exhaustive<CounterCheck>("no-lock"));
    }

    [Fact]
    public void AsExpectedFollowsTheDeclaredExpectation()
    {
        KmcTest.AsExpected<CounterCheck>("no-lock");
        KmcTest.AsExpected<CounterCheck>("spinlock");
    }
}
