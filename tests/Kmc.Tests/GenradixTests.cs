using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Primitives.Genradix;

namespace Kmc.Tests;

public class GenradixTests
{
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "random", int iterations = 2000,
        ulong seed = 1, int preemptionBound = 2)
    {
        var c = CheckRegistry.Get(check);
        return CheckRunner.Run(c, c.GetVariant(variant), new RunSettings
        {
            Driver = driver, Strategy = strategy, Iterations = iterations, Seed = seed, PreemptionBound = preemptionBound, MemoryModel = "sc",
        });
    }

    [Theory]
    [InlineData("genradix")]
    [InlineData("genradix.peek-overflow")]
    [InlineData("genradix.idx-overflow")]
    [InlineData("genradix.enomem")]
    public void FixedPasses(string check)
    {
        var run = Run(check, "fixed", iterations: check.Contains("overflow") ? 5 : 2000);
        Assert.Null(run.Result.Failure);
        Assert.True(run.MatchesExpectation);
    }

    /// <summary>
    /// The kernel's lockless reader walks children[] with plain loads while a grower installs
    /// them with cmpxchg_release(): a data race, declared on the fixed code (see GenradixReaderCheck).
    /// </summary>
    [Fact]
    public void FixedReaderRacesWithChildInstall()
    {
        var run = Run("genradix.reader", "fixed");
        Assert.Equal(FailureKind.DataRace, run.Result.Failure?.Kind);
        Assert.Contains("cmpxchg_release (marked write) in __GenradixPtrAlloc", run.Result.Failure!.Message);
        Assert.Contains("plain read in GenradixIterPeek", run.Result.Failure.Message);
        Assert.True(run.MatchesExpectation);
    }

    [Theory]
    [InlineData("genradix", "v2018", FailureKind.Assertion)]
    [InlineData("genradix", "rare-race-stale-child", FailureKind.Assertion)]
    [InlineData("genradix", "leak-spare-on-lost-race", FailureKind.Leak)]
    [InlineData("genradix", "plain-child-install", FailureKind.Assertion)]
    [InlineData("genradix.peek-overflow", "peek-overflow", FailureKind.Assertion)]
    [InlineData("genradix.peek-overflow", "v2018", FailureKind.Assertion)]
    [InlineData("genradix.idx-overflow", "no-idx-overflow-check", FailureKind.Assertion)]
    [InlineData("genradix.idx-overflow", "v2018", FailureKind.Assertion)]
    [InlineData("genradix.enomem", "free-installed-on-enomem", FailureKind.UseAfterFree)]
    [InlineData("genradix.advance-nonpow2", "upstream", FailureKind.Assertion)]
    [InlineData("genradix.reader", "rare-race-stale-child", FailureKind.Assertion)]
    // WRITE_ONCE() publication of a plainly initialised child: the reader's plain reads through it
    // race with the init (RaceLitmus/publish-once-plain.litmus), found before the lost slot.
    [InlineData("genradix.reader", "plain-child-install", FailureKind.DataRace)]
    public void BuggyVariantsFound(string check, string variant, FailureKind kind)
    {
        var run = Run(check, variant);
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.True(run.MatchesExpectation, run.Mismatch());
        var replay = TraceReplayer.Replay(run.Trace!);
        Assert.True(replay.Reproduced);
    }

    [Fact]
    public void ProposedAdvanceFixEndsTheIteration()
    {
        var run = Run("genradix.advance-nonpow2", "fixed", iterations: 5);
        Assert.Null(run.Result.Failure);
        Assert.True(run.MatchesExpectation);
    }

    [Fact]
    public void StaleChildIsTheRaceTheFixNames()
    {
        var run = Run("genradix", "rare-race-stale-child");
        Assert.Contains("reachable twice", run.Result.Failure!.Message + "");
        // The lost depth-increase race: a failed cmpxchg_release on the root in the trace.
        Assert.Contains(run.Trace!.Steps, s => s.Op == "cmpxchg_release" && s.Target == "gr.root" && s.Value!.Contains("failed"));
    }

    [Fact]
    public void ExhaustiveSearchNeedsOnePreemption()
    {
        // Without preemptions the users run one after another: no race, no bug.
        foreach (var v in new[] { "fixed", "rare-race-stale-child", "leak-spare-on-lost-race", "plain-child-install" })
        {
            var serial = Run("genradix", v, strategy: "dfs", preemptionBound: 0);
            Assert.True(serial.Result.Exhausted);
            Assert.Null(serial.Result.Failure);
        }

        var fixedRun = Run("genradix", "fixed", strategy: "dfs", preemptionBound: 1);
        Assert.True(fixedRun.Result.Exhausted);
        Assert.Null(fixedRun.Result.Failure);
        Assert.Equal(FailureKind.Assertion, Run("genradix", "rare-race-stale-child", strategy: "dfs", preemptionBound: 1).Result.Failure?.Kind);
        Assert.Equal(FailureKind.Leak, Run("genradix", "leak-spare-on-lost-race", strategy: "dfs", preemptionBound: 1).Result.Failure?.Kind);
    }

    [Fact]
    public void CoyoteFindsTheRareRace()
    {
        var run = Run("genradix", "rare-race-stale-child", driver: "coyote", strategy: "portfolio", iterations: 200);
        Assert.Equal(FailureKind.Assertion, run.Result.Failure?.Kind);
    }

    [Fact]
    public void IndexToOffsetFollowsTheHeader()
    {
        // Power of two: idx * size. Otherwise objects never straddle a node.
        var pow2 = new Genradix("a", 16, nodeShift: 5);
        Assert.False(pow2.IdxToOffset(3, out var o));
        Assert.Equal(48UL, o);
        var odd = new Genradix("b", 24, nodeShift: 6);
        Assert.Equal(2, odd.ObjsPerNode);
        Assert.False(odd.IdxToOffset(3, out o));
        Assert.Equal(64UL + 24, o);
        Assert.True(pow2.IdxToOffset((1UL << 60) + 1, out _));
        Assert.True(odd.IdxToOffset((1UL << 60) + 2, out _));
        var unchecked2018 = new Genradix("c", 16, GenradixVersion.V2018, nodeShift: 5);
        Assert.False(unchecked2018.IdxToOffset((1UL << 60) + 1, out o));
        Assert.Equal(16UL, o);
    }

    [Fact]
    public void GeometryAndDepthEncoding()
    {
        var g = new Genradix("g", 8);
        Assert.Equal(2, g.Ary);
        Assert.Equal(60, g.MaxDepth);
        Assert.Equal(-1, Genradix.Ilog2(0));
        Assert.Equal(63, Genradix.Ilog2(ulong.MaxValue));
        var page = new Genradix("p", 8, nodeShift: 12);
        Assert.Equal(512, page.Ary);
        Assert.Equal(6, page.MaxDepth); // DIV_ROUND_UP(64 - 12, 9) for 4 KiB pages
        Assert.NotEqual(new GenradixRoot(null, 0), new GenradixRoot(new GenradixNode("x", 1, 2), 0));
    }
}
