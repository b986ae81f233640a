using System.Text.Json;
using System.Text.Json.Serialization;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Framework;

/// <summary>
/// How one check is explored. Each layer overrides the one before it:
/// <list type="number">
/// <item>the built-in values below;</item>
/// <item>the config's "defaults" (kmc's own coyote.runtimeconfig.json, with the user's file merged over it);</item>
/// <item>the check's own settings, declared in code (<see cref="Check.Settings"/>), for the memory model it runs under;</item>
/// <item>the config's "checks" entries for the check, then for check@model (kmc's, with the user's merged over them);</item>
/// <item>the command line.</item>
/// </list>
/// </summary>
public sealed record RunSettings
{
    public string Driver { get; init; } = "native";
    public string Strategy { get; init; } = "random";
    public int Iterations { get; init; } = 2000;
    public ulong Seed { get; init; } = 1;
    public int MaxSteps { get; init; } = 5000;
    public double? TimeoutSeconds { get; init; }
    public int PctDepth { get; init; } = 3;
    public int PreemptionBound { get; init; } = 2;

    /// <summary>Exhaustive search: the most non-SC weak-memory choices per execution (-1: unbounded).</summary>
    public int StaleBound { get; init; } = 2;

    /// <summary>Exhaustive search: source-DPOR with sleep sets when no preemption bound is set (false: the plain DFS).</summary>
    public bool Reduction { get; init; } = true;

    /// <summary>Exhaustive search: a plain dfs with a visited-state set in place of source-DPOR (see <see cref="Kmc.Models.Scheduling.StateCache"/>).</summary>
    public bool StateCache { get; init; }

    /// <summary>
    /// Unbounded exhaustive search: preemption-bounded plain dfs passes run first (see
    /// <see cref="Kmc.Models.Scheduling.FirstPasses"/>); false: the unbounded search alone.
    /// </summary>
    public bool FirstPass { get; init; } = true;
    /// <summary>Native driver: a marked spin loop waits after an iteration that repeated without effect (see <see cref="Kmc.Models.SpinLoop"/>).</summary>
    public bool SpinPruning { get; init; } = true;

    /// <summary>
    /// Exhaustive search with partial-order reduction: a check's declared task symmetry cuts the
    /// search to one renaming of each execution (see <see cref="Kmc.Models.TaskSymmetry"/>); false: every renaming.
    /// </summary>
    public bool Symmetry { get; init; } = true;

    /// <summary>The LKMM by default: the weak behaviours of arm64 and POWER, where most of these bugs live.</summary>
    public string MemoryModel { get; init; } = "lkmm";

    /// <summary>Shorten a failing native schedule (fewer preemptions, fewer steps) before it is reported.</summary>
    public bool Minimize { get; init; } = true;

    /// <summary>
    /// The data-race property every check has. Off only in tests that look behind a race at the
    /// stale read the same schedule goes on to make (not a command-line option: a run without it
    /// would miss every race).
    /// </summary>
    public bool DetectRaces { get; init; } = true;

    /// <summary>Native sampling: where this part of a split search starts (see <see cref="Shard"/>).</summary>
    public int FirstExecution { get; init; }

    /// <summary>Coyote driver: the part of a split search (0: whole), which picks its own seed stream (see <see cref="Shard"/>).</summary>
    public int Part { get; init; }

    /// <summary>The dynamic fault query (null: the check's own, if any; "": no faults).</summary>
    public string? Faults { get; init; }

    public static readonly IReadOnlyList<string> Drivers = ["native", "coyote"];

    /// <summary>A year: Coyote takes the timeout as whole seconds in an int, and no search is meant to run longer.</summary>
    public const double MaxTimeoutSeconds = 365 * 24 * 3600;

    /// <summary>
    /// PCT draws depth - 1 priority change points for every execution; PCT finds a bug of depth d
    /// with probability at least 1/(n k^(d-1)) (Burckhardt et al., ASPLOS 2010), so depths past a
    /// handful find nothing more, and a huge one is only a loop.
    /// </summary>
    public const int MaxPctDepth = 1000;

    /// <summary>Rejects NaN, infinities, zero, negatives and more than <see cref="MaxTimeoutSeconds"/>.</summary>
    public static double CheckTimeout(double seconds, string what) =>
        double.IsFinite(seconds) && seconds > 0 && seconds <= MaxTimeoutSeconds
            ? seconds
            : throw new KmcInputException($"{what} must be a number of seconds above 0 and at most {MaxTimeoutSeconds} (got {seconds})");

    public IExplorer Explorer() => Driver switch
    {
        "native" => new NativeExplorer(),
        "coyote" => new CoyoteExplorer(),
        _ => throw new KmcInputException($"unknown driver '{Driver}' (use native or coyote)"),
    };

    /// <summary>Rejects values no explorer can run, as one line naming the setting.</summary>
    public RunSettings Validate(string source)
    {
        var explorer = Explorer();
        if (!explorer.Strategies.Contains(Strategy))
            throw new KmcInputException($"{source}: unknown strategy '{Strategy}' for the {Driver} driver (use {string.Join(", ", explorer.Strategies)})");
        if (Iterations < 1)
            throw new KmcInputException($"{source}: iterations must be at least 1 (got {Iterations})");
        if (MaxSteps < 1)
            throw new KmcInputException($"{source}: maxSteps must be at least 1 (got {MaxSteps})");
        if (TimeoutSeconds is { } timeout)
            CheckTimeout(timeout, $"{source}: timeout");
        if (PctDepth is < 1 or > MaxPctDepth)
            throw new KmcInputException($"{source}: pctDepth must be between 1 and {MaxPctDepth} (got {PctDepth})");
        if (PreemptionBound < -1)
            throw new KmcInputException($"{source}: preemptionBound must be -1 (unbounded) or at least 0 (got {PreemptionBound})");
        if (StaleBound < -1)
            throw new KmcInputException($"{source}: staleBound must be -1 (unbounded) or at least 0 (got {StaleBound})");
        if (!Symmetry && Strategy != "dfs")
            throw new KmcInputException($"{source}: symmetry can only be turned off for the exhaustive search (strategy dfs), not '{Strategy}'");
        if (!Reduction && Strategy != "dfs")
            throw new KmcInputException($"{source}: reduction can only be turned off for the exhaustive search (strategy dfs), not '{Strategy}'");
        if (!FirstPass && (Strategy != "dfs" || PreemptionBound >= 0))
            throw new KmcInputException($"{source}: the first passes can only be turned off for the unbounded exhaustive search (strategy dfs, preemptionBound -1), not strategy '{Strategy}' with preemptionBound {PreemptionBound}");
        if (StateCache && (Strategy != "dfs" || Driver != "native"))
            throw new KmcInputException($"{source}: the state cache is for the native exhaustive search (driver native, strategy dfs), not '{Driver}' '{Strategy}'");
        MemoryModels.Validate(MemoryModel, source);
        if (Faults != null)
            FaultQueries.Parse(Faults, source);
        return this;
    }

    public ExploreOptions ToExploreOptions(Action<int>? progress = null, Func<bool>? cancelled = null) => new()
    {
        Strategy = Strategy,
        Iterations = Iterations,
        Seed = Seed,
        FirstExecution = FirstExecution,
        Part = Part,
        MaxSteps = MaxSteps,
        TimeoutSeconds = TimeoutSeconds,
        PctDepth = PctDepth,
        PreemptionBound = PreemptionBound,
        StaleBound = StaleBound,
        Reduction = Reduction,
        StateCache = StateCache,
        FirstPasses = FirstPass ? Kmc.Models.Scheduling.FirstPasses.Default : null,
        SpinPruning = SpinPruning,
        Symmetry = Symmetry,
        DetectRaces = DetectRaces,
        Memory = MemoryModels.Factory(MemoryModel),
        Progress = progress,
        Cancelled = cancelled,
    };
}

/// <summary>The memory models a run can select.</summary>
public static class MemoryModels
{
    private static readonly Dictionary<string, Func<MemoryModel>?> s_models = new()
    {
        ["sc"] = null,
        ["tso"] = () => new Kmc.Models.WeakMemory.TsoMemory(),
        ["lkmm"] = () => new Kmc.Models.WeakMemory.LkmmMemory(),
        // the LKMM before v6.5's rmw-sequences, to compare with results published against it
        ["lkmm-v6.4"] = () => new Kmc.Models.WeakMemory.LkmmMemory(rmwSequences: false),
    };

    public static IReadOnlyCollection<string> Names => s_models.Keys;

    /// <summary>
    /// Which model's declared expectations hold under <paramref name="model"/> where a variant
    /// declares none of its own: the LKMM before v6.5 allows everything the current one does, so
    /// the current one's bugs are its bugs too (variants declare the ones only it has).
    /// </summary>
    public static string ExpectationsFrom(string model) => model == "lkmm-v6.4" ? "lkmm" : model;

    /// <summary>Lets a weak model register itself under its name.</summary>
    public static void Register(string name, Func<MemoryModel> factory) => s_models[name] = factory;

    public static void Validate(string name, string source)
    {
        if (!s_models.ContainsKey(name))
            throw new KmcInputException($"{source}: unknown memory model '{name}' (available: {string.Join(", ", s_models.Keys)})");
    }

    /// <summary>What the model leaves out for ports, said wherever a port is checked under it (kmc run, kmc list).</summary>
    public static string? PortLimitation(string name) =>
        name.StartsWith("lkmm", StringComparison.Ordinal) ? Kmc.Models.WeakMemory.LkmmMemory.NoLoadBufferingForPorts : null;

    public static Func<MemoryModel>? Factory(string name) =>
        s_models.TryGetValue(name, out var f) ? f : throw new KmcInputException($"unknown memory model '{name}'");
}

/// <summary>A partial set of settings, as the config file and the command line give them.</summary>
public sealed record SettingsOverride
{
    public string? Driver { get; init; }
    public string? Strategy { get; init; }
    public int? Iterations { get; init; }
    public ulong? Seed { get; init; }
    public int? MaxSteps { get; init; }
    public double? Timeout { get; init; }
    public int? PctDepth { get; init; }
    public int? PreemptionBound { get; init; }
    public int? StaleBound { get; init; }
    public bool? Reduction { get; init; }
    public bool? StateCache { get; init; }
    public bool? FirstPass { get; init; }
    public bool? SpinPruning { get; init; }
    public bool? Symmetry { get; init; }
    public string? MemoryModel { get; init; }
    public bool? Minimize { get; init; }
    public string? Faults { get; init; }

    public RunSettings ApplyTo(RunSettings s) => s with
    {
        Driver = Driver ?? s.Driver,
        Strategy = Strategy ?? (Driver != null && Driver != s.Driver ? DefaultStrategy(Driver) : s.Strategy),
        Iterations = Iterations ?? s.Iterations,
        Seed = Seed ?? s.Seed,
        MaxSteps = MaxSteps ?? s.MaxSteps,
        TimeoutSeconds = Timeout ?? s.TimeoutSeconds,
        PctDepth = PctDepth ?? s.PctDepth,
        PreemptionBound = PreemptionBound ?? s.PreemptionBound,
        StaleBound = StaleBound ?? s.StaleBound,
        Reduction = Reduction ?? s.Reduction,
        StateCache = StateCache ?? s.StateCache,
        FirstPass = FirstPass ?? s.FirstPass,
        SpinPruning = SpinPruning ?? s.SpinPruning,
        Symmetry = Symmetry ?? s.Symmetry,
        MemoryModel = MemoryModel ?? s.MemoryModel,
        Minimize = Minimize ?? s.Minimize,
        Faults = Faults ?? s.Faults,
    };

    private static string DefaultStrategy(string driver) => driver == "coyote" ? "portfolio" : "random";

    /// <summary>
    /// These settings with <paramref name="over"/>'s set fields on top (a user's config entry over
    /// kmc's). A driver set without a strategy drops this strategy, which was meant for the other driver.
    /// </summary>
    public SettingsOverride MergedWith(SettingsOverride over) => new()
    {
        Driver = over.Driver ?? Driver,
        Strategy = over.Strategy ?? (over.Driver != null && over.Driver != Driver ? null : Strategy),
        Iterations = over.Iterations ?? Iterations,
        Seed = over.Seed ?? Seed,
        MaxSteps = over.MaxSteps ?? MaxSteps,
        Timeout = over.Timeout ?? Timeout,
        PctDepth = over.PctDepth ?? PctDepth,
        PreemptionBound = over.PreemptionBound ?? PreemptionBound,
        StaleBound = over.StaleBound ?? StaleBound,
        Reduction = over.Reduction ?? Reduction,
        StateCache = over.StateCache ?? StateCache,
        FirstPass = over.FirstPass ?? FirstPass,
        SpinPruning = over.SpinPruning ?? SpinPruning,
        Symmetry = over.Symmetry ?? Symmetry,
        MemoryModel = over.MemoryModel ?? MemoryModel,
        Minimize = over.Minimize ?? Minimize,
        Faults = over.Faults ?? Faults,
    };

    /// <summary>The set search fields under their config names (what a suggestion names).</summary>
    public IEnumerable<(string Name, object Value)> SearchFields() => new (string, object?)[]
    {
        ("driver", Driver), ("strategy", Strategy), ("iterations", Iterations), ("maxSteps", MaxSteps), ("pctDepth", PctDepth),
        ("preemptionBound", PreemptionBound), ("staleBound", StaleBound), ("reduction", Reduction), ("stateCache", StateCache), ("firstPass", FirstPass),
        ("spinPruning", SpinPruning), ("symmetry", Symmetry),
    }.Where(f => f.Item2 != null).Select(f => (f.Item1, f.Item2!));

    /// <summary>"strategy dfs, preemptionBound -1"</summary>
    public override string ToString() => string.Join(", ", SearchFields().Select(f => $"{f.Name} {f.Value}"));

    /// <summary>"\"strategy\": \"dfs\", \"preemptionBound\": -1": the fields as a config entry writes them.</summary>
    public string ToJsonFields() => string.Join(", ", SearchFields().Select(f => $"\"{f.Name}\": " + f.Value switch
    {
        string v => System.Text.Json.JsonSerializer.Serialize(v),
        bool b => b ? "true" : "false",
        var v => v.ToString(),
    }));
}

/// <summary>
/// coyote.runtimeconfig.json: the checker's defaults and per-check overrides. kmc's own file is
/// built into the runner; a user's file (given with --config, or found in the working directory
/// or above) is merged over it, field by field, so it only needs what it changes.
/// </summary>
public sealed class KmcConfig : IValidatedInput
{
    public const string FileName = "coyote.runtimeconfig.json";

    public SettingsOverride Defaults { get; init; } = new();

    public Dictionary<string, SettingsOverride> Checks { get; init; } = new();

    /// <summary>The file's path, or null for the built-in defaults.</summary>
    [JsonIgnore]
    public string? Source { get; private init; }

    private static readonly JsonSerializerOptions s_json = InputFiles.Strict(new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    });

    /// <summary>The memory model a check runs under when the command line names none.</summary>
    public string DefaultMemoryModel => Defaults.ApplyTo(new RunSettings()).MemoryModel;

    /// <summary>
    /// The settings for one check, layered as <see cref="RunSettings"/> says (all but the command
    /// line): the defaults, the check's own settings for the memory model, then its config entries.
    /// </summary>
    public RunSettings For(string check, string? memoryModel = null)
    {
        var source = Source ?? "built-in defaults";
        var s = Defaults.ApplyTo(new RunSettings()).Validate(source);
        Checks.TryGetValue(check, out var entry);
        var model = memoryModel ?? entry?.MemoryModel ?? s.MemoryModel;
        MemoryModels.Validate(model, memoryModel != null ? "command line" : source);
        if (CheckRegistry.All.FirstOrDefault(c => c.Name == check)?.Settings(model) is { } own)
            s = own.ApplyTo(s).Validate($"check {check}'s own settings for {model}");
        s = entry != null ? entry.ApplyTo(s).Validate($"{source}: checks.{check}") : s;
        if (memoryModel != null)
            s = (s with { MemoryModel = memoryModel }).Validate("command line");
        // "check@model" entries: budgets a weak model needs (its extra choices dilute random search).
        var key = $"{check}@{s.MemoryModel}";
        return Checks.TryGetValue(key, out var m) ? m.ApplyTo(s).Validate($"{source}: checks.{key}") : s;
    }

    /// <summary>
    /// kmc's own config with the user's merged over it: the user's file from <paramref name="explicitPath"/>,
    /// else the first coyote.runtimeconfig.json in the working directory or above it (in a kmc
    /// checkout, kmc's own file, which merges over itself to itself).
    /// </summary>
    public static KmcConfig Load(string? explicitPath = null)
    {
        var path = explicitPath ?? FindUpwards(Directory.GetCurrentDirectory(), FileName);
        if (path == null)
            return BuiltIn;
        var user = InputFiles.ReadJson<KmcConfig>(path, "config file", s_json);
        return BuiltIn.MergedWith(user, path);
    }

    /// <summary>kmc's own coyote.runtimeconfig.json, as built into the runner.</summary>
    public static KmcConfig BuiltIn => s_builtIn.Value;

    private static readonly Lazy<KmcConfig> s_builtIn = new(() =>
    {
        using var stream = typeof(KmcConfig).Assembly.GetManifestResourceStream("kmc/" + FileName)
                           ?? throw new InvalidOperationException($"kmc's own {FileName} is not built into {typeof(KmcConfig).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return InputFiles.ParseJson<KmcConfig>(reader.ReadToEnd(), $"kmc's built-in {FileName}", "config file", s_json);
    });

    /// <summary>This config with <paramref name="over"/>'s defaults and check entries merged over its own, field by field.</summary>
    public KmcConfig MergedWith(KmcConfig over, string? source = null)
    {
        var checks = new Dictionary<string, SettingsOverride>(Checks);
        foreach (var (name, o) in over.Checks)
            checks[name] = checks.TryGetValue(name, out var mine) ? mine.MergedWith(o) : o;
        return new KmcConfig { Defaults = Defaults.MergedWith(over.Defaults), Checks = checks, Source = source ?? over.Source ?? Source };
    }

    public void Validate(InputPath at)
    {
        var defaults = Defaults.ApplyTo(new RunSettings()).Validate($"{at["defaults"]}");
        foreach (var (name, o) in Checks)
        {
            var entry = at["checks"][name];
            var model = UnknownModel(name);
            entry.Require(model == null, $"unknown memory model '{model}' (available: {string.Join(", ", MemoryModels.Names)})");
            entry.Require(IsCheckEntry(name), $"names no check, nor check@model (see kmc list): a misspelt entry would silently not apply");
            entry.Present(o).ApplyTo(defaults).Validate($"{entry}");
        }
    }

    /// <summary>"check@model" where the check exists but the model does not: the model named.</summary>
    private static string? UnknownModel(string name)
    {
        var at = name.LastIndexOf('@');
        return at > 0 && !CheckRegistry.All.Any(c => c.Name == name) && CheckRegistry.All.Any(c => c.Name == name[..at])
               && !MemoryModels.Names.Contains(name[(at + 1)..]) ? name[(at + 1)..] : null;
    }

    /// <summary>A check's name (some contain '@', like closure-sync@upstream), or one followed by @ and a memory model.</summary>
    private static bool IsCheckEntry(string name)
    {
        if (CheckRegistry.All.Any(c => c.Name == name))
            return true;
        var at = name.LastIndexOf('@');
        return at > 0 && MemoryModels.Names.Contains(name[(at + 1)..]) && CheckRegistry.All.Any(c => c.Name == name[..at]);
    }

    /// <summary>The query a check's settings got from the command line or its own config entry, not from the defaults every check shares.</summary>
    public string? OwnFaults(RunSettings settings) =>
        settings.Faults is { Length: > 0 } q && q != Defaults.Faults ? q : null;

    public static string? FindUpwards(string dir, string name)
    {
        for (var d = new DirectoryInfo(dir); d != null; d = d.Parent)
        {
            var candidate = Path.Combine(d.FullName, name);
            if (File.Exists(candidate))
                return candidate;
        }

        return null;
    }
}
