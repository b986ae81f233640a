using System.Diagnostics;
using Kmc.Checks.Framework;

namespace Kmc.Tests;

/// <summary>The kmc command as a user runs it: exit codes and one-line errors.</summary>
public class CliTests
{
    private static readonly string Kmc = Path.Combine(AppContext.BaseDirectory, "kmc.dll");

    public static (int Code, string Out, string Err) Run(string workDir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workDir };
        psi.ArgumentList.Add(Kmc);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static string TempDir() => Directory.CreateTempSubdirectory("kmc-cli").FullName;

    internal static void AssertOneLineError((int Code, string Out, string Err) r, string contains)
    {
        Assert.Equal(2, r.Code);
        var lines = r.Err.Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("kmc: ", lines[0]);
        Assert.Contains(contains, lines[0]);
        Assert.DoesNotContain("   at ", r.Err + r.Out);
    }

    [Fact]
    public void UnknownCheckIsOneLineAndExitTwo()
    {
        var dir = TempDir();
        AssertOneLineError(Run(dir, "run", "no-such-check"), "unknown check 'no-such-check'");
        Assert.False(Directory.Exists(Path.Combine(dir, "reports")));
    }

    [Fact]
    public void MemoryModelBenchPrintsRatiosAndRejectsMisuse()
    {
        var dir = TempDir();
        var (code, output, err) = Run(dir, "bench", "--memory-models", "--check", "rcu.sync-free");
        Assert.True(code == 0, err);
        Assert.Contains("rcu.sync-free", output);
        Assert.Contains("geometric mean over 1 checks", output);
        AssertOneLineError(Run(dir, "bench", "--check", "rcu"), "--check only applies with --memory-models");
        AssertOneLineError(Run(dir, "bench", "--memory-models", "--check", "no-such-check"), "unknown check 'no-such-check'");
    }

    [Fact]
    public void LeaveBenchPrintsSameExecutionsAndRejectsMisuse()
    {
        var dir = TempDir();
        var (code, output, err) = Run(dir, "bench", "--leave", "--check", "mcs-spinlock-2cpu");
        Assert.True(code == 0, err);
        // The node's lifetime in the step footprints costs the reduced search no execution.
        Assert.Contains("326 / 326", output);
        Assert.Contains("geometric mean of on/off", output);
        AssertOneLineError(Run(dir, "bench", "--leave", "--races"), "--leave is a bench of its own");
        AssertOneLineError(Run(dir, "bench", "--leave", "--check", "no-such-check"), "unknown check 'no-such-check'");
    }

    [Fact]
    public void UnknownVariantAndBadOptionValues()
    {
        var dir = TempDir();
        AssertOneLineError(Run(dir, "run", "counter", "--variant", "nope"), "no variant 'nope'");
        AssertOneLineError(Run(dir, "run", "counter", "--driver", "qemu"), "unknown driver 'qemu'");
        AssertOneLineError(Run(dir, "run", "counter", "--strategy", "dfs", "--driver", "coyote"), "unknown strategy 'dfs'");
        AssertOneLineError(Run(dir, "run", "counter", "--iterations", "0"), "iterations must be at least 1");
        AssertOneLineError(Run(dir, "run", "counter", "--iterations", "many"), "many");
        AssertOneLineError(Run(dir, "run", "counter", "--stale-bound", "-2"), "staleBound must be -1 (unbounded) or at least 0");
        AssertOneLineError(Run(dir, "run", "counter", "--stale-bound", "some"), "--stale-bound");
    }

    [Fact]
    public void MalformedTraceIsRefused()
    {
        var dir = TempDir();
        var path = Path.Combine(dir, "trace.json");
        File.WriteAllText(path, "{ this is not json");
        AssertOneLineError(Run(dir, "replay", path), "not a kmc trace");
        AssertOneLineError(Run(dir, "replay", Path.Combine(dir, "missing.json")), "does not exist");
    }

    [Fact]
    public void BadConfigValueIsRefused()
    {
        var dir = TempDir();
        File.WriteAllText(Path.Combine(dir, "coyote.runtimeconfig.json"), """{ "defaults": { "strategy": "bogus" } }""");
        AssertOneLineError(Run(dir, "run", "counter"), "unknown strategy 'bogus'");
        File.WriteAllText(Path.Combine(dir, "coyote.runtimeconfig.json"), """{ "checks": { "counter@lkmm": { "staleBound": -3 } } }""");
        AssertOneLineError(Run(dir, "run", "counter", "--memory-model", "lkmm"), "checks.counter@lkmm: staleBound must be");
        File.WriteAllText(Path.Combine(dir, "coyote.runtimeconfig.json"), """{ "defaults": { "iterations": "lots" } }""");
        AssertOneLineError(Run(dir, "run", "counter"), "coyote.runtimeconfig.json");
        Assert.False(Directory.Exists(Path.Combine(dir, "reports")));
    }

    [Fact]
    public void BugRunWritesAReplayableTraceAndMismatchedTraceIsRefused()
    {
        var dir = TempDir();
        var found = Run(dir, "run", "counter", "--variant", "no-lock", "--seed", "3");
        Assert.Equal(1, found.Code);
        Assert.Contains("increment was lost", found.Out);
        var folder = Path.Combine(dir, "reports", "runs", "counter__no-lock__native-random-lkmm-seed3");
        var trace = Path.Combine(folder, "trace.json");
        Assert.True(File.Exists(trace));
        var report = File.ReadAllText(Path.Combine(folder, "report.md"));
        Assert.Contains("| # | task | CPU | operation |", report);
        Assert.Contains("CounterCheck.cs:", report);
        Assert.Contains("kmc replay", report);

        var replay = Run(dir, "replay", trace);
        Assert.Equal(1, replay.Code);
        Assert.Contains("reproduced in", replay.Out);

        // A trace whose model code differs is refused, not silently replayed.
        File.WriteAllText(trace, File.ReadAllText(trace).Replace("\"modelHash\": \"", "\"modelHash\": \"0"));
        AssertOneLineError(Run(dir, "replay", trace), "different model code");

        // A trace naming a check this build does not have.
        var json = File.ReadAllText(trace).Replace("\"check\": \"counter\"", "\"check\": \"gone\"");
        File.WriteAllText(trace, json);
        AssertOneLineError(Run(dir, "replay", trace), "unknown check 'gone'");
    }

    [Fact]
    public void FixedRunExitsZero()
    {
        var r = Run(TempDir(), "run", "counter", "--iterations", "200");
        Assert.Equal(0, r.Code);
        Assert.Contains("no failure in 200 executions", r.Out);
    }

    /// <summary>The rows of a kmc list table: (check, variant) to (expected, the other models' expectations where different).</summary>
    private static Dictionary<(string, string), (string Expected, string Others)> ListRows(string output) =>
        output.Split('\n').Select(l => l.Split('│')).Where(c => c.Length >= 6 && c[1].Trim().Length > 0 && c[1].Trim() != "check")
            .ToDictionary(c => (c[1].Trim(), c[2].Trim()), c => (c[3].Trim(), c[4].Trim()));

    [Fact]
    public void List_shows_the_expectations_ci_judges_by_under_the_model_in_force()
    {
        var dir = TempDir();
        var lkmm = Run(dir, "list");
        Assert.Equal(0, lkmm.Code);
        var rows = ListRows(lkmm.Out);
        Assert.Equal(CheckRegistry.All.Sum(c => c.Variants.Count), rows.Count);
        Assert.Equal(("bug: Hang", "sc: pass, tso: pass"), rows[("osq-1round", "acquire-only-tail-xchg")]);
        // Two rounds: the OSQ's node-reinit data race under every model (or, under lkmm, the hang first).
        Assert.Equal(("bug", "sc: bug: DataRace, tso: bug: DataRace"), rows[("osq", "acquire-only-tail-xchg")]);
        // The 2018 closure_sync() hole: under lkmm the data race or the stale read, under sc and tso the data race.
        Assert.Equal(("bug", "sc: bug: DataRace, tso: bug: DataRace"), rows[("closure-sync", "fixed")]);
        Assert.Equal(("pass", ""), rows[("counter", "spinlock")]);

        // What ci judges the same case by, under the same (default) model.
        var ci = Run(dir, "ci", "--quick", "--check", "osq", "--out", "ci");
        Assert.True(ci.Code == 0, ci.Out + ci.Err);
        foreach (var r in Suite.ReadSummary(Path.Combine(dir, "ci", "summary.json")).Rows)
            Assert.Equal(r.Expected, rows[(r.Check, r.Variant)].Expected);

        var sc = ListRows(Run(dir, "list", "--memory-model", "sc").Out);
        Assert.Equal(("pass", "lkmm: bug: Hang, lkmm-v6.4: bug: Hang"), sc[("osq-1round", "acquire-only-tail-xchg")]);

        // A config that makes sc the default model lists sc's expectations.
        File.WriteAllText(Path.Combine(dir, "coyote.runtimeconfig.json"), """{ "defaults": { "memoryModel": "sc" } }""");
        Assert.Equal("pass", ListRows(Run(dir, "list").Out)[("osq-1round", "acquire-only-tail-xchg")].Expected);
        AssertOneLineError(Run(dir, "list", "--memory-model", "arm"), "unknown memory model 'arm'");
    }

    [Fact]
    public void CiCheckTakesAListAndLeavesTheTrackedSummaryAlone()
    {
        var dir = TempDir();
        var reports = Directory.CreateDirectory(Path.Combine(dir, "reports")).FullName;
        File.WriteAllText(Path.Combine(reports, "summary.md"), "tracked md");
        File.WriteAllText(Path.Combine(reports, "summary.json"), "tracked json");

        var ci = Run(dir, "ci", "--quick", "--check", "counter,wakeup", "--check", "counter");
        Assert.True(ci.Code == 0, ci.Out + ci.Err);
        var ran = Suite.ReadSummary(Path.Combine(reports, "last", "summary.json")).Rows.Select(r => r.Check).Distinct().Order().ToList();
        Assert.Equal(["counter", "wakeup"], ran);
        Assert.Equal("tracked md", File.ReadAllText(Path.Combine(reports, "summary.md")));
        Assert.Equal("tracked json", File.ReadAllText(Path.Combine(reports, "summary.json")));

        AssertOneLineError(Run(dir, "ci", "--check", "counter,,wakeup"), "--check 'counter,,wakeup' has an empty check name");
        AssertOneLineError(Run(dir, "ci", "--check", "counter", "--check", "no-such-check"), "unknown check 'no-such-check'");
        AssertOneLineError(Run(dir, "ci", "--check", "counter", "--update-summary"), "--update-summary records the whole suite");
        Assert.Equal("tracked md", File.ReadAllText(Path.Combine(reports, "summary.md")));
    }
}
