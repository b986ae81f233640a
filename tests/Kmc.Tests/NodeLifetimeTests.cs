using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Assert = Xunit.Assert;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// Use-after-leave checking of static queue nodes (<see cref="NodeLifetime"/>): a late store into a
/// node whose owner left is found at the store with the leave; reads and failed cmpxchg are not;
/// the fixed OSQ, MCS and qspinlock stay clean exhaustively; scenarios without nodes are unchanged.
/// </summary>
public class NodeLifetimeTests
{
    private static CheckRun Run(string check, string variant, string model, string strategy = "dfs", int iterations = 1_000_000) =>
        CheckRunner.Run(CheckRegistry.Get(check), CheckRegistry.Get(check).GetVariant(variant),
            new RunSettings { Strategy = strategy, Iterations = iterations, MemoryModel = model });

    private static ExploreOptions Dfs(string model = "sc", bool reduction = true) => new()
    {
        Strategy = "dfs",
        PreemptionBound = -1,
        StaleBound = -1,
        MaxSteps = 400,
        Memory = MemoryModels.Factory(model),
        Reduction = reduction,
    };

    // ---- the MCS variant -----------------------------------------------------------------------

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    public void McsUnlockThatDoesNotWaitForNextIsAUseAfterLeaveAtTheSuccessorsLink(string model)
    {
        var run = Run("mcs-spinlock-2cpu", "unlock-no-wait-next", model);
        var f = run.Result.Failure;
        Assert.NotNull(f);
        Assert.Equal(FailureKind.UseAfterLeave, f!.Kind);
        // The write: the successor's WRITE_ONCE(prev->next, node) in mcs_spin_lock(), with its value.
        Assert.Matches(@"^WRITE_ONCE of mcs_node@CPU(\d)\.next = mcs_node@CPU\d by T\d after mcs_node@CPU\1 left the queue", f.Message);
        Assert.EndsWith(WriteOnceLine(), f.Location);
        // The leave: the owner's return from mcs_spin_unlock(), with the task and the line.
        Assert.Matches(@"its owner T\d left at McsSpinlock\.cs:\d+ in McsSpinUnlock", f.Message);

        // The saved trace replays to the same failure, and its interleaving shows the leave before the write.
        var replay = TraceReplayer.Replay(run.Trace!);
        Assert.True(replay.Reproduced, replay.Summary);
        Assert.Equal(FailureKind.UseAfterLeave, replay.Failure!.Kind);
        var leave = replay.Steps.Last(s => s.Op == "node leave");
        Assert.Contains($"step {leave.Index}", replay.Failure.Message);
        Assert.Equal("McsSpinUnlock", leave.Function);
    }

    private static string WriteOnceLine()
    {
        var src = File.ReadAllLines(Path.Combine(TestPaths.InRepo("src", "Primitives", "Qspinlock"), "McsSpinlock.cs"));
        var i = Array.FindIndex(src, l => l.Contains("await WriteOnce(prev.Next, node);"));
        Assert.True(i >= 0);
        return $"McsSpinlock.cs:{i + 1}";
    }

    /// <summary>
    /// Under lkmm the owner's second READ_ONCE(node->next) may miss a store already made, so the
    /// first bug dfs meets is the stranded successor's Hang; the late store itself is reachable too.
    /// </summary>
    [Fact]
    public void McsUnlockVariantUnderLkmmReachesTheUseAfterLeave()
    {
        var check = CheckRegistry.Get("mcs-spinlock-2cpu");
        var options = Dfs("lkmm") with { StaleBound = 1, AllOutcomes = true };
        var r = new NativeExplorer().Explore(check.Build(check.GetVariant("unlock-no-wait-next")), options);
        Assert.True(r.Exhausted);
        Assert.Contains(r.Outcomes!, o => o.Contains("UseAfterLeave"));
    }

    // ---- the rule, on a small scenario --------------------------------------------------------

    public sealed class Node
    {
        public Node(string name)
        {
            Next = new Loc<int>(name + ".next");
            Locked = new Loc<int>(name + ".locked");
            Lifetime = new NodeLifetime(name, Next, Locked);
        }

        public Loc<int> Next { get; }
        public Loc<int> Locked { get; }
        public NodeLifetime Lifetime { get; }
    }

    /// <summary>
    /// The owner enters, writes and leaves its node; the other task touches the node with
    /// <paramref name="late"/> once the owner has left (it waits for a flag the owner sets after
    /// the leave). With <paramref name="enter"/> false the node is never entered.
    /// </summary>
    private static Scenario AfterLeave(Func<Node, ValueTask> late, bool waitForLeave = true, bool enter = true) => new(2, ex =>
    {
        var node = new Node("qnode[0]");
        var left = new Loc<int>("left");
        // The late task is spawned first, so the search's first execution runs its store before
        // the owner enters: the order that fails must come from the reduction's backtracking.
        ex.Spawn("late", 1, async () =>
        {
            if (waitForLeave)
                await SmpCondLoadAcquire(left, v => v != 0);
            await late(node);
        });
        ex.Spawn("owner", 0, async () =>
        {
            if (enter)
                NodeEnter(node.Lifetime);
            await WriteOnce(node.Next, 1);
            if (enter)
                NodeLeave(node.Lifetime);
            await SmpStoreRelease(left, 1);
        });
    });

    [Fact]
    public void ReadsAndFailedCmpxchgAfterLeaveAreNotReported()
    {
        // OSQ Step A's shape: data_race(prev->next), then cmpxchg(&prev->next, node, NULL) that fails.
        var r = new NativeExplorer().Explore(AfterLeave(async n =>
        {
            await DataRace(n.Next);
            await ReadOnce(n.Locked);
            await Cmpxchg(n.Next, 2, 0);
        }), Dfs());
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
    }

    public static IEnumerable<object[]> LateWrites =>
    [
        ["WRITE_ONCE", (Func<Node, ValueTask>)(n => WriteOnce(n.Next, 7))],
        ["cmpxchg", (Func<Node, ValueTask>)(async n => await Cmpxchg(n.Next, 1, 0))],
        ["xchg", (Func<Node, ValueTask>)(async n => await Xchg(n.Locked, 1))],
        ["atomic_add", (Func<Node, ValueTask>)(n => AtomicAdd(1, n.Locked))],
    ];

    [Theory]
    [MemberData(nameof(LateWrites))]
    public void StoresAndSuccessfulRmwsAfterLeaveAreReported(string op, Func<Node, ValueTask> late)
    {
        var r = new NativeExplorer().Explore(AfterLeave(late), Dfs());
        Assert.Equal(FailureKind.UseAfterLeave, r.Failure?.Kind);
        Assert.StartsWith($"{op} of qnode[0].", r.Failure!.Message);
        Assert.Contains("by late after qnode[0] left the queue: its owner owner left at NodeLifetimeTests.cs:", r.Failure.Message);
        Assert.Contains("NodeLifetimeTests.cs:", r.Failure.Location);
    }

    [Fact]
    public void WithTheCheckOffALateStoreIsNotReported()
    {
        var r = new NativeExplorer().Explore(AfterLeave(n => WriteOnce(n.Next, 7)), Dfs() with { DetectUseAfterLeave = false });
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
    }

    [Fact]
    public void TheOwnersOwnStoresAfterLeaveAndStoresToANodeNeverEnteredAreNotReported()
    {
        var own = new NativeExplorer().Explore(new Scenario(1, ex =>
        {
            var node = new Node("qnode[0]");
            ex.Spawn("owner", 0, async () =>
            {
                NodeEnter(node.Lifetime);
                NodeLeave(node.Lifetime);
                await WriteOnce(node.Next, 1);
            });
        }), Dfs());
        Assert.Null(own.Failure);

        var never = new NativeExplorer().Explore(AfterLeave(n => WriteOnce(n.Next, 7), enter: false), Dfs());
        Assert.Null(never.Failure);
    }

    /// <summary>
    /// Nothing orders the late store with the leave but the node's lifetime: the partial-order
    /// reduction must see the two as dependent and reach the order in which the store comes last,
    /// as the full search does.
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void TheReducedSearchFindsAnUnorderedLateStoreAsTheFullSearchDoes(string model)
    {
        var scenario = AfterLeave(n => WriteOnce(n.Locked, 1), waitForLeave: false);
        var full = new NativeExplorer().Explore(scenario, Dfs(model, reduction: false) with { StaleBound = 1 });
        var reduced = new NativeExplorer().Explore(scenario, Dfs(model) with { StaleBound = 1 });
        Assert.Equal(FailureKind.UseAfterLeave, full.Failure?.Kind);
        Assert.Equal(FailureKind.UseAfterLeave, reduced.Failure?.Kind);
        Assert.Equal(full.Failure!.Location, reduced.Failure!.Location);
    }

    [Fact]
    public void TwoUsersOfOneNodeAtOnceAreReported()
    {
        var r = new NativeExplorer().Explore(new Scenario(2, ex =>
        {
            var node = new Node("qnode[0]");
            ex.Spawn("T0", 0, async () =>
            {
                NodeEnter(node.Lifetime);
                await WriteOnce(node.Next, 1);
                NodeLeave(node.Lifetime);
            });
            ex.Spawn("irq", 0, async () =>
            {
                NodeEnter(node.Lifetime);
                await WriteOnce(node.Next, 2);
                NodeLeave(node.Lifetime);
            });
        }, preemptive: true), Dfs());
        Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
        Assert.Contains("takes qnode[0] while", r.Failure!.Message);
    }

    [Fact]
    public void AFieldBelongsToOneNode()
    {
        var next = new Loc<int>("a.next");
        _ = new NodeLifetime("a", next);
        var e = Assert.Throws<ModelMisuseException>(() => new NodeLifetime("b", next));
        Assert.Contains("a.next already belongs to a", e.Message);
    }

    // ---- no nodes, no change ------------------------------------------------------------------

    /// <summary>
    /// A scenario whose locations belong to no node against the same scenario with its locations
    /// registered to a node nobody enters: the same executions and the same outcomes under the
    /// reduced search (a store to a node's field reads the node's key; nobody writes it).
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("lkmm")]
    public void RegisteringFieldsWithoutEnteringChangesNothing(string model)
    {
        Scenario Build(bool registered) => new(2, ex =>
        {
            var a = new Loc<int>("a");
            var b = new Loc<int>("b");
            if (registered)
                _ = new NodeLifetime("n", a, b);
            ex.Spawn("T0", 0, async () =>
            {
                await WriteOnce(a, 1);
                await WriteOnce(b, 1);
            });
            ex.Spawn("T1", 1, async () =>
            {
                await ReadOnce(b);
                await Xchg(a, 2);
            });
        });
        var options = Dfs(model) with { StaleBound = 1, AllOutcomes = true };
        var without = new NativeExplorer().Explore(Build(false), options);
        var with = new NativeExplorer().Explore(Build(true), options);
        Assert.True(without.Exhausted && with.Exhausted);
        Assert.Null(with.Failure);
        Assert.Equal(without.Executions, with.Executions);
        Assert.True(without.Outcomes!.SetEquals(with.Outcomes!));
    }

    // ---- the fixed code stays clean -----------------------------------------------------------

    /// <summary>The fixed OSQ, MCS and qspinlock, exhaustively (dfs with the configured bounds), with their nodes checked.</summary>
    [Theory]
    [InlineData("osq-1round", "sc")]
    [InlineData("osq-1round", "tso")]
    [InlineData("osq-1round", "lkmm")]
    [InlineData("mcs-spinlock-2cpu", "sc")]
    [InlineData("mcs-spinlock-2cpu", "tso")]
    [InlineData("mcs-spinlock-2cpu", "lkmm")]
    [InlineData("qspinlock", "sc")]
    [InlineData("qspinlock", "lkmm")]
    public void FixedQueueLocksAreExhaustedWithoutAUseAfterLeave(string check, string model)
    {
        var run = Run(check, "fixed", model);
        Assert.Null(run.Result.Failure);
        Assert.True(run.Result.Exhausted, run.Result.Verdict());
    }

    /// <summary>The OSQ check's nodes really enter and leave (so the clean runs above checked something).</summary>
    [Fact]
    public void OsqNodesEnterAndLeave()
    {
        var run = Run("osq-1round", "step-a-plain-store", "sc");
        Assert.Equal(FailureKind.UseAfterLeave, run.Result.Failure?.Kind);
        var steps = TraceReplayer.Replay(run.Trace!).Steps;
        Assert.Contains(steps, s => s.Op == "node enter" && s.Target == "osq_node[0]");
        Assert.Contains(steps, s => s.Op == "node leave" && s.Target == "osq_node[0]" && s.Function == "OsqUnlock");
    }
}
