using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// The stale bound of exhaustive search: how many weak-memory choices per execution may differ
/// from what sequential consistency would do.
/// </summary>
public class StaleBoundTests
{
    private static ExploreOptions Dfs(string model, int staleBound, int preemptionBound = -1) => new()
    {
        Strategy = "dfs",
        PreemptionBound = preemptionBound,
        StaleBound = staleBound,
        MaxSteps = 1000,
        Memory = MemoryModels.Factory(model),
        // The plain search: these tests count its executions (ReductionTests compare the reduced one with it).
        Reduction = false,
    };

    /// <summary>
    /// Message passing without barriers: data = 1; flag = 1 || if (flag) BUG_ON(data != 1). The
    /// bug needs exactly one stale read (data, after the newer flag).
    /// </summary>
    private static Scenario MessagePassingBug() => new(2, ex =>
    {
        var data = new Loc<int>("data");
        var flag = new Loc<int>("flag");
        ex.Spawn("writer", 0, async () =>
        {
            await WriteOnce(data, 1);
            await WriteOnce(flag, 1);
        });
        ex.Spawn("reader", 1, async () =>
        {
            if (await ReadOnce(flag) == 1)
                BugOn(await ReadOnce(data) != 1, "flag seen without its data");
        });
    });

    [Fact]
    public void A_bug_needing_one_stale_read_is_out_of_bound_zero_and_found_with_one()
    {
        var none = new NativeExplorer().Explore(MessagePassingBug(), Dfs("lkmm", staleBound: 0));
        Xunit.Assert.Null(none.Failure);
        Xunit.Assert.True(none.Exhausted);
        Xunit.Assert.Equal($"no failure in all {none.Executions} executions within the bounds (no preemption bound, no reduction, stale bound 0): bounded", none.Verdict());

        var one = new NativeExplorer().Explore(MessagePassingBug(), Dfs("lkmm", staleBound: 1));
        Xunit.Assert.Equal(FailureKind.Assertion, one.Failure?.Kind);
        Xunit.Assert.Contains("stale bound 1", one.Verdict());

        // The bound shapes the search, not the schedule: the failing decisions replay to the same
        // failure with no bound at all, and step for step the same with it.
        var replay = new NativeExplorer().Replay(MessagePassingBug(), Dfs("lkmm", staleBound: -1), one.Schedule, null);
        Xunit.Assert.Equal(one.Failure!.Message, replay.Failure?.Message);
        Xunit.Assert.Contains(replay.Steps, s => s.Memory?.Contains("stale") == true);
    }

    [Fact]
    public void The_same_bug_is_no_bug_under_sc_whatever_the_bound()
    {
        var sc = new NativeExplorer().Explore(MessagePassingBug(), Dfs("sc", staleBound: 5));
        Xunit.Assert.Null(sc.Failure);
        Xunit.Assert.True(sc.Exhausted);
        // sc makes no weak-memory choices: the verdict does not name a bound that cannot apply.
        Xunit.Assert.DoesNotContain("stale", sc.Verdict());
    }

    /// <summary>Three writes and four reads across two tasks: a small tree with many weak choices.</summary>
    private static Scenario Reads() => new(2, ex =>
    {
        var x = new Loc<int>("x");
        var y = new Loc<int>("y");
        ex.Spawn("P0", 0, async () =>
        {
            await WriteOnce(x, 1);
            await WriteOnce(y, 1);
            await WriteOnce(x, 2);
        });
        ex.Spawn("P1", 1, async () =>
        {
            await ReadOnce(y);
            await ReadOnce(x);
            await ReadOnce(x);
            await WriteOnce(y, 2);
        });
    });

    [Theory]
    [InlineData("lkmm")]
    [InlineData("tso")]
    public void Executions_grow_with_the_bound_up_to_the_unbounded_search(string model)
    {
        var unbounded = new NativeExplorer().Explore(Reads(), Dfs(model, staleBound: -1));
        Xunit.Assert.True(unbounded.Exhausted);
        var counts = new List<int>();
        for (var k = 0; ; k++)
        {
            var r = new NativeExplorer().Explore(Reads(), Dfs(model, staleBound: k));
            Xunit.Assert.True(r.Exhausted);
            Xunit.Assert.Equal(0, r.StepBoundHits);
            counts.Add(r.Executions);
            if (r.Verdict().Contains("never reached"))
                break;
            Xunit.Assert.True(k < 20, $"stale bound {k} still cuts the search: {string.Join(", ", counts)}");
        }

        // A bound that some execution reached cut an alternative that one more unit explores: the
        // count grows strictly until no execution reaches the bound, and then it is the unbounded search.
        for (var k = 1; k < counts.Count; k++)
            Xunit.Assert.True(counts[k] > counts[k - 1], string.Join(", ", counts));
        Xunit.Assert.Equal(unbounded.Executions, counts[^1]);
        Xunit.Assert.True(counts.Count > 2, string.Join(", ", counts));

        // With no barriers and no waits (which weak models schedule differently), bound 0 is the sc search itself.
        Xunit.Assert.Equal(new NativeExplorer().Explore(Reads(), Dfs("sc", staleBound: -1)).Executions, counts[0]);
    }

    /// <summary>Every final outcome the scenario reaches, exhaustively.</summary>
    private static HashSet<string> Outcomes(string model, int staleBound, Action<Execution, Action<string>> setup) =>
        ExhaustiveOutcomes.Of(model, setup, staleBound: staleBound);

    /// <summary>SB and MP: x = 1; r0 = y || y = 1; r1 = x, and data = 1; flag = 1 || r0 = flag; r1 = data.</summary>
    public static TheoryData<string, string> Shapes => new() { { "tso", "sb" }, { "lkmm", "sb" }, { "tso", "mp" }, { "lkmm", "mp" } };

    private static Action<Execution, Action<string>> Shape(string shape) => (ex, record) =>
    {
        var a = new Loc<int>("a");
        var b = new Loc<int>("b");
        int r0 = -1, r1 = -1;
        ex.Spawn("P0", 0, async () =>
        {
            await WriteOnce(a, 1);
            if (shape == "sb")
                r0 = await ReadOnce(b);
            else
                await WriteOnce(b, 1);
        });
        ex.Spawn("P1", 1, async () =>
        {
            if (shape == "sb")
            {
                await WriteOnce(b, 1);
                r1 = await ReadOnce(a);
            }
            else
            {
                r0 = await ReadOnce(b);
                r1 = await ReadOnce(a);
            }
        });
        ex.AtEnd("outcome", () => record($"{r0},{r1}"));
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Bound_zero_gives_exactly_the_sc_outcomes(string model, string shape)
    {
        var sc = Outcomes("sc", -1, Shape(shape));
        Xunit.Assert.Equal(sc.Order(), Outcomes(model, 0, Shape(shape)).Order());
        // ... and the weak outcome is there once the bound is lifted (MP is forbidden under TSO).
        var weak = Outcomes(model, -1, Shape(shape));
        Xunit.Assert.Equal(!(model == "tso" && shape == "mp"), weak.Except(sc).Any());
    }

    /// <summary>A bug behind a need_resched()-style recorded choice, with no weak behaviour needed.</summary>
    [Fact]
    public void Other_recorded_choices_are_not_limited_by_the_stale_bound()
    {
        var scenario = new Scenario(1, ex =>
        {
            var x = new Loc<int>("x");
            ex.Spawn("T", 0, async () =>
            {
                await WriteOnce(x, 1);
                BugOn(NeedResched() && await ReadOnce(x) == 1, "gave up");
            });
        });
        var r = new NativeExplorer().Explore(scenario, Dfs("lkmm", staleBound: 0));
        Xunit.Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
    }

    [Fact]
    public void The_bound_comes_from_the_config_and_the_trace_keeps_it()
    {
        var config = new KmcConfig
        {
            Defaults = new SettingsOverride { StaleBound = 2 },
            Checks = new() { ["counter@lkmm"] = new SettingsOverride { StaleBound = 0 } },
        };
        Xunit.Assert.Equal(2, config.For("counter", "sc").StaleBound);
        Xunit.Assert.Equal(0, config.For("counter", "lkmm").StaleBound);
        Xunit.Assert.Throws<KmcInputException>(() => new RunSettings { StaleBound = -2 }.Validate("test"));

        var check = CheckRegistry.Get("counter");
        var run = CheckRunner.Run(check, check.GetVariant("no-lock"),
            new RunSettings { Strategy = "dfs", MemoryModel = "lkmm", StaleBound = 1, Minimize = false });
        Xunit.Assert.Equal(1, run.Trace!.Options.StaleBound);
        Xunit.Assert.Equal(1, run.Trace.Settings().StaleBound);
        Xunit.Assert.True(TraceReplayer.Replay(run.Trace).Reproduced);
    }

    /// <summary>
    /// Under sc no choice is weak, so a stale bound cuts nothing, and the search with one must be
    /// the search without one: it ended woken spins only without a stale bound, which left the
    /// default sc search of osq-3cpu-1round at 100,486 executions instead of 1,881.
    /// </summary>
    [Theory]
    [InlineData("osq-3cpu-1round", "fixed")]
    [InlineData("osq-3cpu-1round", "wait-next-nonatomic-next")]
    [InlineData("osq-1round", "fixed")]
    public void Under_sc_a_stale_bound_changes_nothing(string checkName, string variantName)
    {
        var check = CheckRegistry.Get(checkName);
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, MemoryModel = "sc", FirstPass = false };
        var scenario = FaultQueries.Build(check, check.GetVariant(variantName), settings);
        var unbounded = new NativeExplorer().Explore(scenario, settings.ToExploreOptions() with { StaleBound = -1 });
        foreach (var bound in new[] { 0, 2 })
        {
            var bounded = new NativeExplorer().Explore(scenario, settings.ToExploreOptions() with { StaleBound = bound });
            Xunit.Assert.Equal(unbounded.Executions, bounded.Executions);
            Xunit.Assert.Equal(unbounded.SpinWoken, bounded.SpinWoken);
            Xunit.Assert.Equal(unbounded.Complete, bounded.Complete);
            Xunit.Assert.Equal(unbounded.Failure?.Kind, bounded.Failure?.Kind);
            Xunit.Assert.Equal(unbounded.Schedule, bounded.Schedule);
            Xunit.Assert.Equal(unbounded.Verdict(), bounded.Verdict());
        }

        if (unbounded.Failure == null)
            Xunit.Assert.True(unbounded.SpinWoken > 0, "the search ended no woken spin");
    }
}
