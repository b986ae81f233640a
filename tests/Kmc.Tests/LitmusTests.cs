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
        File.WriteAllText(Path.Combine(dir, "bad.litmus"), "C bad\n{\n");
        var ok = CliTests.Run(dir, "litmus", dir);
        Assert.Equal(0, ok.Code);
        Assert.Contains("1 matched, 0 mismatched", ok.Out);
        Assert.Contains("1 parse errors", ok.Out);

        File.WriteAllText(Path.Combine(dir, "sb.litmus"), good.Replace("Result: Sometimes", "Result: Never"));
        var mismatch = CliTests.Run(dir, "litmus", dir);
        Assert.Equal(1, mismatch.Code);
        Assert.Contains("1 allowed a forbidden outcome", mismatch.Out);

        var missing = CliTests.Run(dir, "litmus", Path.Combine(dir, "nope"));
        Assert.Equal(2, missing.Code);
        Assert.StartsWith("kmc: no such file or folder", missing.Err.Trim());
        Assert.Equal(2, CliTests.Run(dir, "litmus", dir, "--memory-model", "arm").Code);
    }

    /// <summary>The corpus of the issue, ../shared/litmus beside the repository, where this machine has it.</summary>
    private static string? SharedCorpus(string sub)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "shared", "litmus", sub);
            if (Directory.Exists(candidate))
                return candidate;
        }

        return null;
    }

    /// <summary>kmc's own litmus files (tests/Kmc.Tests/Litmus), written for these tests with their LKMM verdicts.</summary>
    private static string OwnCorpus()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, "tests", "Kmc.Tests", "Litmus");
            if (Directory.Exists(candidate))
                return candidate;
        }

        throw new InvalidOperationException($"tests/Kmc.Tests/Litmus not found above {AppContext.BaseDirectory}");
    }

    /// <summary>Our own files always; the kernel's 43 too where the shared corpus is beside the repository.</summary>
    private static List<string> Corpora()
    {
        var dirs = new List<string> { OwnCorpus() };
        if (SharedCorpus("kernel") is { } kernel)
            dirs.Add(kernel);
        return dirs;
    }

    [Fact]
    public void OwnAndKernelLitmusTestsAllAgreeWithHerd()
    {
        var own = LitmusRunner.Files([OwnCorpus()]);
        Assert.Equal(16, own.Count);
        if (SharedCorpus("kernel") is { } kernel)
            Assert.Equal(43, LitmusRunner.Files([kernel]).Count);
        var results = LitmusRunner.Files(Corpora()).Select(f => LitmusRunner.RunFile(f, "lkmm", TimeSpan.FromSeconds(20))).ToList();
        var bad = results.Where(r => r.Verdict != LitmusVerdict.Match).Select(r => $"{Path.GetFileName(r.File)}: {r.Expected} vs {r.Observed}").ToList();
        Assert.Empty(bad);
    }

    /// <summary>SC and x86-TSO are valid LKMM implementations: what the LKMM forbids, they forbid too, and TSO allows all SC does.</summary>
    [Fact]
    public void StrongerModelsAllowNoMoreThanTheLkmm()
    {
        foreach (var f in LitmusRunner.Files(Corpora()))
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
    public void OwnLitmusFile(string file, string verdict)
    {
        var r = LitmusRunner.RunFile(Path.Combine(OwnCorpus(), file), "lkmm", null);
        Assert.Equal(verdict, r.Observed);
        Assert.Equal(LitmusVerdict.Match, r.Verdict);
    }
}
