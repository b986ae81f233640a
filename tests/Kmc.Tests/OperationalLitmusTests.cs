using Kmc.Checks.Litmus;
using Kmc.Checks.Litmus.Operational;

namespace Kmc.Tests;

/// <summary>
/// kmc litmus --operational / --compare-operational: litmus threads run as simulated tasks on
/// the operational memory models of src/Models, and their outcome sets against the axiomatic
/// engine's. The operational lkmm must never allow what the LKMM forbids.
/// </summary>
public class OperationalLitmusTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static string OwnCorpus() => TestPaths.InRepo("tests", "Kmc.Tests", "Litmus");

    private static string Own(string file) => Path.Combine(OwnCorpus(), file);

    private static OperationalObservation Run(string text, string model, bool reduce = true)
    {
        var test = LitmusParser.Parse(text);
        return OperationalEngine.Run(test, OutcomeSpace.Of(test), model, Timeout, reduce);
    }

    [Theory]
    [InlineData("SB-once.litmus", "Never", "Sometimes", "Sometimes")]
    [InlineData("SB-mb.litmus", "Never", "Never", "Never")]
    [InlineData("MP-once.litmus", "Never", "Never", "Sometimes")]
    [InlineData("MP-wmb-rmb.litmus", "Never", "Never", "Never")]
    [InlineData("MP-release-acquire.litmus", "Never", "Never", "Never")]
    [InlineData("MP-locks.litmus", "Never", "Never", "Never")]
    [InlineData("MP-unlock-lock.litmus", "Never", "Never", "Never")]
    [InlineData("ISA2-locks-mb.litmus", "Never", "Never", "Never")]
    [InlineData("MB-chain-acquire.litmus", "Never", "Never", "Never")]
    [InlineData("CoWW-after-wmb.litmus", "Never", "Never", "Never")]
    [InlineData("IRIW-once.litmus", "Never", "Never", "Sometimes")]
    [InlineData("LB-ctrl-mb.litmus", "Never", "Never", "Never")]
    [InlineData("Deref.litmus", "Never", "Never", "Never")]
    [InlineData("RCU-no-gp.litmus", "Never", "Never", "Sometimes")]
    [InlineData("RCU-gp.litmus", "Never", "Never", "Never")]
    [InlineData("ISA2+pooncerelease+pooncerelease+poacquireonce.litmus", "Never", "Never", "Never")]

    // The LKMM allows LB, and so does the operational lkmm, by deferring a load past later stores.
    [InlineData("LB-once.litmus", "Never", "Never", "Sometimes")]
    public void OwnFileUnderEachModel(string file, string sc, string tso, string lkmm)
    {
        foreach (var (model, expected) in new[] { ("sc", sc), ("tso", tso), ("lkmm", lkmm) })
        {
            var r = OperationalRunner.RunFile(Own(file), model, Timeout);
            Assert.True(expected == r.Observed, $"{file} under {model}: expected {expected}, got {r.Observed} ({r.Note})");
        }
    }

    [Fact]
    public void MessagePassingOutcomesUnderLkmm()
    {
        var test = LitmusParser.ParseFile(Own("MP-once.litmus"));
        var space = OutcomeSpace.Of(test);
        var obs = OperationalEngine.Run(test, space, "lkmm", Timeout);
        Assert.Equal(["1:r1=0 1:r2=0", "1:r1=0 1:r2=1", "1:r1=1 1:r2=0", "1:r1=1 1:r2=1"], space.Show(obs.Outcomes));
        var sc = OperationalEngine.Run(test, space, "sc", Timeout);
        Assert.DoesNotContain("1:r1=1 1:r2=0", space.Show(sc.Outcomes));
    }

    /// <summary>Every own file, every model: the operational outcomes are exactly the axiomatic ones.</summary>
    [Fact]
    public void OperationalModelsAreSoundOnOwnCorpus()
    {
        var files = LitmusRunner.Files([OwnCorpus()]);
        var problems = new List<string>();
        foreach (var model in OperationalEngine.ModelNames)
        {
            foreach (var f in files)
            {
                var r = OperationalRunner.Compare(f, model, Timeout);
                var name = $"{Path.GetFileName(f)} ({model})";
                if (r.Class is Soundness.Unsound or Soundness.ExtraButRacy or Soundness.Error or Soundness.TimedOut)
                    problems.Add($"{name}: {r.Class} {r.Note} extra: {string.Join("; ", r.Extra)}");
                if (r.Class == Soundness.SoundIncomplete)
                    problems.Add($"{name}: misses {string.Join("; ", r.Missed)}");
            }
        }

        Assert.Empty(problems);
    }

    [Fact]
    public void LoadBufferingIsReachedWithDeferredLoads()
    {
        var r = OperationalRunner.Compare(Own("LB-once.litmus"), "lkmm", Timeout);
        Assert.Equal(Soundness.SoundComplete, r.Class);
        Assert.Equal("Sometimes", r.OperationalVerdict);
        Assert.Equal("Sometimes", r.AxiomaticVerdict);
        // Only a deferral makes it: the outcome needs a po-rf cycle.
        var test = LitmusParser.ParseFile(Own("LB-once.litmus"));
        var noLb = AxiomaticOutcomes.Collect(test, OutcomeSpace.Of(test), new NoLoadBuffering(LitmusModels.Get("lkmm")), Timeout);
        Assert.DoesNotContain("0:r1=1 1:r1=1", OutcomeSpace.Of(test).Show(noLb.Outcomes));
    }

    /// <summary>
    /// LB with and without dependencies, fences and releases, and the out-of-thin-air shapes
    /// (tests/Kmc.Tests/Litmus/load-buffering): the operational lkmm has exactly the axiomatic
    /// LKMM's outcomes, and the verdict of each file's Result line.
    /// </summary>
    [Theory]
    [InlineData("LB+ctrl+po.litmus", "Sometimes")]
    [InlineData("LB+ctrls.litmus", "Never")]
    [InlineData("LB+data+po.litmus", "Sometimes")]
    [InlineData("LB+datas.litmus", "Never")]
    [InlineData("LB+addr+po.litmus", "Sometimes")]
    [InlineData("LB+addrs.litmus", "Never")]
    [InlineData("LB+wmbs.litmus", "Sometimes")]
    [InlineData("LB+release+po.litmus", "Sometimes")]
    [InlineData("OOTA-datas.litmus", "Never")]
    [InlineData("OOTA-ctrls.litmus", "Never")]
    [InlineData("LB+data-reordered.litmus", "Sometimes")]
    [InlineData("WWC+own-promise.litmus", "Never")]
    public void LoadBufferingShapesAgreeWithTheAxiomaticModel(string file, string verdict) => AgreesWithTheAxiomaticModel(file, verdict);

    /// <summary>A load-buffering file: the same outcomes as the axiomatic lkmm, the given verdict, and its Result line matched.</summary>
    private static string AgreesWithTheAxiomaticModel(string file, string verdict)
    {
        var path = Path.Combine(OwnCorpus(), "load-buffering", file);
        var r = OperationalRunner.Compare(path, "lkmm", Timeout);
        Assert.True(r.Class == Soundness.SoundComplete, $"{file}: {r.Class}, extra {string.Join("; ", r.Extra)}, missed {string.Join("; ", r.Missed)}");
        Assert.Equal(verdict, r.OperationalVerdict);
        Assert.Equal(LitmusVerdict.Match, OperationalRunner.RunFile(path, "lkmm", Timeout).Verdict);
        return path;
    }

    /// <summary>
    /// Shapes only a value promise reaches (the load's value is needed before the store, or a
    /// barrier a deferred load cannot pass lies between them), and shapes where a promise that
    /// running the thread alone would certify must still break because the LKMM orders the
    /// store (a control dependency with equal stores in both branches, smp_mb()): the
    /// operational lkmm has exactly the axiomatic outcomes, the file's Result, and without
    /// promises the load-buffering outcome is missed where the LKMM allows it.
    /// </summary>
    [Theory]
    [InlineData("LB+ctrl-postif.litmus", "Sometimes")]
    [InlineData("LB+rmbs.litmus", "Sometimes")]
    [InlineData("OOTA-hidden-ctrl.litmus", "Sometimes")]
    [InlineData("LB+ctrls-same-value.litmus", "Never")]
    [InlineData("LB+plainstore-wmb.litmus", "Never")]
    [InlineData("LB+plainstore-wmb-promised.litmus", "Sometimes")]
    [InlineData("LB+ctrl+plaindata.litmus", "Sometimes")]
    [InlineData("LB+ctrl+plaindata-42.litmus", "Never")]
    [InlineData("LB+rmb-own-promise.litmus", "Never")]
    [InlineData("LB+mb+rmb.litmus", "Sometimes")]
    [InlineData("LB+mbs.litmus", "Never")]
    public void PromisesReachLoadBufferingTheLkmmAllowsAndNoMore(string file, string verdict)
    {
        var test = LitmusParser.ParseFile(AgreesWithTheAxiomaticModel(file, verdict));
        var space = OutcomeSpace.Of(test);
        var withPromises = OperationalEngine.Run(test, space, "lkmm", Timeout);
        var without = OperationalEngine.Run(test, space, "lkmm", Timeout, promises: false);
        Assert.Equal("Never", without.Verdict);
        if (verdict == "Sometimes")
            Assert.True(withPromises.Outcomes.IsProperSupersetOf(without.Outcomes));
        else
        {
            // Certification alone rejects them: made without the pruning, the promises break.
            var unpruned = OperationalEngine.Run(test, space, "lkmm", Timeout, prunePromises: false);
            Assert.True(unpruned.Unfulfilled > 0, $"{file}: no promise was tried and broken");
            Assert.True(unpruned.Outcomes.SetEquals(withPromises.Outcomes));
        }
    }

    /// <summary>
    /// Out of thin air stays forbidden with promises: 42 is in the value domain (the test asks
    /// for it); without the pruning the threads do promise it and every such promise breaks,
    /// since each store's value comes from a load made after the promise; with it, the promise
    /// is not even made (the only store of that location depends on the load under way).
    /// </summary>
    [Fact]
    public void OutOfThinAirPromisesBreak()
    {
        var path = Path.Combine(OwnCorpus(), "load-buffering", "OOTA-datas.litmus");
        var test = LitmusParser.ParseFile(path);
        var space = OutcomeSpace.Of(test);
        var unpruned = OperationalEngine.Run(test, space, "lkmm", Timeout, prunePromises: false);
        Assert.Equal("Never", unpruned.Verdict);
        Assert.True(unpruned.Unfulfilled > 0);
        Assert.DoesNotContain(unpruned.Outcomes, x => space.Show([x]).Single().Contains("=42"));
        var pruned = OperationalEngine.Run(test, space, "lkmm", Timeout);
        Assert.Equal(0, pruned.Unfulfilled);
        Assert.True(pruned.Outcomes.SetEquals(unpruned.Outcomes));
    }

    /// <summary>
    /// The pruning drops only promises that would break (PromiseSites) and deferrals the next
    /// statement performs at once: on every own file (load buffering, dependencies, the rest)
    /// the outcomes are the same with and without it, never with more executions, and on the
    /// load-buffering shapes with fewer.
    /// </summary>
    [Fact]
    public void PromisePruningLosesNoOutcome()
    {
        long before = 0, after = 0;
        foreach (var path in Directory.EnumerateFiles(OwnCorpus(), "*.litmus", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            LitmusTest test;
            try
            {
                test = LitmusParser.ParseFile(path);
            }
            catch (Exception e) when (e is LitmusParseException or LitmusUnsupportedException)
            {
                continue;
            }

            var space = OutcomeSpace.Of(test);
            var unpruned = OperationalEngine.Run(test, space, "lkmm", Timeout, prunePromises: false);
            var pruned = OperationalEngine.Run(test, space, "lkmm", Timeout);
            if (unpruned.Unsupported != null || unpruned.TimedOut)
                continue;
            var name = Path.GetRelativePath(OwnCorpus(), path);
            Assert.False(pruned.TimedOut, name);
            Assert.True(pruned.Outcomes.SetEquals(unpruned.Outcomes), $"{name}: pruning changed the outcomes");
            Assert.True(pruned.Executions <= unpruned.Executions, $"{name}: {pruned.Executions} executions pruned, {unpruned.Executions} not");
            if (name.StartsWith("load-buffering", StringComparison.Ordinal))
            {
                before += unpruned.Executions;
                after += pruned.Executions;
            }
        }

        Assert.True(after < before, $"load-buffering: {after} executions pruned, {before} not");
    }

    /// <summary>Promises are recorded weak choices: the same search twice gives the same executions and outcomes.</summary>
    [Fact]
    public void PromisesAreDeterministic()
    {
        var test = LitmusParser.ParseFile(Path.Combine(OwnCorpus(), "load-buffering", "LB+ctrl-postif.litmus"));
        var a = OperationalEngine.Run(test, OutcomeSpace.Of(test), "lkmm", Timeout);
        var b = OperationalEngine.Run(test, OutcomeSpace.Of(test), "lkmm", Timeout);
        Assert.Equal(a.Executions, b.Executions);
        Assert.Equal(a.Unfulfilled, b.Unfulfilled);
        Assert.True(a.Outcomes.SetEquals(b.Outcomes));
    }

    /// <summary>
    /// An address dependency through an integer (an array index) orders the dependent load after
    /// the index load, as the LKMM has it; without the dependency the stale read stays allowed.
    /// </summary>
    [Fact]
    public void IntegerAddressDependencyIsHonoured()
    {
        var r = OperationalRunner.Compare(Own(Path.Combine("dependencies", "MP+wmb+addr-index.litmus")), "lkmm", Timeout);
        Assert.Equal(Soundness.SoundComplete, r.Class);
        Assert.Equal("Never", r.OperationalVerdict);

        const string noDependency = """
            C MP-wmb-no-index
            { int a[2]; }
            P0(int *x, int *a) { WRITE_ONCE(a[1], 1); smp_wmb(); WRITE_ONCE(*x, 1); }
            P1(int *x, int *a) { int r1; int r2; r1 = READ_ONCE(*x); r2 = READ_ONCE(a[1]); }
            exists (1:r1=1 /\ 1:r2=0)
            """;
        var test = LitmusParser.Parse(noDependency);
        var free = OperationalRunner.Compare("no-index.litmus", test, OutcomeSpace.Of(test), "lkmm", Timeout);
        Assert.Equal(Soundness.SoundComplete, free.Class);
        Assert.Equal("Sometimes", free.OperationalVerdict);
    }

    /// <summary>The sleep sets prune interleavings, never outcomes.</summary>
    [Fact]
    public void SleepSetsLoseNoOutcome()
    {
        var compared = 0;
        foreach (var f in LitmusRunner.Files([OwnCorpus()]))
        {
            var test = LitmusParser.ParseFile(f);
            var space = OutcomeSpace.Of(test);
            foreach (var model in OperationalEngine.ModelNames)
            {
                var reduced = OperationalEngine.Run(test, space, model, Timeout);
                if (reduced.Unsupported != null)
                    continue;
                // Every interleaving of a four-thread test takes minutes under tso; those are left out.
                var full = OperationalEngine.Run(test, space, model, TimeSpan.FromSeconds(10), reduce: false);
                if (full.TimedOut)
                    continue;
                compared++;
                Assert.True(full.Outcomes.SetEquals(reduced.Outcomes), $"{Path.GetFileName(f)} under {model}");
                Assert.True(reduced.Executions <= full.Executions);
            }
        }

        Assert.True(compared >= 40, $"only {compared} file/model pairs compared");
    }

    [Fact]
    public void UnsupportedConstructsAreNamedNotCrashes()
    {
        const string srcu = """
            C srcu
            {}
            P0(int *x, struct srcu_struct *s) { int r; r = srcu_read_lock(s); WRITE_ONCE(*x, 1); srcu_read_unlock(s, r); }
            P1(int *x, struct srcu_struct *s) { synchronize_srcu(s); }
            exists (x=1)
            """;
        Assert.Contains("srcu_read_lock()", Run(srcu, "lkmm").Unsupported);

        const string andNot = """
            C and
            {}
            P0(atomic_t *v) { atomic_and(1, v); }
            exists (v=0)
            """;
        Assert.Contains("atomic_and()", Run(andNot, "lkmm").Unsupported);

        const string lockAsData = """
            C lock-as-data
            {}
            P0(spinlock_t *l) { int r; spin_lock(l); r = READ_ONCE(*l); spin_unlock(l); }
            exists (0:r=1)
            """;
        Assert.Contains("read or written as data", Run(lockAsData, "sc").Unsupported);
    }

    /// <summary>
    /// p starts as NULL, so nothing says it holds a pointer until P0 publishes one: the search
    /// restarts with p as a pointer location, whose loads the operational lkmm orders like
    /// an address dependency (as an int, P1's second load could read a stale x). A wild
    /// dereference (of NULL) is no execution, as in herd.
    /// </summary>
    [Fact]
    public void AStoredAddressMakesAPointerLocation()
    {
        const string text = """
            C publish
            {}
            P0(int *x, int **p) { WRITE_ONCE(*x, 1); smp_store_release(p, x); }
            P1(int **p) { int *r1; int r2; r1 = READ_ONCE(*p); r2 = READ_ONCE(*r1); }
            exists (1:r1=x /\ 1:r2=0)
            """;
        var obs = Run(text, "lkmm");
        Assert.Null(obs.Unsupported);
        Assert.Equal("Never", obs.Verdict);
        Assert.True(obs.Infeasible > 0);
        Assert.Equal(["1:r1=x 1:r2=1"], obs.Space.Show(obs.Outcomes));
    }

    /// <summary>
    /// Loops run through the kernel API too; a spin loop is cut after a few iterations (those
    /// executions have no final state), so the search ends. The axiomatic engine has no loops.
    /// </summary>
    [Fact]
    public void LoopsAreBounded()
    {
        const string spin = """
            C spin
            {}
            P0(int *d, int *f) { WRITE_ONCE(*d, 1); smp_store_release(f, 1); }
            P1(int *d, int *f) { int r1; while (!smp_load_acquire(f)) ; r1 = READ_ONCE(*d); }
            exists (1:r1=0)
            """;
        var obs = Run(spin, "lkmm");
        Assert.Equal("Never", obs.Verdict);
        Assert.True(obs.LoopCut > 0);

        const string count = """
            C count
            {}
            P0(atomic_t *v) { int i; for (i = 0; i < 3; i++) atomic_inc(v); }
            P1(atomic_t *v) { int r; do { r = atomic_read(v); } while (r == 0); }
            exists (v=3)
            """;
        var c = Run(count, "tso");
        Assert.Equal("Always", c.Verdict);

        var test = LitmusParser.Parse(spin);
        var r = OperationalRunner.Compare("spin.litmus", test, OutcomeSpace.Of(test), "lkmm", Timeout);
        Assert.Equal(Soundness.Unsupported, r.Class);
        Assert.Equal("axiomatic: 'while' loop", r.Note);
    }

    /// <summary>herd prints a locations clause's variables with every state, so they are part of an outcome.</summary>
    [Fact]
    public void ALocationsClauseWidensTheOutcome()
    {
        const string text = """
            C widen
            {}
            P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); r0 = READ_ONCE(*y); }
            P1(int *x, int *y) { int r1; WRITE_ONCE(*y, 1); r1 = READ_ONCE(*x); }
            locations [x; 1:r1; nowhere;]
            exists (0:r0=0)
            """;
        var test = LitmusParser.Parse(text);
        var space = OutcomeSpace.Of(test, OutcomeSpace.LocationsClause(text));
        Assert.Equal(["0:r0", "x", "1:r1"], space.Vars.Select(v => v.ToString()));
        var obs = OperationalEngine.Run(test, space, "sc", Timeout);
        Assert.Equal(["0:r0=0 x=1 1:r1=1", "0:r0=1 x=1 1:r1=0", "0:r0=1 x=1 1:r1=1"], space.Show(obs.Outcomes));
    }

    [Fact]
    public void ALockNeverReleasedIsADeadlock()
    {
        const string text = """
            C held
            {}
            P0(spinlock_t *l) { spin_lock(l); }
            P1(spinlock_t *l) { spin_lock(l); }
            exists (true)
            """;
        var obs = Run(text, "lkmm");
        Assert.Equal("DEADLOCK", obs.Verdict);
        Assert.True(obs.Hangs > 0);
    }

    [Fact]
    public void CliModesAndExitCodes()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-oplit").FullName;
        var ok = CliTests.Run(dir, "litmus", OwnCorpus(), "--compare-operational", "--memory-model", "lkmm");
        Assert.Equal(0, ok.Code);
        Assert.Contains("0 UNSOUND", ok.Out);

        var run = CliTests.Run(dir, "litmus", Own("SB-once.litmus"), "--operational", "--memory-model", "tso");
        Assert.Equal(0, run.Code);
        Assert.Contains("1 tests (tso, operational)", run.Out);

        foreach (var bad in new[]
                 {
                     new[] { "litmus", OwnCorpus(), "--operational", "--memory-model", "arm" },
                     new[] { "litmus", OwnCorpus(), "--operational", "--all-executions" },
                     new[] { "litmus", Path.Combine(dir, "nope"), "--compare-operational" },
                 })
        {
            var r = CliTests.Run(dir, bad);
            Assert.Equal(2, r.Code);
            Assert.Single(r.Err.Trim().Split('\n'));
            Assert.DoesNotContain("   at ", r.Err + r.Out);
        }
    }

    /// <summary>
    /// The race cross-check of --compare-operational on the shapes the race detector must judge as
    /// the LKMM does (tests/Kmc.Tests/RaceLitmus: plain init published by cmpxchg_release() and
    /// read through a READ_ONCE()d or failed-cmpxchg pointer; WRITE_ONCE() publication; a relaxed
    /// read followed by a plain store to the same location; the OSQ node reinit): under every model
    /// the detector reports a race exactly when the axiomatic LKMM flags one over that model's
    /// executions, and under lkmm that is the file's Result. The one exception is the detector's
    /// documented limit (Races.cs): smp_wmb() orders a plain store for later readers, which the
    /// LKMM says, and for later writers, which it does not (wmb-then-plain-write.litmus).
    /// </summary>
    [Fact]
    public void The_race_detector_agrees_with_the_LKMM_flag_on_the_race_shapes()
    {
        var files = Directory.GetFiles(TestPaths.InRepo("tests", "Kmc.Tests", "RaceLitmus"), "*.litmus").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(11, files.Count);
        var racy = 0;
        const string knownLimit = "wmb-then-plain-write.litmus";
        foreach (var file in files)
        {
            var test = LitmusParser.ParseFile(file);
            foreach (var model in OperationalEngine.ModelNames)
            {
                var r = OperationalRunner.Compare(file, model, Timeout);
                Assert.True(r.OperationalRace is not null && r.AxiomaticRace is not null, $"{Path.GetFileName(file)} {model}: not compared ({r.Note})");
                if (Path.GetFileName(file) == knownLimit)
                    Assert.True(r.OperationalRace == false && r.AxiomaticRace == true, $"{knownLimit} {model}: detector {r.OperationalRace}, LKMM {r.AxiomaticRace}: if the detector now sees it, drop the limit from Races.cs and this test");
                else
                    Assert.False(r.RaceMismatch, $"{Path.GetFileName(file)} {model}: detector {r.OperationalRace} ({r.RaceWitness}), LKMM {r.AxiomaticRace}");
                if (model == "lkmm")
                {
                    Assert.Equal(test.Result!.EndsWith(" DATARACE", StringComparison.Ordinal), r.AxiomaticRace);
                    racy += r.AxiomaticRace == true ? 1 : 0;
                }
            }
        }

        Assert.Equal(6, racy);
    }

    /// <summary>
    /// Under tso another CPU's buffered store may reach memory before a locked RMW, as before any
    /// other access: P1's relaxed xchg then reads P0's WRITE_ONCE (the filter's execution). Without
    /// that drain choice the operational tso missed every execution the filter keeps.
    /// </summary>
    [Fact]
    public void Tso_lets_a_buffered_store_drain_before_another_CPUs_RMW()
    {
        var file = Path.Combine(TestPaths.InRepo("tests", "Kmc.Tests", "RaceLitmus"), "relaxed-xchg-addr.litmus");
        var r = OperationalRunner.Compare(file, "tso", Timeout);
        Assert.True(r.Class == Soundness.SoundComplete, $"{r.Class}, missed {string.Join("; ", r.Missed)} ({r.Note})");
    }
}
