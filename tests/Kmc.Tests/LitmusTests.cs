using Kmc.Checks.Litmus;

namespace Kmc.Tests;

/// <summary>kmc litmus: the parser, the axiomatic engine under sc/tso/lkmm, and the runner's verdicts.</summary>
public class LitmusTests
{
    private static LitmusObservation Run(string text, string model = "lkmm") =>
        LitmusEngine.Run(LitmusParser.Parse(text), LitmusModels.Get(model), TimeSpan.FromSeconds(30));

    private const string Sb = """
        C SB
        (* Result: Sometimes *)
        {}
        P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); BARRIER r0 = READ_ONCE(*y); }
        P1(int *x, int *y) { int r1; WRITE_ONCE(*y, 1); BARRIER r1 = READ_ONCE(*x); }
        exists (0:r0=0 /\ 1:r1=0)
        """;

    [Theory]
    [InlineData("", "lkmm", "Sometimes")]
    [InlineData("smp_mb();", "lkmm", "Never")]
    [InlineData("smp_wmb();", "lkmm", "Sometimes")]
    [InlineData("", "tso", "Sometimes")]
    [InlineData("", "sc", "Never")]
    public void StoreBuffering(string barrier, string model, string verdict) =>
        Assert.Equal(verdict, Run(Sb.Replace("BARRIER", barrier), model).Verdict);

    private const string Mp = """
        C MP
        {}
        P0(int *x, int *y) { WRITE_ONCE(*x, 1); WB WRITE_ONCE(*y, 1); }
        P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); RB r1 = READ_ONCE(*x); }
        exists (1:r0=1 /\ 1:r1=0)
        """;

    [Theory]
    [InlineData("", "", "lkmm", "Sometimes")]
    [InlineData("smp_wmb();", "", "lkmm", "Sometimes")]
    [InlineData("smp_wmb();", "smp_rmb();", "lkmm", "Never")]
    [InlineData("", "", "tso", "Never")]
    public void MessagePassing(string wb, string rb, string model, string verdict) =>
        Assert.Equal(verdict, Run(Mp.Replace("WB", wb).Replace("RB", rb), model).Verdict);

    [Fact]
    public void ReleaseAcquireOrdersMessagePassing()
    {
        const string text = """
            C MP+rel+acq
            {}
            P0(int *x, int *y) { WRITE_ONCE(*x, 1); smp_store_release(y, 1); }
            P1(int *x, int *y) { int r0; int r1; r0 = smp_load_acquire(y); r1 = READ_ONCE(*x); }
            exists (1:r0=1 /\ 1:r1=0)
            """;
        Assert.Equal("Never", Run(text).Verdict);
    }

    private const string Lb = """
        C LB
        {}
        P0(int *x, int *y) { int r0; r0 = READ_ONCE(*x); DEP0 }
        P1(int *x, int *y) { int r1; r1 = READ_ONCE(*y); WRITE_ONCE(*x, r1); }
        exists (0:r0=1 /\ 1:r1=1)
        """;

    /// <summary>LKMM allows load buffering without dependencies, which no promise-free operational model produces.</summary>
    [Theory]
    [InlineData("WRITE_ONCE(*y, 1);", "lkmm", "Sometimes")]
    [InlineData("if (r0) WRITE_ONCE(*y, 1);", "lkmm", "Never")]
    [InlineData("WRITE_ONCE(*y, r0);", "lkmm", "Never")]
    [InlineData("WRITE_ONCE(*y, 1);", "tso", "Never")]
    public void LoadBuffering(string dep, string model, string verdict) =>
        Assert.Equal(verdict, Run(Lb.Replace("DEP0", dep), model).Verdict);

    [Theory]
    [InlineData("", "Sometimes")]
    [InlineData("smp_mb();", "Never")]
    public void IndependentReadsOfIndependentWrites(string fence, string verdict)
    {
        var text = """
            C IRIW
            {}
            P0(int *x) { WRITE_ONCE(*x, 1); }
            P1(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*x); F r1 = READ_ONCE(*y); }
            P2(int *y) { WRITE_ONCE(*y, 1); }
            P3(int *x, int *y) { int r0; int r1; r0 = READ_ONCE(*y); F r1 = READ_ONCE(*x); }
            exists (1:r0=1 /\ 1:r1=0 /\ 3:r0=1 /\ 3:r1=0)
            """.Replace("F", fence);
        Assert.Equal(verdict, Run(text).Verdict);
    }

    [Theory]
    [InlineData(true, "Never")]
    [InlineData(false, "Sometimes")]
    public void SpinlockCriticalSectionsDoNotOverlap(bool readerLocks, string verdict)
    {
        var reader = readerLocks
            ? "spin_lock(s); r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); spin_unlock(s);"
            : "r0 = READ_ONCE(*y); r1 = READ_ONCE(*x);";
        var text = $$"""
            C MP+locks
            {}
            P0(int *x, int *y, spinlock_t *s) { spin_lock(s); WRITE_ONCE(*x, 1); WRITE_ONCE(*y, 1); spin_unlock(s); }
            P1(int *x, int *y, spinlock_t *s) { int r0; int r1; {{reader}} }
            exists (1:r0=1 /\ 1:r1=0)
            """;
        Assert.Equal(verdict, Run(text).Verdict);
    }

    [Fact]
    public void SpinlockTakenTwiceDeadlocks()
    {
        const string text = """
            C self
            {}
            P0(spinlock_t *s) { spin_lock(s); spin_lock(s); }
            exists (true)
            """;
        Assert.Equal("DEADLOCK", Run(text).Verdict);
    }

    [Theory]
    [InlineData("synchronize_rcu();", "Never")]
    [InlineData("", "Sometimes")]
    public void GracePeriodWaitsForReaders(string gp, string verdict)
    {
        var text = $$"""
            C RCU-MP
            {}
            P0(int *x, int *y) { WRITE_ONCE(*x, 1); {{gp}} WRITE_ONCE(*y, 1); }
            P1(int *x, int *y) { int r0; int r1; rcu_read_lock(); r0 = READ_ONCE(*y); r1 = READ_ONCE(*x); rcu_read_unlock(); }
            exists (1:r0=1 /\ 1:r1=0)
            """;
        Assert.Equal(verdict, Run(text).Verdict);
    }

    /// <summary>
    /// sys_membarrier() orders another CPU's accesses as if it ran smp_mb() somewhere in them:
    /// the asymmetric store-buffering pattern it exists for needs no barrier on the fast side.
    /// </summary>
    [Theory]
    [InlineData("smp_memb();", "smp_memb();", "Never")]
    [InlineData("smp_memb();", "", "Never")]
    [InlineData("", "", "Sometimes")]
    public void MembarrierPairsWithBarriersOnOtherCpus(string f0, string f1, string verdict)
    {
        var text = $$"""
            C SB+memb
            {}
            P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); {{f0}} r0 = READ_ONCE(*y); }
            P1(int *x, int *y) { int r1; WRITE_ONCE(*y, 1); {{f1}} r1 = READ_ONCE(*x); }
            exists (0:r0=0 /\ 1:r1=0)
            """;
        Assert.Equal(verdict, Run(text).Verdict);
    }

    [Fact]
    public void RcuDereferenceCarriesTheAddressDependency()
    {
        const string text = """
            C MP+assign+deref
            { int *p = z; int z; int x; }
            P0(int *x, int **p) { WRITE_ONCE(*x, 1); rcu_assign_pointer(*p, x); }
            P1(int *x, int **p) { int *r0; int r1; r0 = rcu_dereference(*p); r1 = READ_ONCE(*r0); }
            exists (1:r0=x /\ 1:r1=0)
            """;
        Assert.Equal("Never", Run(text).Verdict);
    }

    [Fact]
    public void FailedCmpxchgIsUnorderedButSuccessfulOneIsFullyOrdered()
    {
        const string text = """
            C SB+cmpxchg
            {}
            P0(int *x, int *y, int *z) { int r0; int r9; WRITE_ONCE(*x, 1); r9 = cmpxchg(z, OLD, 1); r0 = READ_ONCE(*y); }
            P1(int *x, int *y) { int r1; WRITE_ONCE(*y, 1); smp_mb(); r1 = READ_ONCE(*x); }
            exists (0:r0=0 /\ 1:r1=0)
            """;
        Assert.Equal("Never", Run(text.Replace("OLD", "0")).Verdict);
        Assert.Equal("Sometimes", Run(text.Replace("OLD", "5")).Verdict);
    }

    [Fact]
    public void UnorderedPlainAccessesAreADataRace()
    {
        const string text = """
            C race
            {}
            P0(int *x) { *x = 1; }
            P1(int *x) { int r0; r0 = READ_ONCE(*x); }
            exists (1:r0=1)
            """;
        var obs = Run(text);
        Assert.Equal("Sometimes", obs.Verdict);
        Assert.True(obs.DataRace);
        Assert.False(Run(text.Replace("*x = 1;", "WRITE_ONCE(*x, 1);")).DataRace);
    }

    [Fact]
    public void LisaFormatRuns()
    {
        const string text = """
            LISA SB-lisa
            (* Result: Never *)
            { x = 0; y = 0; }
             P0           | P1           ;
             w[once] x 1  | w[once] y 1  ;
             f[mb]        | f[mb]        ;
             r[once] r1 y | r[once] r2 x ;
            exists (0:r1=0 /\ 1:r2=0)
            """;
        Assert.Equal("Never", Run(text).Verdict);
        Assert.Equal("Sometimes", Run(text.Replace("f[mb]", "f[wmb]")).Verdict);
    }

    [Fact]
    public void ForallAndFilterAndRegisterComparisons()
    {
        const string text = """
            C forall
            {}
            P0(int *x) { WRITE_ONCE(*x, 1); }
            P1(int *x) { int r0; int r1; r0 = READ_ONCE(*x); r1 = READ_ONCE(*x); }
            filter (1:r0=1)
            forall (1:r1=1:r0)
            """;
        var test = LitmusParser.Parse(text);
        Assert.Equal(Quantifier.Forall, test.Quantifier);
        Assert.Equal("Always", Run(text).Verdict);
    }

    private static string Temp(string name, string text)
    {
        var dir = Directory.CreateTempSubdirectory("kmc-litmus").FullName;
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void MalformedFileIsAParseErrorNotACrash()
    {
        var bad = Temp("bad.litmus", "C bad\n{}\nP0(int *x) { WRITE_ONCE(*x, ; }\nexists (x=1)\n");
        var r = LitmusRunner.RunFile(bad, "lkmm", null);
        Assert.Equal(LitmusVerdict.ParseError, r.Verdict);
        Assert.False(string.IsNullOrEmpty(r.Note));
    }

    [Fact]
    public void UnsupportedConstructIsNamed()
    {
        var loop = Temp("loop.litmus", "C loop\n(* Result: Never *)\n{}\nP0(int *x) { int r0; while (r0) r0 = READ_ONCE(*x); }\nexists (x=1)\n");
        var r = LitmusRunner.RunFile(loop, "lkmm", null);
        Assert.Equal(LitmusVerdict.Unsupported, r.Verdict);
        Assert.Equal("'while' loop", r.Note);
    }

    [Fact]
    public void WrongResultIsAMismatchOfTheRightKind()
    {
        var text = Sb.Replace("BARRIER", "");
        var forbidden = LitmusRunner.RunFile(Temp("sb.litmus", text.Replace("Result: Sometimes", "Result: Never")), "lkmm", null);
        Assert.Equal(LitmusVerdict.AllowedForbidden, forbidden.Verdict);
        var missed = LitmusRunner.RunFile(Temp("sb.litmus", Sb.Replace("BARRIER", "smp_mb();")), "lkmm", null);
        Assert.Equal("Never", missed.Observed);
        Assert.Equal(LitmusVerdict.MissedAllowed, missed.Verdict);
    }

    [Fact]
    public void CommandExitCodes()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-litmus-cli").FullName;
        var good = Sb.Replace("BARRIER", "");
        File.WriteAllText(Path.Combine(dir, "sb.litmus"), good);
        var ok = CliTests.Run(dir, "litmus", dir);
        Assert.Equal(0, ok.Code);
        Assert.Contains("1 matched, 0 forgiven (data race), 0 mismatched", ok.Out);

        File.WriteAllText(Path.Combine(dir, "sb.litmus"), good.Replace("Result: Sometimes", "Result: Never"));
        var mismatch = CliTests.Run(dir, "litmus", dir);
        Assert.Equal(1, mismatch.Code);
        Assert.Contains("1 allowed a forbidden outcome", mismatch.Out);
        File.WriteAllText(Path.Combine(dir, "sb.litmus"), good);

        // Files that are no litmus test (malformed, empty, binary) are bad input in every mode,
        // and a binary file's bytes never reach the terminal.
        File.WriteAllText(Path.Combine(dir, "bad.litmus"), "C bad\n{\n");
        File.WriteAllText(Path.Combine(dir, "empty.litmus"), "");
        File.WriteAllBytes(Path.Combine(dir, "binary.litmus"), [0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0, 0x1b, (byte)'[', (byte)'2', (byte)'J', 0xff, 0xfe, 10]);
        File.WriteAllText(Path.Combine(dir, "escape.litmus"), "\u001b[2J\u0007evil first line\n"); // text, but no format kmc knows: unsupported, printed escaped
        foreach (var mode in new[] { Array.Empty<string>(), ["--operational"], ["--compare-operational", "--memory-model", "sc"] })
        {
            var r = CliTests.Run(dir, ["litmus", dir, .. mode]);
            Assert.True(r.Code == 2, $"{string.Join(' ', mode)}: exit {r.Code}\n{r.Out}{r.Err}");
            Assert.Equal("kmc: 3 file(s) could not be read as litmus tests (bad.litmus, binary.litmus, empty.litmus): see the table", r.Err.Trim());
            Assert.DoesNotContain(r.Out, c => c < ' ' && c != '\n' && c != '\r');
            Assert.Contains("not a text file", r.Out);
            Assert.Contains("\\x1b[2J\\x07", r.Out);
        }

        Assert.Contains("3 parse errors", CliTests.Run(dir, "litmus", dir).Out);
        foreach (var f in new[] { "bad.litmus", "empty.litmus", "binary.litmus", "escape.litmus" })
            File.Delete(Path.Combine(dir, f));

        var missing = CliTests.Run(dir, "litmus", Path.Combine(dir, "nope"));
        Assert.Equal(2, missing.Code);
        Assert.StartsWith("kmc: no such file or folder", missing.Err.Trim());
        Assert.Equal(2, CliTests.Run(dir, "litmus", dir, "--memory-model", "arm").Code);
    }

    /// <summary>The kernel's litmus tests, shipped in litmus/kernel.</summary>
    private static string KernelCorpus() => TestPaths.InRepo("litmus", "kernel");

    /// <summary>kmc's own litmus files (tests/Kmc.Tests/Litmus), written for these tests with their LKMM verdicts.</summary>
    private static string OwnCorpus() => TestPaths.InRepo("tests", "Kmc.Tests", "Litmus");

    /// <summary>Our own files with herd's verdicts (not those for the judging rules, in judging/) and the kernel's 43.</summary>
    private static List<string> AgreeingFiles()
    {
        var files = Directory.GetFiles(OwnCorpus(), "*.litmus").Order(StringComparer.Ordinal).ToList();
        files.AddRange(LitmusRunner.Files([KernelCorpus()]));
        return files;
    }

    [Fact]
    public void OwnAndKernelLitmusTestsAllAgreeWithHerd()
    {
        Assert.Equal(19, Directory.GetFiles(OwnCorpus(), "*.litmus").Length);
        Assert.Equal(43, LitmusRunner.Files([KernelCorpus()]).Count);
        var results = AgreeingFiles().Select(f => LitmusRunner.RunFile(f, "lkmm", TimeSpan.FromSeconds(20))).ToList();
        var bad = results.Where(r => r.Verdict != LitmusVerdict.Match).Select(r => $"{Path.GetFileName(r.File)}: {r.Expected} vs {r.Observed}").ToList();
        Assert.Empty(bad);
    }

    /// <summary>SC and x86-TSO are valid LKMM implementations: what the LKMM forbids, they forbid too, and TSO allows all SC does.</summary>
    [Fact]
    public void StrongerModelsAllowNoMoreThanTheLkmm()
    {
        foreach (var f in AgreeingFiles().Concat(LitmusRunner.Files([Path.Combine(OwnCorpus(), "judging")])))
        {
            var test = LitmusParser.ParseFile(f);
            var lkmm = LitmusEngine.Run(test, LitmusModels.Get("lkmm"), null);
            var tso = LitmusEngine.Run(test, LitmusModels.Get("tso"), null);
            var sc = LitmusEngine.Run(test, LitmusModels.Get("sc"), null);
            foreach (var (name, o) in new[] { ("tso", tso), ("sc", sc) })
            {
                Assert.False(!lkmm.SomeSatisfy && o.SomeSatisfy, $"{name} allows a satisfying execution of {Path.GetFileName(f)} the LKMM forbids");
                Assert.False(!lkmm.SomeFail && o.SomeFail, $"{name} allows a failing execution of {Path.GetFileName(f)} the LKMM forbids");
            }

            Assert.False(!tso.SomeSatisfy && sc.SomeSatisfy, $"sc allows what tso forbids in {Path.GetFileName(f)}");
        }
    }

    [Theory]
    [InlineData("SB-once.litmus", "Sometimes")]
    [InlineData("SB-mb.litmus", "Never")]
    [InlineData("MP-once.litmus", "Sometimes")]
    [InlineData("MP-wmb-rmb.litmus", "Never")]
    [InlineData("MP-release-acquire.litmus", "Never")]
    [InlineData("LB-once.litmus", "Sometimes")]
    [InlineData("LB-ctrl-mb.litmus", "Never")]
    [InlineData("MP-locks.litmus", "Never")]
    [InlineData("RCU-gp.litmus", "Never")]
    [InlineData("RCU-no-gp.litmus", "Sometimes")]
    [InlineData("Deref.litmus", "Never")]
    [InlineData("AUL-chain.litmus", "Never")]
    [InlineData("AUL-chain-nofence.litmus", "Sometimes")]
    public void OwnLitmusFile(string file, string verdict)
    {
        var r = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), file), "lkmm", null);
        Assert.Equal(verdict, r.Observed);
        Assert.Equal(LitmusVerdict.Match, r.Verdict);
    }

    /// <summary>
    /// tools/memory-model/scripts/judgelitmus.sh's rules, one file each (tests/Kmc.Tests/Litmus/judging):
    /// the DATARACE marker must match the model's flag whatever the verdict; a modeled race forgives
    /// a wrong verdict; DEADLOCK is "no execution completes", which fails any other Result, Maybe
    /// included; an outcome a sequential run reaches cannot be forbidden.
    /// </summary>
    [Theory]
    [InlineData("race-forgiven.litmus", "Sometimes DATARACE", LitmusVerdict.Forgiven)]
    [InlineData("race-matched.litmus", "Sometimes DATARACE", LitmusVerdict.Match)]
    [InlineData("race-unexpected.litmus", "Sometimes DATARACE", LitmusVerdict.RaceFlagDiffers)]
    [InlineData("race-not-modeled.litmus", "Sometimes", LitmusVerdict.RaceFlagDiffers)]
    [InlineData("deadlock-matched.litmus", "DEADLOCK", LitmusVerdict.Match)]
    [InlineData("deadlock-expected.litmus", "Always", LitmusVerdict.AllowedForbidden)]
    [InlineData("deadlock-unexpected.litmus", "DEADLOCK", LitmusVerdict.MissedAllowed)]
    [InlineData("maybe.litmus", "Sometimes", LitmusVerdict.NotJudged)]
    [InlineData("sc-contradicts-never.litmus", "Sometimes", LitmusVerdict.ScContradicted)]
    [InlineData("sc-contradicts-always.litmus", "Sometimes", LitmusVerdict.ScContradicted)]
    [InlineData("weak-forbidden.litmus", "Sometimes", LitmusVerdict.AllowedForbidden)]
    public void JudgingRule(string file, string observed, LitmusVerdict verdict)
    {
        var r = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), "judging", file), "lkmm", TimeSpan.FromSeconds(20));
        Assert.Equal(observed, r.Observed);
        Assert.Equal(verdict, r.Verdict);
        // An execution backs every disagreement the model is answerable for, and only those.
        var backed = verdict is LitmusVerdict.ScContradicted or LitmusVerdict.AllowedForbidden || file == "race-unexpected.litmus";
        Assert.Equal(backed, r.Witness != null);
    }

    [Fact]
    public void RaceNotesNameTheScriptsFailure()
    {
        var dir = Path.Combine(OwnCorpus(), "judging");
        Assert.Equal("unexpected data race modeled", LitmusRunner.RunFile(Path.Combine(dir, "race-unexpected.litmus"), "lkmm", null).Note);
        Assert.Equal("predicted data race not modeled", LitmusRunner.RunFile(Path.Combine(dir, "race-not-modeled.litmus"), "lkmm", null).Note);
    }

    /// <summary>The witness is the sequential run that reaches the forbidden outcome: P1 reads x before P0 writes it.</summary>
    [Fact]
    public void ScWitnessIsAnInterleavingReachingTheOutcome()
    {
        var r = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), "judging", "sc-contradicts-never.litmus"), "lkmm", null);
        Assert.NotNull(r.Witness);
        Assert.StartsWith("interleaving: ", r.Witness);
        Assert.EndsWith("=> 1:r0=0, 1:r1=0", r.Witness);
        Assert.True(r.Witness.IndexOf("P1:R x=0", StringComparison.Ordinal) < r.Witness.IndexOf("P0:W x=1", StringComparison.Ordinal), r.Witness);

        var always = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), "judging", "sc-contradicts-always.litmus"), "lkmm", null);
        Assert.Equal("interleaving: P1:R x=0; P0:W x=1 => 1:r0=0", always.Witness);
    }

    /// <summary>
    /// Store buffering is no interleaving, so the LKMM's witness lists each thread's accesses with
    /// where each read took its value; the racy execution behind an unexpected race is one too.
    /// </summary>
    [Fact]
    public void ModelWitnessesBackForbiddenOutcomesAndUnexpectedRaces()
    {
        var sb = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), "judging", "weak-forbidden.litmus"), "lkmm", null);
        Assert.Equal("per thread: P0: W x=1; R y=0 (initial) | P1: W y=1; R x=0 (initial) => 0:r0=0, 1:r1=0", sb.Witness);
        var race = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), "judging", "race-unexpected.litmus"), "lkmm", null);
        Assert.NotNull(race.Witness);
        Assert.Contains("P0:W x=1", race.Witness);
    }

    /// <summary>Only the LKMM's answers are judged: under sc a wrong Result is no mismatch and needs no witness.</summary>
    [Fact]
    public void ScContradictionIsOnlyLookedForUnderLkmm()
    {
        var r = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), "judging", "sc-contradicts-never.litmus"), "sc", null);
        Assert.Equal(LitmusVerdict.NotJudged, r.Verdict);
        Assert.Null(r.Witness);
    }

    [Theory]
    [InlineData("Never", "Never", false, LitmusVerdict.Match)]
    [InlineData("Never", "Sometimes", false, LitmusVerdict.AllowedForbidden)]
    [InlineData("Always", "Sometimes", false, LitmusVerdict.AllowedForbidden)]
    [InlineData("Sometimes", "Never", false, LitmusVerdict.MissedAllowed)]
    [InlineData("Sometimes", "Always", false, LitmusVerdict.MissedAllowed)]
    [InlineData("Never DATARACE", "Sometimes", true, LitmusVerdict.Forgiven)]
    [InlineData("Sometimes DATARACE", "Never", true, LitmusVerdict.Forgiven)]
    [InlineData("Never DATARACE", "Never", true, LitmusVerdict.Match)]
    [InlineData("Never DATARACE", "Never", false, LitmusVerdict.RaceFlagDiffers)]
    [InlineData("Never", "Sometimes", true, LitmusVerdict.RaceFlagDiffers)]
    [InlineData("Maybe", "Sometimes", false, LitmusVerdict.NotJudged)]
    [InlineData("Maybe (compiler!)", "Never", false, LitmusVerdict.NotJudged)]
    [InlineData("Maybe", "Sometimes", true, LitmusVerdict.RaceFlagDiffers)]
    [InlineData("Maybe", "DEADLOCK", false, LitmusVerdict.MissedAllowed)]
    [InlineData("DEADLOCK", "DEADLOCK", false, LitmusVerdict.Match)]
    [InlineData("DEADLOCK", "Never", false, LitmusVerdict.AllowedForbidden)]
    [InlineData("Never", "DEADLOCK", false, LitmusVerdict.MissedAllowed)]
    [InlineData("Never DATARACE", "DEADLOCK", true, LitmusVerdict.RaceFlagDiffers)]
    [InlineData("Sometimes (but requires modeling the compiler)", "Never", false, LitmusVerdict.NotJudged)]
    [InlineData("Flag srcu-bad-nesting", "Sometimes", false, LitmusVerdict.NotJudged)]
    [InlineData(null, "Sometimes", false, LitmusVerdict.NotJudged)]
    public void JudgeFollowsJudgelitmus(string? result, string verdict, bool race, LitmusVerdict expected) =>
        Assert.Equal(expected, LitmusRunner.Judge(result, verdict, race).Verdict);

    /// <summary>A model that flags no data races (kmc's operational ones): the DATARACE marker is not compared, and a wrong verdict is never forgiven.</summary>
    [Theory]
    [InlineData("Sometimes DATARACE", "Sometimes", LitmusVerdict.Match)]
    [InlineData("Sometimes DATARACE", "Never", LitmusVerdict.MissedAllowed)]
    [InlineData("Never DATARACE", "Sometimes", LitmusVerdict.AllowedForbidden)]
    [InlineData("DEADLOCK", "Always", LitmusVerdict.AllowedForbidden)]
    [InlineData("Maybe", "DEADLOCK", LitmusVerdict.MissedAllowed)]
    public void JudgeWithoutARaceFlag(string result, string verdict, LitmusVerdict expected) =>
        Assert.Equal(expected, LitmusRunner.Judge(result, verdict, dataRace: null).Verdict);

    [Fact]
    public void SummaryCountsForgivenAndScContradictedApartAndPrintsTheWitness()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-litmus-judge").FullName;
        foreach (var f in new[] { "race-forgiven.litmus", "sc-contradicts-never.litmus", "race-matched.litmus" })
            File.Copy(Path.Combine(OwnCorpus(), "judging", f), Path.Combine(dir, f));
        var run = CliTests.Run(dir, "litmus", dir);
        Assert.Equal(0, run.Code);
        Assert.Contains("1 matched, 1 forgiven (data race), 0 mismatched", run.Out);
        Assert.Contains("1 Result contradicted by an SC execution", run.Out);
        Assert.Contains("sc-contradicts-never.litmus (Result: Never; an SC execution the Result forbids): interleaving: ", run.Out);
    }
}
