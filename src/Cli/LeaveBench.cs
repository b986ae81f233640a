using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What use-after-leave checking of static queue nodes costs (Kmc.Models.NodeLifetime): the fixed
/// OSQ, MCS and qspinlock with the check on and off, under each model, in one run. The dfs search
/// (reduced, preemption bound 2, stale bound 1 under tso/lkmm) shows whether the node's lifetime in
/// step footprints costs the reduction executions; the same random schedules (same seed, same
/// budget) timed alternately, fastest of three, show the per-execution cost (the record of each enter and leave,
/// the check of each store to a node's field).
/// </summary>
public static class LeaveBench
{
    public const int Iterations = 5000;

    /// <summary>Each side is timed this many times, alternating, and the fastest kept: the machine's noise only adds time.</summary>
    public const int Repeats = 3;

    public static readonly string[] DefaultChecks = ["osq-1round", "osq-3cpu-1round", "mcs-spinlock-2cpu", "qspinlock-3cpu"];

    public static void Run(IReadOnlyList<string> checks)
    {
        var table = new Table().AddColumns("check", "model", "dfs executions off / on", "µs/execution off", "µs/execution on", "on/off");
        var ratios = ModelBench.Models.ToDictionary(m => m, _ => new List<double>());
        foreach (var name in checks)
        {
            var check = CheckRegistry.Get(name);
            var variant = check.Variants.FirstOrDefault(v => ModelBench.Models.All(m => !v.ExpectedUnder(m).BugExpected))
                ?? throw new KmcInputException($"bench: {name} has no variant that passes under sc, tso and lkmm");
            foreach (var model in ModelBench.Models)
            {
                var dfsOff = OnOffTiming.ExplorePassing(check, variant, model, Dfs(model, leave: false)).Executions;
                var dfsOn = OnOffTiming.ExplorePassing(check, variant, model, Dfs(model, leave: true)).Executions;

                // Warm up both paths once, then time them back to back.
                Time(check, variant, model, leave: false, 100);
                Time(check, variant, model, leave: true, 100);
                double off = double.MaxValue, on = double.MaxValue;
                for (var i = 0; i < Repeats; i++)
                {
                    off = Math.Min(off, Time(check, variant, model, leave: false, Iterations));
                    on = Math.Min(on, Time(check, variant, model, leave: true, Iterations));
                }
                ratios[model].Add(on / off);
                table.AddRow(name, model, $"{dfsOff} / {dfsOn}", $"{off:F1}", $"{on:F1}", $"{on / off:F2}x");
            }
        }

        AnsiConsole.Write(table);
        AnsiConsole.WriteLine("geometric mean of on/off time per random execution: " + OnOffTiming.GeometricMeans(ratios));
    }

    private static ExploreOptions Dfs(string model, bool leave) => new()
    {
        Strategy = "dfs",
        Iterations = 10_000_000,
        PreemptionBound = 2,
        StaleBound = model == "sc" ? -1 : 1,
        Memory = MemoryModels.Factory(model),
        DetectUseAfterLeave = leave,
    };

    private static double Time(Check check, Variant variant, string model, bool leave, int iterations) =>
        OnOffTiming.MicrosPerRandomExecution(check, variant, model, iterations, o => o with { DetectUseAfterLeave = leave });
}
