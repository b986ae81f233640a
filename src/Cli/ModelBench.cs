using Kmc.Checks.Framework;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What a weak memory model costs: the same checks, searched the same way, under sc, tso and
/// lkmm. The exhaustive search (dfs, default bounds) measures how many more executions the weak
/// model's choices add; random sampling at a fixed budget measures the cost of one execution.
/// Each check runs its fixed code, or the first variant every model expects to pass (a variant
/// that fails stops early and says nothing about cost).
/// </summary>
public static class ModelBench
{
    public static readonly string[] Models = ["sc", "tso", "lkmm"];

    /// <summary>Checks whose passing variant a dfs exhausts under every model within seconds.</summary>
    public static readonly string[] DefaultChecks =
    [
        "osq-1round", "osq", "lglock", "ticket-spinlock", "closure-refcount", "closure-sync",
        "closure-wait-event", "closure-sync@upstream", "rcu", "rcu.sync-free", "pagecache-lock",
    ];

    public const int RandomIterations = 2000;

    private sealed record Cell(int Executions, bool Exhausted, double Seconds);

    public static void Run(IReadOnlyList<string> checks, RunSettings baseSettings)
    {
        var table = new Table().AddColumns("check", "variant", "sc dfs", "tso dfs", "lkmm dfs", "tso/sc", "lkmm/sc", $"random {RandomIterations}: tso/sc time", "lkmm/sc time");
        var dfsRatios = new Dictionary<string, List<double>> { ["tso"] = [], ["lkmm"] = [] };
        var timeRatios = new Dictionary<string, List<double>> { ["tso"] = [], ["lkmm"] = [] };
        foreach (var name in checks)
        {
            var check = CheckRegistry.Get(name);
            var variant = PassingVariant(check)
                ?? throw new KmcInputException($"bench: {name} has no variant that passes under sc, tso and lkmm");
            var dfs = Models.ToDictionary(m => m, m => Measure(check, variant, baseSettings with { Strategy = "dfs", MemoryModel = m }));
            var random = Models.ToDictionary(m => m, m => Measure(check, variant, baseSettings with { Strategy = "random", Iterations = RandomIterations, MemoryModel = m }));
            foreach (var m in new[] { "tso", "lkmm" })
            {
                dfsRatios[m].Add((double)dfs[m].Executions / dfs["sc"].Executions);
                timeRatios[m].Add(random[m].Seconds / random["sc"].Seconds);
            }

            table.AddRow(name, variant.Name, Dfs(dfs["sc"]), Dfs(dfs["tso"]), Dfs(dfs["lkmm"]),
                $"{dfsRatios["tso"][^1]:F1}x", $"{dfsRatios["lkmm"][^1]:F1}x",
                $"{timeRatios["tso"][^1]:F2}x", $"{timeRatios["lkmm"][^1]:F2}x");
        }

        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"geometric mean over {checks.Count} checks: dfs executions tso/sc {GeoMean(dfsRatios["tso"]):F2}x, lkmm/sc {GeoMean(dfsRatios["lkmm"]):F2}x; " +
                              $"time per random execution tso/sc {GeoMean(timeRatios["tso"]):F2}x, lkmm/sc {GeoMean(timeRatios["lkmm"]):F2}x");
    }

    private static Variant? PassingVariant(Check check) =>
        check.Variants.FirstOrDefault(v => Models.All(m => !v.ExpectedUnder(m).BugExpected));

    private static Cell Measure(Check check, Variant variant, RunSettings settings)
    {
        var run = CheckRunner.Run(check, variant, settings with { Minimize = false });
        if (run.Result.Failure is { } f)
            throw new KmcInputException($"bench: {check.Name}/{variant.Name} failed under {settings.MemoryModel} ({f.Kind}); it is declared to pass");
        return new Cell(run.Result.Executions, run.Result.Exhausted, run.Result.Elapsed.TotalSeconds);
    }

    private static string Dfs(Cell c) => $"{c.Executions:N0}{(c.Exhausted ? "" : " (cut)")} / {c.Seconds:F2} s";

    private static double GeoMean(List<double> xs) => Math.Exp(xs.Average(Math.Log));
}
