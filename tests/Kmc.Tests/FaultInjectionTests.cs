using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kernel = Kmc.Models.Kernel;

namespace Kmc.Tests;

public class FaultInjectionTests
{
    private static CheckRun Run(string check, string variant, string? faults = null, int iterations = 2000, string strategy = "random")
    {
        var c = CheckRegistry.Get(check);
        return CheckRunner.Run(c, c.GetVariant(variant), new RunSettings { Iterations = iterations, Strategy = strategy, Faults = faults });
    }

    // ---- the query language --------------------------------------------------------------

    private static FaultSite Site(string file = "src/Primitives/Genradix/Genradix.cs", int line = 206, string func = "AllocNode",
        string name = "genradix_node", string cls = "memory") =>
        new(name, cls, file, line, func, "genradix");

    [Fact]
    public void QueriesParseSelectorsAndActions()
    {
        var q = FaultQuery.Parse("class memory choose; file Genradix.cs line 200-210 oneshot\nfunc 'Alloc*' frequency 3");
        Assert.Equal(3, q.Commands.Count);
        Assert.Equal(new FaultAction(FaultEnabled.Enabled, 0, true), q.Commands[0].Action);
        Assert.Equal(new FaultAction(FaultEnabled.Oneshot, 0, false), q.Commands[1].Action);
        Assert.Equal((200, 210), (q.Commands[1].LineFrom, q.Commands[1].LineTo));
        Assert.Equal(new FaultAction(FaultEnabled.Enabled, 3, false), q.Commands[2].Action); // frequency implies enable
        // The last command that selects a site decides.
        Assert.Equal(q.Commands[2].Action, q.ActionFor(Site()));
        Assert.Equal(q.Commands[0].Action, q.ActionFor(Site(func: "Other", line: 5)));
        Assert.Null(q.ActionFor(Site(func: "Other", line: 5, cls: "race")));
    }

    [Fact]
    public void SelectorsMatchLikeThePatch()
    {
        Assert.NotNull(FaultQuery.Parse("file src/Primitives/Genradix/Genradix.cs enable").ActionFor(Site()));
        Assert.NotNull(FaultQuery.Parse("file Genradix.cs enable").ActionFor(Site()));
        Assert.Null(FaultQuery.Parse("file Other.cs enable").ActionFor(Site()));
        Assert.NotNull(FaultQuery.Parse("module genradix line 206 enable").ActionFor(Site()));
        Assert.Null(FaultQuery.Parse("line 207 enable").ActionFor(Site()));
        Assert.NotNull(FaultQuery.Parse("name genradix_* enable").ActionFor(Site()));
        // Classes are hierarchical: "bcachefs" selects "bcachefs:meta:read", not "bcachefsx".
        Assert.NotNull(FaultQuery.Parse("class bcachefs enable").ActionFor(Site(cls: "bcachefs:meta:read")));
        Assert.Null(FaultQuery.Parse("class bcachefs enable").ActionFor(Site(cls: "bcachefsx")));
        Assert.Null(FaultQuery.Parse("class memory enable; class memory disable").ActionFor(Site()));
        Assert.Empty(FaultQuery.Parse("  ;  ").Commands);
    }

    [Theory]
    [InlineData("bogus", "unknown word 'bogus'")]
    [InlineData("class memory", "no action")]
    [InlineData("class", "'class' needs a value")]
    [InlineData("frequency -2", "not a non-negative number")]
    [InlineData("line 9-3 enable", "line '9-3' is not N or A-B")]
    [InlineData("file 'unterminated enable", "unterminated quote")]
    public void BadQueriesAreOneLineInputErrors(string query, string message)
    {
        var e = Assert.Throws<KmcInputException>(() => FaultQueries.Parse(query, "--faults"));
        Assert.Contains(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<KmcInputException>(() => new RunSettings { Faults = query }.Validate("command line"));
    }

    [Fact]
    public void ConfigFileTakesTheSameQueries()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-faults").FullName;
        var path = Path.Combine(dir, KmcConfig.FileName);
        File.WriteAllText(path, """{ "defaults": { "faults": "class memory oneshot" }, "checks": { "genradix": { "faults": "class race choose" } } }""");
        var config = KmcConfig.Load(path);
        Assert.Equal("class memory oneshot", config.For("counter").Faults);
        Assert.Equal("class race choose", config.For("genradix").Faults);
        File.WriteAllText(path, """{ "checks": { "genradix": { "faults": "class memory sometimes" } } }""");
        var e = Assert.Throws<KmcInputException>(() => KmcConfig.Load(path));
        Assert.Contains("unknown word 'sometimes'", e.Message);
    }

    // ---- firing modes ----------------------------------------------------------------------

    /// <summary>RunOnce outside an explorer: model code must resume inline, without xunit's context.</summary>
    private static void RunOnce(Scenario scenario, string query, ISchedulePolicy policy, List<int>? decisions = null)
    {
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            NativeExplorer.RunOnce(FaultQueries.WithFaults(scenario, query), new ExploreOptions(), policy, decisions ?? new List<int>(), record: false);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    /// <summary>One task hits one DynamicFault site six times; which hits fired.</summary>
    private static List<bool> Hits(string query, ISchedulePolicy? policy = null, List<int>? decisions = null)
    {
        var fired = new List<bool>();
        var scenario = new Scenario(1, ex => ex.Spawn("T0", 0, async () =>
        {
            for (var i = 0; i < 6; i++)
            {
                fired.Add(Kernel.DynamicFault("test", "test:site"));
                await Kernel.CpuRelax();
            }
        }));
        RunOnce(scenario, query, policy ?? new RandomPolicy(new Rng(1)), decisions);
        return fired;
    }

    [Theory]
    [InlineData("", "000000")]
    [InlineData("class test enable", "111111")]
    [InlineData("class test oneshot", "100000")]
    [InlineData("class test frequency 3", "001001")]
    [InlineData("class test oneshot frequency 2", "010000")]
    [InlineData("class test enable; class test disable", "000000")]
    public void FixedQueriesFireDeterministically(string query, string expected)
    {
        Assert.Equal(expected, string.Concat(Hits(query).Select(f => f ? '1' : '0')));
    }

    [Fact]
    public void ChooseIsARecordedChoiceThatReplays()
    {
        var decisions = new List<int>();
        var first = Hits("class test choose", new RandomPolicy(new Rng(7)), decisions);
        Assert.Equal(6, decisions.Count);
        Assert.Equal(decisions.Select(d => d == 1), first);
        Assert.Equal(first, Hits("class test choose", new ReplayPolicy(decisions)));
        // oneshot choose: the explorer decides until the site has fired once.
        var once = Hits("class test oneshot choose", new ReplayPolicy([0, 0, 1]));
        Assert.Equal("001000", string.Concat(once.Select(f => f ? '1' : '0')));
    }

    [Fact]
    public void RaceFaultForcesAReschedule()
    {
        // A policy that always runs the lowest task id that can run: T0 would run to the end first.
        var order = new List<string>();
        var scenario = new Scenario(2, ex =>
        {
            ex.Spawn("T0", 0, async () =>
            {
                await Kernel.CpuRelax();
                await Kernel.RaceFault();
                order.Add("T0 after race_fault");
            });
            ex.Spawn("T1", 1, () =>
            {
                // Its first step: what T0 lets it take by giving up the CPU.
                order.Add("T1");
                return ValueTask.CompletedTask;
            });
        });
        RunOnce(scenario, "", new LowestFirst());
        Assert.Equal(["T0 after race_fault", "T1"], order);
        order.Clear();
        RunOnce(scenario, "class race enable", new LowestFirst());
        Assert.Equal(["T1", "T0 after race_fault"], order);
    }

    private sealed class LowestFirst : ISchedulePolicy
    {
        public SimTask PickTask(List<SimTask> enabled, SimTask? last) => enabled[0];

        public int PickChoice(int n) => 0;
    }

    [Fact]
    public void UncheckedKmallocFailureIsANullDereference()
    {
        var run = Run("closure-refcount", "fixed", faults: "class memory oneshot", iterations: 10);
        Assert.Equal(FailureKind.Assertion, run.Result.Failure?.Kind);
        Assert.Contains("does not check for NULL", run.Result.Failure!.Message);
        // No query: the sites stay off and nothing changes.
        Assert.Null(Run("closure-refcount", "fixed", iterations: 200).Result.Failure);
    }

    // ---- fault checks ------------------------------------------------------------------------

    [Theory]
    [InlineData("genradix.enomem", "fixed", null)]
    [InlineData("genradix.enomem", "free-installed-on-enomem", FailureKind.UseAfterFree)]
    [InlineData("closure-enomem", "fixed", null)]
    [InlineData("closure-enomem", "enomem-frees-op", FailureKind.UseAfterFree)]
    [InlineData("closure-enomem", "enomem-returns-early", FailureKind.Leak)]
    public void ErrorPathsUnderRandomFaults(string check, string variant, FailureKind? kind)
    {
        var run = Run(check, variant);
        Assert.Equal(kind, run.Result.Failure?.Kind);
        Assert.True(run.MatchesExpectation, run.Mismatch());
    }

    [Fact]
    public void ErrorPathBugsAreFoundExhaustively()
    {
        foreach (var (check, variant) in new[] { ("genradix.enomem", "free-installed-on-enomem"), ("closure-enomem", "enomem-frees-op"), ("closure-enomem", "enomem-returns-early") })
            Assert.True(Run(check, variant, strategy: "dfs").MatchesExpectation, $"{check}/{variant}");
        var fixedRun = Run("closure-enomem", "fixed", strategy: "dfs");
        Assert.True(fixedRun.Result.Exhausted);
        Assert.Null(fixedRun.Result.Failure);
    }

    [Fact]
    public void FaultTraceRecordsTheQueryAndReplaysExactly()
    {
        var run = Run("genradix.enomem", "free-installed-on-enomem");
        var trace = run.Trace!;
        Assert.Equal("class memory choose", trace.Faults);
        Assert.Contains(trace.Steps, s => s.Op == "dynamic_fault" && s.Value == "fires");
        var path = Path.Combine(Directory.CreateTempSubdirectory("kmc-fault-trace").FullName, "trace.json");
        File.WriteAllText(path, trace.ToJson());
        var loaded = TraceFile.Load(path);
        Assert.Equal(trace.Faults, loaded.Faults);
        var replay = TraceReplayer.Replay(loaded);
        Assert.True(replay.Reproduced);
        Assert.Equal(trace.Steps, replay.Steps);
        // Without the query the same schedule does not fit: the fault choices are part of it.
        Assert.ThrowsAny<Exception>(() => TraceReplayer.Replay(loaded with { Faults = "" }));
    }

    [Fact]
    public void EachFaultGivesAVerdictPerSite()
    {
        var c = CheckRegistry.Get("genradix.enomem");
        var settings = new RunSettings { Iterations = 500 };
        var held = EachFault.Run(c, c.GetVariant("fixed"), settings);
        Assert.Equal(2, held.Count);
        Assert.All(held, r => Assert.True(r.Held, r.Verdict));
        var buggy = EachFault.Run(c, c.GetVariant("free-installed-on-enomem"), settings);
        var memory = Assert.Single(buggy, r => r.Site.Class == "memory");
        Assert.False(memory.Held);
        Assert.Equal(FailureKind.UseAfterFree, memory.Run.Result.Failure!.Kind);
        Assert.Equal("AllocNode", memory.Site.Function);
        Assert.True(Assert.Single(buggy, r => r.Site.Class == "race").Held);

        var closure = CheckRegistry.Get("closure-enomem");
        var rows = EachFault.Run(closure, closure.GetVariant("enomem-returns-early"), settings);
        Assert.True(Assert.Single(rows, r => r.Site.Name == "op").Held);
        Assert.Equal(FailureKind.Leak, Assert.Single(rows, r => r.Site.Name != "op").Run.Result.Failure?.Kind);
    }

    [Fact]
    public void FaultsListShowsSitesWithTheirState()
    {
        var c = CheckRegistry.Get("genradix.enomem");
        var rows = FaultDiscovery.List(c, c.Variants[0], new RunSettings());
        var node = Assert.Single(rows, r => r.Site.Name == "genradix_node");
        Assert.Equal(("memory", "src/Primitives/Genradix/Genradix.cs", "AllocNode", "genradix"), (node.Site.Class, node.Site.File, node.Site.Function, node.Site.Module));
        Assert.Equal("enabled choose", node.State);
        Assert.Equal("disabled", Assert.Single(rows, r => r.Site.Class == "race").State);
        Assert.Empty(FaultDiscovery.Sites(CheckRegistry.Get("counter"), CheckRegistry.Get("counter").Variants[0], new RunSettings()));
    }

    [Fact]
    public void CliFaultsListAndEachFault()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-faults-cli").FullName;
        var list = CliTests.Run(dir, "faults", "list", "closure-enomem");
        Assert.Equal(0, list.Code);
        Assert.Contains("ClosureEnomemCheck.cs:", list.Out);
        Assert.Contains("enabled choose", list.Out);
        Assert.Contains("2 site(s)", list.Out);
        var each = CliTests.Run(dir, "run", "closure-enomem", "--variant", "enomem-returns-early", "--each-fault", "--iterations", "200");
        Assert.Equal(1, each.Code);
        Assert.Contains("Leak", each.Out);
        Assert.Contains("1 of 2 site(s): the check held", each.Out);
        var bad = CliTests.Run(dir, "run", "genradix", "--faults", "class memory maybe");
        Assert.Equal(2, bad.Code);
        Assert.Single(bad.Err.Trim().Split('\n'));
        Assert.Contains("unknown word 'maybe'", bad.Err);
    }
}
