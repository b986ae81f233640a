using Kmc.Checks.Framework;
using Kmc.Models;

namespace Kmc.Tests;

public class OsqLglockTests
{
    /// <param name="races">off: the functional properties only, behind the OSQ's declared node-reinit data race (two rounds)</param>
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "random", int iterations = 2000, ulong seed = 1,
        bool races = true, string model = "sc")
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        return CheckRunner.Run(c, v, new RunSettings { Driver = driver, Strategy = strategy, Iterations = iterations, Seed = seed, MemoryModel = model, DetectRaces = races });
    }

    /// <summary>The two-round checks, where a CPU re-enters osq_lock() and reinitialises its node.</summary>
    private static bool Reenters(string check) => check is "osq" or "osq-3cpu";

    /// <summary>
    /// Once a CPU re-enters osq_lock(), its plain "node->locked = 0; node->next = NULL;" races with
    /// the previous round's hand-off WRITE_ONCE(next->locked, 1) (read by a relaxed spin, followed by
    /// the release-only unlock fast path) or with a successor's failing Step-A cmpxchg: the kernel's
    /// own LKMM data race (tests/Kmc.Tests/RaceLitmus/osq-reinit-*.litmus), declared for the fixed
    /// code and found under every model by the configured search, which a detector that took a
    /// relaxed read of a store as ordering the reader's later plain stores after it missed under sc
    /// and lkmm. Without the race property the same search passes.
    /// </summary>
    [Theory]
    [InlineData("osq", "fixed", "sc")]
    [InlineData("osq", "fixed", "tso")]
    [InlineData("osq", "fixed", "lkmm")]
    [InlineData("osq", "arm64-monitor-wait", "sc")]
    [InlineData("osq-3cpu", "fixed", "sc")]
    [InlineData("osq-3cpu", "fixed", "lkmm")]
    [InlineData("osq-3cpu", "acquire-only-tail-xchg", "sc")]
    public void TwoRoundOsqHasTheNodeReinitDataRace(string check, string variant, string model)
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        // The suite's configured search, at its full and at its --quick budget.
        var configured = KmcConfig.Load(Path.Combine(TestPaths.InRepo("reports"), "..", KmcConfig.FileName)).For(check, model);
        foreach (var settings in new[] { configured, configured with { Iterations = Math.Max(1, configured.Iterations / 10) } })
        {
            var run = CheckRunner.Run(c, v, settings);
            Assert.Equal(FailureKind.DataRace, run.Result.Failure?.Kind);
            Assert.Matches(@"data race on osq_node\[\d\]\.(locked|next): .*plain write", run.Result.Failure!.Message);
            Assert.Contains("OsqLock.cs:", run.Result.Failure.Message);
            Assert.True(run.MatchesExpectation, run.Mismatch());
        }

        var functional = Run(check, variant, races: false, model: model == "tso" ? "sc" : model);
        Assert.Null(functional.Result.Failure);
    }

    [Theory]
    [InlineData("osq-1round", "fixed")]
    [InlineData("osq-1round", "acquire-only-tail-xchg")]
    [InlineData("osq-1round", "arm64-monitor-wait")]
    [InlineData("osq-3cpu-1round", "arm64-monitor-wait")]
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
        // osq, osq-3cpu: the functional properties, behind their declared data race (see TwoRoundOsqHasTheNodeReinitDataRace).
        var run = Run(check, variant, driver: "coyote", iterations: 50, races: !Reenters(check));
        Assert.Null(run.Result.Failure);
        if (!Reenters(check))
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
        // With two rounds the node-reinit data race may come first: the bug itself is found behind it.
        var run = Run(check, variant, races: !Reenters(check));
        Assert.NotNull(run.Result.Failure);
        Assert.Equal(kind, run.Result.Failure!.Kind);
        Assert.True(run.MatchesExpectation || Reenters(check), run.Mismatch());
        Assert.True(Run(check, variant).MatchesExpectation);
        Assert.NotNull(run.Trace);
    }

    // The Coyote driver costs about 5 s per bug found (its portfolio run and the replay), so
    // only one buggy variant per primitive runs under it.
    [Theory]
    // step-a-plain-store: the late WRITE_ONCE(prev->next, NULL) into the node its unlock left (the
    // lost hand-off's root cause, before the cancelled node finds locked == 1).
    [InlineData("osq-1round", "step-a-plain-store", FailureKind.UseAfterLeave)]
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
        var v = CheckRegistry.Get("osq-1round").GetVariant("acquire-only-tail-xchg");
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
