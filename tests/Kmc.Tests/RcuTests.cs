using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>RCU in the model: the read-side rules, the grace-period guarantee under each memory model, and the rcu checks.</summary>
public class RcuTests
{
    private static ExplorationResult Explore(Scenario scenario, string model = "sc", string strategy = "dfs", int iterations = 500) =>
        new NativeExplorer().Explore(scenario, new ExploreOptions
        {
            Strategy = strategy,
            Iterations = iterations,
            PreemptionBound = -1,
            MaxSteps = 1000,
            Memory = MemoryModels.Factory(model),
        });

    /// <summary>Every end state the scenario reaches, exhaustively (no preemption bound), and that no execution failed.</summary>
    private static HashSet<string> Outcomes(string model, int cpus, Action<Execution, Action<string>> setup) => ExhaustiveOutcomes.Of(model, setup, cpus);

    private static Failure FailureOf(Scenario scenario)
    {
        var result = Explore(scenario);
        Xunit.Assert.NotNull(result.Failure);
        return result.Failure!;
    }

    // ---- the read-side rules ------------------------------------------------------------------

    /// <summary>One task that enters a read-side section and then does <paramref name="inside"/>; a bystander on the other CPU.</summary>
    private static Scenario Reader(Func<ValueTask> inside) => new(2, ex =>
    {
        ex.Spawn("reader", 0, async () =>
        {
            RcuReadLock();
            await inside();
            RcuReadUnlock();
        });
        ex.Spawn("bystander", 1, async () => await WriteOnce(new Loc<int>("other"), 1));
    });

    public static TheoryData<string, Func<ValueTask>> BlockingCalls() => new()
    {
        { "schedule()", async () => await Schedule() },
        { "mutex_lock(m)", async () => await MutexLock(new MutexT("m")) },
        { "wait_event()", async () => await WaitEvent(new WaitQueueHead("wq"), () => ValueTask.FromResult(true)) },
        { "might_sleep()", () => { MightSleep(); return ValueTask.CompletedTask; } },
    };

    [Theory]
    [MemberData(nameof(BlockingCalls))]
    public void BlockingInsideAReadSideSectionIsReported(string what, Func<ValueTask> call)
    {
        var f = FailureOf(Reader(call));
        Xunit.Assert.Equal(FailureKind.Assertion, f.Kind);
        Xunit.Assert.Contains("reader calls " + what.Split('(')[0], f.Message);
        Xunit.Assert.Contains("inside an RCU read-side critical section", f.Message);
        Xunit.Assert.Contains("RcuTests.cs", f.Message); // where the section began
    }

    [Fact]
    public void BlockingAfterTheSectionEndsIsFine()
    {
        var result = Explore(new Scenario(1, ex => ex.Spawn("T", 0, async () =>
        {
            var m = new MutexT("m");
            RcuReadLock();
            RcuReadLock();
            RcuReadUnlock();
            Xunit.Assert.True(RcuReadLockHeld());
            RcuReadUnlock();
            await MutexLock(m);
            await MutexUnlock(m);
            await SynchronizeRcu();
        })));
        Xunit.Assert.Null(result.Failure);
    }

    [Fact]
    public void SynchronizeRcuInsideTheCallersOwnSectionIsAHangNamingIt()
    {
        var f = FailureOf(Reader(async () => await SynchronizeRcu()));
        Xunit.Assert.Equal(FailureKind.Hang, f.Kind);
        Xunit.Assert.Contains("synchronize_rcu() by reader inside its own RCU read-side critical section", f.Message);
    }

    [Fact]
    public void UnlockWithoutLockIsReported()
    {
        var f = FailureOf(new Scenario(1, ex => ex.Spawn("T", 0, async () =>
        {
            RcuReadLock();
            await WriteOnce(new Loc<int>("x"), 1);
            RcuReadUnlock();
            RcuReadUnlock();
        })));
        Xunit.Assert.Equal(FailureKind.Assertion, f.Kind);
        Xunit.Assert.Contains("rcu_read_unlock() by T without a matching rcu_read_lock()", f.Message);
    }

    [Fact]
    public void ATaskThatEndsInsideASectionIsReported()
    {
        var f = FailureOf(new Scenario(1, ex => ex.Spawn("T", 0, async () =>
        {
            RcuReadLock();
            await WriteOnce(new Loc<int>("x"), 1);
        })));
        Xunit.Assert.Equal(FailureKind.Assertion, f.Kind);
        Xunit.Assert.Contains("T ends inside an RCU read-side critical section", f.Message);
    }

    [Fact]
    public void RcuDereferenceOutsideASectionIsSuspicious()
    {
        var f = FailureOf(new Scenario(1, ex => ex.Spawn("T", 0, async () => await RcuDereference(new Loc<Scenarios.Buffer?>("gp")))));
        Xunit.Assert.Contains("suspicious RCU usage: rcu_dereference(gp) by T outside", f.Message);
    }

    [Fact]
    public void ACallbackThatSleepsIsSchedulingWhileAtomic()
    {
        var f = FailureOf(new Scenario(1, ex => ex.Spawn("T", 0, async () =>
            await CallRcu(new RcuHead("head"), async _ => await Schedule()))));
        Xunit.Assert.Contains("scheduling while atomic: rcuc/0:0", f.Message);
    }

    [Fact]
    public void QueuingAnRcuHeadTwiceIsReported()
    {
        var f = FailureOf(new Scenario(1, ex => ex.Spawn("T", 0, async () =>
        {
            var head = new RcuHead("obj->rcu");
            await CallRcu(head, _ => ValueTask.CompletedTask);
            await CallRcu(head, _ => ValueTask.CompletedTask);
        })));
        Xunit.Assert.Contains("call_rcu() of obj->rcu by T while it is still queued", f.Message);
    }

    /// <summary>
    /// A grace period started while the reader is nested two deep lasts until the outermost
    /// rcu_read_unlock(): between the two unlocks the updater's store after it is never visible.
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void AGracePeriodWaitsForTheOutermostUnlock(string model)
    {
        var outcomes = Outcomes(model, 2, (ex, record) =>
        {
            var after = new Loc<int>("after");
            var inside = false;
            var between = -1;
            ex.Spawn("reader", 0, async () =>
            {
                RcuReadLock();
                RcuReadLock();
                inside = true;
                await WriteOnce(new Loc<int>("x"), 1);
                RcuReadUnlock();
                between = await ReadOnce(after);
                RcuReadUnlock();
            });
            ex.Spawn("updater", 1, async () =>
            {
                await SpinUntil(() => inside, "reader inside its section");
                await SynchronizeRcu();
                await WriteOnce(after, 1);
            });
            ex.AtEnd("outcome", () => record(between.ToString()));
        });
        Xunit.Assert.Equal(["0"], outcomes);
    }

    /// <summary>
    /// The grace period is a sleep the scheduler sees, not a spin: when its reader can never
    /// leave, the hang report says the updater sleeps in synchronize_rcu() waiting for that reader.
    /// </summary>
    [Fact]
    public void AGracePeriodThatCannotEndIsAHangNamingTheReader()
    {
        var f = FailureOf(new Scenario(2, ex =>
        {
            var never = new Loc<int>("never");
            ex.Spawn("reader", 0, async () =>
            {
                RcuReadLock();
                await SpinUntil(() => never.Peek() != 0, "never != 0");
                RcuReadUnlock();
            });
            ex.Spawn("updater", 1, async () =>
            {
                await SpinUntil(() => RcuHeldBy(ex, "reader"), "reader inside rcu_read_lock()");
                await SynchronizeRcu();
            });
        }));
        Xunit.Assert.Equal(FailureKind.Hang, f.Kind);
        Xunit.Assert.Contains("updater on CPU1: sleeping in synchronize_rcu(): a grace period waiting for reader", f.Message);
    }

    private static bool RcuHeldBy(Execution ex, string task) => ex.Tasks.First(t => t.Name == task).RcuReadLockNesting > 0;

    /// <summary>
    /// rcu_read_lock() is PREEMPT_RCU's: it does not disable preemption, so a task on the reader's
    /// CPU can run inside the section; without CONFIG_PREEMPT nothing preempts the reader anyway.
    /// </summary>
    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public void AReaderIsPreemptibleUnderConfigPreempt(bool preemptive, bool interleaved)
    {
        var seen = new HashSet<string>();
        var result = new NativeExplorer().Explore(new Scenario(1, ex =>
        {
            var x = new Loc<int>("x");
            int r0 = -1, r1 = -1;
            ex.Spawn("reader", 0, async () =>
            {
                RcuReadLock();
                r0 = await ReadOnce(x);
                r1 = await ReadOnce(x);
                RcuReadUnlock();
            });
            ex.Spawn("other", 0, async () => await WriteOnce(x, 1));
            ex.AtEnd("outcome", () => seen.Add($"{r0},{r1}"));
        }, preemptive), new ExploreOptions { Strategy = "dfs", PreemptionBound = -1 });
        Xunit.Assert.True(result.Exhausted);
        Xunit.Assert.Equal(interleaved, seen.Contains("0,1"));
    }

    // ---- the grace-period guarantee ---------------------------------------------------------------

    /// <summary>
    /// MP across a grace period (tests/Kmc.Tests/Litmus/RCU-gp.litmus): a = 1; synchronize_rcu();
    /// b = 1 || rcu_read_lock(); r1 = b; r2 = a; rcu_read_unlock(). Without the grace period only
    /// the LKMM lets the reader see b without a; with it, no model does.
    /// </summary>
    [Theory]
    [InlineData("sc", false, false)]
    [InlineData("tso", false, false)]
    [InlineData("lkmm", false, true)]
    [InlineData("sc", true, false)]
    [InlineData("tso", true, false)]
    [InlineData("lkmm", true, false)]
    public void AReaderThatSeesTheStoreAfterAGracePeriodSeesTheOneBefore(string model, bool gp, bool reachable)
    {
        var outcomes = Outcomes(model, 2, (ex, record) =>
        {
            var a = new Loc<int>("a");
            var b = new Loc<int>("b");
            int r1 = -1, r2 = -1;
            ex.Spawn("P0", 0, async () =>
            {
                RcuReadLock();
                r1 = await ReadOnce(b);
                r2 = await ReadOnce(a);
                RcuReadUnlock();
            });
            ex.Spawn("P1", 1, async () =>
            {
                await WriteOnce(a, 1);
                if (gp)
                    await SynchronizeRcu();
                await WriteOnce(b, 1);
            });
            ex.AtEnd("outcome", () => record($"{r1},{r2}"));
        });
        Xunit.Assert.Equal(reachable, outcomes.Contains("1,0"));
        Xunit.Assert.Contains("1,1", outcomes);
        Xunit.Assert.Contains("0,0", outcomes);
    }

    /// <summary>
    /// RCU+sync+read: rcu_read_lock(); x = 1; y = 1; rcu_read_unlock() || r0 = x; synchronize_rcu();
    /// r1 = y. Having seen x, the updater's grace period waited for the section (or the section
    /// had ended): y is visible after it. Stores inside the section are plain-ordered only by it.
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void TheUpdaterSeesAllOfASectionItSawBegin(string model)
    {
        foreach (var gp in new[] { true, false })
        {
            var outcomes = Outcomes(model, 2, (ex, record) =>
            {
                var x = new Loc<int>("x");
                var y = new Loc<int>("y");
                int r0 = -1, r1 = -1;
                ex.Spawn("P0", 0, async () =>
                {
                    RcuReadLock();
                    await WriteOnce(x, 1);
                    await WriteOnce(y, 1);
                    RcuReadUnlock();
                });
                ex.Spawn("P1", 1, async () =>
                {
                    r0 = await ReadOnce(x);
                    if (gp)
                        await SynchronizeRcu();
                    r1 = await ReadOnce(y);
                });
                ex.AtEnd("outcome", () => record($"{r0},{r1}"));
            });
            Xunit.Assert.Equal(!gp, outcomes.Contains("1,0"));
            Xunit.Assert.Contains("1,1", outcomes);
        }
    }

    /// <summary>
    /// A grace period is A-cumulative: what a section read from is ordered before the code after
    /// the grace period, not just the section's own accesses. P2: w = 1; smp_store_release(z, 1) ||
    /// P0: rcu_read_lock(); s = 1; r = z; rcu_read_unlock() || P1: r0 = s; synchronize_rcu(); r2 = w.
    /// With r0 = 1 the section began before the grace period; having read z = 1, its w = 1 must be
    /// visible after (the LKMM's rb cycle prop; rcu-fence). Without the grace period it need not be.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void AGracePeriodOrdersWhatTheSectionReadFrom(bool gp, bool reachable)
    {
        var outcomes = Outcomes("lkmm", 3, (ex, record) =>
        {
            var s = new Loc<int>("s");
            var z = new Loc<int>("z");
            var w = new Loc<int>("w");
            int r = -1, r0 = -1, r2 = -1;
            ex.Spawn("P0", 0, async () =>
            {
                RcuReadLock();
                await WriteOnce(s, 1);
                r = await ReadOnce(z);
                RcuReadUnlock();
            });
            ex.Spawn("P1", 1, async () =>
            {
                r0 = await ReadOnce(s);
                if (gp)
                    await SynchronizeRcu();
                r2 = await ReadOnce(w);
            });
            ex.Spawn("P2", 2, async () =>
            {
                await WriteOnce(w, 1);
                await SmpStoreRelease(z, 1);
            });
            ex.AtEnd("outcome", () => record($"{r0},{r},{r2}"));
        });
        Xunit.Assert.Equal(reachable, outcomes.Contains("1,1,0"));
        Xunit.Assert.Contains("1,1,1", outcomes);
    }

    /// <summary>
    /// A section that ended before the grace period began is ordered before its end too: the
    /// reader's store is visible after synchronize_rcu() returns even when, at the reader's
    /// rcu_read_unlock(), it was still in the store buffer (tso) or not yet seen by the updater (lkmm).
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void ASectionThatEndedBeforeTheGracePeriodIsVisibleAfterIt(string model)
    {
        var outcomes = Outcomes(model, 2, (ex, record) =>
        {
            var x = new Loc<int>("x");
            var left = false;
            var r = -1;
            ex.Spawn("P0", 0, async () =>
            {
                RcuReadLock();
                await WriteOnce(x, 1);
                RcuReadUnlock();
                left = true;
                await WriteOnce(new Loc<int>("later"), 1); // P0 lives on, so nothing else drains its buffer
            });
            ex.Spawn("P1", 1, async () =>
            {
                await SpinUntil(() => left, "P0 left its section");
                await SynchronizeRcu();
                r = await ReadOnce(x);
            });
            ex.AtEnd("outcome", () => record(r.ToString()));
        });
        Xunit.Assert.Equal(["1"], outcomes);
    }

    /// <summary>
    /// The law is an either-or, and the model keeps both sides reachable: x = 1; synchronize_rcu();
    /// r2 = z || rcu_read_lock(); r1 = x; z = 1; rcu_read_unlock(). A section that saw x (it began
    /// after the grace period) need not be seen after it (the LKMM allows 1,0, as kmc litmus
    /// confirms); one that missed x must be (0,0 is forbidden).
    /// </summary>
    [Fact]
    public void ASectionIsOrderedOnOneSideOfTheGracePeriodNotBoth()
    {
        var outcomes = Outcomes("lkmm", 2, (ex, record) =>
        {
            var x = new Loc<int>("x");
            var z = new Loc<int>("z");
            int r1 = -1, r2 = -1;
            ex.Spawn("P0", 0, async () =>
            {
                RcuReadLock();
                r1 = await ReadOnce(x);
                await WriteOnce(z, 1);
                RcuReadUnlock();
            });
            ex.Spawn("P1", 1, async () =>
            {
                await WriteOnce(x, 1);
                await SynchronizeRcu();
                r2 = await ReadOnce(z);
            });
            ex.AtEnd("outcome", () => record($"{r1},{r2}"));
        });
        Xunit.Assert.Contains("1,0", outcomes);
        Xunit.Assert.DoesNotContain("0,0", outcomes);
        Xunit.Assert.Contains("0,1", outcomes);
        Xunit.Assert.Contains("1,1", outcomes);
    }

    /// <summary>call_rcu() callbacks run after a grace period that waits for the sections open at the call (a plain kfree() does not wait).</summary>
    [Theory]
    [InlineData("sc", true)]
    [InlineData("tso", true)]
    [InlineData("lkmm", true)]
    [InlineData("sc", false)]
    [InlineData("lkmm", false)]
    public void KfreeRcuFreesOnlyAfterTheReadersLeft(string model, bool deferred)
    {
        var result = Explore(new Scenario(2, ex =>
        {
            var gp = new Loc<RcuBox?>("gp");
            var first = Kmalloc(() => new RcuBox(), "box");
            gp.Init(first);
            ex.Spawn("reader", 1, async () =>
            {
                RcuReadLock();
                var p = await RcuDereference(gp);
                if (p != null)
                    await ReadOnce(p.Data);
                RcuReadUnlock();
            });
            ex.Spawn("updater", 0, async () =>
            {
                var old = await RcuDereferenceProtected(gp, true);
                await RcuAssignPointer(gp, null);
                if (deferred)
                    await KfreeRcu(old!, old!.Rcu);
                else
                    await Kfree(old);
            });
        }), model);
        if (deferred)
        {
            Xunit.Assert.Null(result.Failure);
            Xunit.Assert.True(result.Exhausted);
        }
        else
        {
            Xunit.Assert.Equal(FailureKind.UseAfterFree, result.Failure?.Kind);
        }
    }

    public sealed class RcuBox : KObject
    {
        public Loc<int> Data { get; } = new("box->data");
        public RcuHead Rcu { get; } = new("box->rcu");
    }

    // ---- the checks ---------------------------------------------------------------------------

    private static CheckRun Run(string check, string variant, string model, string driver = "native", string strategy = "random", int iterations = 2000, ulong seed = 1)
    {
        var c = CheckRegistry.Get(check);
        return CheckRunner.Run(c, c.GetVariant(variant), new RunSettings
        {
            Driver = driver,
            Strategy = strategy,
            Iterations = iterations,
            Seed = seed,
            MemoryModel = model,
            PreemptionBound = 2,
        });
    }

    public static TheoryData<string, string, string> CheckVariants()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var c in CheckRegistry.All.Where(c => c.Name == "rcu" || c.Name.StartsWith("rcu.", StringComparison.Ordinal)))
        {
            foreach (var v in c.Variants)
            {
                foreach (var m in new[] { "sc", "tso", "lkmm" })
                    data.Add(c.Name, v.Name, m);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CheckVariants))]
    public void EveryRcuCheckVariantHasItsDeclaredOutcome(string check, string variant, string model)
    {
        var run = Run(check, variant, model);
        Xunit.Assert.True(run.MatchesExpectation, run.Mismatch());
    }

    [Theory]
    [InlineData("rcu", "fixed")]
    [InlineData("rcu", "kfree-rcu")]
    [InlineData("rcu.sync-read", "fixed")]
    [InlineData("rcu.sync-free", "fixed")]
    [InlineData("rcu.mp", "fixed")]
    public void FixedIsExhaustivelyCleanUnderLkmm(string check, string variant)
    {
        var run = Run(check, variant, "lkmm", strategy: "dfs");
        Xunit.Assert.Null(run.Result.Failure);
        Xunit.Assert.True(run.Result.Exhausted, run.Result.Verdict());
    }

    [Theory]
    [InlineData("rcu", "assign-plain", "lkmm")]
    [InlineData("rcu.mp", "no-synchronize-rcu", "lkmm")]
    [InlineData("rcu", "no-synchronize-rcu", "sc")]
    public void BrokenVariantsAreFoundByExhaustiveSearch(string check, string variant, string model)
    {
        var run = Run(check, variant, model, strategy: "dfs");
        Xunit.Assert.NotNull(run.Result.Failure);
        Xunit.Assert.True(run.MatchesExpectation, run.Mismatch());
    }

    [Theory]
    [InlineData("rcu", "no-synchronize-rcu", "sc", "native")]
    [InlineData("rcu", "read-outside-cs", "tso", "native")]
    [InlineData("rcu", "assign-plain", "lkmm", "native")]
    [InlineData("rcu", "no-synchronize-rcu", "lkmm", "coyote")]
    public void AnRcuBugTraceReplaysExactly(string check, string variant, string model, string driver)
    {
        var run = Run(check, variant, model, driver);
        Xunit.Assert.NotNull(run.Trace);
        var dir = Directory.CreateTempSubdirectory("kmc-rcu-replay").FullName;
        var path = Path.Combine(dir, "trace.json");
        File.WriteAllText(path, run.Trace!.ToJson());
        var outcome = TraceReplayer.Replay(TraceFile.Load(path));
        Xunit.Assert.True(outcome.Reproduced, outcome.Summary);
        Xunit.Assert.Equal(run.Trace.Steps, outcome.Steps);
        Xunit.Assert.Equal(run.Trace.Failure, outcome.Failure);
        Xunit.Assert.Contains(outcome.Steps, s => s.Op == "rcu_read_lock");
    }

    [Fact]
    public void AGracePeriodShowsInTheInterleavingWithTheReadersItWaitsFor()
    {
        // The reader leaves only once the updater sleeps in synchronize_rcu(): every execution
        // has a grace period that waits for it, then fails on purpose so there is a trace.
        var scenario = new Scenario(2, ex =>
        {
            var inside = false;
            ex.Spawn("reader", 0, async () =>
            {
                RcuReadLock();
                inside = true;
                await SpinUntil(() => ex.Tasks[1].Sleeping, "updater asleep in synchronize_rcu()");
                await WriteOnce(new Loc<int>("x"), 1);
                RcuReadUnlock();
            });
            ex.Spawn("updater", 1, async () =>
            {
                await SpinUntil(() => inside, "reader inside its section");
                await SynchronizeRcu();
                BugOn(true, "end of the scenario");
            });
        });
        var options = new ExploreOptions { Strategy = "random", Iterations = 1 };
        var found = new NativeExplorer().Explore(scenario, options);
        Xunit.Assert.Contains("end of the scenario", found.Failure!.Message);
        var steps = new NativeExplorer().Replay(scenario, options, found.Schedule, null).Steps;
        var ops = steps.Where(s => s.Op is "synchronize_rcu" or "rcu_read_unlock").Select(s => $"{s.Task} {s.Op}: {s.Value}").ToList();
        Xunit.Assert.Equal(3, ops.Count);
        Xunit.Assert.StartsWith("updater synchronize_rcu: grace period starts: waits for reader (rcu_read_lock() at RcuTests.cs:", ops[0]);
        Xunit.Assert.Equal("reader rcu_read_unlock: nesting 0", ops[1]);
        Xunit.Assert.Equal("updater synchronize_rcu: grace period ends: every reader it waited for has left", ops[2]);
    }
}
