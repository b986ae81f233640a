using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Assert = Xunit.Assert;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

public class WeakenTests
{
    /// <summary>Message passing: the reader that sees the flag must see the data.</summary>
    private static Scenario MessagePassing(Action<Execution>? install = null, bool fences = false) => new(2, ex =>
    {
        install?.Invoke(ex);
        var data = new Loc<int>("data");
        var flag = new Loc<int>("flag");
        ex.Spawn("writer", 0, async () =>
        {
            await WriteOnce(data, 1);
            if (fences)
            {
                await SmpWmb();
                await WriteOnce(flag, 1);
            }
            else
            {
                await SmpStoreRelease(flag, 1);
            }
        });
        ex.Spawn("reader", 1, async () =>
        {
            int f;
            if (fences)
            {
                f = await ReadOnce(flag);
                await SmpRmb();
            }
            else
            {
                f = await SmpLoadAcquire(flag);
            }

            if (f == 1)
                Assert(await ReadOnce(data) == 1, "flag seen, data stale");
        });
    });

    private static ExplorationResult Dfs(Scenario s, string model = "lkmm") =>
        new NativeExplorer().Explore(s, new ExploreOptions { Strategy = "dfs", Iterations = 100_000, Memory = MemoryModels.Factory(model), StaleBound = 2 });

    private static IReadOnlyList<WeakenSite> Probe(bool fences)
    {
        var probe = new OrderingProbe(_ => true);
        Assert.Null(Dfs(MessagePassing(ex => ex.Orderings = probe, fences)).Failure);
        return SiteDiscovery.Name(probe.Sites);
    }

    [Theory]
    [InlineData(false, "smp_store_release")]
    [InlineData(false, "smp_load_acquire")]
    [InlineData(true, "smp_wmb")]
    [InlineData(true, "smp_rmb")]
    public void RelaxingOneSiteOfMessagePassingBreaksItUnderLkmmOnly(bool fences, string op)
    {
        var sites = Probe(fences);
        Assert.Equal(2, sites.Count);
        var site = Assert.Single(sites, s => s.Site.Op == op);
        var weakened = MessagePassing(ex => ex.Orderings = new SiteWeakening(site.Site.FileName, site.Site.Line, site.Site.Op), fences);

        var lkmm = Dfs(weakened);
        Assert.NotNull(lkmm.Failure);
        Assert.Equal(FailureKind.Assertion, lkmm.Failure!.Kind);
        var replay = new NativeExplorer().Replay(weakened, new ExploreOptions { Strategy = "dfs", Memory = MemoryModels.Factory("lkmm") }, lkmm.Schedule, null);
        Assert.Contains(replay.Steps, s => s.ToString().Contains("weakened"));

        var sc = Dfs(weakened, "sc");
        Assert.Null(sc.Failure);
        Assert.True(sc.Exhausted);
    }

    [Fact]
    public void FixedMessagePassingPassesAndAnotherLineIsNotWeakened()
    {
        Assert.True(Dfs(MessagePassing()).Exhausted);
        Assert.Null(Dfs(MessagePassing()).Failure);
        var release = Probe(fences: false).Single(s => s.Site.Op == "smp_store_release").Site;
        var elsewhere = MessagePassing(ex => ex.Orderings = new SiteWeakening(release.FileName, release.Line + 1000, release.Op));
        Assert.Null(Dfs(elsewhere).Failure);
    }

    [Fact]
    public void RepeatedCallsInOneFunctionAreNumberedInSourceOrder()
    {
        var names = SiteDiscovery.Name(
        [
            new OrderingSite("/x/Port.cs", 30, "Lock", "smp_load_acquire", "acquire"),
            new OrderingSite("/x/Port.cs", 10, "Lock", "smp_load_acquire", "acquire"),
            new OrderingSite("/x/Port.cs", 20, "Unlock", "smp_store_release", "release"),
            new OrderingSite("/x/Port.cs", 10, "Lock", "smp_load_acquire", "relaxed"),
        ]);
        Assert.Equal(["Lock.smp_load_acquire-1", "Unlock.smp_store_release", "Lock.smp_load_acquire-2"], names.Select(n => n.Name));
        Assert.Equal([10, 20, 30], names.Select(n => n.Site.Line));
    }

    [Fact]
    public void AnUndeclaredExpectationMatchesNoOutcome()
    {
        Assert.False(Expectation.Undeclared.Matches(null));
        Assert.False(Expectation.Undeclared.Matches(new Failure(FailureKind.Assertion, "x", null)));
        Assert.Equal("undeclared", Expectation.Undeclared.ToString());
    }

    public static TheoryData<string> Benchmarks() => new(CheckRegistry.All.OfType<WeakenedCheck>().Select(c => c.Name));

    /// <summary>Every ordered call the fixed code makes has a declared expectation, and every declaration names one.</summary>
    [Theory]
    [MemberData(nameof(Benchmarks))]
    public void EverySiteIsDeclared(string check)
    {
        var c = (WeakenedCheck)CheckRegistry.Get(check);
        var (undeclared, stale) = c.Coverage();
        Assert.Empty(undeclared);
        Assert.Empty(stale);
        Assert.Equal(c.Sites.Count + 1, c.Variants.Count);
        Assert.All(c.Variants, v => Assert.True(v.ExpectedUnder("lkmm").IsDeclared && v.ExpectedUnder("sc").IsDeclared && v.ExpectedUnder("tso").IsDeclared));
        Assert.All(c.Declared.Where(d => d.Class != WeakeningClass.Detected), d => Assert.False(d.Lkmm.BugExpected || d.Sc.BugExpected || d.Tso.BugExpected));
    }

    /// <summary>Each primitive has a weakening that lkmm finds and sc does not, with the configured budgets.</summary>
    [Theory]
    [MemberData(nameof(Benchmarks))]
    public void SomeWeakeningIsFoundUnderLkmmAndPassesUnderSc(string check)
    {
        var c = (WeakenedCheck)CheckRegistry.Get(check);
        var config = KmcConfig.Load();
        var detected = c.Declared.First(d => d.Class == WeakeningClass.Detected);
        var variant = c.GetVariant(detected.Site);

        var lkmm = CheckRunner.Run(c, variant, config.For(c.Name, "lkmm"));
        Assert.NotNull(lkmm.Result.Failure);
        Assert.True(lkmm.MatchesExpectation, lkmm.Mismatch());

        // Under sc only the data-race property can see a weakening: without it the search passes.
        var sc = CheckRunner.Run(c, variant, config.For(c.Name, "sc") with { DetectRaces = false });
        Assert.Null(sc.Result.Failure);
        var scRaces = CheckRunner.Run(c, variant, config.For(c.Name, "sc"));
        Assert.True(scRaces.MatchesExpectation, scRaces.Mismatch());
    }

    /// <summary>The cheap benchmarks in full: every variant under every model as declared.</summary>
    [Theory]
    [InlineData("weaken.ticket-spinlock")]
    [InlineData("weaken.two-state-lock")]
    public void EveryVariantMatchesItsDeclaration(string check)
    {
        var c = CheckRegistry.Get(check);
        var config = KmcConfig.Load();
        foreach (var model in WeakenReport.Models)
        {
            foreach (var v in c.Variants)
            {
                var run = CheckRunner.Run(c, v, config.For(c.Name, model) with { Minimize = false });
                Assert.True(run.MatchesExpectation, $"{model}: {run.Mismatch()}");
            }
        }
    }
}
