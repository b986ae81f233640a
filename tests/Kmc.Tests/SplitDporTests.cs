using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Models.Scheduling.Reduction;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// Source-DPOR split into parts (<see cref="DporSplit"/>) against the same search on one thread:
/// the parts together reach the same failures and final states, give the same verdict, and run
/// at least as many executions as the one search and not many more.
/// </summary>
public class SplitDporTests(ITestOutputHelper output)
{
    /// <summary>Configurations whose single search runs more executions than this are left out (named in the output).</summary>
    private const int SingleSearchExecutions = 4_000;

    private static readonly string[] Checks = ["lglock", "lglock-preempt", "lglock-hotplug", "ticket-spinlock", "osq-1round", "closure-refcount", "counter"];

    public static IEnumerable<object[]> Models => [["sc"], ["lkmm"], ["tso"]];

    private static ExploreOptions Options(string model) => ReductionTests.UnboundedDfs(model, staleBound: 1);

    /// <summary>
    /// Every variant of the checks, split 2 and 3 ways at a shallow depth (most of each tree below
    /// the split, where the parts run source-DPOR from the sleep sets the top hands them) and at the
    /// default one: the union of the parts' outcomes is the one search's.
    /// </summary>
    [Theory]
    [MemberData(nameof(Models))]
    public void The_parts_together_reach_what_one_search_reaches(string model)
    {
        var compared = 0;
        var mismatches = new List<string>();
        foreach (var check in Checks.Select(CheckRegistry.Get))
        {
            foreach (var variant in check.Variants)
            {
                var scenario = check.Build(variant);
                var options = Options(model);
                var run = 0;
                var one = new NativeExplorer().Explore(scenario, options with { Cancelled = () => ++run > SingleSearchExecutions });
                if (!one.Exhausted)
                {
                    output.WriteLine($"skipped {check.Name}/{variant.Name}: more than {SingleSearchExecutions} executions");
                    continue;
                }

                Assert.True(one.Reduced);
                foreach (var (parts, depth) in new[] { (2, 3), (3, 5), (2, DporSplit.DefaultDepth) })
                {
                    var results = Enumerable.Range(0, parts)
                        .Select(k => new NativeExplorer().Explore(scenario, options with { DfsPart = k, DfsParts = parts, DfsSplitDepth = depth }))
                        .ToList();
                    var name = $"{check.Name}/{variant.Name} ({model}, {parts} parts, depth {depth})";
                    Assert.All(results, r => Assert.True(r.Exhausted && r.Reduced, name));
                    // Every part walks the whole top of the tree: all count its units alike.
                    Assert.Single(results.Select(r => r.SplitUnits).Distinct());
                    var union = results.SelectMany(r => r.Outcomes!).ToHashSet(StringComparer.Ordinal);
                    // Every failure (kind and site) and final state one thread reaches; the same
                    // failure kinds and final states. A site only the split reaches is named: the
                    // one-thread search stops each failing execution at its failure, so it never
                    // sees the races after it, and with every task tried above the split the split
                    // can reach another site of the same bug (lglock-hotplug/online-unsynchronised:
                    // the full search reaches it too).
                    if (!one.Outcomes!.IsSubsetOf(union) || !Kinds(union).SetEquals(Kinds(one.Outcomes!)))
                    {
                        mismatches.Add($"{name}: only one thread: [{string.Join("; ", one.Outcomes!.Except(union))}], " +
                                       $"only split: [{string.Join("; ", union.Except(one.Outcomes!))}]");
                    }
                    else if (!union.SetEquals(one.Outcomes!))
                    {
                        output.WriteLine($"{name}: sites only the split reached: {string.Join("; ", union.Except(one.Outcomes!))}");
                    }

                    Assert.Equal(one.Complete, results.All(r => r.Complete));
                    Assert.Equal(one.StepBoundHits > 0, results.Any(r => r.StepBoundHits > 0));
                    var total = results.Sum(r => r.Executions);
                    output.WriteLine($"{name}: {one.Executions} executions on one thread, {total} split, {results[0].SplitUnits} units");
                    Assert.True(total >= one.Executions, $"{name}: {total} executions split, fewer than one search's {one.Executions}");
                    Assert.True(total <= 4 * one.Executions, $"{name}: {total} executions split, over 4x one search's {one.Executions}");
                }

                compared++;
            }
        }

        foreach (var m in mismatches)
            output.WriteLine("MISMATCH " + m);
        Assert.True(compared >= (model == "tso" ? 4 : 10), $"only {compared} configurations were small enough to compare");
        Assert.Empty(mismatches);
    }

    /// <summary>Failure kinds (without their sites) and final states.</summary>
    private static HashSet<string> Kinds(IEnumerable<string> outcomes) =>
        outcomes.Select(o => o.StartsWith("final ", StringComparison.Ordinal) ? o : o.Split(" at ")[0]).ToHashSet(StringComparer.Ordinal);

    /// <summary>A tree much larger than its top keeps the overhead small: the full branching is only above the split.</summary>
    [Theory]
    [InlineData("osq-1round", "sc", 6)]
    [InlineData("lglock-hotplug", "lkmm", 3)]
    public void On_a_larger_tree_the_split_runs_few_more_executions_than_one_search(string name, string model, int depth)
    {
        var check = CheckRegistry.Get(name);
        var scenario = check.Build(check.Variants[0]);
        var options = Options(model) with { AllOutcomes = false };
        var one = new NativeExplorer().Explore(scenario, options);
        var parts = Enumerable.Range(0, 2).Select(k => new NativeExplorer().Explore(scenario, options with { DfsPart = k, DfsParts = 2, DfsSplitDepth = depth })).ToList();
        Assert.True(one.Exhausted);
        Assert.All(parts, p => Assert.True(p.Exhausted));
        var total = parts.Sum(p => p.Executions);
        output.WriteLine($"{one.Executions} on one thread, {total} split ({parts[0].SplitUnits} units)");
        Assert.InRange(total, one.Executions, (int)(one.Executions * 1.2));
        // Both parts get work: the units are dealt round-robin.
        Assert.All(parts, p => Assert.True(p.Executions > one.Executions / 5, $"a part ran only {p.Executions} of {total}"));
    }

    public static IEnumerable<object[]> Bugs =>
        from row in new (string Check, string Model)[]
        {
            ("lglock", "sc"), ("lglock-hotplug", "lkmm"), ("lglock-preempt", "sc"), ("osq-1round", "lkmm"), ("ticket-spinlock", "lkmm"),
            ("closure-refcount", "lkmm"), ("counter", "tso"), ("lglock-3cpu-2round", "sc"),
        }
        from variant in CheckRegistry.Get(row.Check).Variants
        where variant.ExpectedUnder(row.Model).BugExpected
        select new object[] { row.Check, variant.Name, row.Model };

    /// <summary>
    /// Every known bug of these checks is found by the split search, of the kind one thread finds,
    /// and the failing schedule (the failure in the earliest unit) and its count do not depend on
    /// which thread ran faster.
    /// </summary>
    [Theory]
    [MemberData(nameof(Bugs))]
    public void The_split_search_finds_the_bug_one_search_finds(string check, string variant, string model)
    {
        var c = CheckRegistry.Get(check);
        var v = c.GetVariant(variant);
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, FirstPass = false, MemoryModel = model, StaleBound = 1, Minimize = false, Seed = 1 };
        var one = CheckRunner.Run(c, v, settings);
        Assert.NotNull(one.Result.Failure);
        foreach (var (parts, depth) in new[] { (2, 3), (3, DporSplit.DefaultDepth) })
        {
            var split = CheckRunner.RunSplit(c, v, settings, parts, depth);
            Assert.Equal(one.Result.Failure!.Kind, split.Result.Failure?.Kind);
            Assert.True(split.MatchesExpectation);
            Assert.NotNull(split.Trace);
            Assert.Equal(split.Result.Failure!.Kind, TraceReplayer.Replay(split.Trace!).Failure?.Kind);
            var again = CheckRunner.RunSplit(c, v, settings, parts, depth);
            Assert.Equal(split.Result.Schedule, again.Result.Schedule);
            Assert.Equal(split.Result.Executions, again.Result.Executions);
            Assert.Equal(split.Result.FailingUnit, again.Result.FailingUnit);
        }
    }

    /// <summary>The verdict of a complete search: the words are one search's, with the split named.</summary>
    [Fact]
    public void A_split_verified_search_says_verified_and_how_it_was_split()
    {
        var c = CheckRegistry.Get("lglock");
        var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, MemoryModel = "lkmm", Minimize = false, Seed = 1 };
        var one = CheckRunner.Run(c, c.Variants[0], settings).Result;
        var split = CheckRunner.RunSplit(c, c.Variants[0], settings, 2).Result;
        Assert.True(one.Complete);
        Assert.True(split.Complete);
        Assert.EndsWith(": verified (complete)", split.Verdict());
        Assert.Contains("split over 2 threads", split.Verdict());
        Assert.Contains("source-DPOR", split.Verdict());
    }

    [Fact]
    public void What_cannot_split_is_refused_in_one_line()
    {
        var c = CheckRegistry.Get("lglock");
        var dfs = new RunSettings { Strategy = "dfs", PreemptionBound = -1 };
        var cached = Assert.Throws<ArgumentException>(() => CheckRunner.RunSplit(c, c.Variants[0], dfs with { StateCache = true }, 2));
        Assert.Contains("state-cached search does not split", cached.Message);
        var random = Assert.Throws<ArgumentException>(() => CheckRunner.RunSplit(c, c.Variants[0], new RunSettings { Strategy = "random" }, 2));
        Assert.Contains("only the native exhaustive search", random.Message);
        var none = Assert.Throws<ArgumentException>(() => CheckRunner.RunSplit(c, c.Variants[0], dfs, 0));
        Assert.Contains("1 or more parts", none.Message);
        Assert.All(new[] { cached, random, none }, e => Assert.DoesNotContain('\n', e.Message));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DporSplit(2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DporSplit(0, 2, depth: -1));
    }

    private static string TempDir() => Directory.CreateTempSubdirectory("kmc-split-dpor").FullName;

    private static void AssertOneLineError((int Code, string Out, string Err) r, string contains) => CliTests.AssertOneLineError(r, contains);

    [Fact]
    public void Cli_refuses_zero_workers_and_a_split_state_cache_in_one_line()
    {
        var dir = TempDir();
        AssertOneLineError(CliTests.Run(dir, "run", "lglock", "--strategy", "dfs", "--preemption-bound", "-1", "--workers", "0"), "--workers must be between 1");
        AssertOneLineError(CliTests.Run(dir, "run", "lglock", "--strategy", "dfs", "--preemption-bound", "-1", "--state-cache", "on", "--workers", "2"),
            "state-cached search does not split");
        AssertOneLineError(CliTests.Run(dir, "bench", "--split", "--parts", "1"), "--parts must be between 2");
        AssertOneLineError(CliTests.Run(dir, "bench", "--depth", "3"), "only apply with --split");
    }

    [Fact]
    public void Cli_runs_the_reduced_search_on_two_workers()
    {
        var dir = TempDir();
        var fixedRun = CliTests.Run(dir, "run", "lglock", "--strategy", "dfs", "--preemption-bound", "-1", "--workers", "2");
        Assert.True(fixedRun.Code == 0, fixedRun.Out + fixedRun.Err);
        Assert.Contains("source-DPOR", fixedRun.Out);
        Assert.Contains("split over 2 threads", fixedRun.Out);
        Assert.Contains("verified (complete)", fixedRun.Out);

        var buggy = CliTests.Run(dir, "run", "lglock-hotplug", "--variant", "online-unsynchronised", "--strategy", "dfs", "--preemption-bound", "-1",
            "--no-first-pass", "--workers", "2");
        Assert.True(buggy.Code == 1, buggy.Out + buggy.Err);
        Assert.Contains("Assertion found in execution", buggy.Out);
        Assert.Contains("split over 2 threads", buggy.Out);
        var trace = Directory.GetFiles(Path.Combine(dir, "reports", "runs"), "trace.json", SearchOption.AllDirectories).Single();
        var replay = CliTests.Run(dir, "replay", trace);
        Assert.True(replay.Code == 1, replay.Out + replay.Err);
        Assert.Contains("reproduced", replay.Out);
    }
}
