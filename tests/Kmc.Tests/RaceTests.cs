using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Assert = Xunit.Assert;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>The data-race property (Models/Races.cs) under the three operational models.</summary>
public class RaceTests
{
    private static ExplorationResult Dfs(Scenario s, string model) =>
        new NativeExplorer().Explore(s, new ExploreOptions { Strategy = "dfs", Iterations = 100_000, Memory = MemoryModels.Factory(model), StaleBound = 2 });

    private static CheckRun Run(string check, string variant, string model, string strategy = "dfs", int iterations = 1_000_000) =>
        CheckRunner.Run(CheckRegistry.Get(check), CheckRegistry.Get(check).GetVariant(variant),
            new RunSettings { Strategy = strategy, Iterations = iterations, MemoryModel = model });

    public enum Publish { Release, WmbOnce, Once, Plain }

    /// <summary>Plain data published through a flag; the reader reads the data after it saw the flag.</summary>
    private static Scenario MessagePassing(Publish how) => new(2, ex =>
    {
        var data = new Loc<int>("data");
        var flag = new Loc<int>("flag");
        ex.Spawn("writer", 0, async () =>
        {
            await PlainWrite(data, 1);
            switch (how)
            {
                case Publish.Release:
                    await SmpStoreRelease(flag, 1);
                    break;
                case Publish.WmbOnce:
                    await SmpWmb();
                    await WriteOnce(flag, 1);
                    break;
                case Publish.Once:
                    await WriteOnce(flag, 1);
                    break;
                case Publish.Plain:
                    await PlainWrite(flag, 1);
                    break;
            }
        });
        ex.Spawn("reader", 1, async () =>
        {
            int f;
            switch (how)
            {
                case Publish.Release:
                    f = await SmpLoadAcquire(flag);
                    break;
                case Publish.WmbOnce:
                    f = await ReadOnce(flag);
                    await SmpRmb();
                    break;
                default:
                    f = await ReadOnce(flag);
                    break;
            }

            if (f == 1)
                await PlainRead(data);
        });
    });

    [Theory]
    [InlineData(Publish.Release, "sc")]
    [InlineData(Publish.Release, "tso")]
    [InlineData(Publish.Release, "lkmm")]
    [InlineData(Publish.WmbOnce, "sc")]
    [InlineData(Publish.WmbOnce, "tso")]
    [InlineData(Publish.WmbOnce, "lkmm")]
    public void OrderedMessagePassingHasNoRace(Publish how, string model)
    {
        var r = Dfs(MessagePassing(how), model);
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
    }

    /// <summary>
    /// Without release/acquire (or wmb/rmb) the plain data read races with the plain write under
    /// every model, even sc, where the read never returns a stale value: hb is the LKMM's.
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void OnceFlagDoesNotOrderPlainData(string model)
    {
        var r = Dfs(MessagePassing(Publish.Once), model);
        Assert.NotNull(r.Failure);
        Assert.Equal(FailureKind.DataRace, r.Failure!.Kind);
        Assert.Contains("data race on data", r.Failure.Message);
    }

    /// <summary>
    /// A careless port that turns WRITE_ONCE(flag) into a plain store: the race is on the flag
    /// itself, reported with both accesses (task, operation, function, file:line, value) and
    /// replayable to the same report.
    /// </summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void PlainStoreOfAReadOnceSiteIsADataRaceWithBothAccesses(string model)
    {
        var s = new Scenario(2, ex =>
        {
            var flag = new Loc<int>("flag");
            ex.Spawn("writer", 0, async () => await PlainWrite(flag, 1));
            ex.Spawn("reader", 1, async () => await ReadOnce(flag));
        });
        var r = Dfs(s, model);
        Assert.NotNull(r.Failure);
        Assert.Equal(FailureKind.DataRace, r.Failure!.Kind);
        var replay = new NativeExplorer().Replay(s, new ExploreOptions { Strategy = "dfs", Memory = MemoryModels.Factory(model), StaleBound = 2 }, r.Schedule, null);
        Assert.NotNull(replay.Failure);
        var m = replay.Failure!.Message;
        Assert.Equal(FailureKind.DataRace, replay.Failure.Kind);
        Assert.Contains("data race on flag", m);
        Assert.Contains("writer plain write = 1", m);
        Assert.Contains("reader READ_ONCE (marked read)", m);
        Assert.Contains("RaceTests.cs:", m);
        Assert.Contains("one is plain", m);
    }

    /// <summary>data_race() exempts an intentionally racy access, as KCSAN does.</summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("lkmm")]
    public void DataRaceAnnotationIsExempt(string model)
    {
        var s = new Scenario(2, ex =>
        {
            var stat = new Loc<int>("stat");
            ex.Spawn("T0", 0, async () => await WriteOnce(stat, 1));
            ex.Spawn("T1", 1, async () => await DataRace(stat));
        });
        var r = Dfs(s, model);
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
    }

    /// <summary>Two plain increments under one spinlock are ordered by it: no race, under every model.</summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void LockedPlainCounterHasNoRace(string model)
    {
        var s = new Scenario(2, ex =>
        {
            var counter = new Loc<int>("counter");
            var l = new SpinlockT("lock");
            for (var i = 0; i < 2; i++)
            {
                ex.Spawn($"T{i}", i, async () =>
                {
                    await SpinLock(l);
                    await PlainWrite(counter, await PlainRead(counter) + 1);
                    await SpinUnlock(l);
                });
            }
        });
        var r = Dfs(s, model);
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
    }

    /// <summary>A wakeup orders what the waker did before it for the woken task.</summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("lkmm")]
    public void WakeupOrdersTheWakersWrites(string model)
    {
        var s = new Scenario(2, ex =>
        {
            var data = new Loc<int>("data");
            SimTask? sleeper = null;
            sleeper = ex.Spawn("sleeper", 0, async () =>
            {
                await SetCurrentState(TaskState.Uninterruptible);
                await Schedule();
                await PlainRead(data);
            });
            ex.Spawn("waker", 1, async () =>
            {
                // Only a task that is really asleep is woken (no lost wakeup to model here).
                await SpinUntil(() => sleeper!.Sleeping, "sleeper asleep");
                await PlainWrite(data, 1);
                await WakeUpProcess(sleeper!);
            });
        });
        var r = Dfs(s, model);
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
    }

    /// <summary>
    /// The mutation the issue asks for: relaxing the ticket spinlock's acquire or its release is
    /// killed under every model (sc and tso through the data-race property alone), and so is the
    /// relaxed acquire of the two-state shared lock.
    /// </summary>
    [Theory]
    [InlineData("weaken.ticket-spinlock", "ArchSpinLock.atomic_fetch_add", "sc")]
    [InlineData("weaken.ticket-spinlock", "ArchSpinLock.atomic_fetch_add", "tso")]
    [InlineData("weaken.ticket-spinlock", "ArchSpinLock.atomic_fetch_add", "lkmm")]
    [InlineData("weaken.ticket-spinlock", "ArchSpinUnlock.smp_store_release", "sc")]
    [InlineData("weaken.ticket-spinlock", "ArchSpinUnlock.smp_store_release", "lkmm")]
    [InlineData("weaken.two-state-lock", "Bch2TwoStateTrylock.atomic_cmpxchg_acquire", "sc")]
    [InlineData("weaken.two-state-lock", "Bch2TwoStateTrylock.atomic_cmpxchg_acquire", "lkmm")]
    [InlineData("weaken.two-state-lock", "Bch2TwoStateUnlock.atomic_sub_return_release", "sc")]
    [InlineData("weaken.two-state-lock", "Bch2TwoStateUnlock.atomic_sub_return_release", "lkmm")]
    public void WeakenedLockOrderingIsADataRace(string check, string site, string model)
    {
        var run = Run(check, site, model);
        Assert.NotNull(run.Result.Failure);
        if (model != "lkmm")
            Assert.Equal(FailureKind.DataRace, run.Result.Failure!.Kind);
        Assert.Matches(@"(lock|blocker|adder\d)\.data", run.Result.Failure!.Message);
        Assert.Null(Run(check, "fixed", model).Result.Failure);
    }

    /// <summary>
    /// Behind the data race, the protected-data property itself: with race detection off, a lost
    /// release of the ticket spinlock or the two-state lock is a stale read of the data the next
    /// holder checks, under lkmm (where the data can really be seen stale).
    /// </summary>
    [Theory]
    [InlineData("weaken.ticket-spinlock", "ArchSpinUnlock.smp_store_release")]
    [InlineData("weaken.two-state-lock", "Bch2TwoStateUnlock.atomic_sub_return_release")]
    [InlineData("weaken.mcs-spinlock", "ArchMcsSpinUnlockContended.smp_store_release")]
    public void LostReleaseIsAStaleReadOfTheProtectedData(string check, string site)
    {
        var c = CheckRegistry.Get(check);
        var settings = new RunSettings { Strategy = "dfs", Iterations = 1_000_000, MemoryModel = "lkmm", DetectRaces = false };
        var run = CheckRunner.Run(c, c.GetVariant(site), settings);
        Assert.Equal(FailureKind.Assertion, run.Result.Failure?.Kind);
        Assert.Contains("a stale read", run.Result.Failure!.Message);
        Assert.Null(CheckRunner.Run(c, c.GetVariant("fixed"), settings).Result.Failure);
    }

    /// <summary>
    /// The fixed lock ports are race-free, exhaustively, under every model (the OSQ in one round: a
    /// CPU that re-enters osq_lock() has the kernel's own node-reinit race, declared by osq and osq-3cpu).
    /// </summary>
    [Theory]
    [InlineData("ticket-spinlock-data", "sc")]
    [InlineData("ticket-spinlock-data", "tso")]
    [InlineData("ticket-spinlock-data", "lkmm")]
    [InlineData("two-state-lock-data", "sc")]
    [InlineData("lglock", "sc")]
    [InlineData("lglock", "lkmm")]
    [InlineData("lglock-hotplug", "sc")]
    [InlineData("osq-1round", "sc")]
    [InlineData("osq-1round", "lkmm")]
    public void FixedLocksHaveNoRace(string check, string model)
    {
        var run = Run(check, "fixed", model);
        Assert.Null(run.Result.Failure);
        Assert.True(run.Result.Exhausted, run.Result.Verdict());
    }

    /// <summary>A stale NULL read dereferenced by a port is the kernel's oops, naming the load behind it.</summary>
    [Fact]
    public void NullDereferenceInPortCodeIsAnOopsWithTheStaleRead()
    {
        var run = Run("weaken.closures", "ClosurePutAfterSub.smp_acquire__after_ctrl_dep", "lkmm");
        Assert.NotNull(run.Trace);
        var f = run.Trace!.Failure;
        Assert.Equal(FailureKind.NullDereference, f.Kind);
        Assert.Contains("BUG: kernel NULL pointer dereference", f.Message);
        Assert.Contains("the pointer came from load(io.cl.s) = NULL", f.Message);
        Assert.Contains("stale", f.Message);
    }

    /// <summary>A NULL dereference in scenario code (not a port) stays a ModelCrash.</summary>
    [Fact]
    public void NullDereferenceInScenarioCodeIsAModelCrash()
    {
        var s = new Scenario(1, ex =>
        {
            var p = new Loc<string?>("p");
            ex.Spawn("T0", 0, async () =>
            {
                var v = await ReadOnce(p);
                _ = v!.Length;
            });
        });
        var r = Dfs(s, "sc");
        Assert.Equal(FailureKind.ModelCrash, r.Failure?.Kind);
    }

    public enum AfterRead { Nothing, Mb, Acquire, Xchg }

    /// <summary>
    /// A CPU reads another's WRITE_ONCE() with a marked load, then stores to the same location
    /// plainly (the OSQ's node reinit): ordered only if something orders the load before the store
    /// (tests/Kmc.Tests/RaceLitmus/once-then-plain-write.litmus: the LKMM flags the bare shape).
    /// </summary>
    private static Scenario ReadThenPlainWrite(AfterRead how, bool plainPublish = false) => new(2, ex =>
    {
        var x = new Loc<int>("x");
        var other = new Loc<int>("other");
        ex.Spawn("writer", 0, async () =>
        {
            if (plainPublish)
                await PlainWrite(x, 1);
            else
                await WriteOnce(x, 1);
        });
        ex.Spawn("reader", 1, async () =>
        {
            var seen = how switch
            {
                AfterRead.Acquire => await SmpLoadAcquire(x),
                AfterRead.Xchg => await Xchg(x, 1),
                _ => await ReadOnce(x),
            };
            if (how == AfterRead.Mb)
                await SmpMb();
            if (seen != 1)
                return;
            if (plainPublish)
                await WriteOnce(x, 2);
            else
                await PlainWrite(x, 2);
            await WriteOnce(other, 1);
        });
    });

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void A_relaxed_read_does_not_order_the_store_it_read_before_a_later_plain_store(string model)
    {
        var r = Dfs(ReadThenPlainWrite(AfterRead.Nothing), model);
        Assert.Equal(FailureKind.DataRace, r.Failure?.Kind);
        Assert.Contains("data race on x: reader plain write", r.Failure!.Message);
        Assert.Contains("writer WRITE_ONCE", r.Failure.Message);
    }

    [Theory]
    [InlineData(AfterRead.Mb, "sc")]
    [InlineData(AfterRead.Mb, "lkmm")]
    [InlineData(AfterRead.Acquire, "sc")]
    [InlineData(AfterRead.Acquire, "tso")]
    [InlineData(AfterRead.Xchg, "sc")]
    [InlineData(AfterRead.Xchg, "lkmm")]
    public void An_ordered_read_orders_the_store_it_read_before_a_later_plain_store(AfterRead how, string model)
    {
        var r = Dfs(ReadThenPlainWrite(how), model);
        Assert.Null(r.Failure);
        Assert.True(r.Exhausted);
    }

    /// <summary>Reads-from a plain store is no hb edge: the reader's marked store still races with it (plain-store-read-once.litmus).</summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("lkmm")]
    public void A_marked_read_of_a_plain_store_orders_nothing(string model)
    {
        var r = Dfs(ReadThenPlainWrite(AfterRead.Acquire, plainPublish: true), model);
        Assert.Equal(FailureKind.DataRace, r.Failure?.Kind);
        Assert.Contains("writer plain write", r.Failure!.Message);
    }
}

public class MutateTests
{
    /// <summary>
    /// kmc mutate on the ticket spinlock: its acquire (the fast path's atomic_fetch_add()) and its
    /// release weakenings are killed (by the data-race property, already under sc); the slow
    /// path's acquire spin and the smp_mb() after it order the same and are harmless one at a time.
    /// </summary>
    [Fact]
    public void MutateKillsTheTicketSpinlocksAcquireAndReleaseWeakenings()
    {
        var check = (WeakenedCheck)CheckRegistry.Get("weaken.ticket-spinlock");
        var mutants = MutationScore.Mutants(check);
        Assert.Contains(mutants, m => m.Site.Site.Ordering == "once");
        foreach (var site in new[] { "ArchSpinLock.atomic_fetch_add", "ArchSpinUnlock.smp_store_release", "ArchSpinUnlock.atomic_read" })
        {
            var m = Assert.Single(mutants, x => x.Site.Name == site);
            var r = MutationScore.Run(check, m, model => new RunSettings { Strategy = "dfs", Iterations = 100_000, MemoryModel = model });
            Assert.Equal(MutantOutcome.Killed, r.Outcome);
            Assert.StartsWith("sc: DataRace", r.Detail);
        }

        foreach (var site in new[] { "ArchSpinLock.smp_cond_load_acquire", "ArchSpinLock.smp_mb" })
            Assert.Equal(MutantOutcome.Harmless, MutationScore.Exempt(check, Assert.Single(mutants, x => x.Site.Name == site))?.Outcome);
    }

    /// <summary>
    /// kmc mutate on qspinlock: the MCS hand-off's acquire (the new head's wait on node->locked)
    /// and release (the old head's node->locked = 1) relaxed are killed under lkmm, within
    /// --quick's tenth of weaken.qspinlock's budget: the new head's atomic_cond_read_acquire() on
    /// the lock word ends on a store from before the old head's set_locked() (a stale read the
    /// trace names), so it claims a lock that is held. sc and tso pass them (the spin reads the
    /// newest value there, and no plain access loses its happens-before).
    /// </summary>
    [Theory]
    [InlineData("ArchMcsSpinLockContended.smp_cond_load_acquire")]
    [InlineData("ArchMcsSpinUnlockContended.smp_store_release")]
    public void MutateKillsQspinlocksMcsHandOffWeakeningsUnderLkmm(string site)
    {
        var check = (WeakenedCheck)CheckRegistry.Get("weaken.qspinlock");
        var m = Assert.Single(MutationScore.Mutants(check), x => x.Site.Name == site);
        Assert.Null(MutationScore.Exempt(check, m));
        static RunSettings Quick(string model) => new() { Strategy = "random", Iterations = model == "tso" ? 50 : 100, MemoryModel = model };
        var r = MutationScore.Run(check, m, Quick);
        Assert.Equal(MutantOutcome.Killed, r.Outcome);
        Assert.StartsWith("lkmm:", r.Detail);

        var run = CheckRunner.Run(check, check.GetVariant(site), Quick("lkmm"));
        Assert.NotNull(run.Result.Failure);
        Assert.NotNull(run.Trace);
        Assert.Contains(run.Trace!.Steps, s => s.Op == "smp_cond_load_acquire" && s.Target == "lock.val"
                                               && s.Memory?.Contains("stale, the newest is") == true);
        foreach (var model in new[] { "sc", "tso" })
            Assert.Null(CheckRunner.Run(check, check.GetVariant(site), Quick(model)).Result.Failure);
    }

    /// <summary>
    /// The closures' READ_ONCE/WRITE_ONCE sites declared harmless when plain are all sites of the
    /// fixed code, and closure_nr_remaining()'s atomic_read() made plain is killed: the putter's
    /// read races with the waiter's put.
    /// </summary>
    [Fact]
    public void MutateScoresTheClosuresPlainSites()
    {
        var check = (WeakenedCheck)CheckRegistry.Get("weaken.closures");
        var mutants = MutationScore.Mutants(check);
        Assert.NotEmpty(check.HarmlessPlain);
        foreach (var d in check.HarmlessPlain)
        {
            var m = Assert.Single(mutants, x => x.Site.Name == d.Site);
            Assert.Equal("once", m.Site.Site.Ordering);
            Assert.Equal(MutantOutcome.Harmless, MutationScore.Exempt(check, m)?.Outcome);
        }

        var peek = Assert.Single(mutants, x => x.Site.Name == "ClosureNrRemaining.atomic_read");
        var r = MutationScore.Run(check, peek, model => new RunSettings { Strategy = "dfs", Iterations = 100_000, MemoryModel = model });
        Assert.Equal(MutantOutcome.Killed, r.Outcome);
        Assert.StartsWith("sc: DataRace", r.Detail);
    }

    /// <summary>weaken.osq's configured search: dfs under sc and lkmm, a random sample under tso (coyote.runtimeconfig.json).</summary>
    private static RunSettings OsqSearch(string model) => model == "tso"
        ? new RunSettings { Strategy = "random", Iterations = 200, MemoryModel = model }
        : new RunSettings { Strategy = "dfs", Iterations = 20_000, MemoryModel = model };

    /// <summary>
    /// kmc mutate on the OSQ, whose benchmark runs on 3 CPUs (osq-3cpu-1round): the orderings that
    /// only a middle node's unqueue shows are killed. smp_wmb() removed: the successor's plain
    /// node->prev store races with its unqueueing prev's Step-C WRITE_ONCE(next->prev); Step A's
    /// cmpxchg() relaxed: its late NULL erases a third CPU's link (a hang, lkmm only); Step A's
    /// READ_ONCE(node->prev) and Step C's two WRITE_ONCE()s made plain race with each other.
    /// </summary>
    [Theory]
    [InlineData("OsqLock.smp_wmb", "sc: DataRace", "osq_node[2].prev")]
    [InlineData("OsqLock.cmpxchg", "lkmm: Hang", null)]
    [InlineData("OsqLock.READ_ONCE", "tso: DataRace", null)]
    [InlineData("OsqLock.WRITE_ONCE-2", "tso: DataRace", null)]
    [InlineData("OsqLock.WRITE_ONCE-3", "sc: DataRace", null)]
    public void MutateKillsTheOsqsUnqueueWeakenings(string site, string killedBy, string? raceOn)
    {
        var check = (WeakenedCheck)CheckRegistry.Get("weaken.osq");
        var m = Assert.Single(MutationScore.Mutants(check), x => x.Site.Name == site);
        Assert.Null(MutationScore.Exempt(check, m));
        var r = MutationScore.Run(check, m, OsqSearch);
        Assert.Equal(MutantOutcome.Killed, r.Outcome);
        Assert.StartsWith(killedBy, r.Detail);
        if (raceOn != null)
        {
            var mutant = check.GetVariant(site);
            var run = CheckRunner.Run(check, mutant, OsqSearch("sc"));
            Assert.Equal(FailureKind.DataRace, run.Result.Failure?.Kind);
            Assert.Contains(raceOn, run.Result.Failure!.Message);
        }
    }

    /// <summary>The OSQ benchmark's fixed code passes its configured search under every model (dfs exhausts it under sc and lkmm).</summary>
    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void TheOsqBenchmarksFixedCodePasses(string model)
    {
        var check = (WeakenedCheck)CheckRegistry.Get("weaken.osq");
        var run = CheckRunner.Run(check, check.GetVariant("fixed"), OsqSearch(model));
        Assert.Null(run.Result.Failure);
        if (model != "tso")
            Assert.True(run.Result.Exhausted, $"dfs did not exhaust the fixed code in {run.Result.Executions} executions");
    }

    /// <summary>
    /// qspinlock's benchmark queues a waiter behind the new queue head (qspinlock-3cpu-2round):
    /// the head's READ_ONCE(node->next) after the MCS hand-off made plain races with that
    /// waiter's WRITE_ONCE(prev->next, node), already under sc. On qspinlock-4cpu (one round, no
    /// third queued node) it survived.
    /// </summary>
    [Fact]
    public void MutateKillsTheQspinlockHeadsPlainNextRead()
    {
        var check = (WeakenedCheck)CheckRegistry.Get("weaken.qspinlock");
        var m = Assert.Single(MutationScore.Mutants(check), x => x.Site.Name == "Queue.READ_ONCE");
        Assert.Equal("once", m.Site.Site.Ordering);
        var r = MutationScore.Run(check, m, model => new RunSettings { Strategy = "random", Iterations = 1000, Seed = 1, MemoryModel = model });
        Assert.Equal(MutantOutcome.Killed, r.Outcome);
        Assert.StartsWith("sc: DataRace", r.Detail);
    }

    /// <summary>kmc weaken --check takes a benchmark by its primitive, also where a plain check has that name.</summary>
    [Fact]
    public void A_benchmark_is_found_by_its_primitive_name()
    {
        Assert.Equal("weaken.qspinlock", Assert.Single(WeakenReport.Checks("qspinlock")).Name);
        Assert.Equal("weaken.qspinlock", Assert.Single(WeakenReport.Checks("weaken.qspinlock")).Name);
        Assert.Throws<KmcInputException>(() => WeakenReport.Checks("qspinlock-4cpu"));
    }

    /// <summary>A site kmc weaken declares harmless is listed, not scored.</summary>
    [Fact]
    public void HarmlessSitesAreNotScored()
    {
        var check = (WeakenedCheck)CheckRegistry.Get("weaken.closures");
        var m = Assert.Single(MutationScore.Mutants(check), x => x.Site.Name == "ClosureGet.atomic_inc_return");
        var r = MutationScore.Run(check, m, model => new RunSettings { Strategy = "random", Iterations = 10, MemoryModel = model });
        Assert.Equal(MutantOutcome.Harmless, r.Outcome);
    }
}
