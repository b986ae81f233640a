using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Framework;

/// <summary>How a check's runs get their dynamic fault query.</summary>
public static class FaultQueries
{
    /// <summary>Parses a query, or says in one line what is wrong with it.</summary>
    public static FaultQuery Parse(string text, string source)
    {
        try
        {
            return FaultQuery.Parse(text);
        }
        catch (FaultQueryException e)
        {
            throw new KmcInputException($"{source}: {e.Message}");
        }
    }

    /// <summary>
    /// A query given for this run (<paramref name="source"/>: the command line or the config) must
    /// select a site the check reaches with each of its commands: a misspelled name or class would
    /// otherwise switch nothing on and the run would pass having injected no fault.
    /// </summary>
    public static void RequireSites(Check check, Variant variant, string? faults, string source)
    {
        if (string.IsNullOrWhiteSpace(faults))
            return;
        var query = Parse(faults, source);
        var sites = FaultDiscovery.Sites(check, variant, new RunSettings());
        var texts = faults.Split([';', '\n']).Select(t => t.Trim()).Where(t => t.Length > 0).ToList();
        for (var i = 0; i < query.Commands.Count; i++)
        {
            if (!sites.Any(query.Commands[i].Matches))
            {
                var text = texts.Count == query.Commands.Count ? texts[i] : faults.Trim();
                throw new KmcInputException(
                    $"{source}: fault query '{text}' matches none of the {sites.Count} fault site(s) {check.Name}/{variant.Name} reaches (see kmc faults list {check.Name})");
            }
        }
    }

    /// <summary>The settings' query ("" turns faults off), else the check's own.</summary>
    public static string? Effective(Check check, RunSettings settings) => settings.Faults ?? check.Faults;

    /// <summary>The check's scenario with a fresh fault injector in every execution (when there is a query).</summary>
    public static Scenario Build(Check check, Variant variant, RunSettings settings) =>
        WithFaults(check.Build(variant), Effective(check, settings));

    public static Scenario WithFaults(Scenario scenario, string? faults, Action<FaultInjector>? created = null)
    {
        if (string.IsNullOrWhiteSpace(faults) && created == null)
            return scenario;
        var query = string.IsNullOrWhiteSpace(faults) ? FaultQuery.None : Parse(faults, "faults");
        return new Scenario(scenario.Cpus, ex =>
        {
            var injector = new FaultInjector(query);
            injector.AttachTo(ex);
            created?.Invoke(injector);
            scenario.Setup(ex);
        }, scenario.Preemptive);
    }
}

/// <summary>A fault site with the state a query gives it.</summary>
public sealed record FaultSiteRow(FaultSite Site, string State);

/// <summary>
/// Finds a check's fault sites. C# has no section of static descriptors to walk, so the
/// scenario is run: a few executions with no fault firing, then a few in which the explorer
/// fails every site at will (error paths reach further sites). Deterministic for a seed.
/// </summary>
public static class FaultDiscovery
{
    public static IReadOnlyList<FaultSite> Sites(Check check, Variant variant, RunSettings settings, int executions = 24)
    {
        var seen = new List<FaultSite>();
        var keys = new HashSet<(string, int)>();
        // Model code must resume inline on this thread (test runners install a context).
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            Discover(check, variant, settings, executions, seen, keys);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }

        return seen.OrderBy(s => s.File, StringComparer.Ordinal).ThenBy(s => s.Line).ToList();
    }

    private static void Discover(Check check, Variant variant, RunSettings settings, int executions, List<FaultSite> seen, HashSet<(string, int)> keys)
    {
        foreach (var (query, offset) in new[] { ("", 0), ("choose", executions) })
        {
            var injectors = new List<FaultInjector>();
            var scenario = FaultQueries.WithFaults(check.Build(variant), query, injectors.Add);
            var options = settings.ToExploreOptions() with { Strategy = "random" };
            for (var i = 0; i < executions; i++)
            {
                injectors.Clear();
                var policy = new RandomPolicy(Rng.ForExecution(settings.Seed, offset + i));
                NativeExplorer.RunOnce(scenario, options, policy, new List<int>(), record: false);
                foreach (var s in injectors.SelectMany(inj => inj.Seen))
                {
                    if (keys.Add((s.File, s.Line)))
                        seen.Add(s);
                }
            }
        }
    }

    /// <summary>The sites with the state the query gives each (what the patch's control file lists).</summary>
    public static IReadOnlyList<FaultSiteRow> List(Check check, Variant variant, RunSettings settings)
    {
        var q = FaultQueries.Effective(check, settings) is { Length: > 0 } f ? FaultQueries.Parse(f, "faults") : FaultQuery.None;
        return Sites(check, variant, settings).Select(s => new FaultSiteRow(s, q.ActionFor(s)?.ToString() ?? "disabled")).ToList();
    }
}

/// <summary>One site's verdict in an --each-fault run.</summary>
public sealed record EachFaultRow(FaultSite Site, string Query, CheckRun Run)
{
    /// <summary>Whether the check still held with this site switched on.</summary>
    public bool Held => Run.Result.Failure == null && Run.Result.Inconclusive == null;

    public string Verdict => Run.Result.Failure is { } f ? $"{f.Kind}: {f.Message.Split('\n')[0]}" : Run.Result.Inconclusive is { } why ? $"inconclusive: {why}" : "held";
}

/// <summary>
/// "Iterate over all the faults and flip them on one by one": each site in turn is the only one
/// enabled (with <paramref name="mode"/>, by default the explorer's choice at each hit), and the
/// check is explored with it.
/// </summary>
public static class EachFault
{
    public const string DefaultMode = "choose";

    public static IReadOnlyList<EachFaultRow> Run(Check check, Variant variant, RunSettings settings, string mode = DefaultMode,
        Action<FaultSite>? starting = null)
    {
        FaultQueries.Parse(mode, "--fault-mode");
        var rows = new List<EachFaultRow>();
        foreach (var site in FaultDiscovery.Sites(check, variant, settings))
        {
            starting?.Invoke(site);
            var query = $"{site.Selector} {mode}";
            var run = CheckRunner.Run(check, variant, settings with { Faults = query });
            rows.Add(new EachFaultRow(site, query, run));
        }

        return rows;
    }
}
