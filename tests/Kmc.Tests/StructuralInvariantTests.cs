using Kmc.Checks.Closures;
using Kmc.Checks.Framework;
using Kmc.Checks.Genradix;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;
using static Kmc.Models.Kernel;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// The closures' waitlist invariant (<see cref="ClosureWaitlistInvariant"/>) and genradix's tree
/// invariant (<see cref="GenradixTreeInvariant"/>): they hold on the fixed code under every
/// model, and fire, at the step that breaks the structure, on a broken port or a known-buggy
/// variant. Races off where a declared data race of the fixed code would end the search first.
/// </summary>
public class StructuralInvariantTests(ITestOutputHelper output)
{
    private static ExploreOptions Dfs(string model) => new()
    {
        Strategy = "dfs", Iterations = 10_000_000, PreemptionBound = 2, StaleBound = 2, MaxSteps = 5000, DetectRaces = false,
        Memory = MemoryModels.Factory(model),
    };

    // The 2018 code under tso (35077 executions, several seconds) is searched the same way by ci
    // (closure-wait-event/sync-done-acquire, dfs under every model).

    /// <summary>
    /// A broken __closure_wake_up(): it drops each waiter's CLOSURE_WAITING ref while walking the
    /// list in place, and only then takes the list with llist_del_all(), so a closure is still
    /// linked after its waitlist ref is gone.
    /// </summary>
    private static async ValueTask WakeUpPutsBeforeUnlinking(ClosureWaitlist list)
    {
        await SmpMb();
        for (var node = await ReadOnce(list.List.First); node != null; node = await ReadOnce(node.Next))
        {
            if (node.Container is ClosureUpstream u)
                await u.ClosureSub(ClosureUpstream.ClosureWaiting + 1);
            else
                await ((Closure)node.Container).ClosureSub(Closure.ClosureWaiting + 1);
        }

        await LlistDelAll(list.List);
    }

    private static ClosureFlavor Broken(bool upstream) => upstream
        ? new ClosureFlavor(name => new ClosureUpstream(name), (list, cond) => ClosureUpstream.ClosureWaitEvent(list, cond), WakeUpPutsBeforeUnlinking)
        : new ClosureFlavor(name => new Closure(name, ClosureVariant.SyncDoneAcquire),
            (list, cond) => Closure.ClosureWaitEvent(list, cond, ClosureVariant.SyncDoneAcquire), WakeUpPutsBeforeUnlinking);

    private static ClosureFlavor Fixed(bool upstream) =>
        new(upstream, upstream ? ClosureVariants.UpstreamFixed : ClosureVariants.SyncDoneAcquire);

    [Theory]
    [InlineData(false, "sc")]
    [InlineData(false, "lkmm")]
    [InlineData(true, "sc")]
    [InlineData(true, "tso")]
    [InlineData(true, "lkmm")]
    public void The_waitlist_invariant_holds_on_the_fixed_closures_exhaustively(bool upstream, string model)
    {
        var r = new NativeExplorer().Explore(ClosureWaitEventCheckBase.Scenario(Fixed(upstream), upstream, waiters: 1), Dfs(model));
        output.WriteLine($"{(upstream ? "upstream" : "2018")} {model}: {r.Executions} executions");
        Xunit.Assert.Null(r.Failure);
        Xunit.Assert.True(r.Exhausted);
    }

    [Theory]
    [InlineData(false, "sc")]
    [InlineData(false, "lkmm")]
    [InlineData(true, "sc")]
    [InlineData(true, "lkmm")]
    public void The_waitlist_invariant_catches_a_put_of_a_closure_still_linked(bool upstream, string model)
    {
        var r = new NativeExplorer().Explore(ClosureWaitEventCheckBase.Scenario(Broken(upstream), upstream, waiters: 1), Dfs(model));
        output.WriteLine($"{r.Executions} executions: {r.Failure}");
        Xunit.Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
        Xunit.Assert.Contains($"invariant '{ClosureWaitlistInvariant.Name}' broken", r.Failure!.Message);
        Xunit.Assert.Contains("without CLOSURE_WAITING", r.Failure.Message);
    }

    /// <summary>
    /// A broken closure_wait_event() that returns as soon as the condition holds, leaving its
    /// on-stack closure on the waitlist: the invariant fires at the frame's end (a free makes it
    /// due), before the waker touches the dead closure.
    /// </summary>
    [Fact]
    public void The_waitlist_invariant_catches_a_closure_freed_while_linked()
    {
        async ValueTask LeavesItLinked(ClosureWaitlist list, Func<ValueTask<bool>> cond)
        {
            var cl = OnStack(() => new ClosureUpstream("cl"), "cl");
            await cl.ClosureInitStack();
            for (;;)
            {
                await ClosureUpstream.ClosureWait(list, cl);
                if (await cond())
                    break;
                await cl.ClosureSync();
            }

            FrameReturn(cl);
        }

        var flavor = new ClosureFlavor(name => new ClosureUpstream(name), LeavesItLinked, ClosureUpstream.ClosureWakeUp);
        var r = new NativeExplorer().Explore(ClosureWaitEventCheckBase.Scenario(flavor, upstream: true, waiters: 1), Dfs("sc"));
        output.WriteLine($"{r.Executions} executions: {r.Failure}");
        Xunit.Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
        Xunit.Assert.Contains($"invariant '{ClosureWaitlistInvariant.Name}' broken", r.Failure!.Message);
        Xunit.Assert.Contains("was freed", r.Failure.Message);
    }

    private static ExploreOptions Random(string model) => new()
    {
        Strategy = "random", Iterations = 2000, Seed = 1, MaxSteps = 5000, DetectRaces = false, Memory = MemoryModels.Factory(model),
    };

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void The_tree_invariant_holds_on_the_fixed_genradix(string model)
    {
        var r = new NativeExplorer().Explore(GenradixConcurrentCheck.Build(GenradixVariants.Fixed, treeInvariant: true), Random(model));
        Xunit.Assert.Null(r.Failure);
        Xunit.Assert.Equal(2000, r.Executions);
    }

    /// <summary>
    /// plain-child-install overwrites a concurrent install: the invariant names the node whose
    /// install was lost at the overwriting store; rare-race-stale-child installs a spare node
    /// whose stale children[0] names a node reached elsewhere.
    /// </summary>
    [Theory]
    [InlineData("plain-child-install", "install was lost")]
    [InlineData("rare-race-stale-child", "reachable twice")]
    [InlineData("v2018", "reachable twice")]
    public void The_tree_invariant_fires_on_the_buggy_genradix_variants(string variant, string what)
    {
        var check = CheckRegistry.Get("genradix");
        var r = new NativeExplorer().Explore(GenradixConcurrentCheck.Build(check.GetVariant(variant), treeInvariant: true), Random("sc"));
        output.WriteLine($"{r.Executions} executions: {r.Failure}");
        Xunit.Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
        Xunit.Assert.Contains($"invariant '{GenradixTreeInvariant.Name}' broken", r.Failure!.Message);
        Xunit.Assert.Contains(what, r.Failure.Message);
    }
}
