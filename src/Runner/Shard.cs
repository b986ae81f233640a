using System.Text.RegularExpressions;

namespace Kmc.Checks.Framework;

/// <summary>
/// Part <see cref="Index"/> of <see cref="Count"/> of a campaign (1-based, as "i/N" on the command
/// line), for a CI matrix or for local worker processes.
/// </summary>
public sealed partial record Shard(int Index, int Count)
{
    public static readonly Shard Whole = new(1, 1);

    public static Shard Parse(string text)
    {
        var m = ShardPattern().Match(text);
        if (!m.Success || !int.TryParse(m.Groups[1].Value, out var i) || !int.TryParse(m.Groups[2].Value, out var n) || n < 1 || i < 1 || i > n)
            throw new KmcInputException($"--shard must be i/N with 1 <= i <= N (got '{text}')");
        return new Shard(i, n);
    }

    public override string ToString() => $"{Index}/{Count}";

    /// <summary>
    /// This shard's part of one search. Native sampling splits the execution indices
    /// [0, iterations) into contiguous ranges: together the shards run exactly the executions of
    /// one unsplit run. Coyote keeps its own per-iteration randomness, so each shard explores
    /// its own seed stream, hashed from the seed and the part. An exhaustive search has no independent parts.
    /// </summary>
    public RunSettings Part(RunSettings s)
    {
        if (Count == 1)
            return s;
        if (s.Strategy == "dfs")
            throw new KmcInputException("an exhaustive (dfs) search cannot be split into shards or workers; run it whole");
        var start = (int)((long)s.Iterations * (Index - 1) / Count);
        var end = (int)((long)s.Iterations * Index / Count);
        return s.Driver == "native"
            ? s with { FirstExecution = s.FirstExecution + start, Iterations = Math.Max(1, end - start) }
            : s with { Part = Index, Iterations = Math.Max(1, end - start) };
    }

    /// <summary>Suite cases for this shard: every Count-th, starting at Index.</summary>
    public IEnumerable<T> Take<T>(IEnumerable<T> cases) => cases.Where((_, i) => i % Count == Index - 1);

    [GeneratedRegex(@"^\s*(\d+)\s*/\s*(\d+)\s*$")]
    private static partial Regex ShardPattern();
}
