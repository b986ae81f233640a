using System.Reflection;
using System.Runtime.CompilerServices;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Framework;

/// <summary>What a check should observe on a variant: no failure, or a failure (of a given kind).</summary>
public sealed record Expectation(bool BugExpected, FailureKind? Kind = null)
{
    public static readonly Expectation Pass = new(false);

    public static Expectation Bug(FailureKind kind) => new(true, kind);

    public static readonly Expectation AnyBug = new(true);

    /// <summary>
    /// A bug that shows first as one of these kinds, depending on the interleaving the search
    /// meets first (a lost hand-off seen at the late store into a node that left, or later at
    /// the assertion): tighter than <see cref="AnyBug"/>.
    /// </summary>
    public static Expectation BugOneOf(params FailureKind[] kinds) => new(true) { Kinds = kinds };

    /// <summary>Set by <see cref="BugOneOf"/>: the kinds that match (null: <see cref="Kind"/> alone).</summary>
    public IReadOnlyList<FailureKind>? Kinds { get; private init; }

    /// <summary>No expectation was written (a generated variant nobody judged): matches no outcome, so ci says so.</summary>
    public static readonly Expectation Undeclared = new(false) { IsDeclared = false };

    public bool IsDeclared { get; private init; } = true;

    public bool Matches(Failure? observed) =>
        IsDeclared && (BugExpected
            ? observed != null && (Kinds != null ? Kinds.Contains(observed.Kind) : Kind == null || observed.Kind == Kind)
            : observed == null);

    public override string ToString() => !IsDeclared ? "undeclared"
        : BugExpected ? (Kinds != null ? $"bug: {string.Join(" or ", Kinds)}" : Kind is { } k ? $"bug: {k}" : "bug")
        : "pass";
}

/// <summary>
/// A version of a primitive: the fixed code, or a historical bug that differs from it only
/// where the real fix did. The expectation may differ per memory model (a weak-memory bug
/// is not reachable under sequential consistency).
/// </summary>
public sealed record Variant(string Name, string Description, Expectation Expected)
{
    public IReadOnlyDictionary<string, Expectation> PerMemoryModel { get; init; } = new Dictionary<string, Expectation>();

    public Expectation ExpectedUnder(string memoryModel) =>
        PerMemoryModel.TryGetValue(memoryModel, out var e) ? e
        : MemoryModels.ExpectationsFrom(memoryModel) is var from && from != memoryModel ? ExpectedUnder(from)
        : Expected;

    public static Variant Fixed(string description = "the fixed code") => new("fixed", description, Expectation.Pass);

    /// <summary>
    /// The port's own variant this variant runs (e.g. a <c>ClosureVariant</c> value), for the
    /// shared helpers that build a port from a variant. Null: the helper looks the name up among
    /// the variants it knows. A check of the user's own can so run a port's variant under a name
    /// and expectation of its own without editing kmc.
    /// </summary>
    public object? Port { get; init; }

    /// <summary>The port's variant: <see cref="Port"/> when set, else the one <paramref name="byName"/> gives for this variant's name.</summary>
    public T PortVariant<T>(IReadOnlyDictionary<string, T> byName, string what) =>
        Port is T port ? port
        : Port != null ? throw new KmcInputException($"{what} variant '{Name}': its Port is a {Port.GetType().Name}, not a {typeof(T).Name}")
        : byName.TryGetValue(Name, out var known) ? known
        : throw new KmcInputException($"unknown {what} variant '{Name}' (known: {string.Join(", ", byName.Keys)}; or set the Variant's Port to a {typeof(T).Name})");
}

/// <summary>Marks a check class; records the file it is written in, for the trace's model hash.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class CheckAttribute([CallerFilePath] string file = "") : Attribute
{
    public string File { get; } = file;
}

/// <summary>
/// A scenario with its properties, run on each variant of a primitive. Subclasses are found
/// by reflection: adding a check is adding a class marked [Check].
/// </summary>
public abstract class Check
{
    /// <summary>Unique, lowercase, dash-separated: <c>ticket-lock</c>, <c>osq.mutual-exclusion</c>.</summary>
    public abstract string Name { get; }

    public abstract string Description { get; }

    public abstract IReadOnlyList<Variant> Variants { get; }

    /// <summary>The ports the scenario runs, for the model hash (their [KernelPort] files).</summary>
    public virtual IReadOnlyList<Type> Primitives => [];

    /// <summary>
    /// The fault query this check runs with unless the settings give one (<c>--faults</c> or the
    /// config's "faults"): checks of error paths enable their allocation sites here.
    /// </summary>
    public virtual string? Faults => null;

    /// <summary>
    /// The check's own settings under a memory model (strategy, budget, bounds), or null for
    /// kmc's defaults: what the check's author knows it needs, e.g. an exhaustive search where
    /// it is small, or more executions where random search finds the bug late. They override
    /// the config's defaults and are overridden by the config's entries for the check and by
    /// the command line (see <see cref="RunSettings"/>).
    /// </summary>
    public virtual SettingsOverride? Settings(string memoryModel) => null;

    /// <summary>Builds the scenario for one variant.</summary>
    public abstract Scenario Build(Variant variant);

    public Variant GetVariant(string name) =>
        Variants.FirstOrDefault(v => v.Name == name)
        ?? throw new KmcInputException($"check '{Name}' has no variant '{name}' (variants: {string.Join(", ", Variants.Select(v => v.Name))})");

    /// <summary>The repo-relative source files this check's verdicts depend on (besides src/Models).</summary>
    public virtual IEnumerable<string> SourceFiles()
    {
        var own = GetType().GetCustomAttribute<CheckAttribute>()?.File;
        if (own != null)
            yield return own;
        foreach (var p in Primitives)
        {
            var port = p.GetCustomAttribute<KernelPortAttribute>();
            if (port != null)
                yield return port.File;
        }
    }
}

/// <summary>Bad input from the user: reported as one line, exit code 2.</summary>
public sealed class KmcInputException(string message) : Exception(message);
