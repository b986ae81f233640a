using System.Text.Json;
using System.Text.RegularExpressions;
using System.Text.Json.Serialization;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Framework;

/// <summary>
/// A self-describing record of one failing execution: enough to replay it exactly on the same
/// model code, and the interleaving itself for people to read.
/// </summary>
public sealed partial record TraceFile : IValidatedInput
{
    public const string CurrentFormat = "kmc-trace/1";

    public string Format { get; init; } = CurrentFormat;
    public required string KmcVersion { get; init; }
    public required string Check { get; init; }
    public required string Variant { get; init; }
    public required string Driver { get; init; }
    public required string Strategy { get; init; }
    public required ulong Seed { get; init; }
    public required TraceOptions Options { get; init; }
    public required string ModelHash { get; init; }
    public required int FailingExecution { get; init; }
    public required Failure Failure { get; init; }

    /// <summary>
    /// An unbounded exhaustive search whose failure a first pass found: that pass's preemption
    /// bound (a plain dfs). The schedule replays the same whatever found it; this says which search
    /// to re-run to find it again (null: the search named by the options found it).
    /// </summary>
    public int? FoundInFirstPass { get; init; }

    /// <summary>The fault query the execution ran with (null: none).</summary>
    public string? Faults { get; init; }

    /// <summary>Native driver: the decisions (task ids and choice values) of the failing execution.</summary>
    public IReadOnlyList<int>? Schedule { get; init; }

    /// <summary>Native driver: how much the failing schedule was shortened before it was saved.</summary>
    public Minimization? Minimization { get; init; }

    /// <summary>Coyote driver: Coyote's reproducible trace.</summary>
    public string? CoyoteTrace { get; init; }

    public required IReadOnlyList<Step> Steps { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The settings the trace was recorded with, to replay or re-record it.</summary>
    public RunSettings Settings(string source = "trace") => new RunSettings
    {
        Driver = Driver,
        Strategy = Strategy,
        Seed = Seed,
        Iterations = Options.Iterations,
        MaxSteps = Options.MaxSteps,
        PctDepth = Options.PctDepth,
        PreemptionBound = Options.PreemptionBound,
        StaleBound = Options.StaleBound,
        // A trace of an unbounded dfs from before the first passes names none: its search ran without them.
        FirstPass = Options.FirstPass ?? !(Strategy == "dfs" && Options.PreemptionBound < 0),
        MemoryModel = Options.MemoryModel,
        // Traces from before spin loops were marked replay as they were recorded.
        SpinPruning = Options.SpinPruning ?? false,
        Faults = Faults ?? "",
    }.Validate(source);

    /// <summary>
    /// The options a replay of the schedule runs with: a schedule found under a declared task
    /// symmetry (<see cref="TraceOptions.Symmetry"/>) replays only with it, any other only without.
    /// </summary>
    public ExploreOptions ReplayOptions(RunSettings settings) => settings.ToExploreOptions() with { Symmetry = Options.Symmetry == true };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    private static readonly JsonSerializerOptions s_read = InputFiles.Strict(Json);

    /// <summary>Reads a trace, or says in one line (file and JSON path) why it is not one.</summary>
    public static TraceFile Load(string path) => InputFiles.ReadJson<TraceFile>(path, "trace", s_read);

    public void Validate(InputPath at)
    {
        at["format"].Require(Format == CurrentFormat, $"trace format '{Format}' is not supported (this kmc reads {CurrentFormat})");
        at.NonEmpty(KmcVersion, "kmcVersion");
        at.NonEmpty(Check, "check");
        at.NonEmpty(Variant, "variant");
        at["driver"].Require(RunSettings.Drivers.Contains(Driver), $"unknown driver '{Driver}' (use {string.Join(" or ", RunSettings.Drivers)})");
        at.NonEmpty(ModelHash, "modelHash");
        at.AtLeast(FailingExecution, 1, "failingExecution");
        Options.Validate(at["options"]);
        at["failure"].Defined(Failure.Kind, "kind");
        var strategies = new RunSettings { Driver = Driver }.Explorer().Strategies;
        at["strategy"].Require(strategies.Contains(Strategy), $"unknown strategy '{Strategy}' for the {Driver} driver (use {string.Join(", ", strategies)})");
        if (Faults != null)
            FaultQueries.Parse(Faults, at["faults"].ToString());
        Settings(at["options"].ToString());
        at.Require(Schedule != null || !string.IsNullOrEmpty(CoyoteTrace), "the trace holds no schedule to replay (neither schedule nor coyoteTrace)");
        if (Schedule != null)
        {
            for (var i = 0; i < Schedule.Count; i++)
                at["schedule"][i].Require(Schedule[i] >= 0, $"a decision is a task id or choice value, at least 0 (got {Schedule[i]})");
        }

        if (CoyoteTrace != null)
            CoyoteSchedule.Validate(CoyoteTrace, at["coyoteTrace"]);
        if (Minimization is { } m)
            m.Validate(at["minimization"]);
        at["steps"].Each(Steps, (s, p) =>
        {
            p.AtLeast(s.Index, 1, "index");
            p.AtLeast(s.Cpu, 0, "cpu");
            p.AtLeast(s.Line, 0, "line");
        });
    }
}

/// <summary>
/// The shape of a Coyote reproducible trace as Coyote 1.7 writes it: a JSON object whose
/// "Steps" are strings like <c>op(0:12),sp(Default),next(1:34)</c>, <c>op(0:12),bool(True)</c> or
/// <c>op(0:12),int(3)</c>. Coyote's own reader throws on anything else from deep inside a test run,
/// so kmc checks the shape before handing the text over.
/// </summary>
public static partial class CoyoteSchedule
{
    public static void Validate(string text, InputPath at)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw at.Error($"the embedded Coyote schedule is not JSON ({InputFiles.OneLine(e.Message)})");
        }

        using (doc)
        {
            var root = doc.RootElement;
            at.Require(root.ValueKind == JsonValueKind.Object, $"the embedded Coyote schedule must be a JSON object (got {root.ValueKind})");
            var steps = root.TryGetProperty("Steps", out var s) ? s : default;
            at["Steps"].Require(steps.ValueKind == JsonValueKind.Array, "the embedded Coyote schedule must have a Steps array");
            var i = 0;
            foreach (var step in steps.EnumerateArray())
            {
                at["Steps"][i].Require(step.ValueKind == JsonValueKind.String && StepPattern().IsMatch(step.GetString()!),
                    $"not a Coyote schedule step ({Short(step.ToString())})");
                i++;
            }

            var settings = root.TryGetProperty("Settings", out var st) ? st : default;
            at["Settings"].Require(settings.ValueKind == JsonValueKind.Object, "the embedded Coyote schedule must have a Settings object");
        }

        ReadWithCoyote(text, at);
    }

    /// <summary>
    /// The last word is Coyote's own reader (TraceReport.FromJson, run when a testing engine is
    /// created; no test code runs): it parses names such as the scheduling point kinds that the
    /// pattern above cannot know.
    /// </summary>
    private static void ReadWithCoyote(string text, InputPath at)
    {
        try
        {
            var config = Microsoft.Coyote.Configuration.Create().WithTelemetryEnabled(false).WithConsoleLoggingEnabled(false)
                .WithReproducibleTrace(text);
            using var engine = Microsoft.Coyote.SystematicTesting.TestingEngine.Create(config, () => { });
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or InvalidOperationException
                                       or JsonException or KeyNotFoundException or IndexOutOfRangeException or NullReferenceException)
        {
            throw at.Error($"Coyote cannot read the embedded schedule: {InputFiles.OneLine(e.Message)}");
        }
    }

    private static string Short(string s) => s.Length <= 40 ? s : s[..40] + "...";

    [GeneratedRegex(@"^op\(\d{1,19}:\d{1,20}\)(,sp\([A-Za-z]{1,40}\))?,(next\(\d{1,19}:\d{1,20}\)|bool\((True|False|true|false)\)|int\(-?\d{1,10}\))$")]
    private static partial Regex StepPattern();
}

/// <summary>The failing schedule as found and as saved (shortened, still failing the same way).</summary>
public sealed record Minimization(int OriginalSteps, int OriginalPreemptions, int Steps, int Preemptions, int Runs)
{
    public void Validate(InputPath at)
    {
        at.AtLeast(OriginalSteps, 0, "originalSteps");
        at.AtLeast(OriginalPreemptions, 0, "originalPreemptions");
        at.AtLeast(Steps, 0, "steps");
        at.AtLeast(Preemptions, 0, "preemptions");
        at.AtLeast(Runs, 0, "runs");
    }
}

/// <summary>
/// The exploration options a trace was recorded with. Traces from before the stale bound have
/// none: their exhaustive searches were unbounded in weak-memory choices. FirstPass is set for an
/// unbounded exhaustive search only (see <see cref="RunSettings.FirstPass"/>). Symmetry is true
/// when the schedule was found by a search that honoured the check's declared task symmetry.
/// </summary>
public sealed record TraceOptions(int Iterations, int MaxSteps, int PctDepth, int PreemptionBound, string MemoryModel, int StaleBound = -1, bool? FirstPass = null, bool? SpinPruning = null,
    bool? Symmetry = null)
{
    public void Validate(InputPath at) => at["memoryModel"].Require(MemoryModels.Names.Contains(MemoryModel),
        $"unknown memory model '{MemoryModel}' (available: {string.Join(", ", MemoryModels.Names)})");
}
