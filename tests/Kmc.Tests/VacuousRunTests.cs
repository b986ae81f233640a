using Kmc.Checks.Framework;

namespace Kmc.Tests;

/// <summary>
/// A run that checked nothing is no pass: no execution within the time limit, every execution cut
/// at the step bound, a config entry for a check that does not exist, a fault query that switches
/// no site on. Each is said loudly and ends non-zero.
/// </summary>
public class VacuousRunTests
{
    private static string TempDir() => Directory.CreateTempSubdirectory("kmc-vacuous").FullName;

    [Fact]
    public void A_search_whose_every_execution_was_cut_is_inconclusive_not_a_pass()
    {
        var check = CheckRegistry.Get("counter");
        var run = CheckRunner.Run(check, check.Variants[0], new RunSettings { Iterations = 20, MaxSteps = 1 });
        Assert.Null(run.Result.Failure);
        Assert.Equal(20, run.Result.StepBoundHits);
        Assert.False(run.MatchesExpectation);
        Assert.Contains("every one of the 20 executions was cut at the step bound", run.Mismatch());
        Assert.Equal(Suite.Inconclusive, Suite.Row(run, null).Observed);

        // Some executions cut, some run to the end: a pass that names the cuts, as before.
        var enough = CheckRunner.Run(check, check.Variants[0], new RunSettings { Iterations = 20 });
        Assert.True(enough.MatchesExpectation);
        Assert.Null(enough.Result.Inconclusive);
    }

    [Fact]
    public void Run_exits_two_when_nothing_was_checked()
    {
        var dir = TempDir();
        var timeout = CliTests.Run(dir, "run", "counter", "--timeout", "1e-9", "--workers", "1");
        Assert.Equal(2, timeout.Code);
        Assert.Equal("kmc: counter/spinlock: inconclusive: no execution ran within the time limit: nothing was checked", timeout.Err.Trim());
        Assert.Contains("INCONCLUSIVE", timeout.Out);
        Assert.DoesNotContain("as expected", timeout.Out.Replace("NOT as expected", ""));

        foreach (var workers in new[] { "1", "2" })
        {
            var cut = CliTests.Run(dir, "run", "counter", "--max-steps", "1", "--iterations", "40", "--workers", workers);
            Assert.Equal(2, cut.Code);
            Assert.Contains("every one of the 40 executions was cut at the step bound", cut.Err);
        }
    }

    [Fact]
    public void Ci_counts_an_inconclusive_case_as_a_mismatch()
    {
        var dir = TempDir();
        File.WriteAllText(Path.Combine(dir, KmcConfig.FileName), """{ "checks": { "counter": { "maxSteps": 1 } } }""");
        var ci = CliTests.Run(dir, "ci", "--quick", "--check", "counter", "--workers", "1");
        Assert.Equal(1, ci.Code);
        Assert.Contains("MISMATCH counter/spinlock: inconclusive: every one of the", ci.Out);
        var rows = Suite.ReadSummary(Path.Combine(dir, "reports", "last", "summary.json")).Rows;
        Assert.All(rows.Where(r => r.Variant == "spinlock"), r => Assert.Equal(Suite.Inconclusive, r.Observed));
    }

    [Fact]
    public void Merged_parts_are_inconclusive_only_when_no_part_checked_anything()
    {
        var check = CheckRegistry.Get("counter");
        var cut = Suite.Row(CheckRunner.Run(check, check.Variants[0], new RunSettings { Iterations = 5, MaxSteps = 1 }), null);
        var clean = Suite.Row(CheckRunner.Run(check, check.Variants[0], new RunSettings { Iterations = 5 }), null);
        var both = Suite.Merge([cut, cut]).Single();
        Assert.Equal(Suite.Inconclusive, both.Observed);
        Assert.False(both.Matches);
        var mixed = Suite.Merge([cut, clean]).Single();
        Assert.Equal("pass", mixed.Observed);
        Assert.Equal(10, mixed.Executions);
    }

    [Theory]
    [InlineData("countr", "checks.countr: names no check")]
    [InlineData("counter@lkmmm", "checks.counter@lkmmm: unknown memory model 'lkmmm'")]
    [InlineData("closure-sync@upstreamm@lkmm", "checks.closure-sync@upstreamm@lkmm: names no check")]
    public void A_config_entry_for_no_check_is_an_error(string key, string message)
    {
        var dir = TempDir();
        File.WriteAllText(Path.Combine(dir, KmcConfig.FileName), $$"""{ "checks": { "{{key}}": { "iterations": 5 } } }""");
        var r = CliTests.Run(dir, "run", "counter");
        Assert.Equal(2, r.Code);
        Assert.Contains(message, r.Err);
        Assert.Single(r.Err.Trim().Split('\n'));
    }

    [Fact]
    public void Config_entries_for_checks_and_check_at_model_load()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, KmcConfig.FileName);
        File.WriteAllText(path, """{ "checks": { "counter": { "iterations": 7 }, "counter@sc": { "iterations": 9 }, "closure-sync@upstream": {}, "closure-sync@upstream@tso": {} } }""");
        var config = KmcConfig.Load(path);
        Assert.Equal(7, config.For("counter").Iterations);
        Assert.Equal(9, config.For("counter", "sc").Iterations);
    }

    [Fact]
    public void A_fault_query_that_matches_no_site_is_an_error()
    {
        var dir = TempDir();
        var typo = CliTests.Run(dir, "run", "genradix.enomem", "--faults", "func AllocNod frequency 3");
        Assert.Equal(2, typo.Code);
        Assert.Equal("kmc: --faults: fault query 'func AllocNod frequency 3' matches none of the 2 fault site(s) genradix.enomem/fixed reaches (see kmc faults list genradix.enomem)", typo.Err.Trim());
        var second = CliTests.Run(dir, "run", "genradix.enomem", "--faults", "class memory choose; class rcu off");
        Assert.Equal(2, second.Code);
        Assert.Contains("fault query 'class rcu off' matches none", second.Err);

        File.WriteAllText(Path.Combine(dir, KmcConfig.FileName), """{ "checks": { "counter": { "faults": "class memory choose" } } }""");
        var config = CliTests.Run(dir, "ci", "--quick", "--check", "counter");
        Assert.Equal(2, config.Code);
        Assert.Contains("checks.counter: fault query 'class memory choose' matches none of the 0 fault site(s) counter/spinlock reaches", config.Err);
    }

    [Fact]
    public void Every_checks_own_fault_query_selects_a_site_it_reaches()
    {
        var withFaults = CheckRegistry.All.Where(c => c.Faults != null).ToList();
        Assert.NotEmpty(withFaults);
        foreach (var c in withFaults)
        {
            foreach (var v in c.Variants)
                FaultQueries.RequireSites(c, v, c.Faults, c.Name);
        }

        var e = Assert.Throws<KmcInputException>(() => FaultQueries.RequireSites(withFaults[0], withFaults[0].Variants[0], "name no-such-site choose", "test"));
        Assert.Contains("matches none", e.Message);
    }
}
