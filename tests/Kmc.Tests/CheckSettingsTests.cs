using Kmc.Checks.Framework;

namespace Kmc.Tests;

/// <summary>Settings a check declares in code, the user's config merged over kmc's, and the lost-power suggestion.</summary>
public class CheckSettingsTests
{
    private static string TempConfig(string json)
    {
        var dir = Directory.CreateTempSubdirectory("kmc-config").FullName;
        var path = Path.Combine(dir, KmcConfig.FileName);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void Precedence_is_defaults_then_the_checks_own_then_the_config_entry_then_the_command_line()
    {
        var defaultsOnly = new KmcConfig { Defaults = new SettingsOverride { Strategy = "pct", Iterations = 123 } };
        // lglock declares the reduced exhaustive search under sc and lkmm: it beats the config's defaults...
        var sc = defaultsOnly.For("lglock", "sc");
        Assert.Equal(("dfs", -1, 123), (sc.Strategy, sc.PreemptionBound, sc.Iterations));
        // ...but declares nothing under tso, where the defaults hold
        Assert.Equal("pct", defaultsOnly.For("lglock", "tso").Strategy);

        var entry = new KmcConfig
        {
            Defaults = new SettingsOverride { Strategy = "pct" },
            Checks = new() { ["lglock"] = new SettingsOverride { Strategy = "random" }, ["lglock@lkmm"] = new SettingsOverride { Iterations = 9 } },
        };
        Assert.Equal("random", entry.For("lglock", "sc").Strategy);
        var lkmm = entry.For("lglock", "lkmm");
        Assert.Equal(("random", -1, 9), (lkmm.Strategy, lkmm.PreemptionBound, lkmm.Iterations));

        var commandLine = new SettingsOverride { Strategy = "pct" }.ApplyTo(entry.For("lglock", "sc"));
        Assert.Equal("pct", commandLine.Strategy);
    }

    [Fact]
    public void A_users_config_is_merged_over_kmcs_field_by_field()
    {
        var config = KmcConfig.Load(TempConfig("""
            { "defaults": { "iterations": 10 },
              "checks": { "pagecache-truncate": { "iterations": 50 }, "counter": { "seed": 4 } } }
            """));
        // the user's fields
        Assert.Equal(10, config.For("counter").Iterations);
        Assert.Equal(4UL, config.For("counter").Seed);
        // kmc's entry for the same check keeps the fields the user did not set
        var truncate = config.For("pagecache-truncate", "sc");
        Assert.Equal(("pct", 50), (truncate.Strategy, truncate.Iterations));
        // kmc's other entries and defaults are all still there
        Assert.Equal("dfs", config.For("closure-sync", "lkmm").Strategy);
        Assert.Equal(5000, config.For("counter").MaxSteps);
        Assert.Equal(2, config.For("counter", "lkmm").StaleBound);
        Assert.Equal(5000, config.For("ticket-spinlock").Iterations);
    }

    [Fact]
    public void Without_any_file_kmcs_built_in_config_applies()
    {
        var builtIn = KmcConfig.BuiltIn;
        Assert.Equal("pct", builtIn.For("pagecache-truncate", "sc").Strategy);
        Assert.Equal("lkmm", builtIn.DefaultMemoryModel);
    }

    [Fact]
    public void A_driver_set_over_kmcs_strategy_drops_that_strategy()
    {
        var merged = new SettingsOverride { Strategy = "pct" }.MergedWith(new SettingsOverride { Driver = "coyote" });
        Assert.Null(merged.Strategy);
        Assert.Equal("portfolio", merged.ApplyTo(new RunSettings()).Strategy);
    }

    [Fact]
    public void Lost_power_names_the_search_that_finds_the_bug()
    {
        var check = CheckRegistry.Get("lglock-hotplug");
        var settings = new RunSettings { Strategy = "random", Iterations = 1, MemoryModel = "sc" };
        var row = Suite.RunCase(check, check.GetVariant("online-unsynchronised"), settings, writeReports: false);
        Assert.False(row.Matches);
        Assert.Contains("the checker lost power", row.Mismatch);
        Assert.Contains("the check's own settings (strategy dfs, preemptionBound -1) finds it at execution", row.Mismatch);
        Assert.Contains("use { \"strategy\": \"dfs\", \"preemptionBound\": -1 }", row.Mismatch);
        // deterministic: the same suggestion twice
        Assert.Equal(row.Mismatch, Suite.RunCase(check, check.GetVariant("online-unsynchronised"), settings, writeReports: false).Mismatch);
    }

    [Fact]
    public void Lost_power_without_declared_settings_probes_the_exhaustive_search()
    {
        var check = CheckRegistry.Get("counter");
        var settings = new RunSettings { Strategy = "random", Iterations = 1, Seed = 1, MemoryModel = "sc" };
        // one random execution (seed 1) misses the lost increment
        var row = Suite.RunCase(check, check.GetVariant("no-lock"), settings, writeReports: false);
        Assert.False(row.Matches);
        Assert.Contains("dfs with preemption bound 2 finds it at execution", row.Mismatch);
    }

    [Fact]
    public void A_passing_case_gets_no_suggestion()
    {
        var check = CheckRegistry.Get("lglock-hotplug");
        var row = Suite.RunCase(check, check.GetVariant("fixed"), new RunSettings { Strategy = "random", Iterations = 5, MemoryModel = "sc" }, writeReports: false);
        Assert.True(row.Matches);
        Assert.Null(row.Mismatch);
    }
}
