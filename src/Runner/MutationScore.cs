using System.Reflection;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Framework;

/// <summary>What a mutant did under the models it was run under.</summary>
public enum MutantOutcome
{
    /// <summary>Some model's run of the check failed: the suite sees the weakening.</summary>
    Killed,

    /// <summary>Every model's run passed.</summary>
    Survived,

    /// <summary>Declared harmless by the weakened-barrier benchmark (kmc weaken; for a READ_ONCE/WRITE_ONCE made plain, its HarmlessPlain list), with its reason: not scored.</summary>
    Harmless,

    /// <summary>The port marks the site [IntentionallyWeak] with a reason: not scored.</summary>
    Intentional,
}

/// <summary>One mutant: a site of a primitive's fixed code weakened one step.</summary>
public sealed record Mutant(string Primitive, WeakenSite Site)
{
    /// <summary>An ordered call relaxed (acquire/release/full to relaxed, a barrier removed), or a READ_ONCE/WRITE_ONCE made plain.</summary>
    public string Weakening => Site.Site.Ordering switch
    {
        "fence" => $"{Site.Site.Op} removed",
        "once" => $"{Site.Site.Op} made plain",
        var o => $"{Site.Site.Op} ({o}) relaxed",
    };
}

/// <summary>A mutant's result: its outcome and, when killed, the first model and failure that killed it.</summary>
public sealed record MutantResult(Mutant Mutant, MutantOutcome Outcome, string Detail);

/// <summary>
/// kmc mutate: the weakened-barrier benchmark's machinery (the probe that finds a primitive's
/// sites from its own calls, <see cref="SiteWeakening"/>) turned into a mutation score. Every
/// ordering site and every READ_ONCE()/WRITE_ONCE() (atomic_read()/atomic_set()) the fixed code
/// of a benchmark's scenario reaches is weakened one at a time; the mutant is killed when the
/// check fails under any model with the configured search. Unlike kmc weaken (which ci runs,
/// each site with a declared outcome per model), nothing is declared here: the sites kmc weaken
/// declares harmless and those a port marks [IntentionallyWeak] are listed but not scored.
/// </summary>
public static class MutationScore
{
    public static readonly string[] Models = ["sc", "tso", "lkmm"];

    public static IReadOnlyList<Mutant> Mutants(WeakenedCheck check)
    {
        var scenario = check.Base.Build(check.Base.GetVariant(check.BaseVariant));
        return SiteDiscovery.Discover(scenario, check.PortFiles(), onceSites: true).Select(s => new Mutant(check.Primitive, s)).ToList();
    }

    /// <summary>Why a site is not scored (harmless or intentional), or null.</summary>
    public static (MutantOutcome Outcome, string Why)? Exempt(WeakenedCheck check, Mutant m)
    {
        var declared = m.Site.Site.Ordering == "once" ? check.HarmlessPlain : check.Declared;
        if (declared.FirstOrDefault(d => d.Site == m.Site.Name && d.Class == WeakeningClass.Harmless) is { } h)
            return (MutantOutcome.Harmless, h.Why);
        foreach (var type in check.Base.Primitives)
        {
            if (type.GetCustomAttributes<IntentionallyWeakAttribute>().FirstOrDefault(a => a.Site == m.Site.Name) is { } i)
                return (MutantOutcome.Intentional, i.Reason);
        }

        return null;
    }

    /// <summary>Runs one mutant under each model until one kills it.</summary>
    public static MutantResult Run(WeakenedCheck check, Mutant m, Func<string, RunSettings> settingsFor)
    {
        if (Exempt(check, m) is { } e)
            return new MutantResult(m, e.Outcome, e.Why);
        var mutated = new MutantCheck(check, m);
        foreach (var model in Models)
        {
            var run = CheckRunner.Run(mutated, mutated.Variants[0], settingsFor(model) with { Minimize = false });
            if (run.Result.Failure is { } f)
                return new MutantResult(m, MutantOutcome.Killed, $"{model}: {f.Kind} at execution {run.Result.FailingExecution}");
        }

        return new MutantResult(m, MutantOutcome.Survived, "passes under " + string.Join(", ", Models));
    }

    /// <summary>The base check's scenario with one site weakened (a check of its own, so the runner's budgets and bounds apply).</summary>
    private sealed class MutantCheck(WeakenedCheck check, Mutant m) : Check
    {
        public override string Name => $"mutate.{check.Primitive}";

        public override string Description => $"{check.Base.Name} with {m.Weakening} at {m.Site.Site.FileName}:{m.Site.Site.Line}";

        public override IReadOnlyList<Type> Primitives => check.Base.Primitives;

        public override IReadOnlyList<Variant> Variants { get; } = [new(m.Site.Name, m.Weakening, Expectation.Undeclared)];

        public override Scenario Build(Variant variant)
        {
            var scenario = check.Base.Build(check.Base.GetVariant(check.BaseVariant));
            return new Scenario(scenario.Cpus, ex =>
            {
                scenario.Setup(ex);
                ex.Orderings = new SiteWeakening(m.Site.Site.FileName, m.Site.Site.Line, m.Site.Site.Op);
            }, scenario.Preemptive);
        }
    }
}
