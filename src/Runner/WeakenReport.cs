using System.Text;

namespace Kmc.Checks.Framework;

/// <summary>One primitive's line of the weakened-barrier benchmark.</summary>
public sealed record WeakenTally(
    string Primitive,
    string Check,
    int Sites,
    IReadOnlyDictionary<string, int> Detected,
    IReadOnlyList<string> Harmless,
    IReadOnlyList<string> Missed,
    IReadOnlyList<string> Undeclared,
    IReadOnlyList<string> Stale,
    int Mismatches);

/// <summary>
/// The weakened-barrier benchmark's report: per primitive, how many of its generated
/// weakenings each memory model detects, which are declared harmless, and whether every
/// outcome matched its declaration; then one row per site.
/// </summary>
public static class WeakenReport
{
    public static readonly IReadOnlyList<string> Models = ["sc", "tso", "lkmm"];

    public static IReadOnlyList<WeakenedCheck> Checks(string? only = null)
    {
        var all = CheckRegistry.All.OfType<WeakenedCheck>().ToList();
        if (only == null)
            return all;
        // Among the benchmarks only: "qspinlock" is also the name of the check qspinlock's benchmark weakens.
        var c = all.FirstOrDefault(x => x.Name == only) ?? all.FirstOrDefault(x => x.Name == "weaken." + only);
        return c is { } w
            ? [w]
            : throw new KmcInputException($"'{only}' is not a weakened-barrier benchmark (those are: {string.Join(", ", all.Select(a => a.Name))})");
    }

    public static IReadOnlyList<WeakenTally> Tally(IReadOnlyList<WeakenedCheck> checks, IReadOnlyList<SuiteRow> rows) =>
        checks.Select(c =>
        {
            var mine = rows.Where(r => r.Check == c.Name && r.Variant != "fixed").ToList();
            var (undeclared, stale) = c.Coverage();
            return new WeakenTally(c.Primitive, c.Name, c.Sites.Count,
                Models.ToDictionary(m => m, m => mine.Count(r => r.MemoryModel == m && r.Observed != "pass")),
                c.Declared.Where(d => d.Class == WeakeningClass.Harmless).Select(d => d.Site).ToList(),
                c.Declared.Where(d => d.Class == WeakeningClass.Undetected).Select(d => d.Site).ToList(),
                undeclared, stale,
                rows.Count(r => r.Check == c.Name && !r.Matches));
        }).ToList();

    public static bool Ok(IEnumerable<WeakenTally> tallies) =>
        tallies.All(t => t.Mismatches == 0 && t.Undeclared.Count == 0 && t.Stale.Count == 0);

    public static string Markdown(IReadOnlyList<WeakenedCheck> checks, IReadOnlyList<SuiteRow> rows, TimeSpan elapsed)
    {
        var tallies = Tally(checks, rows);
        var models = Models.Where(m => rows.Any(r => r.MemoryModel == m)).ToList();
        var sb = new StringBuilder();
        sb.AppendLine("# kmc weakened-barrier benchmark").AppendLine();
        sb.AppendLine("Each variant relaxes one ordered call of the primitive's fixed code (an acquire or release to relaxed, a fully ordered RMW to _relaxed, a barrier removed), "
                      + "found by running the fixed code with a probe; each declares its outcome per memory model. "
                      + $"{rows.Count} runs, {rows.Count(r => !r.Matches)} not as declared; {elapsed.TotalSeconds:F1} s.").AppendLine();
        sb.Append("| primitive | sites |");
        foreach (var m in models)
            sb.Append($" detected ({m}) |");
        sb.AppendLine(" harmless | not detected (known misses) | not as declared |");
        sb.Append("|---|---:|").Append(string.Concat(models.Select(_ => "---:|"))).AppendLine("---|---|---:|");
        foreach (var t in tallies)
        {
            sb.Append($"| {t.Primitive} | {t.Sites} |");
            foreach (var m in models)
                sb.Append($" {t.Detected[m]} |");
            sb.AppendLine($" {List(t.Harmless)} | {List(t.Missed)} | {t.Mismatches} |");
        }

        foreach (var t in tallies)
        {
            foreach (var u in t.Undeclared)
                sb.AppendLine().Append($"- {t.Check}: site {u} has no declared expectation");
            foreach (var s in t.Stale)
                sb.AppendLine().Append($"- {t.Check}: declared site {s} is not reached by the fixed code");
        }

        sb.AppendLine().AppendLine().AppendLine("## Sites").AppendLine();
        sb.Append("| primitive | site | weakening |").Append(string.Concat(models.Select(m => $" {m} |"))).AppendLine(" why |");
        sb.Append("|---|---|---|").Append(string.Concat(models.Select(_ => "---|"))).AppendLine("---|");
        foreach (var c in checks)
        {
            var declared = c.Declared.ToDictionary(d => d.Site);
            foreach (var site in c.Sites)
            {
                var how = site.Site.Ordering == "fence" ? $"{site.Site.Op} removed" : $"{site.Site.Op} ({site.Site.Ordering}) relaxed";
                sb.Append($"| {c.Primitive} | {site.Name} | {how} |");
                foreach (var m in models)
                {
                    var r = rows.FirstOrDefault(x => x.Check == c.Name && x.Variant == site.Name && x.MemoryModel == m);
                    sb.Append(r == null ? " - |" : $" {Cell(r)} |");
                }

                sb.AppendLine($" {(declared.TryGetValue(site.Name, out var d) ? d.Why : "UNDECLARED")} |");
            }
        }

        foreach (var r in rows.Where(r => r.Mismatch != null))
            sb.AppendLine().Append("- ").Append(r.Mismatch);
        return sb.ToString();
    }

    public static string List(IReadOnlyList<string> sites) => sites.Count == 0 ? "none" : string.Join(", ", sites);

    /// <summary>"Hang at 12", "pass (1590, exhaustive)" style: the outcome, where, and whether it matched.</summary>
    private static string Cell(SuiteRow r)
    {
        var outcome = r.Observed == "pass" ? $"pass ({r.Executions} {r.Strategy})" : $"{r.Observed["bug: ".Length..]} at {r.Executions}";
        return r.Matches ? outcome : $"**{outcome}, declared {r.Expected}**";
    }
}
