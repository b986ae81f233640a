using Kmc.Checks.Framework;
using Kmc.Cli;

namespace Kmc.Tests;

public class ParallelTests
{
    [Theory]
    [InlineData("1/1", 1, 1)]
    [InlineData("2/3", 2, 3)]
    [InlineData(" 4 / 4 ", 4, 4)]
    public void Shards_parse(string text, int index, int count) => Assert.Equal(new Shard(index, count), Shard.Parse(text));

    [Theory]
    [InlineData("0/2")]
    [InlineData("3/2")]
    [InlineData("1/0")]
    [InlineData("half")]
    [InlineData("1/2/3")]
    public void Bad_shards_are_one_line_input_errors(string text)
    {
        var e = Assert.Throws<KmcInputException>(() => Shard.Parse(text));
        Assert.Contains("--shard must be i/N", e.Message);
    }

    [Theory]
    [InlineData(2000, 3)]
    [InlineData(7, 7)]
    [InlineData(10, 4)]
    public void Native_parts_cover_every_execution_exactly_once(int iterations, int count)
    {
        var s = new RunSettings { Iterations = iterations };
        var covered = Enumerable.Range(1, count).Select(i => new Shard(i, count).Part(s))
            .SelectMany(p => Enumerable.Range(p.FirstExecution, p.Iterations)).ToList();
        Assert.Equal(Enumerable.Range(0, iterations), covered);
    }

    [Fact]
    public void Exhaustive_search_cannot_be_split() =>
        Assert.Throws<KmcInputException>(() => new Shard(1, 2).Part(new RunSettings { Strategy = "dfs" }));

    [Fact]
    public void A_split_search_finds_the_failure_a_single_run_finds()
    {
        var check = CheckRegistry.Get("closure-sync.2-putters");
        var variant = check.GetVariant("sync-wakeup-race");
        // The use-after-free itself (the s->done data race of this closure code would be met first).
        var settings = new RunSettings { Iterations = 2000, Seed = 1, MemoryModel = "sc", DetectRaces = false };
        var whole = Suite.RunCase(check, variant, settings, writeReports: false);
        Assert.Equal("bug: UseAfterFree", whole.Observed);
        Assert.True(whole.Executions > 500, "the test needs a failure past the first part");

        var parts = Enumerable.Range(1, 4).Select(i => Suite.RunCase(check, variant, new Shard(i, 4).Part(settings), writeReports: false)).ToList();
        Assert.Equal("pass", parts[0].Observed);
        var merged = Suite.Merge(parts).Single();
        Assert.Equal(whole.Executions, merged.Executions);
        Assert.Equal(whole.Observed, merged.Observed);
        Assert.True(merged.Matches);
    }

    [Fact]
    public void Merging_clean_parts_counts_every_execution_and_a_lost_bug_is_a_mismatch()
    {
        var check = CheckRegistry.Get("counter");
        var buggy = check.GetVariant("no-lock");
        var fixedParts = Enumerable.Range(1, 2).Select(i => Suite.RunCase(check, check.Variants[0], new Shard(i, 2).Part(new RunSettings { Iterations = 300 }), false));
        var clean = Suite.Merge(fixedParts).Single();
        Assert.Equal(300, clean.Executions);
        Assert.True(clean.Matches);

        var row = Suite.RunCase(check, buggy, new RunSettings { Iterations = 50 }, false);
        var lost = Suite.Merge([row with { Observed = "pass", Matches = false, Executions = 10 }, row with { Observed = "pass", Matches = false, Executions = 15 }]).Single();
        Assert.False(lost.Matches);
        Assert.Contains("not found in 25 executions", lost.Mismatch);
    }

    [Fact]
    public void Workers_give_the_same_trace_as_one_process()
    {
        var one = Directory.CreateTempSubdirectory("kmc-w1").FullName;
        var two = Directory.CreateTempSubdirectory("kmc-w2").FullName;
        var a = CliTests.Run(one, "run", "osq", "--variant", "wait-next-nonatomic-next", "--seed", "3", "--workers", "1");
        var b = CliTests.Run(two, "run", "osq", "--variant", "wait-next-nonatomic-next", "--seed", "3", "--workers", "2");
        Assert.Equal(1, a.Code);
        Assert.Equal(1, b.Code);
        Assert.Contains("(2 workers)", b.Out);
        var folder = Path.Combine("reports", "runs", "osq__wait-next-nonatomic-next__native-random-lkmm-seed3", "trace.json");
        var ta = File.ReadAllText(Path.Combine(one, folder)).Replace(one, "");
        var tb = File.ReadAllText(Path.Combine(two, folder)).Replace(two, "");
        Assert.Equal(ta, tb);
    }

    [Fact]
    public void Ci_shards_merge_into_the_whole_suite()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-shards").FullName;
        var s1 = CliTests.Run(dir, "ci", "--quick", "--check", "osq", "--shard", "1/2", "--out", "s1");
        var s2 = CliTests.Run(dir, "ci", "--quick", "--check", "osq", "--shard", "2/2", "--out", "s2");
        // Shards write only where they are told: nothing lands in the committed summary's place.
        Assert.False(File.Exists(Path.Combine(dir, "reports", "summary.json")));
        Assert.Equal(0, s1.Code);
        Assert.Equal(0, s2.Code);

        var merged = CliTests.Run(dir, "merge", Path.Combine("s1", "summary.json"), Path.Combine("s2", "summary.json"), "--out", "merged");
        Assert.Equal(0, merged.Code);
        var summary = Suite.ReadSummary(Path.Combine(dir, "merged", "summary.json"));
        Assert.Equal(CheckRegistry.Get("osq").Variants.Select(v => v.Name), summary.Rows.Select(r => r.Variant));
        Assert.All(summary.Rows, r => Assert.True(r.Matches));

        var bad = CliTests.Run(dir, "merge", Path.Combine("s1", "summary.json"), "nope.json");
        Assert.Equal(2, bad.Code);
        Assert.Contains("does not exist", bad.Err);
    }

    [Fact]
    public void Ci_writes_its_summary_outside_the_committed_one_unless_asked()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-ci-out").FullName;
        var run = CliTests.Run(dir, "ci", "--quick", "--check", "counter", "--workers", "1");
        Assert.True(run.Code == 0, run.Out + run.Err);
        Assert.Contains(Path.Combine(dir, "reports", "last", "summary.md"), run.Out);
        Assert.Equal(["counter"], Suite.ReadSummary(Path.Combine(dir, "reports", "last", "summary.json")).Rows.Select(r => r.Check).Distinct());
        Assert.False(File.Exists(Path.Combine(dir, "reports", "summary.md")));
        Assert.False(File.Exists(Path.Combine(dir, "reports", "summary.json")));

        // The committed summary records the whole suite at its budgets, never a part of it.
        foreach (var args in new[] { new[] { "--check", "counter" }, ["--quick"], ["--shard", "1/2"], ["--budget", "0.5"] })
        {
            var refused = CliTests.Run(dir, ["ci", "--update-summary", .. args]);
            Assert.Equal(2, refused.Code);
            Assert.Contains("--update-summary records the whole suite", refused.Err);
        }

        Assert.False(File.Exists(Path.Combine(dir, "reports", "summary.md")));
    }

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    [InlineData(null)]
    public void Ci_prints_a_line_per_finished_case_in_a_log(string? workers)
    {
        var dir = Directory.CreateTempSubdirectory("kmc-progress").FullName;
        var regressions = Directory.CreateDirectory(Path.Combine(dir, "reports", "regressions")).FullName;
        File.Copy(Path.Combine(TestPaths.InRepo("reports", "regressions"), "counter__no-lock.json"), Path.Combine(regressions, "counter__no-lock.json"));
        var r = CliTests.Run(dir, ["ci", "--quick", "--check", "osq", .. workers != null ? new[] { "--workers", workers } : []]);
        Assert.True(r.Code == 0, r.Out + r.Err);
        var lines = r.Out.Split('\n');
        var variants = CheckRegistry.Get("osq").Variants.Count;
        for (var k = 1; k <= variants; k++)
            Assert.Single(lines, l => l.StartsWith($"[{k}/{variants}] osq/", StringComparison.Ordinal) && l.Contains("as expected"));
        Assert.Contains("replaying the regression corpus (1 traces)", r.Out);
        // The progress comes before the table, as the cases finish.
        Assert.True(r.Out.IndexOf($"[{variants}/{variants}]", StringComparison.Ordinal) < r.Out.IndexOf("│ check", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0.5, 2)]
    [InlineData(2.0, 2)]
    [InlineData(5.0, 2)]
    [InlineData(60.0, 1)]
    public void Small_work_stays_in_one_process(double seconds, int workers) =>
        Assert.False(Workers.WorthSplitting(seconds, workers));

    [Theory]
    [InlineData(10.0, 2)]
    [InlineData(4.0, 8)]
    public void Large_work_on_idle_cores_goes_to_workers(double seconds, int workers) =>
        Assert.True(Workers.WorthSplitting(seconds, workers));

    [Fact]
    public void The_default_worker_choice_gives_the_trace_of_one_process()
    {
        var one = Directory.CreateTempSubdirectory("kmc-d1").FullName;
        var deflt = Directory.CreateTempSubdirectory("kmc-dd").FullName;
        var a = CliTests.Run(one, "run", "osq", "--variant", "wait-next-nonatomic-next", "--seed", "3", "--workers", "1");
        var b = CliTests.Run(deflt, "run", "osq", "--variant", "wait-next-nonatomic-next", "--seed", "3");
        Assert.Equal(1, a.Code);
        Assert.Equal(1, b.Code);
        var folder = Path.Combine("reports", "runs", "osq__wait-next-nonatomic-next__native-random-lkmm-seed3", "trace.json");
        Assert.Equal(File.ReadAllText(Path.Combine(one, folder)).Replace(one, ""), File.ReadAllText(Path.Combine(deflt, folder)).Replace(deflt, ""));
    }

    [Fact]
    public void A_search_handed_to_workers_after_a_slice_here_gives_the_result_of_one_process()
    {
        var check = CheckRegistry.Get("osq");
        var buggy = check.GetVariant("wait-next-nonatomic-next");
        // The functional properties: with races on, the two-round OSQ's node-reinit data race (the
        // kernel's own, declared) is found first, in the fixed code too.
        var settings = new RunSettings { Seed = 3, DetectRaces = false };
        var whole = CheckRunner.Run(check, buggy, settings);
        Assert.True(whole.Result.FailingExecution > 1, "the test needs a failure after the first execution");

        // A slice of one execution here, the rest on two workers.
        var (split, header) = Commands.RunHereThenOnWorkers(check, buggy, settings, slice: 0, workerCount: 2, split: true);
        Assert.Equal(whole.Result.FailingExecution, split.Result.FailingExecution);
        Assert.Equal(whole.Trace!.ToJson(), split.Trace!.ToJson());
        Assert.EndsWith("(2 workers), after 1 here", header);

        var (clean, cleanHeader) = Commands.RunHereThenOnWorkers(check, check.Variants[0], settings with { Iterations = 300 }, slice: 0, workerCount: 2, split: true);
        Assert.Null(clean.Result.Failure);
        Assert.Equal(300, clean.Result.Executions);
        Assert.Equal("no failure in 300 executions (1 here, the rest on 2 workers)", cleanHeader);

        // Not worth splitting: the rest runs here, from where the slice stopped.
        var (here, hereHeader) = Commands.RunHereThenOnWorkers(check, buggy, settings, slice: 0, workerCount: 1);
        Assert.Null(hereHeader);
        Assert.Equal(whole.Trace!.ToJson(), here.Trace!.ToJson());
    }
}
