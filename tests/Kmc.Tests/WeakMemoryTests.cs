using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>
/// The weak memory models on the classic litmus shapes (every execution enumerated by the
/// native DFS explorer, no preemption bound), and on the primitive checks.
/// </summary>
public class WeakMemoryTests
{
    /// <summary>Every final outcome the scenario can reach under the model, exhaustively.</summary>
    private static HashSet<string> Outcomes(string model, Action<Execution, Action<string>> setup) => ExhaustiveOutcomes.Of(model, setup);

    private sealed class Box : KObject
    {
        public Loc<int> Data { get; } = new("box->data");
    }

    /// <summary>
    /// MP through a pointer: box->data = 1; smp_store_release(&p, box) || r = READ_ONCE(p); then
    /// r->data. The reader's load of the data is address-dependent on the pointer it read, which
    /// the LKMM orders: it never sees the box without its data.
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A_load_through_a_pointer_read_with_READ_ONCE_is_dependency_ordered(bool releasePublish, bool staleAllowed)
    {
        var outcomes = Outcomes("lkmm", (ex, record) =>
        {
            var p = new Loc<Box?>("p");
            var box = new Box();
            ex.Spawn("P0", 0, async () =>
            {
                await WriteOnce(box.Data, 1);
                if (releasePublish)
                    await SmpStoreRelease(p, box);
                else
                    await WriteOnce(p, box);
            });
            var seen = "none";
            ex.Spawn("P1", 1, async () =>
            {
                if (await ReadOnce(p) is { } b)
                    seen = (await ReadOnce(b.Data)).ToString();
            });
            ex.AtEnd("outcome", () => record(seen));
        });
        Xunit.Assert.Contains("1", outcomes);
        Xunit.Assert.Equal(staleAllowed, outcomes.Contains("0"));
    }

    public enum Fence { None, Mb, WmbRmb, RelAcq }

    /// <summary>SB: x = 1; r0 = y || y = 1; r1 = x. Outcome "r0,r1".</summary>
    private static Action<Execution, Action<string>> Sb(Fence fence) => (ex, record) =>
    {
        var x = new Loc<int>("x");
        var y = new Loc<int>("y");
        int r0 = -1, r1 = -1;
        ex.Spawn("P0", 0, async () =>
        {
            await WriteOnce(x, 1);
            if (fence == Fence.Mb)
                await SmpMb();
            r0 = await ReadOnce(y);
        });
        ex.Spawn("P1", 1, async () =>
        {
            await WriteOnce(y, 1);
            if (fence == Fence.Mb)
                await SmpMb();
            r1 = await ReadOnce(x);
        });
        ex.AtEnd("outcome", () => record($"{r0},{r1}"));
    };

    /// <summary>MP: data = 1; flag = 1 || r0 = flag; r1 = data. Outcome "r0,r1".</summary>
    private static Action<Execution, Action<string>> Mp(Fence fence) => (ex, record) =>
    {
        var data = new Loc<int>("data");
        var flag = new Loc<int>("flag");
        int r0 = -1, r1 = -1;
        ex.Spawn("P0", 0, async () =>
        {
            await WriteOnce(data, 1);
            if (fence == Fence.WmbRmb)
                await SmpWmb();
            if (fence == Fence.RelAcq)
                await SmpStoreRelease(flag, 1);
            else
                await WriteOnce(flag, 1);
        });
        ex.Spawn("P1", 1, async () =>
        {
            r0 = fence == Fence.RelAcq ? await SmpLoadAcquire(flag) : await ReadOnce(flag);
            if (fence == Fence.WmbRmb)
                await SmpRmb();
            r1 = await ReadOnce(data);
        });
        ex.AtEnd("outcome", () => record($"{r0},{r1}"));
    };

    [Theory]
    [InlineData("sc", false)]
    [InlineData("tso", true)]
    [InlineData("lkmm", true)]
    public void StoreBufferingAllowedOnlyUnderWeakModels(string model, bool allowed)
    {
        var outcomes = Outcomes(model, Sb(Fence.None));
        Xunit.Assert.Equal(allowed, outcomes.Contains("0,0"));
        Xunit.Assert.Contains("1,1", outcomes);
    }

    [Theory]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void StoreBufferingForbiddenWithSmpMb(string model)
    {
        var outcomes = Outcomes(model, Sb(Fence.Mb));
        Xunit.Assert.DoesNotContain("0,0", outcomes);
        Xunit.Assert.Contains("0,1", outcomes);
        Xunit.Assert.Contains("1,0", outcomes);
    }

    [Theory]
    [InlineData("sc", Fence.None, false)]
    [InlineData("tso", Fence.None, false)]
    [InlineData("lkmm", Fence.None, true)]
    [InlineData("lkmm", Fence.RelAcq, false)]
    [InlineData("lkmm", Fence.WmbRmb, false)]
    public void MessagePassing(string model, Fence fence, bool staleDataAllowed)
    {
        var outcomes = Outcomes(model, Mp(fence));
        Xunit.Assert.Equal(staleDataAllowed, outcomes.Contains("1,0"));
        Xunit.Assert.Contains("1,1", outcomes);
        Xunit.Assert.Contains("0,0", outcomes);
    }

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void CoherenceReadReadNeverGoesBack(string model)
    {
        var outcomes = Outcomes(model, (ex, record) =>
        {
            var x = new Loc<int>("x");
            int r0 = -1, r1 = -1;
            ex.Spawn("P0", 0, async () => await WriteOnce(x, 1));
            ex.Spawn("P1", 1, async () =>
            {
                r0 = await ReadOnce(x);
                r1 = await ReadOnce(x);
            });
            ex.AtEnd("outcome", () => record($"{r0},{r1}"));
        });
        Xunit.Assert.DoesNotContain("1,0", outcomes);
        Xunit.Assert.Contains("0,1", outcomes);
    }

    [Theory]
    [InlineData("sc", false, false)]
    [InlineData("tso", false, false)]
    [InlineData("lkmm", false, true)]
    [InlineData("lkmm", true, false)]
    public void TwoPlusTwoWrites(string model, bool mb, bool allowed)
    {
        // x = 1; y = 2 || y = 1; x = 2: both first stores last in coherence order.
        var outcomes = Outcomes(model, (ex, record) =>
        {
            var x = new Loc<int>("x");
            var y = new Loc<int>("y");
            ex.Spawn("P0", 0, async () =>
            {
                await WriteOnce(x, 1);
                if (mb)
                    await SmpMb();
                await WriteOnce(y, 2);
            });
            ex.Spawn("P1", 1, async () =>
            {
                await WriteOnce(y, 1);
                if (mb)
                    await SmpMb();
                await WriteOnce(x, 2);
            });
            ex.AtEnd("outcome", () => record($"x={x.Peek()},y={y.Peek()}"));
        });
        Xunit.Assert.Equal(allowed, outcomes.Contains("x=1,y=1"));
        Xunit.Assert.Contains("x=2,y=2", outcomes);
    }

    [Theory]
    [InlineData(5, true)]    // fails (flag is never 5): unordered, the data read may be stale
    [InlineData(1, false)]   // succeeds on flag == 1: fully ordered
    public void FailedCmpxchgIsUnordered(int expected, bool staleAllowed)
    {
        var outcomes = Outcomes("lkmm", (ex, record) =>
        {
            var data = new Loc<int>("data");
            var flag = new Loc<int>("flag");
            int r0 = -1, r1 = -1;
            ex.Spawn("P0", 0, async () =>
            {
                await WriteOnce(data, 1);
                await SmpStoreRelease(flag, 1);
            });
            ex.Spawn("P1", 1, async () =>
            {
                r0 = await Cmpxchg(flag, expected, 2);
                r1 = await ReadOnce(data);
            });
            ex.AtEnd("outcome", () => record($"{r0},{r1}"));
        });
        Xunit.Assert.Equal(staleAllowed, outcomes.Contains("1,0"));
        Xunit.Assert.Contains("1,1", outcomes);
    }

    [Fact]
    public void SpinlockOrdersCriticalSections()
    {
        // Two lock-protected increments of a plain counter never lose one under lkmm.
        var outcomes = Outcomes("lkmm", (ex, record) =>
        {
            var l = new SpinlockT("lock");
            var counter = new Loc<int>("counter");
            for (var i = 0; i < 2; i++)
            {
                ex.Spawn($"P{i}", i, async () =>
                {
                    await SpinLock(l);
                    await PlainWrite(counter, await PlainRead(counter) + 1);
                    await SpinUnlock(l);
                });
            }

            ex.AtEnd("outcome", () => record($"counter={counter.Peek()}"));
        });
        Xunit.Assert.Equal(["counter=2"], outcomes);
    }

    // ---- the primitive checks ---------------------------------------------------------------

    /// <param name="races">off: look at what the schedule does behind a data race (the stale read)</param>
    private static CheckRun Run(string check, string variant, string model, string driver = "native", int iterations = 2000, ulong seed = 1, bool races = true) =>
        CheckRunner.Run(CheckRegistry.Get(check), CheckRegistry.Get(check).GetVariant(variant), new RunSettings
        {
            Driver = driver,
            Strategy = "random",
            Iterations = iterations,
            Seed = seed,
            MemoryModel = model,
            DetectRaces = races,
        });

    [Theory]
    [InlineData("osq", "acquire-only-tail-xchg", FailureKind.Hang)]
    [InlineData("osq-3cpu", "acquire-only-tail-xchg", FailureKind.Hang)]
    [InlineData("closure-sync", "sync-relaxed-fastpath", FailureKind.Assertion)]
    [InlineData("closure-sync.2-putters", "sync-relaxed-fastpath", FailureKind.Assertion)]
    [InlineData("closure-refcount", "barriers-relaxed", FailureKind.Assertion)]
    public void WeakMemoryVariantsFoundUnderLkmm(string check, string variant, FailureKind kind)
    {
        // Behind any data race the same search finds the weak-memory failure itself ...
        var run = Run(check, variant, "lkmm", races: false);
        Xunit.Assert.NotNull(run.Result.Failure);
        Xunit.Assert.Equal(kind, run.Result.Failure!.Kind);
        Xunit.Assert.True(Run(check, variant, "lkmm").MatchesExpectation);

        // ... and not under sc, where only a data race can show (declared where there is one).
        var sc = Run(check, variant, "sc", iterations: 500, races: false);
        Xunit.Assert.Null(sc.Result.Failure);
        var scRaces = Run(check, variant, "sc", iterations: 500);
        Xunit.Assert.True(scRaces.MatchesExpectation, scRaces.Mismatch());
        Xunit.Assert.True(scRaces.Result.Failure is null or { Kind: FailureKind.DataRace });
    }

    // The OSQ in one round: with two, the fixed code has the kernel's node-reinit data race (declared).
    [Theory]
    [InlineData("osq-1round")]
    [InlineData("osq-3cpu-1round")]
    [InlineData("closure-refcount")]
    [InlineData("closure-wait-event@upstream")]
    [InlineData("lglock")]
    [InlineData("ticket-spinlock")]
    public void FixedPassesUnderLkmm(string check)
    {
        var run = Run(check, CheckRegistry.Get(check).Variants[0].Name, "lkmm");
        Xunit.Assert.Null(run.Result.Failure);
        Xunit.Assert.True(run.MatchesExpectation, run.Mismatch());
    }

    /// <summary>
    /// The holes the fixed closure code has under lkmm close with the acquire kmc proposes (the
    /// same pairs as tests/Kmc.Tests/ClosureLitmus): on the same seed and budget where the fixed
    /// code fails, the fix variant holds.
    /// </summary>
    [Theory]
    [InlineData("closure-sync", "sync-done-acquire", 20000)]
    [InlineData("closure-sync@upstream", "acquire-fixes", 20000)]
    [InlineData("closure-refcount@upstream", "acquire-fixes", 20000)]
    public void ProposedClosureAcquireFixesHoldUnderLkmm(string check, string fix, int iterations)
    {
        var broken = Run(check, "fixed", "lkmm", iterations: iterations);
        Xunit.Assert.NotNull(broken.Result.Failure);
        var fixedRun = Run(check, fix, "lkmm", iterations: iterations);
        Xunit.Assert.Null(fixedRun.Result.Failure);
        Xunit.Assert.True(fixedRun.MatchesExpectation, fixedRun.Mismatch());
    }

    /// <summary>
    /// The 2018 closure_sync() hole shows in every scenario that reads shared state after
    /// closure_sync() returns: the exhaustive search finds it in the fixed code and exhausts the
    /// sync-done-acquire fix within the same bounds.
    /// </summary>
    [Theory]
    [InlineData("closure-wait-event", "BUG_ON(closure_wait_event() returns with refs outstanding)")]
    [InlineData("closure-sync-zeroed", "closure_sync() returned with 0 refs remaining")]
    public void ClosureSyncHoleFoundByDfsAndClosedByTheFix(string check, string message)
    {
        RunSettings Dfs() => new() { Strategy = "dfs", PreemptionBound = 2, StaleBound = 2, MemoryModel = "lkmm" };
        var c = CheckRegistry.Get(check);
        // The s.done data race comes first; behind it, the stale read the hole allows.
        var broken = CheckRunner.Run(c, c.GetVariant("fixed"), Dfs() with { DetectRaces = false });
        Xunit.Assert.Equal(FailureKind.Assertion, broken.Result.Failure?.Kind);
        Xunit.Assert.Contains(message, broken.Result.Failure!.Message);
        var raced = CheckRunner.Run(c, c.GetVariant("fixed"), Dfs());
        Xunit.Assert.Equal(FailureKind.DataRace, raced.Result.Failure?.Kind);
        Xunit.Assert.True(raced.MatchesExpectation, raced.Mismatch());
        var fixedRun = CheckRunner.Run(c, c.GetVariant("sync-done-acquire"), Dfs());
        Xunit.Assert.Null(fixedRun.Result.Failure);
        Xunit.Assert.True(fixedRun.MatchesExpectation, fixedRun.Mismatch());
    }

    [Fact]
    public void FixedClosureSyncHasAnLkmmStaleDataHole()
    {
        // __closure_sync() reads the plain s.done without acquire: finding done == 1 without
        // sleeping does not order the caller's later reads of the putter's data.
        // Behind the s.done data race (what ci reports first) the stale read of the data.
        var run = Run("closure-sync.2-putters", "fixed", "lkmm", iterations: 20000, races: false);
        Xunit.Assert.NotNull(run.Result.Failure);
        Xunit.Assert.Contains("is not visible", run.Result.Failure!.Message);
        var raced = Run("closure-sync.2-putters", "fixed", "lkmm", iterations: 20000);
        Xunit.Assert.Equal(FailureKind.DataRace, raced.Result.Failure?.Kind);
        Xunit.Assert.True(raced.MatchesExpectation, raced.Mismatch());
    }

    [Theory]
    [InlineData("native", "lkmm")]
    [InlineData("native", "tso")]
    [InlineData("coyote", "lkmm")]
    public void WeakMemoryTraceReplaysExactly(string driver, string model)
    {
        var (check, variant) = model == "lkmm" ? ("osq-1round", "acquire-only-tail-xchg") : ("counter", "no-lock");
        var run = Run(check, variant, model, driver);
        Xunit.Assert.NotNull(run.Trace);
        Xunit.Assert.Equal(model, run.Trace!.Options.MemoryModel);
        var outcome = TraceReplayer.Replay(run.Trace);
        Xunit.Assert.True(outcome.Reproduced, outcome.Summary);
        Xunit.Assert.Equal(run.Trace.Steps, outcome.Steps);
        if (model == "lkmm")
        {
            // The report says which store each load read.
            Xunit.Assert.Contains(outcome.Steps, s => s.Memory != null && s.Memory.StartsWith("reads ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void LateStoreIsShownInTheInterleaving()
    {
        var run = Run("osq-1round", "acquire-only-tail-xchg", "lkmm");
        Xunit.Assert.Contains(run.Trace!.Steps, s => s.Memory != null && s.Memory.Contains("lands late", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("lkmm")]
    [InlineData("tso")]
    public void SameSeedSameResult(string model)
    {
        var a = Run("closure-sync", "sync-wakeup-race", model, seed: 3, iterations: 20000);
        var b = Run("closure-sync", "sync-wakeup-race", model, seed: 3, iterations: 20000);
        Xunit.Assert.Equal(a.Result.FailingExecution, b.Result.FailingExecution);
        Xunit.Assert.Equal(a.Result.Schedule, b.Result.Schedule);
        var c = Run("counter", "no-lock", model, seed: 3);
        var d = Run("counter", "no-lock", model, seed: 3);
        Xunit.Assert.Equal(c.Result.Schedule, d.Result.Schedule);
        Xunit.Assert.Equal(c.Trace!.Steps, d.Trace!.Steps);
    }
}
