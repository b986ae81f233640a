using System.Runtime.CompilerServices;
using System.Text.Json.Serialization;

namespace Kmc.Models;

/// <summary>
/// One kernel operation in an interleaving: who did it, where in the port, on what, with which value.
/// </summary>
public sealed record Step(
    int Index,
    string Task,
    int Cpu,
    string Op,
    string? Target,
    string? Value,
    string Function,
    string File,
    int Line)
{
    /// <summary>For wakeups: the task woken. Reports draw it as an arrow.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Wakes { get; init; }

    /// <summary>Under a weak model: which store a load read, and what was still invisible.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Memory { get; init; }

    /// <summary>
    /// The port's call chain down to <see cref="Function"/> ("Build → DioWrite → InvalidateRange → LockPage"),
    /// recorded with the step (null in traces written before chains were recorded).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Chain { get; init; }

    public string Where => $"{System.IO.Path.GetFileName(File)}:{Line}";

    public override string ToString()
    {
        var target = Target is null ? "" : $"({Target})";
        var value = Value is null ? "" : $" = {Value}";
        return $"#{Index} {Task}@CPU{Cpu} {Op}{target}{value}  [{Function} {Where}]";
    }
}

/// <summary>Collects steps while an execution is being recorded (replays, reports).</summary>
public sealed class Recorder
{
    private readonly List<Step> _steps = new();

    public IReadOnlyList<Step> Steps => _steps;

    // Never inlined: CallChain.Now skips exactly its own frame and this one.
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal void Add(SimTask task, string op, string? target, string? value, string function, string file, int line,
        string? wakes = null, string? memory = null)
    {
        _steps.Add(new Step(_steps.Count + 1, task.Name, task.Cpu.Id, op, target, value, function, file, line)
        {
            Wakes = wakes,
            Memory = memory,
            Chain = CallChain.Now(task.ResumedChain, function),
        });
    }
}
