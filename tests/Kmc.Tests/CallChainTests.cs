using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;
using Assert = Xunit.Assert;

namespace Kmc.Tests;

/// <summary>Recorded steps carry the port's call chain, with lambdas and local functions shown as their declaring method.</summary>
public class CallChainTests
{
    public static TheoryData<string> Drivers => new() { "native", "coyote" };

    private static TraceFile PagecacheDeadlock(string driver)
    {
        var check = CheckRegistry.Get("pagecache-two-file-deadlock");
        var run = CheckRunner.Run(check, check.GetVariant("abba-no-trylock"), new RunSettings { Driver = driver, Strategy = "random", Iterations = 500 });
        return run.Trace!;
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void PagecacheStepsShowTheirKernelCallChain(string driver)
    {
        var t = PagecacheDeadlock(driver);
        var lockPage = t.Steps.First(s => s.Op == "cmpxchg_acquire" && s.Target == "B.page[0].locked");
        Assert.Equal("Build → DioWrite → InvalidateRange → LockPage", lockPage.Chain);
        var blockGet = t.Steps.First(s => s.Op == "atomic_cmpxchg_acquire" && s.Task == "dio-B-from-A" && s.Target == "B.add_lock.v");
        Assert.Equal("Build → DioWrite → PagecacheBlockGet → PagecacheLockGet → PagecacheLockTryget", blockGet.Chain);
        // wait_event() went on after its condition (PagecacheLockTryget) returned: that frame is gone.
        var prepare = t.Steps.First(s => s.Op == "prepare_to_wait");
        Assert.Equal("Build → DioWrite → PageFault → FaultLock → PagecacheLockGet", prepare.Chain);
        Assert.All(t.Steps, s => Assert.EndsWith(s.Function, s.Chain));
    }

    [Fact]
    public void ReportsShowTheChainAndTheHolderWhere()
    {
        var t = PagecacheDeadlock("native");
        Assert.Matches(@"held by dio-B-from-A \(block\) since step \d+ \(Build → DioWrite → PagecacheBlockGet → PagecacheLockGet → PagecacheLockTryget, PagecacheLock\.cs:\d+\)", t.Failure.Message);
        var dir = ReportWriter.Write(t, Directory.CreateTempSubdirectory("kmc-chain").FullName);
        Assert.Contains("| Build → DioWrite → InvalidateRange → LockPage | PageCache.cs:", File.ReadAllText(Path.Combine(dir, "report.md")));
        Assert.Contains("<td>Build → DioWrite → InvalidateRange → LockPage</td>", File.ReadAllText(Path.Combine(dir, "report.html")));
    }

    private static async ValueTask OuterPort(Loc<int> x)
    {
        await WriteOnce(x, 1);
        await InnerPort(x);
        await WriteOnce(x, 4);
    }

    private static async ValueTask InnerPort(Loc<int> x)
    {
        async ValueTask Local(int v) => await WriteOnce(x, v);
        await Local(2);
        await SpinUntil(() => x.Peek() == 2, "x == 2");
        Func<ValueTask> lambda = async () => await WriteOnce(x, 3);
        await lambda();
    }

    private static Scenario ChainScenario() => new(1, ex =>
    {
        var x = new Loc<int>("x");
        ex.Spawn("T0", 0, async () =>
        {
            await WriteOnce(x, 0);
            await OuterPort(x);
            // A failure, so that the explorers hand back a schedule to replay recorded.
            BugOn(true, "end of the scenario");
        });
    });

    [Theory]
    [MemberData(nameof(Drivers))]
    public void LambdasAndLocalFunctionsShowAsTheirDeclaringMethod(string driver)
    {
        IExplorer explorer = driver == "native" ? new NativeExplorer() : new CoyoteExplorer();
        var options = new ExploreOptions { Strategy = "random", Iterations = 1, Seed = 1 };
        var r = explorer.Explore(ChainScenario(), options);
        var replay = explorer.Replay(ChainScenario(), options, r.Schedule, r.CoyoteTrace);
        var chains = replay.Steps.Where(s => s.Target == "x").Select(s => (s.Value, s.Chain)).ToList();
        Assert.Equal(
        [
            ("0", "ChainScenario"),
            ("1", "ChainScenario → OuterPort"),
            ("2", "ChainScenario → OuterPort → InnerPort"),
            ("3", "ChainScenario → OuterPort → InnerPort"),
            ("4", "ChainScenario → OuterPort"),
        ], chains);
        Assert.Equal("ChainScenario → OuterPort → InnerPort", replay.Steps.Single(s => s.Op == "spin until").Chain);
    }
}
