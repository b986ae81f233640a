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
    string? Report);

/// <summary>Runs every check on every variant with the configured budgets and compares with the expectations.</summary>
public static class Suite
{
    public static IEnumerable<(Check Check, Variant Variant)> Cases(IEnumerable<Check>? checks = null) =>
        (checks ?? CheckRegistry.All).SelectMany(c => c.Variants.Select(v => (c, v)));

    public static SuiteRow RunCase(Check check, Variant variant, RunSettings settings, bool writeReports, Action<int>? progress = null)
    {
        var run = CheckRunner.Run(check, variant, settings, progress);
        string? report = null;
        if (run.Trace != null && writeReports)
            report = Path.Combine(ReportWriter.Write(run.Trace), "report.md");
        var r = run.Result;
        return new SuiteRow(check.Name, variant.Name, run.Expected.ToString(),
            r.Failure == null ? "pass" : $"bug: {r.Failure.Kind}", run.MatchesExpectation,
            r.Failure != null ? r.FailingExecution : r.Executions, r.Elapsed.TotalSeconds,
            settings.Driver, settings.Strategy, settings.Seed, settings.MemoryModel, run.Mismatch(), report);
    }

    /// <summary>reports/summary.md and summary.json, each written whole or not at all.</summary>
    public static void WriteSummary(IReadOnlyList<SuiteRow> rows, string reportsDir, TimeSpan elapsed, string stem = "summary")
    {
        Directory.CreateDirectory(reportsDir);
        var json = JsonSerializer.Serialize(new { kmcVersion = CheckRunner.KmcVersion, seconds = Math.Round(elapsed.TotalSeconds, 1), rows },
            new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
        WriteAtomically(Path.Combine(reportsDir, stem + ".json"), json);
        WriteAtomically(Path.Combine(reportsDir, stem + ".md"), Markdown(rows, elapsed));
    }

    public static string Markdown(IReadOnlyList<SuiteRow> rows, TimeSpan elapsed)
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
        return sb.ToString();
    }

    public static void WriteAtomically(string path, string text)
    {
        var temp = path + ".tmp-" + Environment.ProcessId;
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}
