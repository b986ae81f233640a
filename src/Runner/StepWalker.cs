using Kmc.Models;

namespace Kmc.Checks.Framework;

/// <summary>A variable's value after a step, and whether that step touched it.</summary>
public sealed record VariableState(string Name, string Value, bool Touched);

/// <summary>
/// Walks an interleaving step by step and keeps the last known value of every variable it has
/// touched so far: what `kmc replay --step` prints under each step.
/// </summary>
public static class StepWalker
{
    public static IEnumerable<(Step Step, IReadOnlyList<VariableState> State)> Walk(IReadOnlyList<Step> steps)
    {
        var values = new Dictionary<string, string>();
        var order = new List<string>();
        foreach (var s in steps)
        {
            if (s.Target != null && s.Value != null)
            {
                if (!values.ContainsKey(s.Target))
                    order.Add(s.Target);
                values[s.Target] = ValueAfter(s.Value);
            }

            yield return (s, order.Select(n => new VariableState(n, values[n], n == s.Target)).ToList());
        }
    }

    /// <summary>An RMW is recorded as "old -> new"; the variable holds the new value afterwards.</summary>
    public static string ValueAfter(string value)
    {
        var arrow = value.LastIndexOf("->", StringComparison.Ordinal);
        if (arrow < 0)
            return value;
        var after = value[(arrow + 2)..].Trim();
        var space = after.IndexOf(' ');
        return space < 0 ? after : after[..space];
    }

    public static string Format(IReadOnlyList<VariableState> state) =>
        string.Join(", ", state.Select(v => v.Touched ? $"*{v.Name} = {v.Value}*" : $"{v.Name} = {v.Value}"));
}
