using Kmc.Checks.Framework;
using Kmc.Checks.Locks;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Qspinlock;
using Assert = Xunit.Assert;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

public class QspinlockTests
{
    private static CheckRun Run(string check, string variant, string model, string strategy = "dfs", int iterations = 1_000_000) =>
        CheckRunner.Run(CheckRegistry.Get(check), CheckRegistry.Get(check).GetVariant(variant),
            new RunSettings { Strategy = strategy, Iterations = iterations, MemoryModel = model });

    [Theory]
    [InlineData("qspinlock", "fixed", "sc")]
    [InlineData("qspinlock", "fixed", "tso")]
    [InlineData("qspinlock", "fixed", "lkmm")]
    [InlineData("qspinlock", "pending-bits-1", "lkmm")]
    [InlineData("qspinlock-3cpu", "fixed", "sc")]
    [InlineData("qspinlock-3cpu", "fixed", "lkmm")]
    [InlineData("qspinlock-3cpu", "pending-bits-1", "sc")]
    [InlineData("qspinlock-3cpu", "pending-bits-1", "lkmm")]
    [InlineData("mcs-spinlock-2cpu", "fixed", "sc")]
    [InlineData("mcs-spinlock-2cpu", "fixed", "lkmm")]
    public void FixedCodeIsExhaustedWithoutFailure(string check, string variant, string model)
    {
        var run = Run(check, variant, model);
        Assert.Null(run.Result.Failure);
        Assert.True(run.Result.Exhausted, run.Result.Verdict());
    }

    /// <summary>
    /// The qspinlock LKMM violation published by Paolillo et al. (arXiv 2111.15240, Dartagnan): under the
    /// LKMM before v6.5 an acquire reading from a relaxed RMW (xchg_tail(), the pending fetch_or) does not
    /// see the release that RMW read from, and a holder reads the protected data stale. With v6.5's
    /// rmw-sequences (kmc's lkmm) the same search is exhausted without failure.
    /// </summary>
    [Theory]
    [InlineData("qspinlock")]
    [InlineData("qspinlock-3cpu")]
    public void QspinlockFailsOnlyUnderTheLkmmWithoutRmwSequences(string check)
    {
        var old = Run(check, "fixed", "lkmm-v6.4");
        Assert.NotNull(old.Result.Failure);
        Assert.Equal(FailureKind.Assertion, old.Result.Failure!.Kind);
        Assert.Contains("stale read", old.Result.Failure.Message);

        var current = Run(check, "fixed", "lkmm");
        Assert.Null(current.Result.Failure);
        Assert.True(current.Result.Exhausted);
    }

    [Theory]
    [InlineData("qspinlock-4cpu", "sc")]
    [InlineData("qspinlock-4cpu", "tso")]
    [InlineData("qspinlock-4cpu", "lkmm")]
    [InlineData("qspinlock-3cpu-2round", "lkmm")]
    [InlineData("qspinlock-nested", "tso")]
    [InlineData("mcs-spinlock", "lkmm")]
    public void LargerScenariosPassASample(string check, string model)
    {
        var run = Run(check, "fixed", model, "random", 300);
        Assert.Null(run.Result.Failure);
        Assert.Equal(300, run.Result.Executions);
    }

    /// <summary>The nested scenario does what it claims: in some executions the interrupt queues on CPU0's qnodes[1], and nothing fails.</summary>
    [Theory]
    [InlineData(QspinlockConfig.PendingBits8, "lkmm")]
    [InlineData(QspinlockConfig.PendingBits1, "sc")]
    public void NestedScenarioUsesTheSecondNode(QspinlockConfig config, string model)
    {
        var ports = new List<QspinlockPort>();
        var scenario = QspinlockNestedCheck.Scenario(config, ports.Add);
        var result = new NativeExplorer().Explore(scenario, new ExploreOptions
            { Strategy = "random", Iterations = 2000, Seed = 1, MaxSteps = 5000, Memory = MemoryModels.Factory(model) });
        Assert.Null(result.Failure);
        Assert.Equal(2000, ports.Count);
        Assert.Contains(ports, p => p.LockUseNode[1] > 0);
    }

    [Fact]
    public void TailEncodingRoundTrips()
    {
        foreach (var config in new[] { QspinlockConfig.PendingBits8, QspinlockConfig.PendingBits1 })
        {
            var q = new QspinlockPort(4, config);
            for (var cpu = 0; cpu < 4; cpu++)
            {
                for (var idx = 0; idx < QspinlockPort.QMaxNodes; idx++)
                {
                    var tail = q.EncodeTail(cpu, idx);
                    Assert.Equal(tail, tail & q.QTailMask);
                    Assert.Equal(0, tail & q.QLockedPendingMask);
                    Assert.Same(q.Qnodes.PerCpuPtr(cpu)[idx], q.DecodeTail(tail));
                }
            }
        }

        Assert.Equal(unchecked((int)0xffff0000), new QspinlockPort(1).QTailMask);
        Assert.Equal(0xff00, new QspinlockPort(1).QPendingMask);
        Assert.Equal(0x100, new QspinlockPort(1, QspinlockConfig.PendingBits1).QPendingMask);
        Assert.Equal(unchecked((int)0xfffffe00), new QspinlockPort(1, QspinlockConfig.PendingBits1).QTailMask);
    }

    /// <summary>A sub-word store changes only its part of the word, atomically, and returns the old word.</summary>
    [Fact]
    public void SubwordStoreChangesOnlyItsPart()
    {
        var olds = new List<int>();
        var word = new Atomic("w", 0x00020101);
        var scenario = new Scenario(1, ex => ex.Spawn("T", 0, async () =>
        {
            olds.Add(await SubwordStore(word, "locked", 0xff, 0, MemOrder.Release, "smp_store_release"));
            olds.Add(await SubwordStore(word, "tail", unchecked((int)0xffff0000), 0x00050000, MemOrder.Relaxed, "xchg_relaxed"));
        }));
        var result = new NativeExplorer().Explore(scenario, new ExploreOptions { Strategy = "dfs", Iterations = 10 });
        Assert.Null(result.Failure);
        Assert.Equal([0x00020101, 0x00020100], olds);
        Assert.Equal(0x00050100, word.Peek());
    }
}
