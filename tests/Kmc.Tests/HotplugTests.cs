using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>CPU hotplug in the simulated kernel, and the lglock online global lock ported on it.</summary>
public class HotplugTests
{
    private static ExploreOptions Dfs(string model = "sc", bool reduction = true) => new()
    {
        Strategy = "dfs",
        PreemptionBound = -1,
        StaleBound = model == "sc" ? -1 : 1,
        Reduction = reduction,
        MaxSteps = 1000,
        Memory = MemoryModels.Factory(model),
    };

    private static ExplorationResult Explore(Scenario s, ExploreOptions? o = null) => new NativeExplorer().Explore(s, o ?? Dfs());

    [Fact]
    public void A_task_pinned_to_an_offline_cpu_runs_only_after_cpu_up()
    {
        var result = Explore(new Scenario(2, ex =>
        {
            ex.BootCpuOffline(1);
            var up = new Loc<int>("up");
            ex.Spawn("pinned", 1, async () =>
            {
                Assert(CpuOnline(1), "a task runs on an offline CPU");
                Assert(await ReadOnce(up) == 1, "ran before cpu_up() returned to its notifier");
            });
            ex.Spawn("hp", 0, async () =>
            {
                RegisterCpuNotifier(new CpuNotifier("nb", async (action, cpu) =>
                {
                    if (action == CpuAction.CpuUpPrepare)
                    {
                        Assert(!CpuOnline(cpu), "CPU_UP_PREPARE sees the CPU online");
                        await WriteOnce(up, 1);
                    }
                }));
                Xunit.Assert.Equal(0, await CpuUp(1));
                Xunit.Assert.Equal(-EINVAL, await CpuUp(1));
            });
        }));
        Xunit.Assert.Null(result.Failure);
        Xunit.Assert.True(result.Exhausted);
    }

    [Fact]
    public void A_cpu_nobody_brings_up_is_named_offline_in_the_hang_report()
    {
        var result = Explore(new Scenario(2, ex =>
        {
            ex.BootCpuOffline(1);
            ex.Spawn("pinned", 1, async () => await CpuRelax());
            ex.Spawn("other", 0, async () => await CpuRelax());
        }));
        Xunit.Assert.Equal(FailureKind.Hang, result.Failure?.Kind);
        Xunit.Assert.Contains("pinned on CPU1: bound to CPU1, which is offline", result.Failure!.Message);
    }

    /// <summary>Reads cpu_online(1) twice, with a scheduling point between, while another task takes CPU1 down.</summary>
    private static Scenario TwoReadsAcrossCpuDown(bool preemptOff) => new(3, ex =>
    {
        ex.Spawn("reader", 0, async () =>
        {
            if (preemptOff)
                PreemptDisable();
            var before = CpuOnline(1);
            await CpuRelax();
            var after = CpuOnline(1);
            if (preemptOff)
                PreemptEnable();
            Assert(before == after, "CPU1 went down between the two reads");
        });
        ex.Spawn("hp", 2, async () => Xunit.Assert.Equal(0, await CpuDown(1)));
    });

    [Fact]
    public void Preempt_disable_keeps_a_cpu_from_going_down_and_only_then()
    {
        Xunit.Assert.Null(Explore(TwoReadsAcrossCpuDown(preemptOff: true)).Failure);
        var found = Explore(TwoReadsAcrossCpuDown(preemptOff: false));
        Xunit.Assert.Equal(FailureKind.Assertion, found.Failure?.Kind);
        Xunit.Assert.Contains("went down between", found.Failure!.Message);
    }

    [Fact]
    public void Preempt_disable_does_not_keep_a_cpu_from_coming_up()
    {
        var found = Explore(new Scenario(3, ex =>
        {
            ex.BootCpuOffline(1);
            ex.Spawn("reader", 0, async () =>
            {
                PreemptDisable();
                var before = CpuOnline(1);
                await CpuRelax();
                var after = CpuOnline(1);
                PreemptEnable();
                Assert(before == after, "CPU1 came up between the two reads");
            });
            ex.Spawn("hp", 2, async () => Xunit.Assert.Equal(0, await CpuUp(1)));
        }));
        Xunit.Assert.Equal(FailureKind.Assertion, found.Failure?.Kind);
    }

    [Fact]
    public void Cpu_down_refuses_the_last_online_cpu_and_the_callers_own()
    {
        var result = Explore(new Scenario(2, ex =>
        {
            ex.BootCpuOffline(1);
            ex.Spawn("hp", 0, async () => Assert(await CpuDown(1) == -EINVAL, "cpu_down() of an offline CPU is not -EINVAL"));
        }));
        Xunit.Assert.Null(result.Failure);

        var own = Explore(new Scenario(2, ex => ex.Spawn("hp", 1, async () => await CpuDown(1))));
        Xunit.Assert.Equal(FailureKind.ModelCrash, own.Failure?.Kind);
        Xunit.Assert.Contains("on its own CPU", own.Failure!.Message);

        var last = Explore(new Scenario(2, ex =>
        {
            ex.Spawn("down1", 0, async () => await CpuDown(1));
            ex.Spawn("down0", 1, async () => await CpuDown(0));
        }));
        // Both cannot succeed: whichever goes second finds its own CPU gone, and as kmc's tasks are
        // pinned, it never runs again: a hang that names the offline CPU.
        Xunit.Assert.Equal(FailureKind.Hang, last.Failure?.Kind);
        Xunit.Assert.Contains("which is offline", last.Failure!.Message);
    }

    [Fact]
    public void Cpuhp_callbacks_run_for_the_cpu_and_for_each_online_cpu_at_setup()
    {
        var result = Explore(new Scenario(3, ex =>
        {
            var ups = new Loc<int>("ups");
            var downs = new Loc<int>("downs");
            ex.Spawn("hp", 0, async () =>
            {
                await CpuhpSetupState("test:online", async cpu => await WriteOnce(ups, await ReadOnce(ups) + 1 + 10 * cpu),
                    async cpu => { Assert(CpuOnline(cpu), "teardown runs after the CPU is gone"); await WriteOnce(downs, await ReadOnce(downs) + 1); });
                Assert(await ReadOnce(ups) == 3 + 10 * (0 + 1 + 2), "startup did not run once for each online CPU");
                await CpuDown(2);
                await CpuUp(2);
                Assert(await ReadOnce(ups) == 3 + 30 + 1 + 20, "startup did not run for the CPU coming up");
                Assert(await ReadOnce(downs) == 1, "teardown did not run once");
                Assert(ForEachOnlineCpu().SequenceEqual([0, 1, 2]), "cpu_online_mask is not back to all CPUs");
                Assert(ForEachPossibleCpu().SequenceEqual([0, 1, 2]), "cpu_possible_mask changed");
            });
        }));
        Xunit.Assert.Null(result.Failure);
    }

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void Reduced_and_full_search_agree_on_mask_readers_racing_hotplug(string model)
    {
        var scenario = new Scenario(3, ex =>
        {
            var seen = new Loc<int>("seen");
            ex.Spawn("reader", 0, async () =>
            {
                var n = 0;
                foreach (var cpu in ForEachOnlineCpu())
                {
                    n += 1 << cpu;
                    await CpuRelax();
                }

                await WriteOnce(seen, n);
            });
            ex.Spawn("hp", 2, async () =>
            {
                await CpuDown(1);
                await CpuUp(1);
            });
        });
        var full = Explore(scenario, Dfs(model, reduction: false) with { AllOutcomes = true });
        var reduced = Explore(scenario, Dfs(model) with { AllOutcomes = true });
        Xunit.Assert.True(full.Exhausted && reduced.Exhausted);
        Xunit.Assert.True(reduced.Executions < full.Executions, $"{reduced.Executions} vs {full.Executions}");
        Xunit.Assert.Equal(full.Outcomes!.OrderBy(o => o), reduced.Outcomes!.OrderBy(o => o));
        // the reader sees CPU1 or misses it, depending on where the hotplug lands: both outcomes are there
        Xunit.Assert.Contains(full.Outcomes!, o => o.Contains("seen=7"));
        Xunit.Assert.Contains(full.Outcomes!, o => o.Contains("seen=5"));
    }

    private static CheckRun RunLglock(string variant, string model, string strategy = "dfs", string driver = "native") =>
        CheckRunner.Run(CheckRegistry.Get("lglock-hotplug"), CheckRegistry.Get("lglock-hotplug").GetVariant(variant),
            new RunSettings { Driver = driver, Strategy = strategy, PreemptionBound = -1, Iterations = 2000, MemoryModel = model });

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void Lglock_online_unsynchronised_is_found_and_replays(string model)
    {
        var run = RunLglock("online-unsynchronised", model, model == "tso" ? "random" : "dfs");
        Xunit.Assert.Equal(FailureKind.Assertion, run.Result.Failure?.Kind);
        Xunit.Assert.True(run.MatchesExpectation);
        Xunit.Assert.Contains(run.Trace!.Steps, s => s.Op == "set_cpu_online");
        var replay = TraceReplayer.Replay(run.Trace);
        Xunit.Assert.True(replay.Reproduced, replay.Summary);
    }

    [Theory]
    [InlineData("sc")]
    [InlineData("lkmm")]
    public void Lglock_online_fixed_is_verified_exhaustively(string model)
    {
        var run = RunLglock("fixed", model);
        Xunit.Assert.Null(run.Result.Failure);
        Xunit.Assert.True(run.Result.Complete, run.Result.Verdict());
    }

    [Fact]
    public void Lglock_online_under_coyote()
    {
        Xunit.Assert.Equal(FailureKind.Assertion, RunLglock("online-unsynchronised", "sc", "random", "coyote").Result.Failure?.Kind);
        Xunit.Assert.Null(RunLglock("fixed", "sc", "random", "coyote").Result.Failure);
    }
}
