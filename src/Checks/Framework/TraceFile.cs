using System.Text.Json;
using System.Text.Json.Serialization;
using Kmc.Models;

namespace Kmc.Checks.Framework;

/// <summary>
/// A self-describing record of one failing execution: enough to replay it exactly on the same
/// model code, and the interleaving itself for people to read.
/// </summary>
public sealed record TraceFile
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
    public RunSettings Settings() => new RunSettings
    {
        Driver = Driver,
        Strategy = Strategy,
        Seed = Seed,
        Iterations = Options.Iterations,
        MaxSteps = Options.MaxSteps,
        PctDepth = Options.PctDepth,
        PreemptionBound = Options.PreemptionBound,
        StaleBound = Options.StaleBound,
        MemoryModel = Options.MemoryModel,
        Faults = Faults ?? "",
    }.Validate("trace");

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a trace, or says in one line why it is not one.</summary>
    public static TraceFile Load(string path)
    {
        if (!File.Exists(path))
            throw new KmcInputException($"trace file '{path}' does not exist");
        TraceFile? t;
        try
        {
            t = JsonSerializer.Deserialize<TraceFile>(File.ReadAllText(path), Json);
        }
        catch (JsonException e)
        {
            throw new KmcInputException($"{path}: not a kmc trace ({e.Message.Split('\n')[0].Trim()})");
        }

        if (t == null)
            throw new KmcInputException($"{path}: not a kmc trace (empty)");
        if (t.Format != CurrentFormat)
            throw new KmcInputException($"{path}: trace format '{t.Format}' is not supported (this kmc reads {CurrentFormat})");
        if (t.Schedule == null && string.IsNullOrEmpty(t.CoyoteTrace))
            throw new KmcInputException($"{path}: the trace holds no schedule to replay");
        return t;
    }
}

/// <summary>The failing schedule as found and as saved (shortened, still failing the same way).</summary>
public sealed record Minimization(int OriginalSteps, int OriginalPreemptions, int Steps, int Preemptions, int Runs);

/// <summary>
/// The exploration options a trace was recorded with. Traces from before the stale bound have
/// none: their exhaustive searches were unbounded in weak-memory choices.
/// </summary>
public sealed record TraceOptions(int Iterations, int MaxSteps, int PctDepth, int PreemptionBound, string MemoryModel, int StaleBound = -1);
