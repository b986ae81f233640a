using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

public class MinimizeAndStepTests
{
    [Theory]
    [InlineData("osq-3cpu", "step-a-plain-store")]
    [InlineData("closure-sync.2-putters", "sync-wakeup-race")]
    [InlineData("pagecache-truncate", "truncate-isize-only")]
    public void A_minimised_schedule_is_no_longer_still_fails_the_same_way_and_replays_exactly(string checkName, string variantName)
    {
        var check = CheckRegistry.Get(checkName);
        var variant = check.GetVariant(variantName);
        var run = CheckRunner.Run(check, variant, new RunSettings { Iterations = 20000, Seed = 1, MemoryModel = "sc" });
        var t = run.Trace!;
        var m = t.Minimization!;
        Assert.True(m.Preemptions < m.OriginalPreemptions, $"preemptions {m.OriginalPreemptions} -> {m.Preemptions}");
        Assert.True(m.Steps <= m.OriginalSteps + 2);
        Assert.Equal(m.Steps, t.Steps.Count);
        Assert.Equal(run.Result.Failure!.Kind, t.Failure.Kind);

        var replay = TraceReplayer.Replay(t);
        Assert.True(replay.Reproduced);
        Assert.Equal(t.Steps, replay.Steps);
    }

    [Fact]
    public void Minimising_keeps_the_failure_and_lowers_the_preemption_count()
    {
        var check = CheckRegistry.Get("osq-3cpu");
        var variant = check.GetVariant("step-a-plain-store");
        var settings = new RunSettings { Iterations = 100, Seed = 1 };
        var options = settings.ToExploreOptions();
        var found = new NativeExplorer().Explore(check.Build(variant), options);
        var min = Minimizer.Minimize(check.Build(variant), options, found.Schedule!, found.Failure!);
        Assert.True(min.Minimized.CompareTo(min.Original) < 0);
        var again = new NativeExplorer().Replay(check.Build(variant), options, min.Schedule, null);
        Assert.Equal(found.Failure!.Kind, again.Failure!.Kind);
        Assert.Equal(found.Failure.Location, again.Failure.Location);
    }

    [Fact]
    public void Minimising_is_deterministic()
    {
        var check = CheckRegistry.Get("osq");
        var variant = check.GetVariant("wait-next-nonatomic-next");
        var a = CheckRunner.Run(check, variant, new RunSettings { Seed = 2 }).Trace!;
        var b = CheckRunner.Run(check, variant, new RunSettings { Seed = 2 }).Trace!;
        Assert.Equal(a.Schedule, b.Schedule);
        Assert.Equal(a.Minimization, b.Minimization);
    }

    [Fact]
    public void No_minimize_keeps_the_schedule_as_found()
    {
        var check = CheckRegistry.Get("osq-3cpu");
        var variant = check.GetVariant("step-a-plain-store");
        var run = CheckRunner.Run(check, variant, new RunSettings { Iterations = 100, Seed = 1, Minimize = false });
        Assert.Null(run.Trace!.Minimization);
        Assert.Equal(run.Result.Schedule, run.Trace.Schedule);
    }

    [Fact]
    public void Step_walker_keeps_the_last_value_of_every_touched_variable()
    {
        Step S(int i, string target, string value) => new(i, "T0", 0, "op", target, value, "f", "./x.cs", i);
        var walk = StepWalker.Walk([S(1, "x", "0"), S(2, "y", "1"), S(3, "x", "0 -> 5"), S(4, "osq.tail", "3 (expected 1)")]).ToList();
        Assert.Equal("*x = 0*", StepWalker.Format(walk[0].State));
        Assert.Equal("x = 0, *y = 1*", StepWalker.Format(walk[1].State));
        Assert.Equal("*x = 5*, y = 1", StepWalker.Format(walk[2].State));
        Assert.Equal("x = 5, y = 1, *osq.tail = 3 (expected 1)*", StepWalker.Format(walk[3].State));
    }

    [Fact]
    public void Replay_step_prints_each_step_with_the_variables_and_the_failure()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-step").FullName;
        var found = CliTests.Run(dir, "run", "counter", "--variant", "no-lock", "--seed", "3");
        Assert.Equal(1, found.Code);
        var trace = Directory.GetFiles(Path.Combine(dir, "reports", "runs"), "trace.json", SearchOption.AllDirectories).Single();
        Assert.True(File.Exists(Path.Combine(Path.GetDirectoryName(trace)!, "report.html")));
        var r = CliTests.Run(dir, "replay", trace, "--step");
        Assert.Equal(1, r.Code);
        Assert.Contains("state: *counter = ", r.Out);
        Assert.Contains("then: Assertion", r.Out);
        Assert.Equal(r.Out.Split('\n').Count(l => l.StartsWith("  #")), r.Out.Split('\n').Count(l => l.Contains("state:")));
        // Each step says which port code ran it: the counter's task bodies are lambdas of Build.
        Assert.Equal(r.Out.Split('\n').Count(l => l.StartsWith("  #")), r.Out.Split('\n').Count(l => l.StartsWith("      in: Build")));
    }
}
