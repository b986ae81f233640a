using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What the data-race property costs: the same random schedules (same seed, same budget) of
/// passing checks with race detection on and off, under each model, timed in one run. The
/// executions are identical (no race is found in a passing check), so the time ratio is the cost
/// of the vector clocks and the per-location access records.
/// </summary>
public static class RaceBench
{
    public const int Iterations = 2000;

    /// <summary>
    /// Passing checks whose fixed code 2000 random schedules find no race in under any model
    /// (not osq's two rounds: random tso schedules find the Step-A race there, see OsqChecks).
    /// </summary>
    public static readonly string[] DefaultChecks =
    [
        "osq-1round", "lglock", "ticket-spinlock-data", "mcs-spinlock-2cpu", "qspinlock", "closure-refcount",
        "rcu", "rcu.sync-free", "pagecache-lock",
    ];

    public static void Run(IReadOnlyList<string> checks)
    {
        var table = new Table().AddColumns("check", "variant", "model", "µs/execution, races off", "µs/execution, races on", "on/off");
        var ratios = ModelBench.Models.ToDictionary(m => m, _ => new List<double>());
        foreach (var name in checks)
        {
            var check = CheckRegistry.Get(name);
            var variant = check.Variants.FirstOrDefault(v => ModelBench.Models.All(m => !v.ExpectedUnder(m).BugExpected))
                ?? throw new KmcInputException($"bench: {name} has no variant that passes under sc, tso and lkmm");
            foreach (var model in ModelBench.Models)
            {
                // Warm up both paths once, then time them back to back.
                Time(check, variant, model, races: false, 100);
                Time(check, variant, model, races: true, 100);
                var off = Time(check, variant, model, races: false, Iterations);
                var on = Time(check, variant, model, races: true, Iterations);
                ratios[model].Add(on / off);
                table.AddRow(name, variant.Name, model, $"{off:F1}", $"{on:F1}", $"{on / off:F2}x");
            }
        }

        AnsiConsole.Write(table);
        AnsiConsole.WriteLine("geometric mean of on/off: " + OnOffTiming.GeometricMeans(ratios));
    }

    private static double Time(Check check, Variant variant, string model, bool races, int iterations) =>
        OnOffTiming.MicrosPerRandomExecution(check, variant, model, iterations, o => o with { DetectRaces = races });
}
