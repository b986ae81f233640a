using System.Reflection;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Framework;

/// <summary>
/// One ordered call of a port's fixed code, named for variants and reports:
/// <c>Function.op</c>, with <c>-2</c>, <c>-3</c>... when a function makes the same call more
/// than once (numbered in source order).
/// </summary>
public sealed record WeakenSite(string Name, OrderingSite Site);

/// <summary>How a weakening is judged.</summary>
public enum WeakeningClass
{
    /// <summary>kmc finds it under some memory model.</summary>
    Detected,

    /// <summary>Genuinely harmless under every model; the text says why.</summary>
    Harmless,

    /// <summary>
    /// kmc passes it, but it is not harmless (in the kernel, or in a larger scenario): a known
    /// miss of the model or of the scenario's bounds; the text says which.
    /// </summary>
    Undetected,
}

/// <summary>
/// What weakening one site should do, per memory model, and why: declared by hand for every
/// site the probe finds, so that a new ordered call in a port cannot go unjudged.
/// </summary>
public sealed record DeclaredWeakening(string Site, WeakeningClass Class, string Why, Expectation Sc, Expectation Tso, Expectation Lkmm)
{
    /// <summary>The common case: the ordering is needed where the hardware reorders more than TSO.</summary>
    public static DeclaredWeakening LkmmBug(string site, string why, FailureKind? kind = null) =>
        new(site, WeakeningClass.Detected, why, Expectation.Pass, Expectation.Pass, kind is { } k ? Expectation.Bug(k) : Expectation.AnyBug);

    /// <summary>
    /// Detected under every model: the data-race property sees the weakening under sc and tso (a
    /// plain access no longer ordered by happens-before), lkmm may also show its stale read first.
    /// </summary>
    public static DeclaredWeakening RaceBug(string site, string why, bool tso = true) =>
        new(site, WeakeningClass.Detected, why, Expectation.Bug(FailureKind.DataRace),
            tso ? Expectation.Bug(FailureKind.DataRace) : Expectation.Pass, Expectation.AnyBug);

    public static DeclaredWeakening Harmless(string site, string why) =>
        new(site, WeakeningClass.Harmless, why, Expectation.Pass, Expectation.Pass, Expectation.Pass);

    public static DeclaredWeakening Undetected(string site, string why) =>
        new(site, WeakeningClass.Undetected, "NOT DETECTED by kmc: " + why, Expectation.Pass, Expectation.Pass, Expectation.Pass);
}

/// <summary>
/// Finds the ordered calls a port's fixed code makes in a scenario: runs the scenario with an
/// <see cref="OrderingProbe"/> (native random search, a fixed seed, under sc and lkmm, so the
/// list is the same every time) and keeps the sites in the port's own files.
/// </summary>
public static class SiteDiscovery
{
    public const int Executions = 150;

    /// <param name="onceSites">also READ_ONCE()/WRITE_ONCE()/atomic_read()/atomic_set() (kmc mutate makes them plain)</param>
    public static IReadOnlyList<WeakenSite> Discover(Scenario scenario, IReadOnlyCollection<string> portFiles, bool onceSites = false)
    {
        var names = portFiles.Select(Path.GetFileName).ToHashSet(StringComparer.Ordinal);
        var probe = new OrderingProbe(f => names.Contains(Path.GetFileName(f)), onceSites);
        var probed = new Scenario(scenario.Cpus, ex =>
        {
            scenario.Setup(ex);
            ex.Orderings = probe;
        }, scenario.Preemptive);
        foreach (var model in new[] { "sc", "lkmm" })
        {
            // A failure stops the search where it is: the sites seen so far are kept, and the
            // check's fixed variant reports the failure itself.
            new NativeExplorer().Explore(probed, new ExploreOptions
            {
                Strategy = "random",
                Iterations = Executions,
                Seed = 1,
                MaxSteps = 5000,
                Memory = MemoryModels.Factory(model),
            });
        }

        return Name(probe.Sites);
    }

    /// <summary>Names sites by function and operation, numbering repeats in source order.</summary>
    public static IReadOnlyList<WeakenSite> Name(IEnumerable<OrderingSite> sites)
    {
        // One site per call: the same call seen with another recorded ordering is still one call.
        var distinct = sites.GroupBy(s => (s.FileName, s.Line, s.Op)).Select(g => g.First());
        return distinct
            .GroupBy(s => $"{s.Function}.{s.Op}")
            .SelectMany(g =>
            {
                var ordered = g.OrderBy(s => s.FileName, StringComparer.Ordinal).ThenBy(s => s.Line).ToList();
                return ordered.Select((s, i) => new WeakenSite(ordered.Count == 1 ? g.Key : $"{g.Key}-{i + 1}", s));
            })
            .OrderBy(w => w.Site.FileName, StringComparer.Ordinal).ThenBy(w => w.Site.Line)
            .ToList();
    }
}

/// <summary>
/// The weakened-barrier benchmark of one primitive: a base scenario run on the port's fixed
/// code, with one variant per ordered call the fixed code makes, in which only that call loses
/// its ordering (<see cref="SiteWeakening"/>). The variants are generated, not written: the
/// port stays as it is, and each variant's expectation per memory model comes from
/// <see cref="Declared"/>.
/// </summary>
public abstract class WeakenedCheck : Check
{
    private readonly Lazy<IReadOnlyList<WeakenSite>> _sites;
    private readonly Lazy<IReadOnlyList<Variant>> _variants;

    protected WeakenedCheck()
    {
        _sites = new(() => SiteDiscovery.Discover(Base.Build(Base.GetVariant(BaseVariant)), PortFiles()));
        _variants = new(MakeVariants);
    }

    /// <summary>The primitive, as the report names it.</summary>
    public abstract string Primitive { get; }

    /// <summary>The check whose fixed scenario is weakened.</summary>
    public abstract Check Base { get; }

    /// <summary>The base check's variant that is weakened: its fixed code unless that fails under some model.</summary>
    public virtual string BaseVariant => "fixed";

    /// <summary>Every site's expectation. Sites the probe finds must all be here, and only those.</summary>
    public abstract IReadOnlyList<DeclaredWeakening> Declared { get; }

    /// <summary>
    /// READ_ONCE()/WRITE_ONCE()/atomic_read()/atomic_set() sites (which only kmc mutate makes
    /// plain, kmc weaken leaves them) whose plain form is harmless in this scenario's fixed code,
    /// each with the reason (what orders every conflicting access). kmc mutate does not score them.
    /// </summary>
    public virtual IReadOnlyList<DeclaredWeakening> HarmlessPlain => [];

    public override string Name => "weaken." + Primitive;

    public override string Description => $"weakened-barrier benchmark: {Base.Name}'s scenario with one ordered call of {Primitive}'s fixed code relaxed per variant";

    public override IReadOnlyList<Type> Primitives => Base.Primitives;

    public override IEnumerable<string> SourceFiles() => base.SourceFiles().Concat(Base.SourceFiles()).Distinct();

    /// <summary>The ordered calls the fixed code makes in the base scenario.</summary>
    public IReadOnlyList<WeakenSite> Sites => _sites.Value;

    public override IReadOnlyList<Variant> Variants => _variants.Value;

    /// <summary>Sites found but not declared, and declared sites not found: both must be empty.</summary>
    public (IReadOnlyList<string> Undeclared, IReadOnlyList<string> Stale) Coverage()
    {
        var found = Sites.Select(s => s.Name).ToHashSet();
        var declared = Declared.Select(d => d.Site).ToHashSet();
        return (found.Where(f => !declared.Contains(f)).Order().ToList(), declared.Where(d => !found.Contains(d)).Order().ToList());
    }

    internal IReadOnlyList<string> PortFiles() =>
        Base.Primitives.Select(t => t.GetCustomAttribute<KernelPortAttribute>()?.File).OfType<string>().ToList();

    private IReadOnlyList<Variant> MakeVariants()
    {
        var variants = new List<Variant> { Variant.Fixed($"{Base.Name}/{BaseVariant}, every ordering as written") };
        var declared = Declared.ToDictionary(d => d.Site);
        foreach (var site in Sites)
        {
            // A site nobody declared matches no outcome under any model, so that ci reports it
            // instead of passing it silently.
            var d = declared.GetValueOrDefault(site.Name)
                    ?? new DeclaredWeakening(site.Name, WeakeningClass.Undetected, "UNDECLARED: no expectation written for this site",
                        Expectation.Undeclared, Expectation.Undeclared, Expectation.Undeclared);
            var relaxed = site.Site.Ordering == "fence" ? "removed" : "relaxed";
            variants.Add(new Variant(site.Name, $"{site.Site.Op} ({site.Site.Ordering}) at {site.Site.FileName}:{site.Site.Line} {relaxed}: {d.Why}", d.Lkmm)
            {
                PerMemoryModel = new Dictionary<string, Expectation> { ["sc"] = d.Sc, ["tso"] = d.Tso, ["lkmm"] = d.Lkmm },
            });
        }

        return variants;
    }

    public override Scenario Build(Variant variant)
    {
        var scenario = Base.Build(Base.GetVariant(BaseVariant));
        if (variant.Name == "fixed")
            return scenario;
        var site = Sites.FirstOrDefault(s => s.Name == variant.Name)
                   ?? throw new KmcInputException($"check '{Name}' has no variant '{variant.Name}'");
        return new Scenario(scenario.Cpus, ex =>
        {
            scenario.Setup(ex);
            ex.Orderings = new SiteWeakening(site.Site.FileName, site.Site.Line, site.Site.Op);
        }, scenario.Preemptive);
    }
}
