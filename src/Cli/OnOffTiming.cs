using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;

namespace Kmc.Cli;

/// <summary>
/// What a property costs, as the benches that switch one on and off measure it: the same random
/// schedules (seed 1, same budget) of a passing check, timed with the property's option set by
/// <c>configure</c>. A passing check runs the same executions either way, so the ratio is the cost.
/// </summary>
internal static class OnOffTiming
{
    /// <summary>Microseconds per execution of <paramref name="iterations"/> random schedules.</summary>
    public static double MicrosPerRandomExecution(Check check, Variant variant, string model, int iterations, Func<ExploreOptions, ExploreOptions> configure)
    {
        var options = configure(new ExploreOptions
        {
            Strategy = "random",
            Iterations = iterations,
            Seed = 1,
            Memory = MemoryModels.Factory(model),
        });
        var watch = Stopwatch.StartNew();
        var result = ExplorePassing(check, variant, model, options);
        watch.Stop();
        return watch.Elapsed.TotalMicroseconds / result.Executions;
    }

    /// <summary>Explores a check declared to pass; a failure means the bench measures the wrong thing.</summary>
    public static ExplorationResult ExplorePassing(Check check, Variant variant, string model, ExploreOptions options)
    {
        var result = new NativeExplorer().Explore(check.Build(variant), options);
        if (result.Failure is { } f)
            throw new KmcInputException($"bench: {check.Name}/{variant.Name} failed under {model} ({f.Kind}); it is declared to pass");
        return result;
    }

    /// <summary>"sc 0.96x, tso 0.90x, lkmm 0.91x": the geometric mean of on/off per model.</summary>
    public static string GeometricMeans(IReadOnlyDictionary<string, List<double>> ratios) =>
        string.Join(", ", ModelBench.Models.Select(m => $"{m} {Math.Exp(ratios[m].Average(Math.Log)):F2}x"));
}
