using Kmc.Checks.Closures;
using Kmc.Checks.Framework;
using Kmc.Checks.Lglock;
using Kmc.Checks.PagecacheLock;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;
using Kmc.Primitives.Lglock;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>The shared helpers take a user's own variants, and IClosure has closure_wait()/closure_wake_up().</summary>
public class ReusableHelpersTests
{
    /// <summary>A check as a user writes it in their own assembly: kmc's lglock port under a variant name kmc does not know.</summary>
    private sealed class UserLglockCheck : Check
    {
        public static readonly Variant OppositeOrders = new("my-opposite-orders", "two double lockers in opposite orders, no swap",
            Expectation.Bug(FailureKind.Hang)) { Port = LglockVariant.DoubleNoSwap };

        public override string Name => "user.lglock";
        public override string Description => "a user's lglock check";
        public override IReadOnlyList<Variant> Variants { get; } = [Variant.Fixed(), OppositeOrders];

        public override Scenario Build(Variant variant) => new(2, ex =>
        {
            var (lg, g) = LgOps.Setup(ex, 2, variant);
            ex.Spawn("A", 0, async () => await LgOps.Double(lg, g, 0, 1));
            ex.Spawn("B", 1, async () => await LgOps.Double(lg, g, 1, 0));
        });
    }

    [Fact]
    public void A_users_variant_runs_the_port_variant_it_names()
    {
        var check = new UserLglockCheck();
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, MemoryModel = "sc" };
        var found = CheckRunner.Run(check, UserLglockCheck.OppositeOrders, settings);
        Xunit.Assert.Equal(FailureKind.Hang, found.Result.Failure?.Kind);
        Xunit.Assert.True(found.MatchesExpectation);
        var fixedRun = CheckRunner.Run(check, check.GetVariant("fixed"), settings);
        Xunit.Assert.Null(fixedRun.Result.Failure);
        Xunit.Assert.True(fixedRun.Result.Complete);
    }

    [Fact]
    public void Helpers_map_a_port_variant_and_refuse_unknown_names_with_the_way_out()
    {
        Xunit.Assert.Equal(ClosureVariant.SyncWakeupRace, ClosureVariants.Of(new Variant("mine", "", Expectation.AnyBug) { Port = ClosureVariant.SyncWakeupRace }));
        Xunit.Assert.Equal(ClosureUpstreamVariant.QueueUnderRcu, ClosureVariants.UpstreamOf(new Variant("mine", "", Expectation.AnyBug) { Port = ClosureUpstreamVariant.QueueUnderRcu }));
        Xunit.Assert.Equal(PagecacheVariant.NoLock, PagecacheVariants.Of(new Variant("mine", "", Expectation.AnyBug) { Port = PagecacheVariant.NoLock }));
        Xunit.Assert.Equal(PagecacheVariant.AbbaNoTrylock, PagecacheVariants.Of(new Variant("abba-no-trylock", "", Expectation.AnyBug)));

        var unknown = Xunit.Assert.Throws<KmcInputException>(() => ClosureVariants.Of(new Variant("mine", "", Expectation.AnyBug)));
        Xunit.Assert.Contains("unknown closure variant 'mine'", unknown.Message);
        Xunit.Assert.Contains("set the Variant's Port to a ClosureVariant", unknown.Message);
        var wrongType = Xunit.Assert.Throws<KmcInputException>(() => LgOps.ToPortVariant(new Variant("mine", "", Expectation.AnyBug) { Port = ClosureVariant.Fixed }));
        Xunit.Assert.Contains("its Port is a ClosureVariant, not a LglockVariant", wrongType.Message);
    }

    /// <summary>One closure waits on a waitlist through IClosure; a second task wakes the list, or (wake: false) nobody does.</summary>
    private static Scenario WaitAndWake(ClosureFlavor flavor, bool wake) => new(2, ex =>
    {
        var list = new ClosureWaitlist("waitlist");
        var queued = new Loc<int>("queued");
        var cl = flavor.New("cl");
        ex.Spawn("owner", 0, async () =>
        {
            await cl.ClosureInitStack();
            Assert(await cl.ClosureWait(list), "closure_wait() refused a closure on no waitlist");
            Assert(!await cl.ClosureWait(list), "closure_wait() took a closure already on a waitlist");
            await WriteOnce(queued, 1);
            await cl.ClosureSync();
        });
        ex.AtEnd("waitlist empty", () => Assert(list.List.First.Peek() == null, "the closure is still on the waitlist"));
        ex.Spawn("waker", 1, async () =>
        {
            await SpinUntil(() => queued.Peek() == 1, "queued == 1");
            if (wake)
                await cl.ClosureWakeUp(list);
        });
    });

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IClosure_waits_and_wakes_on_both_ports(bool upstream)
    {
        var flavor = new ClosureFlavor(upstream, Variant.Fixed());
        // The 2018 closure_sync()'s plain s->done is a data race (declared and tested in the
        // closure checks); here only the waitlist's behaviour is under test.
        var options = new ExploreOptions { Strategy = "dfs", PreemptionBound = -1, MaxSteps = 2000, DetectRaces = false };
        var woken = new NativeExplorer().Explore(WaitAndWake(flavor, wake: true), options);
        Xunit.Assert.Null(woken.Failure);
        Xunit.Assert.True(woken.Exhausted);
        var never = new NativeExplorer().Explore(WaitAndWake(flavor, wake: false), options);
        Xunit.Assert.Equal(FailureKind.Hang, never.Failure?.Kind);
    }

    [Fact]
    public void A_users_closure_port_plugs_into_closure_flavor()
    {
        // stands in for a user's own port: any IClosure with its wait_event and wake_up
        var mutated = new ClosureFlavor(name => new Closure(name, ClosureVariant.WaitEventCondBeforeWait),
            (list, cond) => Closure.ClosureWaitEvent(list, cond, ClosureVariant.WaitEventCondBeforeWait), Closure.ClosureWakeUp);
        var scenario = new Scenario(2, ex =>
        {
            var list = new ClosureWaitlist("waitlist");
            var flag = new Loc<int>("flag");
            ex.Spawn("waiter", 0, async () => await mutated.WaitEvent(list, async () => await ReadOnce(flag) != 0));
            ex.Spawn("waker", 1, async () =>
            {
                await WriteOnce(flag, 1);
                await mutated.WakeUp(list);
            });
        });
        // races off, as above: the lost wakeup is what the user's port is checked for
        var result = new NativeExplorer().Explore(scenario, new ExploreOptions { Strategy = "dfs", PreemptionBound = -1, MaxSteps = 2000, DetectRaces = false });
        Xunit.Assert.Equal(FailureKind.Hang, result.Failure?.Kind);
    }
}
