using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;
using Assert = Xunit.Assert;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// Value-conditioned spin-waits under lkmm: smp_cond_load_*() may end on any store the task's
/// view still allows that satisfies its condition, not only on the newest, and such a stale exit
/// is a non-SC choice the stale bound counts.
/// </summary>
public class StaleSpinTests(ITestOutputHelper output)
{
    private static ExploreOptions Dfs(string model, int staleBound, bool reduction = true) => new()
    {
        Strategy = "dfs",
        PreemptionBound = -1,
        StaleBound = staleBound,
        MaxSteps = 1000,
        Memory = MemoryModels.Factory(model),
        Reduction = reduction,
        AllOutcomes = true,
    };

    private const string StaleExit = "the spinner saw flag == 1 after it went back to 0";

    /// <summary>
    /// flag goes 0 -> 1 -> 0, then go = 1; the spinner waits for go (the newest value, which moves
    /// nothing in its view) and then for flag == 1 with smp_cond_load_relaxed(). Only a stale read
    /// of flag (the overwritten 1) ends that wait; otherwise it spins forever.
    /// </summary>
    private static Scenario FlagWentBack() => new(2, ex =>
    {
        var flag = new Loc<int>("flag");
        var go = new Loc<int>("go");
        ex.Spawn("writer", 0, async () =>
        {
            await WriteOnce(flag, 1);
            await WriteOnce(flag, 0);
            await WriteOnce(go, 1);
        });
        ex.Spawn("spinner", 1, async () =>
        {
            await SpinUntil(() => go.Peek() == 1, "go == 1");
            await SmpCondLoadRelaxed(flag, v => v == 1);
            BugOn(true, StaleExit);
        });
    });

    /// <summary>
    /// As <see cref="FlagWentBack"/>, but the writer then stores 2, which also ends the wait: the
    /// spinner never hangs, and only the exit on the overwritten 1 fails.
    /// </summary>
    private static Scenario FlagWentBackThenTwo() => new(2, ex =>
    {
        var flag = new Loc<int>("flag");
        var go = new Loc<int>("go");
        ex.Spawn("writer", 0, async () =>
        {
            await WriteOnce(flag, 1);
            await WriteOnce(flag, 0);
            await WriteOnce(go, 1);
            await WriteOnce(flag, 2);
        });
        ex.Spawn("spinner", 1, async () =>
        {
            await SpinUntil(() => go.Peek() == 1, "go == 1");
            var v = await SmpCondLoadRelaxed(flag, v => v != 0);
            BugOn(v == 1, StaleExit);
        });
    });

    private static bool Exited(ExplorationResult r) => r.Outcomes!.Any(o => o.StartsWith("Assertion", StringComparison.Ordinal));

    private static bool Hung(ExplorationResult r) => r.Outcomes!.Any(o => o.StartsWith("Hang", StringComparison.Ordinal));

    [Fact]
    public void A_relaxed_spin_ends_on_a_stale_satisfying_value_under_lkmm_but_not_under_sc()
    {
        var sc = new NativeExplorer().Explore(FlagWentBack(), Dfs("sc", staleBound: -1));
        Assert.True(sc.Exhausted);
        Assert.False(Exited(sc), string.Join("; ", sc.Outcomes!));
        Assert.True(Hung(sc));

        var tso = new NativeExplorer().Explore(FlagWentBack(), Dfs("tso", staleBound: -1));
        Assert.True(tso.Exhausted);
        Assert.False(Exited(tso), string.Join("; ", tso.Outcomes!));

        // lkmm: both, the exit on the overwritten 1 and the spinner that caught up with the 0.
        var lkmm = new NativeExplorer().Explore(FlagWentBack(), Dfs("lkmm", staleBound: -1));
        Assert.True(lkmm.Exhausted);
        Assert.True(Exited(lkmm), string.Join("; ", lkmm.Outcomes!));
        Assert.True(Hung(lkmm), string.Join("; ", lkmm.Outcomes!));
    }

    [Fact]
    public void The_stale_exit_costs_one_unit_of_the_stale_bound_and_the_trace_says_it_read_stale()
    {
        var none = new NativeExplorer().Explore(FlagWentBackThenTwo(), Dfs("lkmm", staleBound: 0) with { AllOutcomes = false });
        Assert.Null(none.Failure);
        Assert.True(none.Exhausted);
        // The bound cut the stale exit off, so the verdict is not a verified one.
        Assert.Contains("stale bound 0", none.Verdict());
        Assert.DoesNotContain("never reached", none.Verdict());
        Assert.Null(new NativeExplorer().Explore(FlagWentBackThenTwo(), Dfs("sc", staleBound: -1) with { AllOutcomes = false }).Failure);

        var one = new NativeExplorer().Explore(FlagWentBackThenTwo(), Dfs("lkmm", staleBound: 1) with { AllOutcomes = false });
        Assert.Equal(FailureKind.Assertion, one.Failure?.Kind);
        Assert.Contains("stale bound 1", one.Verdict());
        var replay = new NativeExplorer().Replay(FlagWentBackThenTwo(), Dfs("lkmm", staleBound: -1) with { AllOutcomes = false }, one.Schedule, null);
        Assert.Equal(FailureKind.Assertion, replay.Failure?.Kind);
        var spin = Assert.Single(replay.Steps, s => s.Op == "smp_cond_load_relaxed");
        Assert.Equal("1", spin.Value);
        Assert.Contains("stale, the newest is", spin.Memory);
    }

    /// <summary>
    /// A spin whose newest value satisfies its condition may still end on an older satisfying
    /// store under lkmm (the SC choice, the newest, first), and never on one its view excludes:
    /// after the spinner's own read of the newest flag, nothing older is offered.
    /// </summary>
    [Fact]
    public void A_spin_never_ends_on_a_store_older_than_its_view()
    {
        var s = new Scenario(2, ex =>
        {
            var flag = new Loc<int>("flag", 2);
            var go = new Loc<int>("go");
            ex.Spawn("writer", 0, async () =>
            {
                await WriteOnce(flag, 1);
                await WriteOnce(flag, 0);
                await WriteOnce(go, 1);
            });
            ex.Spawn("spinner", 1, async () =>
            {
                await SpinUntil(() => go.Peek() == 1, "go == 1");
                // Coherence (CoRR): having read the newest flag (0: flag starts at 2), the task
                // cannot read the older 1.
                if (await ReadOnce(flag) != 0)
                    return;
                await SmpCondLoadRelaxed(flag, v => v == 1);
                BugOn(true, StaleExit);
            });
        });
        var r = new NativeExplorer().Explore(s, Dfs("lkmm", staleBound: -1));
        Assert.True(r.Exhausted);
        Assert.False(Exited(r), string.Join("; ", r.Outcomes!));
    }

    /// <summary>
    /// The MCS hand-off of qspinlock in miniature: the old queue head sets the locked byte
    /// (set_locked()) and hands the queue on with smp_store_release(&amp;next-&gt;locked, 1); the new
    /// head waits for it with smp_cond_load_acquire() and then for the lock word's locked byte to
    /// clear. With either ordering relaxed, the new head's wait on the lock word may end on the
    /// store from before set_locked() (under lkmm only): it claims a held lock.
    /// </summary>
    private static Scenario HandOff(bool release, bool acquire) => new(2, ex =>
    {
        var word = new Loc<int>("lock.val");
        var handoff = new Loc<int>("next->locked");
        ex.Spawn("old head", 0, async () =>
        {
            await WriteOnce(word, 1); // set_locked()
            if (release)
                await SmpStoreRelease(handoff, 1);
            else
                await WriteOnce(handoff, 1);
        });
        ex.Spawn("new head", 1, async () =>
        {
            if (acquire)
                await SmpCondLoadAcquire(handoff, v => v != 0);
            else
                await SmpCondLoadRelaxed(handoff, v => v != 0);
            var v = await SmpCondLoadAcquire(word, w => w == 0);
            BugOn(v == 0, "the new head took the lock while the old head held it");
        });
    });

    [Theory]
    [InlineData(true, true, false)]
    [InlineData(false, true, true)]
    [InlineData(true, false, true)]
    public void The_hand_off_without_release_or_acquire_lets_the_new_head_claim_a_held_lock_under_lkmm_only(bool release, bool acquire, bool bug)
    {
        var lkmm = new NativeExplorer().Explore(HandOff(release, acquire), Dfs("lkmm", staleBound: -1));
        Assert.True(lkmm.Exhausted);
        Assert.Equal(bug, Exited(lkmm));
        var sc = new NativeExplorer().Explore(HandOff(release, acquire), Dfs("sc", staleBound: -1));
        Assert.False(Exited(sc));
    }

    /// <summary>
    /// Source-DPOR against the full search where a spin is enabled by a stale store: the same
    /// failures and final states, with the stale bound unlimited, 0 (the stale exits cut) and 1.
    /// (The queued locks' own checks are too large for the full search without a preemption
    /// bound under lkmm: qspinlock's is estimated at 3E8 executions, mcs-spinlock-2cpu's at 8E7.)
    /// </summary>
    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    public void Reduction_keeps_the_outcomes_of_spins_enabled_by_stale_stores(int staleBound)
    {
        foreach (var (name, scenario) in new[]
                 {
                     ("flag went back", FlagWentBack()), ("flag went back, then 2", FlagWentBackThenTwo()), ("hand-off", HandOff(true, true)),
                     ("hand-off without release", HandOff(false, true)), ("hand-off without acquire", HandOff(true, false)),
                 })
        {
            var full = new NativeExplorer().Explore(scenario, Dfs("lkmm", staleBound, reduction: false));
            var reduced = new NativeExplorer().Explore(scenario, Dfs("lkmm", staleBound));
            Assert.True(full.Exhausted && reduced.Exhausted);
            Assert.True(reduced.Reduced);
            output.WriteLine($"{name}, stale bound {staleBound}: {full.Executions} -> {reduced.Executions} executions, {full.Outcomes!.Count} outcomes");
            Assert.Equal(full.Outcomes!.ToHashSet(), reduced.Outcomes!.ToHashSet());
        }
    }
}
