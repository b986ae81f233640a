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

    /// <summary>reports/last/: where a ci or merge run writes its summary (git-ignored; the committed summary is updated on request).</summary>
    public static string LastRunDir() => Path.Combine(ReportsRoot(), "last");

    public static string FolderName(TraceFile t) => $"{t.Check}__{t.Variant}__{t.Driver}-{t.Strategy}-{t.Options.MemoryModel}-seed{t.Seed}";

    /// <summary>
    /// Writes into a folder of its own first and renames it into place, so a crash never leaves
    /// half a report and two runs of the same case at once (two processes or two threads) each
    /// put a whole report there: the last rename wins, the loser's leftovers are removed.
    /// </summary>
    public static string Write(TraceFile trace, string? runsDir = null)
    {
        runsDir ??= Path.Combine(ReportsRoot(), "runs");
        Directory.CreateDirectory(runsDir);
        var final = Path.Combine(runsDir, FolderName(trace));
        // Unique per writer (threads and processes), and named with the process id so that a
        // later run removes what a killed one left (TempFiles.Sweep).
        var unique = $"{FolderName(trace)}-{Guid.NewGuid():N}";
        var temp = TempFiles.FolderFor(runsDir, unique);
        var aside = TempFiles.FolderFor(runsDir, "old-" + unique);
        // Held while the temps exist: an interrupt lets the write in flight finish first.
        lock (TempFiles.Gate)
        {
            try
            {
                Directory.CreateDirectory(temp);
                File.WriteAllText(Path.Combine(temp, "trace.json"), trace.ToJson());
                File.WriteAllText(Path.Combine(temp, "report.md"), Markdown(trace, Path.Combine(final, "trace.json")));
                File.WriteAllText(Path.Combine(temp, "report.html"), HtmlReport.Render(trace, Path.Combine(final, "trace.json")));
                MoveIntoPlace(temp, final, aside);
            }
            finally
            {
                if (Directory.Exists(temp))
                    Directory.Delete(temp, recursive: true);
            }
        }

        return final;
    }

    /// <summary>
    /// A directory rename cannot replace a non-empty directory, so an existing report is first
    /// renamed aside (atomically; another writer may do the same at the same moment), then the
    /// new one renamed in. A writer that loses a race retries; after that many rounds something
    /// else holds the folder.
    /// </summary>
    private static void MoveIntoPlace(string temp, string final, string aside)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (Directory.Exists(final))
                    Directory.Move(final, aside);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or DirectoryNotFoundException)
            {
                // Another writer moved or replaced it first.
            }

            try
            {
                Directory.Move(temp, final);
                return;
            }
            catch (IOException) when (attempt < 100)
            {
                // Another writer put its report there between our two renames: go round again.
                Thread.Sleep(Random.Shared.Next(1, 5));
            }
            finally
            {
                if (Directory.Exists(aside))
                    Directory.Delete(aside, recursive: true);
            }
        }
    }

    /// <summary>The replay command; a check from a user's assembly needs that assembly again.</summary>
    public static string ReplayCommand(string tracePath, string? check = null) =>
        $"kmc replay {tracePath}{(check != null && KmcAssemblies.FileOf(check) is { } dll ? $" --assembly {dll}" : "")}";

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
        sb.AppendLine($"Replay: `{ReplayCommand(tracePath, t.Check)}`");
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
            sb.AppendLine($"| {s.Index} | {s.Task} | {s.Cpu} | `{s.Op}` | {Cell(s.Target)} | {Cell(value)} | {s.Chain ?? s.Function} | {s.Where} |");
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
