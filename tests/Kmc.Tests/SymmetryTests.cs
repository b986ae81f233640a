using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Checks.Framework;

namespace Kmc.Tests;

/// <summary>The declared task symmetry on the OSQ checks (the reduction itself: <see cref="SymmetryProgramTests"/>).</summary>
public class SymmetryTests
{
    private static RunSettings Exhaustive(string model = "sc") =>
        new() { Strategy = "dfs", PreemptionBound = -1, FirstPass = false, MemoryModel = model, Seed = 1 };

    [Fact]
    public void The_fixed_osq_is_verified_with_and_without_symmetry_and_symmetry_explores_fewer_executions()
    {
        var check = CheckRegistry.Get("osq-3cpu-1round");
        var fixedCode = check.GetVariant("fixed");
        var with = CheckRunner.Run(check, fixedCode, Exhaustive());
        var without = CheckRunner.Run(check, fixedCode, Exhaustive() with { Symmetry = false });

        Assert.True(with.Result.Complete, with.Result.Verdict());
        Assert.True(without.Result.Complete, without.Result.Verdict());
        Assert.Null(with.Result.Failure);
        Assert.Null(without.Result.Failure);
        Assert.Contains("T0, T1, T2 interchangeable, explored with their first writes to osq.tail in that order", with.Result.Verdict());
        Assert.Null(without.Result.Symmetry);
        // Six renamings of three CPUs: the measured cut is 38,181 -> 7,426 executions.
        Assert.True(with.Result.Executions * 4 < without.Result.Executions, $"{with.Result.Executions} with symmetry, {without.Result.Executions} without");
    }

    public static IEnumerable<object[]> BuggyVariants =>
    [
        ["osq-1round", "step-a-plain-store", "sc"],
        ["osq-1round", "wait-next-nonatomic-next", "sc"],
        ["osq-1round", "acquire-only-tail-xchg", "lkmm"],
    ];

    [Theory]
    [MemberData(nameof(BuggyVariants))]
    public void A_bug_found_under_symmetry_is_reported_and_its_trace_replays_with_it(string checkName, string variantName, string model)
    {
        var check = CheckRegistry.Get(checkName);
        var variant = check.GetVariant(variantName);
        var run = CheckRunner.Run(check, variant, Exhaustive(model) with { StaleBound = -1 });

        Assert.True(run.MatchesExpectation, run.Mismatch());
        Assert.NotNull(run.Result.Symmetry);
        var trace = run.Trace!;
        Assert.True(trace.Options.Symmetry);

        var path = Path.Combine(Directory.CreateTempSubdirectory("kmc-symmetry").FullName, "trace.json");
        File.WriteAllText(path, trace.ToJson());
        var outcome = TraceReplayer.Replay(TraceFile.Load(path));
        Assert.True(outcome.Reproduced, outcome.Summary);
        Assert.Equal(trace.Failure.Message, outcome.Failure!.Message);
        Assert.Equal(trace.Steps.Count, outcome.Steps.Count);
    }

    [Fact]
    public void A_bug_found_by_a_first_pass_replays_without_symmetry()
    {
        var check = CheckRegistry.Get("osq-1round");
        var run = CheckRunner.Run(check, check.GetVariant("step-a-plain-store"), Exhaustive() with { FirstPass = true });

        Assert.True(run.MatchesExpectation, run.Mismatch());
        Assert.NotNull(run.Result.FoundInFirstPass);
        Assert.Null(run.Trace!.Options.Symmetry);
        Assert.True(TraceReplayer.Replay(run.Trace).Reproduced);
    }

    [Fact]
    public void A_symmetry_whose_location_no_task_writes_says_it_cut_nothing()
    {
        static Scenario Build(bool writeX) => new(2, ex =>
        {
            var x = new Loc<int>("x");
            var y = new Loc<int>("y");
            var tasks = Enumerable.Range(0, 2).Select(c => ex.Spawn($"T{c}", c, async () =>
            {
                await Kernel.WriteOnce(y, c + 1);
                if (writeX)
                    await Kernel.WriteOnce(x, c + 1);
                await Kernel.ReadOnce(x);
            })).ToArray();
            ex.Symmetric(tasks, x);
        });

        var options = ReductionTests.UnboundedDfs("sc", staleBound: -1) with { AllOutcomes = false, Symmetry = true };
        var idle = new NativeExplorer().Explore(Build(writeX: false), options);
        Assert.True(idle.Complete);
        Assert.Contains("no task ever wrote it", idle.Verdict());
        Assert.Equal(new NativeExplorer().Explore(Build(writeX: false), options with { Symmetry = false }).Executions, idle.Executions);

        var used = new NativeExplorer().Explore(Build(writeX: true), options);
        Assert.True(used.Complete);
        Assert.DoesNotContain("no task ever wrote it", used.Verdict());
        Assert.Contains("T0, T1 interchangeable", used.Verdict());
        Assert.True(used.Executions < new NativeExplorer().Explore(Build(writeX: true), options with { Symmetry = false }).Executions);
    }

    [Fact]
    public void A_declared_symmetry_the_code_breaks_is_not_used_and_the_verdict_says_why()
    {
        // T0 alone takes an extra step: the tasks are not interchangeable.
        static Scenario Build(bool singleOut) => new(3, ex =>
        {
            var x = new Loc<int>("x");
            var own = Enumerable.Range(0, 3).Select(c => new Loc<int>($"own[{c}]")).ToArray();
            var tasks = Enumerable.Range(0, 3).Select(c => ex.Spawn($"T{c}", c, async () =>
            {
                if (singleOut && c == 0)
                    await Kernel.WriteOnce(own[c], 5);
                var seen = await Kernel.Xchg(x, c + 1);
                await Kernel.WriteOnce(own[c], seen);
            })).ToArray();
            ex.Symmetric(tasks, x);
        });

        var options = ReductionTests.UnboundedDfs("sc", staleBound: -1) with { AllOutcomes = false, Symmetry = true };
        var broken = new NativeExplorer().Explore(Build(singleOut: true), options);
        Assert.True(broken.Complete, broken.Verdict());
        Assert.Null(broken.Symmetry);
        Assert.Contains("declared symmetry not used (every renaming explored)", broken.Verdict());
        Assert.Contains("under sc with T0 and T1 swapped is no execution", broken.Verdict());
        Assert.Equal(new NativeExplorer().Explore(Build(singleOut: true), options with { Symmetry = false }).Executions, broken.Executions);

        var sound = new NativeExplorer().Explore(Build(singleOut: false), options);
        Assert.NotNull(sound.Symmetry);
        Assert.DoesNotContain("not used", sound.Verdict());
    }

    [Theory]
    [InlineData("osq-3cpu-1round")]
    [InlineData("qspinlock-3cpu")]
    [InlineData("mcs-spinlock")]
    [InlineData("ticket-spinlock")]
    public void The_checks_that_declare_a_symmetry_pass_its_probe(string checkName)
    {
        var check = CheckRegistry.Get(checkName);
        foreach (var variant in check.Variants)
        {
            var scenario = check.Build(variant);
            Assert.Null(SymmetryProbe.Violation(scenario, ReductionTests.UnboundedDfs("sc", staleBound: -1) with { Symmetry = true }));
        }
    }

    private static Execution NewExecution(bool symmetry) =>
        new(new ExecutionOptions { Cpus = 3, Symmetry = symmetry }, new NullDriver());

    [Fact]
    public void Symmetric_refuses_what_cannot_be_interchangeable()
    {
        var ex = NewExecution(symmetry: true);
        var x = new Loc<int>("x");
        var a = ex.Spawn("A", 0, () => ValueTask.CompletedTask);
        var b = ex.Spawn("B", 1, () => ValueTask.CompletedTask);
        var c = ex.Spawn("C", 1, () => ValueTask.CompletedTask);

        Assert.Contains("two or more distinct tasks", Assert.Throws<ArgumentException>(() => ex.Symmetric([a], x)).Message);
        Assert.Contains("two or more distinct tasks", Assert.Throws<ArgumentException>(() => ex.Symmetric([a, a], x)).Message);
        Assert.Contains("a CPU of its own", Assert.Throws<ArgumentException>(() => ex.Symmetric([b, c], x)).Message);
        ex.Symmetric([a, b], x);
        Assert.NotNull(ex.Symmetry);
        Assert.Contains("once", Assert.Throws<InvalidOperationException>(() => ex.Symmetric([a, b], x)).Message);
    }

    [Fact]
    public void A_search_that_does_not_use_symmetry_ignores_the_declaration()
    {
        var ex = NewExecution(symmetry: false);
        var a = ex.Spawn("A", 0, () => ValueTask.CompletedTask);
        var b = ex.Spawn("B", 1, () => ValueTask.CompletedTask);
        ex.Symmetric([a, b], new Loc<int>("x"));
        Assert.Null(ex.Symmetry);
    }

    [Fact]
    public void No_symmetry_is_refused_outside_the_exhaustive_search()
    {
        var e = Assert.Throws<KmcInputException>(() => new RunSettings { Strategy = "random", Symmetry = false }.Validate("test"));
        Assert.Contains("symmetry can only be turned off for the exhaustive search", e.Message);
    }

    private sealed class NullDriver : IExecutionDriver
    {
        public bool Synchronous => false;
        public void SchedulingPoint(Execution ex, SimTask task) { }
        public int Choose(Execution ex, SimTask? task, int n) => 0;
        public bool StaleAllowed(Execution ex) => false;
        public void OnSpawn(Execution ex, SimTask task, Func<ValueTask> body) { }
    }
}
