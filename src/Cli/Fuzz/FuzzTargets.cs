using System.Text.Json;
using Kmc.Checks.Framework;

namespace Kmc.Cli.Fuzz;

/// <summary>
/// One input format kmc reads, fuzzed through the command that reads it: valid seeds, whether
/// the format is JSON (structure-aware mutations), and the kmc arguments for a mutated file.
/// </summary>
public sealed record FuzzTarget(string Name, bool Json, string Extension, IReadOnlyList<string> Seeds, Func<FuzzCase, string[]> Args, TimeSpan Bound)
{
    /// <summary>Exit codes that are a valid result for this target's command besides 2 (bad input).</summary>
    public IReadOnlyList<int> ValidCodes { get; init; } = [0, 1];
}

/// <summary>Where one case's files are: the mutated input, a valid seed beside it, an output folder.</summary>
public sealed record FuzzCase(string Input, string Seed, string OutDir, int Index);

public static class FuzzTargets
{
    public static readonly IReadOnlyList<string> Names = ["trace", "summary", "config", "faults", "litmus"];

    /// <summary>The targets with seeds made by this build (traces must carry this build's model hash to reach replay).</summary>
    public static IReadOnlyList<FuzzTarget> All(IReadOnlyCollection<string>? only = null)
    {
        var targets = new List<FuzzTarget>();
        bool Wanted(string n) => only == null || only.Count == 0 || only.Contains(n);
        if (Wanted("trace"))
            targets.Add(new FuzzTarget("trace", true, ".json", [Trace("native"), Trace("coyote")], c => ["replay", c.Input], TimeSpan.FromSeconds(20)));
        if (Wanted("summary"))
        {
            // Odd cases merge the mutated summary with a valid one: the duplicate and mixing checks.
            targets.Add(new FuzzTarget("summary", true, ".json", [Summary("1/2", "lkmm"), Summary(null, "sc")],
                c => c.Index % 2 == 0 ? ["merge", c.Input, "--out", c.OutDir] : ["merge", c.Seed, c.Input, "--out", c.OutDir], TimeSpan.FromSeconds(10)));
        }

        if (Wanted("config"))
        {
            targets.Add(new FuzzTarget("config", true, ".json", [Config()],
                c => ["run", "counter", "--config", c.Input, "--iterations", "20", "--no-minimize", "--workers", "1"], TimeSpan.FromSeconds(20)));
        }

        if (Wanted("faults"))
        {
            targets.Add(new FuzzTarget("faults", false, ".txt",
                ["class memory choose", "file RcuPointerCheck.cs line 60-70 oneshot", "name foo frequency 2; module rcu off", "func Build enable; class memory disable"],
                c => ["faults", "list", "rcu", "--faults", File.ReadAllText(c.Input)], TimeSpan.FromSeconds(20)));
        }

        if (Wanted("litmus"))
        {
            targets.Add(new FuzzTarget("litmus", false, ".litmus", [LitmusC, LitmusLisa],
                c => ["litmus", c.Input, "--timeout", "2"], TimeSpan.FromSeconds(30)));
        }

        return targets;
    }

    private static string Trace(string driver)
    {
        var check = CheckRegistry.Get("counter");
        var settings = new RunSettings { Driver = driver, Strategy = "random", Iterations = 200, MemoryModel = "sc" };
        var run = CheckRunner.Run(check, check.GetVariant("no-lock"), settings);
        return run.Trace?.ToJson() ?? throw new InvalidOperationException($"counter/no-lock found no bug under {driver}: no trace to fuzz from");
    }

    private static string Summary(string? shard, string model)
    {
        SuiteRow Row(string variant, string observed, bool matches) => new("counter", variant, observed == "pass" ? "pass" : "bug: Assertion", observed, matches,
            12, 0.25, "native", "random", 1, model, matches ? null : $"counter/{variant}: differs", observed == "pass" ? null : "reports/runs/x/report.md");
        var summary = new SummaryFile(SummaryFile.CurrentFormat, CheckRunner.KmcVersion, shard, 1.5,
            [Row("fixed", "pass", true), Row("no-lock", "bug: Assertion", true)],
            [new RegressionRow("counter__no-lock.json", true, null, "runs clean")]);
        return JsonSerializer.Serialize(summary, SummaryFile.Json);
    }

    /// <summary>The repository's config when there is one (its comments and per-check entries), else a small one.</summary>
    private static string Config()
    {
        var path = KmcConfig.FindUpwards(Directory.GetCurrentDirectory(), KmcConfig.FileName);
        return path != null
            ? File.ReadAllText(path)
            : """
              {
                // defaults
                "defaults": { "driver": "native", "strategy": "random", "iterations": 2000, "seed": 1, "maxSteps": 5000, "timeout": 30, "memoryModel": "lkmm" },
                "checks": { "counter": { "iterations": 100 }, "counter@sc": { "strategy": "dfs", "preemptionBound": 1 } }
              }
              """;
    }

    private const string LitmusC = """
        C kmc-fuzz-MP

        (*
         * Result: Sometimes
         *)

        { x=0; y=0; }

        P0(int *x, int *y)
        {
        	WRITE_ONCE(*x, 1);
        	smp_wmb();
        	WRITE_ONCE(*y, 1);
        }

        P1(int *x, int *y)
        {
        	int r0;
        	int r1;

        	r0 = READ_ONCE(*y);
        	r1 = READ_ONCE(*x);
        }

        exists (1:r0=1 /\ 1:r1=0)
        """;

    private const string LitmusLisa = """
        LISA kmc-fuzz-SB
        (*
         * Result: Never
         *)
        {
        x = 0;
        y = 0;
        }
         P0            | P1            ;
         w[once] x 1   | w[once] y 1   ;
         f[mb]         | f[mb]         ;
         r[once] r1 y  | r[once] r2 x  ;
        exists (0:r1=0 /\ 1:r2=0)
        """;
}
