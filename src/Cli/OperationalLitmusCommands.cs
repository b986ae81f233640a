using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Checks.Litmus;
using Kmc.Checks.Litmus.Operational;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// kmc litmus --operational / --compare-operational: litmus tests on the operational memory
/// models, alone or against the axiomatic engine's outcome sets.
/// </summary>
public static class OperationalLitmusCommands
{
    public static int Run(string[] paths, string? model, double? timeout, bool compare, bool everyExecution, bool reduce)
    {
        if (everyExecution)
            throw new KmcInputException("--all-executions is for the axiomatic engine; the operational modes always visit every execution");
        var seconds = timeout ?? 60;
        RunSettings.CheckTimeout(seconds, "--timeout");
        if (model != null && !OperationalEngine.ModelNames.Contains(model))
            throw new KmcInputException($"unknown memory model '{model}' (use sc, tso or lkmm)");
        var files = LitmusRunner.Files(paths);
        var root = LitmusCommands.CommonRoot(files);
        var watch = Stopwatch.StartNew();
        if (!compare)
        {
            var mm = model ?? "lkmm";
            var results = files.Select(f => OperationalRunner.RunFile(f, mm, TimeSpan.FromSeconds(seconds), reduce)).ToList();
            return PrintRuns(results, root, mm, watch.Elapsed);
        }

        var models = model != null ? [model] : OperationalEngine.ModelNames;
        var rows = new List<ComparisonResult>();
        var times = new Dictionary<string, TimeSpan>();
        foreach (var m in models)
        {
            var w = Stopwatch.StartNew();
            rows.AddRange(files.Select(f => OperationalRunner.Compare(f, m, TimeSpan.FromSeconds(seconds), reduce)));
            times[m] = w.Elapsed;
        }

        return PrintComparison(rows, root, models, times, watch.Elapsed);
    }

    private static string Name(string root, string file) => Markup.Escape(Printable.Of(Path.GetRelativePath(root, Path.GetFullPath(file)), 120));

    private static int PrintRuns(IReadOnlyList<OperationalResult> results, string root, string model, TimeSpan elapsed)
    {
        var table = new Table().AddColumns("file", "expected", "operational", "verdict", "executions", "outcomes", "time (s)");
        foreach (var r in results)
        {
            table.AddRow(Name(root, r.File), Markup.Escape(Printable.Of(r.Expected)), Markup.Escape(Printable.Of(r.Observed)), Verdict(r),
                r.Executions == 0 ? "-" : r.Executions.ToString(), r.Outcomes == 0 ? "-" : r.Outcomes.ToString(), r.Time.TotalSeconds.ToString("F2"));
        }

        AnsiConsole.Write(table);
        int Count(LitmusVerdict v) => results.Count(r => r.Verdict == v);
        var forbidden = Count(LitmusVerdict.AllowedForbidden);
        Console.WriteLine(
            $"{results.Count} tests ({model}, operational): {Count(LitmusVerdict.Match)} matched, " +
            $"{forbidden} allowed a forbidden outcome, {Count(LitmusVerdict.MissedAllowed)} missed an allowed outcome, " +
            $"{Count(LitmusVerdict.Unsupported)} unsupported{LitmusCommands.Constructs(results.Where(r => r.Verdict == LitmusVerdict.Unsupported).Select(r => r.Note))}, " +
            $"{Count(LitmusVerdict.TimedOut)} timed out, {Count(LitmusVerdict.NotJudged)} not judged, {Count(LitmusVerdict.ParseError)} errors; " +
            $"{elapsed.TotalSeconds:F1} s");

        if (LitmusCommands.Unreadable(results.Where(r => r.Verdict == LitmusVerdict.ParseError).Select(r => r.File).ToList()) is { } code)
            return code;
        // A missed outcome is the model's known incompleteness; allowing what the LKMM forbids is a soundness bug.
        return forbidden > 0 ? 1 : 0;
    }

    private static string Verdict(OperationalResult r)
    {
        var text = r.Verdict switch
        {
            LitmusVerdict.Match => "[green]ok[/]",
            LitmusVerdict.MissedAllowed => "[yellow]missed an allowed outcome[/]",
            LitmusVerdict.AllowedForbidden => "[red]ALLOWED a forbidden outcome[/]",
            LitmusVerdict.NotJudged => "not judged",
            LitmusVerdict.Unsupported => "[yellow]unsupported[/]",
            LitmusVerdict.ParseError => "[red]error[/]",
            LitmusVerdict.TimedOut => "[yellow]timed out[/]",
            _ => r.Verdict.ToString(),
        };
        return string.IsNullOrEmpty(r.Note) ? text : $"{text}: {Markup.Escape(Printable.Of(r.Note, 120))}";
    }

    /// <summary>The detector's race verdict against the LKMM flag: yes/no each, a mismatch in red.</summary>
    private static string Race(ComparisonResult r)
    {
        static string Of(bool? b) => b switch { true => "yes", false => "no", null => "-" };
        var text = $"{Of(r.OperationalRace)}/{Of(r.AxiomaticRace)}";
        return r.RaceMismatch ? $"[red]{text}[/]" : text;
    }

    private static string Class(Soundness s) => s switch
    {
        Soundness.SoundComplete => "[green]sound, complete[/]",
        Soundness.SoundIncomplete => "[yellow]sound, incomplete[/]",
        Soundness.Unsound => "[red]UNSOUND[/]",
        Soundness.ExtraButRacy => "[yellow]extra outcomes, racy test[/]",
        Soundness.Unsupported => "[yellow]unsupported[/]",
        Soundness.TimedOut => "[yellow]timed out[/]",
        _ => "[red]error[/]",
    };

    private static int PrintComparison(IReadOnlyList<ComparisonResult> rows, string root, IReadOnlyList<string> models,
        IReadOnlyDictionary<string, TimeSpan> times, TimeSpan elapsed)
    {
        var table = new Table().AddColumns("file", "model", "operational", "axiomatic", "class", "race op/ax", "outcomes op/ax", "executions", "time op/ax (s)");
        foreach (var r in rows)
        {
            var cls = Class(r.Class);
            if (r.Extra.Count > 0)
                cls += $": {r.Extra.Count} extra";
            if (r.Missed.Count > 0)
                cls += $"{(r.Extra.Count > 0 ? "," : ":")} {r.Missed.Count} missed";
            if (r.Note != null)
                cls += $" ({Markup.Escape(Printable.Of(r.Note, 120))})";
            table.AddRow(Name(root, r.File), r.Model, Markup.Escape(r.OperationalVerdict), Markup.Escape(r.AxiomaticVerdict), cls, Race(r),
                r.Class is Soundness.Unsupported or Soundness.Error ? "-" : $"{r.OperationalOutcomes}/{r.AxiomaticOutcomes}",
                r.Executions == 0 ? "-" : r.Executions.ToString(),
                $"{r.OperationalTime.TotalSeconds:F2}/{r.AxiomaticTime.TotalSeconds:F2}");
        }

        AnsiConsole.Write(table);
        foreach (var r in rows.Where(r => r.Extra.Count > 0 || r.Missed.Count > 0))
        {
            var name = Path.GetRelativePath(root, Path.GetFullPath(r.File));
            foreach (var o in r.Extra)
                Console.WriteLine($"{(r.Class == Soundness.Unsound ? "UNSOUND" : "racy extra")} {r.Model} {name}: operational allows {o}, the axiomatic model forbids it");
            foreach (var o in r.Missed)
            {
                var why = r.MissedByLoadBuffering.Contains(o) ? "needs load buffering" : "allowed by the axiomatic model";
                Console.WriteLine($"missed {r.Model} {name}: {o} ({why})");
            }
        }

        foreach (var r in rows.Where(r => r.RaceMismatch))
        {
            var name = Path.GetRelativePath(root, Path.GetFullPath(r.File));
            Console.WriteLine(r.OperationalRace == true
                ? $"race mismatch {r.Model} {name}: the detector reports a race the LKMM does not flag: {Printable.Of(r.RaceWitness ?? "", 400)}"
                : $"race mismatch {r.Model} {name}: the LKMM flags a data race the detector did not report");
        }

        foreach (var m in models)
        {
            var mine = rows.Where(r => r.Model == m).ToList();
            int Count(Soundness s) => mine.Count(r => r.Class == s);
            var lbOnly = mine.Count(r => r.Class == Soundness.SoundIncomplete && r.MissedByLoadBuffering.Count == r.Missed.Count);
            Console.WriteLine(
                $"{m}: {mine.Count} tests: {Count(Soundness.SoundComplete)} sound and complete, " +
                $"{Count(Soundness.SoundIncomplete)} sound but incomplete ({lbOnly} only by load buffering), " +
                $"{Count(Soundness.Unsound)} UNSOUND, {Count(Soundness.ExtraButRacy)} extra outcomes in racy tests, " +
                $"{Count(Soundness.Unsupported)} unsupported{LitmusCommands.Constructs(mine.Where(r => r.Class == Soundness.Unsupported).Select(r => r.Note))}, " +
                $"{Count(Soundness.TimedOut)} timed out, {Count(Soundness.Error)} errors; " +
                $"data race: {mine.Count(r => r.OperationalRace == true && r.AxiomaticRace == true)} racy and {mine.Count(r => r.OperationalRace == false && r.AxiomaticRace == false)} race-free on both, " +
                $"{mine.Count(r => r.OperationalRace == true && r.AxiomaticRace == false)} reported only by the detector, " +
                $"{mine.Count(r => r.OperationalRace == false && r.AxiomaticRace == true)} flagged only by the LKMM, " +
                $"{mine.Count(r => r.OperationalRace is null || r.AxiomaticRace is null)} not compared; {times[m].TotalSeconds:F1} s");
        }

        Console.WriteLine($"{elapsed.TotalSeconds:F1} s");
        if (LitmusCommands.Unreadable(rows.Where(r => r.Class == Soundness.Error).Select(r => r.File).Distinct().ToList()) is { } code)
            return code;
        return rows.Any(r => r.Class == Soundness.Unsound) ? 1 : 0;
    }
}
