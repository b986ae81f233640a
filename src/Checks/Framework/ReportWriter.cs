using System.Text;
using Kmc.Models;

namespace Kmc.Checks.Framework;

/// <summary>Writes a bug's folder: trace.json (replayable), report.md and report.html (readable).</summary>
public static class ReportWriter
{
    /// <summary>reports/ at the repo root (where coyote.runtimeconfig.json or Coyote.sln is), else in the working directory.</summary>
    public static string ReportsRoot()
    {
        var marker = KmcConfig.FindUpwards(Directory.GetCurrentDirectory(), "Coyote.sln")
                     ?? KmcConfig.FindUpwards(Directory.GetCurrentDirectory(), KmcConfig.FileName);
        var root = marker != null ? Path.GetDirectoryName(marker)! : Directory.GetCurrentDirectory();
        return Path.Combine(root, "reports");
    }

    public static string FolderName(TraceFile t) => $"{t.Check}__{t.Variant}__{t.Driver}-{t.Strategy}-seed{t.Seed}";

    /// <summary>Writes into a temporary folder first and moves it into place, so a crash never leaves half a report.</summary>
    public static string Write(TraceFile trace, string? runsDir = null)
    {
        runsDir ??= Path.Combine(ReportsRoot(), "runs");
        Directory.CreateDirectory(runsDir);
        var final = Path.Combine(runsDir, FolderName(trace));
        var temp = TempFiles.FolderFor(runsDir, FolderName(trace));
        lock (TempFiles.Gate)
        {
            if (Directory.Exists(temp))
                Directory.Delete(temp, recursive: true);
            Directory.CreateDirectory(temp);
            File.WriteAllText(Path.Combine(temp, "trace.json"), trace.ToJson());
            File.WriteAllText(Path.Combine(temp, "report.md"), Markdown(trace, Path.Combine(final, "trace.json")));
            File.WriteAllText(Path.Combine(temp, "report.html"), HtmlReport.Render(trace, Path.Combine(final, "trace.json")));
            if (Directory.Exists(final))
                Directory.Delete(final, recursive: true);
            Directory.Move(temp, final);
        }

        return final;
    }

    public static string ReplayCommand(string tracePath) => $"kmc replay {tracePath}";

    public static string Markdown(TraceFile t, string tracePath)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"# {t.Check} / {t.Variant}: {t.Failure.Kind}");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(t.Failure.Message);
        sb.AppendLine("```");
        if (t.Failure.Location != null)
            sb.AppendLine($"at `{t.Failure.Location}`").AppendLine();
        sb.AppendLine("| | |");
        sb.AppendLine("|---|---|");
        sb.AppendLine($"| driver / strategy | {t.Driver} / {t.Strategy} |");
        sb.AppendLine($"| seed | {t.Seed} |");
        sb.AppendLine($"| memory model | {t.Options.MemoryModel} |");
        if (t.Faults != null)
            sb.AppendLine($"| faults | `{t.Faults}` |");
        sb.AppendLine($"| found in execution | {t.FailingExecution} |");
        sb.AppendLine($"| steps | {t.Steps.Count} |");
        if (t.Minimization is { } m)
            sb.AppendLine($"| minimised | {MinimizationText(m)} |");
        sb.AppendLine($"| model hash | {t.ModelHash} |");
        sb.AppendLine($"| kmc | {t.KmcVersion} |");
        sb.AppendLine();
        sb.AppendLine($"Replay: `{ReplayCommand(tracePath)}`");
        sb.AppendLine();
        sb.AppendLine("## Interleaving");
        sb.AppendLine();
        sb.AppendLine("| # | task | CPU | operation | on | value | in | at |");
        sb.AppendLine("|---:|---|---:|---|---|---|---|---|");
        foreach (var s in t.Steps)
        {
            var value = s.Value ?? "";
            if (s.Wakes != null)
                value += $" → wakes {s.Wakes}";
            if (s.Memory != null)
                value += $" ({s.Memory})";
            sb.AppendLine($"| {s.Index} | {s.Task} | {s.Cpu} | `{s.Op}` | {Cell(s.Target)} | {Cell(value)} | {s.Function} | {s.Where} |");
        }

        sb.AppendLine();
        sb.AppendLine($"**Then:** {t.Failure.Kind}: {t.Failure.Message.Split('\n')[0]}");
        return sb.ToString();
    }

    public static string MinimizationText(Minimization m) =>
        $"from {m.OriginalSteps} steps / {m.OriginalPreemptions} preemptions to {m.Steps} steps / {m.Preemptions} preemptions ({m.Runs} trial runs)";

    private static string Cell(string? s) => string.IsNullOrEmpty(s) ? "" : s.Replace("|", "\\|");

    /// <summary>The interleaving as plain text, one step a line, for the terminal.</summary>
    public static IEnumerable<string> Lines(IReadOnlyList<Step> steps) =>
        steps.Select(s => s.Memory is null ? s.ToString() : $"{s}  {{{s.Memory}}}");
}
