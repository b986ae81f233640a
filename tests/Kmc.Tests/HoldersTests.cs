using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;
using Assert = Xunit.Assert;

namespace Kmc.Tests;

/// <summary>Hang reports name, for every stuck task, what it waits for, who holds it and the step that took it.</summary>
public class HoldersTests
{
    public static TheoryData<string> Drivers => new() { "native", "coyote" };

    private static IExplorer Explorer(string driver) => driver == "native" ? new NativeExplorer() : new CoyoteExplorer();

    /// <summary>Explores until the hang, then replays it recorded, as the runner does for a report.</summary>
    private static ReplayResult Hang(string driver, Scenario s)
    {
        var explorer = Explorer(driver);
        var options = new ExploreOptions { Strategy = "random", Iterations = 2000, Seed = 3 };
        var r = explorer.Explore(s, options);
        Assert.Equal(FailureKind.Hang, r.Failure?.Kind);
        var replay = explorer.Replay(s, options, r.Schedule, r.CoyoteTrace);
        Assert.Equal(FailureKind.Hang, replay.Failure?.Kind);
        return replay;
    }

    /// <summary>The step the report says took the lock: "held by TASK since step N".</summary>
    private static Step TakenAt(ReplayResult replay, string waiter, string what, string holder)
    {
        var m = System.Text.RegularExpressions.Regex.Match(replay.Failure!.Message,
            $@"  {waiter} on CPU\d: [^\n]*\n    waits for {System.Text.RegularExpressions.Regex.Escape(what)}, held by {holder}(?: \(\w+\))? since step (\d+) \(");
        Assert.True(m.Success, replay.Failure.Message);
        return replay.Steps[int.Parse(m.Groups[1].Value) - 1];
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void AbbaSpinlocksNameTheHolderAndTheStepThatTookEachLock(string driver)
    {
        var replay = Hang(driver, new Scenario(2, ex =>
        {
            var a = new SpinlockT("A");
            var b = new SpinlockT("B");
            ex.Spawn("T0", 0, async () => { await SpinLock(a); await SpinLock(b); await SpinUnlock(b); await SpinUnlock(a); });
            ex.Spawn("T1", 1, async () => { await SpinLock(b); await SpinLock(a); await SpinUnlock(a); await SpinUnlock(b); });
        }));
        var tookB = TakenAt(replay, "T0", "spinlock B", "T1");
        Assert.Equal(("T1", "arch_spin_lock", "B", "acquired"), (tookB.Task, tookB.Op, tookB.Target, tookB.Value));
        var tookA = TakenAt(replay, "T1", "spinlock A", "T0");
        Assert.Equal(("T0", "arch_spin_lock", "A"), (tookA.Task, tookA.Op, tookA.Target));
        Assert.Contains($"1 lock held by T0:\n    #0: spinlock A, taken at step {tookA.Index} (", replay.Failure!.Message);
        Assert.Contains($"1 lock held by T1:\n    #0: spinlock B, taken at step {tookB.Index} (", replay.Failure.Message);
    }

    [Fact]
    public void AbbaMutexesNameTheOwner()
    {
        var replay = Hang("native", new Scenario(2, ex =>
        {
            var a = new MutexT("A");
            var b = new MutexT("B");
            ex.Spawn("T0", 0, async () => { await MutexLock(a); await MutexLock(b); await MutexUnlock(b); await MutexUnlock(a); });
            ex.Spawn("T1", 1, async () => { await MutexLock(b); await MutexLock(a); await MutexUnlock(a); await MutexUnlock(b); });
        }));
        var took = TakenAt(replay, "T0", "mutex B", "T1");
        Assert.Equal(("T1", "mutex_lock", "B", "acquired"), (took.Task, took.Op, took.Target, took.Value));
    }

    [Fact]
    public void AWaitOnALocationNamesItsLastWriterAndStep()
    {
        var replay = Hang("native", new Scenario(2, ex =>
        {
            var flag = new Loc<int>("flag");
            ex.Spawn("waiter", 0, async () => await SmpCondLoadAcquire(flag, v => v == 2));
            ex.Spawn("setter", 1, async () => await WriteOnce(flag, 1));
        }));
        var m = System.Text.RegularExpressions.Regex.Match(replay.Failure!.Message,
            @"waiter on CPU0: spinning on flag \(smp_cond_load_acquire\)[^\n]*\n    waits for flag to change \(now 1\), last written by setter at step (\d+) \(WRITE_ONCE in ");
        Assert.True(m.Success, replay.Failure.Message);
        Assert.Equal(("setter", "WRITE_ONCE"), (replay.Steps[int.Parse(m.Groups[1].Value) - 1].Task, replay.Steps[int.Parse(m.Groups[1].Value) - 1].Op));
    }

    [Fact]
    public void PagecacheAbbaReportNamesTheHolderInReportMdAndHtml()
    {
        var check = CheckRegistry.Get("pagecache-two-file-deadlock");
        var run = CheckRunner.Run(check, check.GetVariant("abba-no-trylock"), new RunSettings { Driver = "native", Strategy = "random", Iterations = 500 });
        var trace = run.Trace!;
        Assert.Equal(FailureKind.Hang, trace.Failure.Kind);
        var replay = new ReplayResult(trace.Failure, trace.Steps, false);
        var took = TakenAt(replay, "dio-A-from-B", "pagecache_lock B.add_lock", "dio-B-from-A");
        Assert.Equal(("dio-B-from-A", "atomic_cmpxchg_acquire", "B.add_lock.v"), (took.Task, took.Op, took.Target));
        Assert.Contains("queued on wait queue B.add_lock.wait", trace.Failure.Message);
        Assert.Contains($"#0: pagecache_lock B.add_lock (block), taken at step {took.Index}", trace.Failure.Message);

        var dir = ReportWriter.Write(trace, Directory.CreateTempSubdirectory("kmc-holders").FullName);
        var md = File.ReadAllText(Path.Combine(dir, "report.md"));
        Assert.Contains($"held by dio-B-from-A (block) since step {took.Index}", md);
        var html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Contains($"held by dio-B-from-A (block) since step {took.Index}", html);
    }
}
