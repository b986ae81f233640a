using System.Text;
using System.Text.Json;

namespace Kmc.Checks.Framework;

/// <summary>One row of the suite table.</summary>
public sealed record SuiteRow(
    string Check,
    string Variant,
    string Expected,
    string Observed,
    bool Matches,
    int Executions,
    double Seconds,
    string Driver,
    string Strategy,
    ulong Seed,
    string MemoryModel,
    string? Mismatch,
    string? Report)
{
    public void Validate(InputPath at)
    {
        at.NonEmpty(Check, "check");
        at.NonEmpty(Variant, "variant");
        at.NonEmpty(Expected, "expected");
        at["observed"].Require(Observed == "pass" || Observed == Suite.Inconclusive || Observed.StartsWith("bug: ", StringComparison.Ordinal),
            $"must be 'pass', '{Suite.Inconclusive}' or 'bug: KIND' (got '{Observed}')");
        at.AtLeast(Executions, 0, "executions");
        at.FiniteNonNegative(Seconds, "seconds");
        at["driver"].Require(RunSettings.Drivers.Contains(Driver), $"unknown driver '{Driver}'");
        at.NonEmpty(Strategy, "strategy");
        at["memoryModel"].Require(MemoryModels.Names.Contains(MemoryModel), $"unknown memory model '{MemoryModel}'");
        at["mismatch"].Require(Matches == (Mismatch == null), Matches ? "a matching row has no mismatch" : "a row that does not match says why");
    }
}

/// <summary>One replayed trace of the regression corpus, as the summary records it.</summary>
public sealed record RegressionRow(string File, bool Ok, string? Problem, string OnFixed)
{
    public void Validate(InputPath at)
    {
        at.NonEmpty(File, "file");
        at["problem"].Require(Ok == (Problem == null), Ok ? "an ok regression has no problem" : "a failed regression says why");
    }
}

/// <summary>summary.json: the suite table of one run, one shard or a merge of them.</summary>
public sealed record SummaryFile(
    string Format,
    string KmcVersion,
    string? Shard,
    double Seconds,
    IReadOnlyList<SuiteRow> Rows,
    IReadOnlyList<RegressionRow> Regressions) : IValidatedInput
{
    public const string CurrentFormat = "kmc-summary/1";

    public void Validate(InputPath at)
    {
        at["format"].Require(Format == CurrentFormat, $"summary format '{Format}' is not supported (this kmc reads {CurrentFormat})");
        at.NonEmpty(KmcVersion, "kmcVersion");
        if (Shard != null)
        {
            try
            {
                Framework.Shard.Parse(Shard);
            }
            catch (KmcInputException e)
            {
                throw at["shard"].Error(e.Message);
            }
        }

        at.FiniteNonNegative(Seconds, "seconds");
        at["rows"].Each(Rows, (r, p) => r.Validate(p));
        at["regressions"].Each(Regressions, (r, p) => r.Validate(p));
    }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    internal static readonly JsonSerializerOptions Read = InputFiles.Strict(Json);
}

/// <summary>Runs every check on every variant with the configured budgets and compares with the expectations.</summary>
public static class Suite
{
    /// <summary>The observed outcome of a case that checked nothing (no execution ran, or every one was cut).</summary>
    public const string Inconclusive = "inconclusive";

    public static IEnumerable<(Check Check, Variant Variant)> Cases(IEnumerable<Check>? checks = null) =>
        (checks ?? CheckRegistry.All).SelectMany(c => c.Variants.Select(v => (c, v)));

    public static SuiteRow RunCase(Check check, Variant variant, RunSettings settings, bool writeReports, Action<int>? progress = null)
    {
        var run = CheckRunner.Run(check, variant, settings, progress);
        string? report = null;
        if (run.Trace != null && writeReports)
            report = Path.Combine(ReportWriter.Write(run.Trace), "report.md");
        var row = Row(run, report);
        return run.LostPower ? row with { Mismatch = $"{row.Mismatch}; {LostPower.Suggest(check, variant, settings)}" } : row;
    }

    /// <summary>A run as a suite row: a bug counts the executions up to it, a clean run all it ran.</summary>
    public static SuiteRow Row(CheckRun run, string? report)
    {
        var r = run.Result;
        var s = run.Settings;
        return new SuiteRow(run.Check.Name, run.Variant.Name, run.Expected.ToString(),
            r.Failure != null ? $"bug: {r.Failure.Kind}" : r.Inconclusive != null ? Inconclusive : "pass", run.MatchesExpectation,
            r.Failure != null ? r.FailingExecution : r.Executions, r.Elapsed.TotalSeconds,
            s.Driver, s.Strategy, s.Seed, s.MemoryModel, run.Mismatch(), report);
    }

    /// <summary>reports/summary.md and summary.json, each written whole or not at all.</summary>
    public static void WriteSummary(IReadOnlyList<SuiteRow> rows, string reportsDir, TimeSpan elapsed,
        IReadOnlyList<RegressionRow>? regressions = null, Shard? shard = null, string stem = "summary")
    {
        Directory.CreateDirectory(reportsDir);
        WriteSummaryJson(Path.Combine(reportsDir, stem + ".json"), rows, elapsed, regressions, shard);
        WriteAtomically(Path.Combine(reportsDir, stem + ".md"), Markdown(rows, elapsed, regressions));
    }

    public static void WriteSummaryJson(string path, IReadOnlyList<SuiteRow> rows, TimeSpan elapsed,
        IReadOnlyList<RegressionRow>? regressions = null, Shard? shard = null)
    {
        var summary = new SummaryFile(SummaryFile.CurrentFormat, CheckRunner.KmcVersion, shard?.ToString(), Math.Round(elapsed.TotalSeconds, 1),
            rows, regressions ?? []);
        WriteAtomically(path, JsonSerializer.Serialize(summary, SummaryFile.Json));
    }

    /// <summary>Reads a summary.json, or says in one line (file and JSON path) why it is not one.</summary>
    public static SummaryFile ReadSummary(string path) => InputFiles.ReadJson<SummaryFile>(path, "summary", SummaryFile.Read);

    /// <summary>
    /// Refuses, in one line, summaries that do not make one suite table: the same file twice, a
    /// case that two summaries both ran (the same shard, or unsharded, twice), different memory
    /// models, different kmc versions, or shards of different splits.
    /// </summary>
    public static void CheckMergeable(IReadOnlyList<(string Path, SummaryFile Summary)> summaries)
    {
        var twice = summaries.GroupBy(s => Path.GetFullPath(s.Path)).FirstOrDefault(g => g.Count() > 1);
        if (twice != null)
            throw new KmcInputException($"merge: '{twice.First().Path}' is given twice");
        string Which<T>(IEnumerable<(string Path, T Value)> values) =>
            string.Join(", ", values.GroupBy(v => v.Value).Select(g => $"{g.First().Path}: {g.Key}").Take(3));
        var versions = summaries.Select(s => (s.Path, s.Summary.KmcVersion)).ToList();
        if (versions.Select(v => v.KmcVersion).Distinct().Count() > 1)
            throw new KmcInputException($"merge: summaries of different kmc versions ({Which(versions)}); merge the summaries of one build");
        var models = summaries.SelectMany(s => s.Summary.Rows.Select(r => (s.Path, r.MemoryModel))).ToList();
        if (models.Select(m => m.MemoryModel).Distinct().Count() > 1)
            throw new KmcInputException($"merge: summaries under different memory models ({Which(models)}); merge one model's summaries at a time");
        var splits = summaries.SelectMany(s => s.Summary.Shard is { } shard ? [(s.Path, Shard.Parse(shard).Count)] : Array.Empty<(string, int)>()).ToList();
        if (splits.Select(s => s.Item2).Distinct().Count() > 1)
            throw new KmcInputException($"merge: shards of different splits ({Which(splits.Select(s => (s.Item1, $"of {s.Item2}")))})");
        var seen = new Dictionary<(string, string, string, string, string, string?), string>();
        foreach (var (path, summary) in summaries)
        {
            foreach (var r in summary.Rows)
            {
                var key = (r.Check, r.Variant, r.MemoryModel, r.Driver, r.Strategy, summary.Shard);
                if (seen.TryGetValue(key, out var other) && other != path)
                {
                    var part = summary.Shard is { } sh ? $"shard {sh}" : "no shard";
                    throw new KmcInputException($"merge: {r.Check}/{r.Variant} ({part}) is in both {other} and {path}: the same run given twice?");
                }

                seen[key] = path;
            }
        }
    }

    /// <summary>
    /// Combines the summaries of shards or workers. Rows of different cases are kept side by side;
    /// rows of one case split by execution ranges combine into one: the earliest failure wins (as
    /// in an unsplit run), and a clean case counts the executions of every part.
    /// </summary>
    public static IReadOnlyList<SuiteRow> Merge(IEnumerable<SuiteRow> rows)
    {
        var order = Cases().Select((c, i) => (Key: (c.Check.Name, c.Variant.Name), i)).ToDictionary(x => x.Key, x => x.i);
        return rows
            .GroupBy(r => (r.Check, r.Variant, r.MemoryModel, r.Driver, r.Strategy))
            .Select(MergeCase)
            .OrderBy(r => order.TryGetValue((r.Check, r.Variant), out var i) ? i : int.MaxValue)
            .ThenBy(r => r.Check, StringComparer.Ordinal).ThenBy(r => r.Variant, StringComparer.Ordinal)
            .ToList();
    }

    private static SuiteRow MergeCase(IEnumerable<SuiteRow> parts)
    {
        var list = parts.ToList();
        if (list.Count == 1)
            return list[0];
        var seconds = list.Sum(r => r.Seconds);
        var bug = list.Where(r => r.Observed.StartsWith("bug", StringComparison.Ordinal)).OrderBy(r => r.Executions).ThenBy(r => r.Seed).FirstOrDefault();
        if (bug != null)
            return bug with { Seconds = seconds };
        // Parts that checked nothing make the case inconclusive only when no part checked anything.
        if (list.All(r => r.Observed == Inconclusive))
            return list[0] with { Executions = list.Sum(r => r.Executions), Seconds = seconds };
        var executions = list.Sum(r => r.Executions);
        var first = list.First(r => r.Observed != Inconclusive);
        var matches = list.All(r => r.Matches);
        var mismatch = matches ? null : $"{first.Check}/{first.Variant}: the known bug was not found in {executions} executions: the checker lost power";
        return first with { Executions = executions, Seconds = seconds, Matches = matches, Mismatch = mismatch };
    }

    public static string Markdown(IReadOnlyList<SuiteRow> rows, TimeSpan elapsed, IReadOnlyList<RegressionRow>? regressions = null)
    {
        var sb = new StringBuilder();
        var bad = rows.Count(r => !r.Matches);
        sb.AppendLine("# kmc suite");
        sb.AppendLine();
        sb.AppendLine($"{rows.Count} cases, {rows.Count - bad} as expected, {bad} not; {elapsed.TotalSeconds:F1} s.");
        sb.AppendLine();
        sb.AppendLine("| check | variant | expected | observed | ok | schedules | time (s) | driver/strategy | seed | model |");
        sb.AppendLine("|---|---|---|---|---|---:|---:|---|---:|---|");
        foreach (var r in rows)
        {
            sb.AppendLine($"| {r.Check} | {r.Variant} | {r.Expected} | {r.Observed} | {(r.Matches ? "yes" : "**NO**")} | {r.Executions} | {r.Seconds:F2} | {r.Driver}/{r.Strategy} | {r.Seed} | {r.MemoryModel} |");
        }

        foreach (var r in rows.Where(r => r.Mismatch != null))
            sb.AppendLine().Append("- ").Append(r.Mismatch);
        if (regressions is { Count: > 0 })
        {
            sb.AppendLine().AppendLine().AppendLine("## Regression corpus").AppendLine();
            sb.AppendLine("| trace | ok | on the fixed variant |").AppendLine("|---|---|---|");
            foreach (var r in regressions)
                sb.AppendLine($"| {r.File} | {(r.Ok ? "yes" : "**NO**: " + r.Problem)} | {r.OnFixed} |");
        }

        return sb.ToString();
    }

    public static void WriteAtomically(string path, string text)
    {
        lock (TempFiles.Gate)
        {
            var temp = TempFiles.For(path);
            File.WriteAllText(temp, text);
            File.Move(temp, path, overwrite: true);
        }
    }
}
