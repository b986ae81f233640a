namespace Kmc.Checks.Framework;

/// <summary>
/// When a known bug was not found ("the checker lost power"), tries a few other searches on the
/// same case and says which one finds it: the check's own declared settings, the bounded and the
/// reduced exhaustive search, PCT and a longer random search. Each probe is capped at
/// <see cref="ProbeExecutions"/> executions by count, never by time, and uses the run's seed, so
/// the suggestion is the same on every machine.
/// </summary>
public static class LostPower
{
    public const int ProbeExecutions = 5000;

    /// <summary>One line: which settings find the bug, and at which execution; or that no probe did.</summary>
    public static string Suggest(Check check, Variant variant, RunSettings used)
    {
        var tried = new List<string>();
        foreach (var (what, change) in Candidates(check, used))
        {
            var s = change.ApplyTo(used with { Minimize = false, FirstExecution = 0, TimeoutSeconds = null });
            s = s with { Iterations = Math.Min(s.Iterations, ProbeExecutions) };
            if (SameSearch(s, used))
                continue;
            var run = 0;
            var result = s.Explorer().Explore(FaultQueries.Build(check, variant, s),
                s.ToExploreOptions(cancelled: () => ++run > ProbeExecutions));
            tried.Add(what);
            if (result.Failure != null && variant.ExpectedUnder(s.MemoryModel).Matches(result.Failure))
            {
                return $"{what} finds it at execution {result.FailingExecution}: "
                       + $"use {{ {change.ToJsonFields()} }} (in the check's Settings, or checks.{check.Name}@{used.MemoryModel} of the config)";
            }
        }

        return tried.Count == 0 ? "no other search to try" : $"no probe found it either ({string.Join("; ", tried)}, at most {ProbeExecutions} executions each)";
    }

    private static IEnumerable<(string What, SettingsOverride Change)> Candidates(Check check, RunSettings used)
    {
        if (check.Settings(used.MemoryModel) is { } own)
            yield return ($"the check's own settings ({own})", own);
        yield return ("dfs with preemption bound 2", new SettingsOverride { Driver = "native", Strategy = "dfs", PreemptionBound = 2 });
        yield return ("dfs, unbounded and reduced", new SettingsOverride { Driver = "native", Strategy = "dfs", PreemptionBound = -1 });
        yield return ($"pct depth 3, {ProbeExecutions} executions", new SettingsOverride { Driver = "native", Strategy = "pct", PctDepth = 3, Iterations = ProbeExecutions });
        yield return ($"random, {ProbeExecutions} executions", new SettingsOverride { Driver = "native", Strategy = "random", Iterations = ProbeExecutions });
    }

    /// <summary>The probe would repeat the search that just ran (or a smaller one).</summary>
    private static bool SameSearch(RunSettings probe, RunSettings used) =>
        probe.Driver == used.Driver && probe.Strategy == used.Strategy && probe.PctDepth == used.PctDepth
        && (probe.Strategy == "dfs" ? probe.PreemptionBound == used.PreemptionBound : probe.Iterations <= used.Iterations);
}
