using System.CommandLine;
using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Checks.Litmus;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>kmc litmus PATH...: herd7-style litmus tests against an axiomatic memory model.</summary>
public static class LitmusCommands
{
    public static Command Build()
    {
        var paths = new Argument<string[]>("paths") { Description = "litmus files or folders (searched recursively for *.litmus)", Arity = ArgumentArity.OneOrMore };
        var model = new Option<string?>("--memory-model") { Description = "sc, tso or lkmm (default lkmm); the files' Result lines are judged under lkmm only" };
        var timeout = new Option<double?>("--timeout") { Description = "seconds per test before it is reported as timed out (default 60)" };
        var every = new Option<bool>("--all-executions") { Description = "visit every candidate execution and count them, instead of stopping once the verdict is known" };
        var operational = new Option<bool>("--operational") { Description = "run the tests on kmc's operational memory model (src/Models) instead of the axiomatic engine" };
        var compare = new Option<bool>("--compare-operational") { Description = "compare the operational and axiomatic outcome sets per file (sc, tso and lkmm unless --memory-model)" };
        var noReduction = new Option<bool>("--no-reduction") { Description = "operational modes: run every interleaving (no sleep sets), to check the reduction" };
        var cmd = new Command("litmus", "run C/LISA litmus tests; compare each verdict with the file's Result line") { paths, model, timeout, every, operational, compare, noReduction };
        cmd.SetAction(p =>
        {
            if (p.GetValue(operational) || p.GetValue(compare))
                return OperationalLitmusCommands.Run(p.GetValue(paths)!, p.GetValue(model), p.GetValue(timeout), p.GetValue(compare), p.GetValue(every), !p.GetValue(noReduction));
            var mm = p.GetValue(model) ?? "lkmm";
            LitmusModels.Get(mm);
            var seconds = p.GetValue(timeout) ?? 60;
            RunSettings.CheckTimeout(seconds, "--timeout");
            var files = LitmusRunner.Files(p.GetValue(paths)!);
            var watch = Stopwatch.StartNew();
            var results = files.Select(f => LitmusRunner.RunFile(f, mm, TimeSpan.FromSeconds(seconds), p.GetValue(every))).ToList();
            return Print(results, CommonRoot(files), mm, watch.Elapsed);
        });
        return cmd;
    }

    internal static string CommonRoot(IReadOnlyList<string> files)
    {
        if (files.Count == 1)
            return Path.GetDirectoryName(Path.GetFullPath(files[0])) ?? "";
        var dirs = files.Select(f => Path.GetDirectoryName(Path.GetFullPath(f)) ?? "").ToList();
        var root = dirs[0];
        while (dirs.Any(d => !(d + Path.DirectorySeparatorChar).StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal)))
            root = Path.GetDirectoryName(root) ?? "";

        // Files on different top-level folders share only the file system root.
        return root.Length > 0 ? root : Path.GetPathRoot(dirs[0]) ?? "/";
    }

    private static int Print(IReadOnlyList<LitmusResult> results, string root, string model, TimeSpan elapsed)
    {
        var table = new Table().AddColumns("file", "expected", "observed", "verdict", "allowed/candidates", "time (s)");
        foreach (var r in results)
        {
            var name = Path.GetRelativePath(root, Path.GetFullPath(r.File));
            table.AddRow(Markup.Escape(Printable.Of(name, 120)), Markup.Escape(Printable.Of(r.Expected)), Markup.Escape(Printable.Of(r.Observed)), Verdict(r),
                r.Candidates == 0 ? "-" : $"{r.Allowed}/{r.Candidates}", r.Time.TotalSeconds.ToString("F2"));
        }

        AnsiConsole.Write(table);
        var witnesses = results.Where(r => r.Witness != null).ToList();
        if (witnesses.Count > 0)
        {
            Console.WriteLine("Executions behind the mismatches:");
            foreach (var r in witnesses)
            {
                var what = r.Verdict switch
                {
                    LitmusVerdict.ScContradicted => "an SC execution the Result forbids",
                    LitmusVerdict.RaceFlagDiffers => "a racy execution",
                    _ => $"{model} allows",
                };
                Console.WriteLine($"  {Path.GetRelativePath(root, Path.GetFullPath(r.File))} (Result: {r.Expected}; {what}): {r.Witness}");
            }
        }

        int Count(LitmusVerdict v) => results.Count(r => r.Verdict == v);
        var missed = Count(LitmusVerdict.MissedAllowed);
        var forbidden = Count(LitmusVerdict.AllowedForbidden);
        var race = Count(LitmusVerdict.RaceFlagDiffers);
        var unsupported = results.Where(r => r.Verdict == LitmusVerdict.Unsupported).ToList();
        Console.WriteLine(
            $"{results.Count} tests ({model}): {Count(LitmusVerdict.Match)} matched, {Count(LitmusVerdict.Forgiven)} forgiven (data race), " +
            $"{missed + forbidden + race} mismatched " +
            $"({missed} missed an allowed outcome, {forbidden} allowed a forbidden outcome, {race} data-race flag), " +
            $"{Count(LitmusVerdict.ScContradicted)} Result contradicted by an SC execution, " +
            $"{unsupported.Count} unsupported{Constructs(unsupported.Select(r => r.Note))}, " +
            $"{Count(LitmusVerdict.TimedOut)} timed out, {Count(LitmusVerdict.NotJudged)} not judged, {Count(LitmusVerdict.ParseError)} parse errors; " +
            $"{elapsed.TotalSeconds:F1} s");
        if (Unreadable(results.Where(r => r.Verdict == LitmusVerdict.ParseError).Select(r => r.File).ToList()) is { } code)
            return code;
        return missed + forbidden + race > 0 ? 1 : 0;
    }

    /// <summary>
    /// Files that are no litmus test are bad input (exit 2), whatever the other files gave: a run
    /// that could not read some of what it was asked to check has not checked it.
    /// </summary>
    internal static int? Unreadable(IReadOnlyList<string> files)
    {
        if (files.Count == 0)
            return null;
        var names = string.Join(", ", files.Take(3).Select(f => Printable.Of(Path.GetFileName(f), 60)));
        Console.Error.WriteLine($"kmc: {files.Count} file(s) could not be read as litmus tests ({names}{(files.Count > 3 ? ", ..." : "")}): see the table");
        return 2;
    }

    /// <summary>" (construct xN, ...)", most frequent first: which unsupported constructs cost how many files.</summary>
    internal static string Constructs(IEnumerable<string?> notes)
    {
        var groups = notes.GroupBy(n => Printable.Of(n ?? "?")).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => $"{g.Key} x{g.Count()}").ToList();
        return groups.Count == 0 ? "" : $" ({string.Join(", ", groups)})";
    }

    private static string Verdict(LitmusResult r)
    {
        var text = r.Verdict switch
        {
            LitmusVerdict.Match => "[green]ok[/]",
            LitmusVerdict.MissedAllowed => "[red]MISSED an allowed outcome[/]",
            LitmusVerdict.AllowedForbidden => "[red]ALLOWED a forbidden outcome[/]",
            LitmusVerdict.RaceFlagDiffers => "[red]DATARACE flag differs[/]",
            LitmusVerdict.Forgiven => "[yellow]forgiven[/]",
            LitmusVerdict.ScContradicted => "[yellow]Result contradicted by an SC execution[/] (below)",
            LitmusVerdict.NotJudged => "not judged",
            LitmusVerdict.Unsupported => "[yellow]unsupported[/]",
            LitmusVerdict.ParseError => "[red]parse error[/]",
            LitmusVerdict.TimedOut => "[yellow]timed out[/]",
            _ => r.Verdict.ToString(),
        };
        return r.Note == null ? text : $"{text}: {Markup.Escape(Printable.Of(r.Note, 120))}";
    }
}
