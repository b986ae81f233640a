using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Assert = Xunit.Assert;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// Fair non-termination (await termination) and priorities: a spinner that keeps its CPU from the
/// task it waits for is a Livelock naming the starved task, the loop and the repeating cycle; fixed
/// code has no such state anywhere in its exhaustive search.
/// </summary>
public class LivenessTests
{
    private static CheckRun Run(string check, string variant, string driver = "native", string strategy = "dfs", int iterations = 1_000_000,
        string memoryModel = "sc", int preemptionBound = 2) =>
        CheckRunner.Run(CheckRegistry.Get(check), CheckRegistry.Get(check).GetVariant(variant), new RunSettings
        {
            Driver = driver, Strategy = strategy, Iterations = iterations, Seed = 1, MemoryModel = memoryModel, PreemptionBound = preemptionBound,
        });

    [Theory]
    [InlineData("native", "dfs")]
    [InlineData("coyote", "portfolio")]
    public void Arm64MonitorWaitIsALivelockFoundAndReplayed(string driver, string strategy)
    {
        var run = Run("osq-owner-starved", "arm64-monitor-wait", driver, strategy, driver == "coyote" ? 500 : 1_000_000);
        var f = run.Result.Failure;
        Assert.NotNull(f);
        Assert.Equal(FailureKind.Livelock, f!.Kind);
        Assert.True(run.MatchesExpectation, run.Mismatch());
        // The starving task, the loop and the cycle.
        Assert.StartsWith("M starves: runnable on CPU1, but S keeps CPU1 (preemption off", f.Message);
        Assert.Contains("spinning on osq_node[1].locked (smp_cond_load_relaxed)", f.Message);
        Assert.Contains("cycle repeated forever", f.Message);
        Assert.Contains("S@CPU1: re-reads osq_node[1].locked (smp_cond_load_relaxed) -> still false", f.Message);
        Assert.Contains("H@CPU0: re-reads mutex m released", f.Message);
        Assert.Contains("progress property violated: every osq_lock() returns or gives up (S never gets there)", f.Message);
        Assert.Contains("OsqLock.cs", f.Location);

        var replay = TraceReplayer.Replay(run.Trace!);
        Assert.True(replay.Reproduced, replay.Summary);
        Assert.Equal(run.Trace!.Steps, replay.Steps);
        Assert.Equal(f, replay.Failure);
        // The same schedule on the polling spin does not livelock.
        Assert.False(TraceReplayer.Replay(run.Trace!, "fixed").Reproduced);
    }

    [Fact]
    public void RtSpinnerStarvesTheOwnerAndTheVendorBailoutFixesIt()
    {
        var run = Run("osq-owner-starved", "rt-spinner");
        Assert.Equal(FailureKind.Livelock, run.Result.Failure?.Kind);
        Assert.StartsWith("M starves: runnable on CPU1, but S keeps CPU1 (SCHED_FIFO over SCHED_NORMAL", run.Result.Failure!.Message);
        Assert.True(TraceReplayer.Replay(run.Trace!).Reproduced);

        var fix = Run("osq-owner-starved", "rt-task-bailout", preemptionBound: -1);
        Assert.Null(fix.Result.Failure);
        Assert.True(fix.Result.Exhausted);
    }

    /// <summary>Fair progress: no stuck state (livelock or hang) in the whole search of the fixed code, under every model.</summary>
    [Theory]
    [InlineData("osq-owner-starved", "sc")]
    [InlineData("osq-owner-starved", "tso")]
    [InlineData("osq-owner-starved", "lkmm")]
    [InlineData("osq-1round", "sc")]
    [InlineData("osq-1round", "lkmm")]
    [InlineData("lglock", "sc")]
    [InlineData("ticket-spinlock", "sc")]
    public void FixedCodeMakesFairProgress(string check, string memoryModel)
    {
        var run = Run(check, "fixed", memoryModel: memoryModel, preemptionBound: check == "osq-owner-starved" ? -1 : 2);
        Assert.Null(run.Result.Failure);
        Assert.True(run.Result.Exhausted);
    }

    [Fact]
    public void AnRtTaskKeepsItsCpuFromANormalOneAndNeedReschedFollowsTheRunqueue()
    {
        var order = new List<string>();
        var seen = new List<bool>();
        var scenario = new Scenario(1, ex =>
        {
            ex.NeedReschedFromRunqueues = true;
            ex.Spawn("normal", 0, async () =>
            {
                await CpuRelax();
                order.Add("normal");
            });
            ex.Spawn("rt", 0, SchedClass.Rt, async () =>
            {
                seen.Add(NeedResched());
                await CpuRelax();
                order.Add("rt");
            });
        });
        var ex = RunOnce(scenario);
        Assert.Null(ex.Failure);
        // A SCHED_NORMAL task never runs while the SCHED_FIFO one is runnable, and never sets need_resched() for it.
        Assert.Equal(["rt", "normal"], order);
        Assert.Equal([false], seen);
    }

    [Fact]
    public void ASpinThatStarvesNobodyStaysAHang()
    {
        var scenario = new Scenario(2, ex =>
        {
            var x = new Loc<int>("x");
            ex.Spawn("T0", 0, async () => await SpinUntil(() => x.Peek() != 0, "x != 0"));
        });
        var ex = RunOnce(scenario);
        Assert.Equal(FailureKind.Hang, ex.Failure?.Kind);
    }

    /// <summary>One execution with no scheduling choice to make, outside xunit's synchronization context.</summary>
    private static Execution RunOnce(Scenario scenario)
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            return NativeExplorer.RunOnce(scenario, new ExploreOptions(), new ReplayPolicy([]), [], record: false);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }
}
