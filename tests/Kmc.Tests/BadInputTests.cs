using System.Text.Json.Nodes;
using Kmc.Checks.Framework;
using Kmc.Cli;
using Kmc.Cli.Fuzz;

namespace Kmc.Tests;

/// <summary>
/// Hostile input the way a new user or a broken CI produces it: each case must end with exit 2,
/// one "kmc: " line on stderr naming what is wrong, no stack trace and no file written. Cases run
/// through kmc's entry in-process.
/// </summary>
public class BadInputTests
{
    private static readonly Lazy<(string Native, string Coyote)> s_traces = new(() => (Trace("native"), Trace("coyote")));

    private static string Trace(string driver)
    {
        var check = CheckRegistry.Get("counter");
        var run = CheckRunner.Run(check, check.GetVariant("no-lock"), new RunSettings { Driver = driver, Iterations = 200, MemoryModel = "sc" });
        return run.Trace!.ToJson();
    }

    private static string Summary(string? shard = null, string model = "lkmm", string version = "", string variant = "fixed")
    {
        var dir = Directory.CreateTempSubdirectory("kmc-bad").FullName;
        var path = Path.Combine(dir, "summary.json");
        var row = new SuiteRow("counter", variant, "pass", "pass", true, 10, 0.1, "native", "random", 1, model, null, null);
        Suite.WriteSummaryJson(path, [row], TimeSpan.FromSeconds(1), shard: shard is null ? null : Shard.Parse(shard));
        if (version != "")
        {
            var node = JsonNode.Parse(File.ReadAllText(path))!;
            node["kmcVersion"] = version;
            File.WriteAllText(path, node.ToJsonString());
        }

        return File.ReadAllText(path);
    }

    private static string Edit(string json, Action<JsonNode> edit)
    {
        var node = JsonNode.Parse(json)!;
        edit(node);
        return node.ToJsonString();
    }

    /// <summary>Files named in the arguments as {name} are written from <paramref name="files"/> into a fresh folder.</summary>
    private static void AssertRefused(string contains, Dictionary<string, string> files, params string[] args)
    {
        var dir = Directory.CreateTempSubdirectory("kmc-bad").FullName;
        foreach (var (name, text) in files)
            File.WriteAllText(Path.Combine(dir, name), text);
        var before = Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList();
        var resolved = args.Select(a => a.StartsWith('{') ? Path.Combine(dir, a.Trim('{', '}')) : a).ToArray();
        var r = InProcess.Run(resolved, TimeSpan.FromSeconds(60));
        var lines = r.Err.Trim().Split('\n');
        Assert.True(r.Code == 2, $"kmc {string.Join(' ', args)}: exit {r.Code}, stderr: {r.Err}");
        Assert.Single(lines);
        Assert.StartsWith("kmc: ", lines[0]);
        Assert.Contains(contains, lines[0]);
        Assert.DoesNotContain("   at ", r.Out + r.Err);
        Assert.Equal(before, Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order().ToList());
    }

    private static Dictionary<string, string> One(string name, string text) => new() { [name] = text };

    [Theory]
    [InlineData("steps")]
    [InlineData("failure")]
    [InlineData("options")]
    public void TraceWithANullMemberIsRefused(string member) =>
        AssertRefused($"$.{member}: must not be null", One("t.json", Edit(s_traces.Value.Native, n => n[member] = null)), "replay", "{t.json}");

    [Fact]
    public void TraceWithNullOrMistypedPartsIsRefusedWithTheirPath()
    {
        AssertRefused("$.steps[0]: is null", One("t.json", Edit(s_traces.Value.Native, n => n["steps"]![0] = null)), "replay", "{t.json}");
        AssertRefused("$.seed", One("t.json", Edit(s_traces.Value.Native, n => n["seed"] = "one")), "replay", "{t.json}");
        AssertRefused("$.options.iterations", One("t.json", Edit(s_traces.Value.Native, n => n["options"]!["iterations"] = 1e300)), "replay", "{t.json}");
        AssertRefused("$.failure.kind", One("t.json", Edit(s_traces.Value.Native, n => n["failure"]!["kind"] = 99)), "replay", "{t.json}");
        AssertRefused("missing required field(s) 'check'", One("t.json", Edit(s_traces.Value.Native, n => n.AsObject().Remove("check"))), "replay", "{t.json}");
        AssertRefused("$.schedule[0]", One("t.json", Edit(s_traces.Value.Native, n => n["schedule"]![0] = -5)), "replay", "{t.json}");
        AssertRefused("is a folder", [], "replay", Path.GetTempPath());
    }

    [Fact]
    public void CoyoteTraceWithAMalformedScheduleIsRefused()
    {
        var coyote = s_traces.Value.Coyote;
        AssertRefused("$.coyoteTrace: the embedded Coyote schedule is not JSON", One("t.json", Edit(coyote, n => n["coyoteTrace"] = "{ not json")), "replay", "{t.json}");
        AssertRefused("$.coyoteTrace: the embedded Coyote schedule must be a JSON object", One("t.json", Edit(coyote, n => n["coyoteTrace"] = "[1, 2]")), "replay", "{t.json}");
        AssertRefused("$.coyoteTrace.Steps", One("t.json", Edit(coyote, n => n["coyoteTrace"] = "{\"Settings\": {}, \"Steps\": 3}")), "replay", "{t.json}");
        var badKind = Edit(coyote, n =>
        {
            var schedule = JsonNode.Parse((string)n["coyoteTrace"]!)!;
            schedule["Steps"]![0] = "op(0:1),sp(NoSuchPoint),next(0:1)";
            n["coyoteTrace"] = schedule.ToJsonString();
        });
        AssertRefused("Coyote cannot read the embedded schedule", One("t.json", badKind), "replay", "{t.json}");
    }

    [Fact]
    public void MalformedSummariesAreRefusedByMerge()
    {
        var good = Summary();
        AssertRefused("$.rows[0]: is null", One("s.json", Edit(good, n => n["rows"]![0] = null)), "merge", "{s.json}", "--out", "{out}");
        AssertRefused("missing required field(s) 'observed'", One("s.json", Edit(good, n => n["rows"]![0]!.AsObject().Remove("observed"))), "merge", "{s.json}", "--out", "{out}");
        AssertRefused("$.rows: must not be null", One("s.json", Edit(good, n => n["rows"] = null)), "merge", "{s.json}", "--out", "{out}");
        AssertRefused("$.rows[0].seconds", One("s.json", Edit(good, n => n["rows"]![0]!["seconds"] = -1)), "merge", "{s.json}", "--out", "{out}");
        AssertRefused("$.shard", One("s.json", Edit(good, n => n["shard"] = "3/2")), "merge", "{s.json}", "--out", "{out}");
        AssertRefused("not a kmc summary", One("s.json", good[..(good.Length / 2)]), "merge", "{s.json}", "--out", "{out}");
    }

    [Fact]
    public void MergeRefusesWhatDoesNotMakeOneSuiteTable()
    {
        var files = new Dictionary<string, string>
        {
            ["a.json"] = Summary(), ["copy.json"] = Summary(), ["sc.json"] = Summary(model: "sc", variant: "no-lock"),
            ["old.json"] = Summary(version: "0.0.1", variant: "no-lock"), ["s1of2.json"] = Summary("1/2"), ["s2of3.json"] = Summary("2/3", variant: "no-lock"),
            ["file"] = "",
        };
        AssertRefused("is given twice", files, "merge", "{a.json}", "{a.json}", "--out", "{out}");
        AssertRefused("is in both", files, "merge", "{a.json}", "{copy.json}", "--out", "{out}");
        AssertRefused("different memory models", files, "merge", "{a.json}", "{sc.json}", "--out", "{out}");
        AssertRefused("different kmc versions", files, "merge", "{a.json}", "{old.json}", "--out", "{out}");
        AssertRefused("shards of different splits", files, "merge", "{s1of2.json}", "{s2of3.json}", "--out", "{out}");
        AssertRefused("--out", files, "merge", "{a.json}", "--out", "{file}");
    }

    [Fact]
    public void MergeOfTheShardsOfOneSplitStillWorks()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-merge").FullName;
        File.WriteAllText(Path.Combine(dir, "1.json"), Summary("1/2"));
        File.WriteAllText(Path.Combine(dir, "2.json"), Summary("2/2"));
        var r = InProcess.Run(["merge", Path.Combine(dir, "1.json"), Path.Combine(dir, "2.json"), "--out", Path.Combine(dir, "out")], TimeSpan.FromSeconds(60));
        Assert.True(r.Code == 0, r.Err);
        var merged = Suite.ReadSummary(Path.Combine(dir, "out", "summary.json"));
        Assert.Equal(20, Assert.Single(merged.Rows).Executions); // one case split in two ranges of 10
    }

    [Fact]
    public void NumbersThatAreNotNumbersOrOverflowAreRefused()
    {
        AssertRefused("--budget must be a finite number above 0 (got Infinity)", [], "ci", "--budget", "Infinity");
        AssertRefused("--budget must be a finite number above 0 (got NaN)", [], "ci", "--budget", "NaN");
        AssertRefused("past 2147483647", [], "ci", "--budget", "1e12", "--check", "counter");
        AssertRefused("timeout must be a number of seconds above 0", [], "run", "counter", "--timeout", "NaN");
        AssertRefused("timeout must be a number of seconds above 0", [], "run", "counter", "--timeout", "Infinity");
        AssertRefused("timeout must be a number of seconds above 0", [], "run", "counter", "--timeout", "1e300");
        AssertRefused("pctDepth must be between 1 and 1000", [], "run", "counter", "--strategy", "pct", "--pct-depth", "2000000000");
        AssertRefused("--iterations", [], "run", "counter", "--iterations", "99999999999");
        AssertRefused("--state-cache: expected on or off", [], "run", "counter", "--state-cache", "maybe");
        AssertRefused("the state cache is for the native exhaustive search", [], "run", "counter", "--state-cache", "on", "--strategy", "random");
        AssertRefused("the first passes can only be turned off for the unbounded exhaustive search", [], "run", "counter", "--no-first-pass", "--strategy", "random");
        AssertRefused("the first passes can only be turned off for the unbounded exhaustive search", [], "run", "counter", "--no-first-pass", "--strategy", "dfs", "--preemption-bound", "2");
        AssertRefused("kmc mutate has no option '--workers'", [], "mutate", "--workers", "1");
        AssertRefused($"--workers must be between 1 and {Kmc.Cli.Workers.Max}", [], "ci", "--workers", "100000");
        AssertRefused($"--workers must be between 1 and {Kmc.Cli.Workers.Max}", [], "run", "counter", "--workers", "100000");
        AssertRefused("--timeout must be a number of seconds above 0", [], "litmus", Path.GetTempPath(), "--timeout", "NaN");
        AssertRefused("$.defaults: timeout must be a number of seconds", One("c.json", """{ "defaults": { "timeout": 1e400 } }"""), "run", "counter", "--config", "{c.json}");
    }

    [Fact]
    public void ConfigEntriesAreCheckedWhereTheyAre()
    {
        AssertRefused("$.checks.counter: is null", One("c.json", """{ "checks": { "counter": null } }"""), "run", "counter", "--config", "{c.json}");
        AssertRefused("$.checks.cuonter: names no check", One("c.json", """{ "checks": { "cuonter": { "iterations": 5 } } }"""), "run", "counter", "--config", "{c.json}");
        AssertRefused("$.checks.counter@arm: unknown memory model 'arm'", One("c.json", """{ "checks": { "counter@arm": { } } }"""), "run", "counter", "--config", "{c.json}");
        AssertRefused("$.defaults: must not be null", One("c.json", """{ "defaults": null }"""), "run", "counter", "--config", "{c.json}");
        AssertRefused("$.defaults.iterations", One("c.json", """{ "defaults": { "iterations": "many" } }"""), "run", "counter", "--config", "{c.json}");
        AssertRefused("$.defaults.wat: is not a field", One("c.json", """{ "defaults": { "wat": 1 } }"""), "run", "counter", "--config", "{c.json}");
    }

    [Fact]
    public void RepositoryConfigAndCorpusStillRead()
    {
        var config = KmcConfig.Load(Path.Combine(TestPaths.InRepo("reports"), "..", KmcConfig.FileName));
        Assert.NotEmpty(config.Checks);
        foreach (var file in RegressionCorpus.Files(TestPaths.InRepo("reports", "regressions")))
            TraceFile.Load(file);
    }

    /// <summary>
    /// The fuzz campaign of <c>kmc fuzz</c>, smaller: 500 mutated inputs per format (2,500 in
    /// all), with a fixed seed so every run tries the same cases.
    /// </summary>
    [Fact]
    public void FuzzedInputsAreRefusedInOneLineOrGiveAValidResult()
    {
        var report = FuzzCampaign.Run(casesPerTarget: 500, seed: 1);
        Assert.True(report.Failures.Count == 0,
            string.Join("\n", report.Failures.Take(5).Select(f => $"{f.Case}: {f.Problem}\n  kmc {string.Join(' ', f.Args)}\n  {f.Input[..Math.Min(f.Input.Length, 2000)]}")));
        Assert.Equal(FuzzTargets.Names, report.Tallies.Select(t => t.Target));
        Assert.All(report.Tallies, t => Assert.Equal(500, t.Refused + t.Accepted));
        // The mutations reach both sides: most inputs are refused, some still valid.
        Assert.All(report.Tallies.Where(t => t.Target != "litmus"), t => Assert.True(t.Refused > 0 && t.Accepted > 0, $"{t.Target}: {t.Refused} refused, {t.Accepted} accepted"));
    }
}
