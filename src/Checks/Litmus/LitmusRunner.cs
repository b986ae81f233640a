using System.Diagnostics;
using System.Text.RegularExpressions;
using Kmc.Checks.Framework;

namespace Kmc.Checks.Litmus;

public enum LitmusVerdict
{
    Match,

    /// <summary>The file's Result allows an outcome (or a race) the model never produced.</summary>
    MissedAllowed,

    /// <summary>The model produced an outcome (or a race) the file's Result forbids.</summary>
    AllowedForbidden,

    /// <summary>The verdict matches, but the DATARACE flag differs from the file's Result.</summary>
    RaceFlagDiffers,

    /// <summary>No model verdict to compare with (Maybe, a flag, no Result line).</summary>
    NotJudged,
    Unsupported,
    ParseError,
    TimedOut,
}

/// <summary>One file's row: expected and observed verdicts, executions and time.</summary>
public sealed record LitmusResult(string File, string Expected, string Observed, LitmusVerdict Verdict, string? Note, long Candidates, long Allowed, TimeSpan Time);

/// <summary>Runs litmus files and folders and compares each answer with the file's Result line.</summary>
public static partial class LitmusRunner
{
    [GeneratedRegex(@"^(Never|Sometimes|Always)(\s+DATARACE)?$")]
    private static partial Regex JudgedResult();

    /// <summary>The .litmus files under each path (folders recursively, sorted); a missing path is bad input.</summary>
    public static List<string> Files(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var p in paths)
        {
            if (File.Exists(p))
                files.Add(p);
            else if (Directory.Exists(p))
                files.AddRange(Directory.EnumerateFiles(p, "*.litmus", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal));
            else
                throw new KmcInputException($"no such file or folder: {p}");
        }

        if (files.Count == 0)
            throw new KmcInputException("no .litmus files found");
        return files;
    }

    public static LitmusResult RunFile(string path, string memoryModel, TimeSpan? timeout, bool everyExecution = false)
    {
        var model = LitmusModels.Get(memoryModel);
        var watch = Stopwatch.StartNew();
        LitmusTest test;
        try
        {
            test = LitmusParser.ParseFile(path);
        }
        catch (LitmusParseException e)
        {
            return new LitmusResult(path, "?", "parse error", LitmusVerdict.ParseError, e.Message, 0, 0, watch.Elapsed);
        }
        catch (LitmusUnsupportedException e)
        {
            return new LitmusResult(path, ExpectedOf(path), "unsupported", LitmusVerdict.Unsupported, e.Construct, 0, 0, watch.Elapsed);
        }

        var expected = test.Result ?? "(none)";
        try
        {
            var obs = LitmusEngine.Run(test, model, timeout, everyExecution);
            if (obs.TimedOut)
                return new LitmusResult(path, expected, "timed out", LitmusVerdict.TimedOut, null, obs.Candidates, obs.Allowed, watch.Elapsed);
            var observed = obs.Verdict + (obs.DataRace && obs.Verdict != "DEADLOCK" ? " DATARACE" : "");
            var (verdict, note) = Compare(test, expected, observed, memoryModel);
            return new LitmusResult(path, expected, observed, verdict, note, obs.Candidates, obs.Allowed, watch.Elapsed);
        }
        catch (LitmusUnsupportedException e)
        {
            return new LitmusResult(path, expected, "unsupported", LitmusVerdict.Unsupported, e.Construct, 0, 0, watch.Elapsed);
        }
        catch (LitmusParseException e)
        {
            return new LitmusResult(path, expected, "parse error", LitmusVerdict.ParseError, e.Message, 0, 0, watch.Elapsed);
        }
        catch (Exception e) when (e is not KmcInputException)
        {
            // One file's unexpected failure must not end a run over a folder.
            return new LitmusResult(path, expected, "error", LitmusVerdict.ParseError, $"internal error: {e.GetType().Name}: {e.Message}", 0, 0, watch.Elapsed);
        }
    }

    private static string ExpectedOf(string path)
    {
        var m = Regex.Match(File.ReadAllText(path), @"Result:\s*([^\n\r]*)");
        return m.Success ? m.Groups[1].Value.Trim() : "(none)";
    }

    /// <summary>
    /// Results other than herd's Never/Sometimes/Always (with an optional DATARACE) are authors'
    /// notes and are not judged; DEADLOCK is judged when the engine sees no execution complete.
    /// The herd Results are LKMM answers, so under sc/tso nothing is judged.
    /// </summary>
    private static (LitmusVerdict, string?) Compare(LitmusTest test, string expected, string observed, string memoryModel)
    {
        if (memoryModel != "lkmm")
            return (LitmusVerdict.NotJudged, $"Result is for lkmm, not {memoryModel}");
        if (expected == "DEADLOCK")
            return observed == "DEADLOCK" ? (LitmusVerdict.Match, null) : (LitmusVerdict.NotJudged, "DEADLOCK expected");
        var m = JudgedResult().Match(expected);
        if (!m.Success)
            return (LitmusVerdict.NotJudged, test.Result == null ? "no Result line" : $"Result '{expected}' is not a model verdict");
        if (observed == expected)
            return (LitmusVerdict.Match, null);
        if (observed == "DEADLOCK")
            return (LitmusVerdict.MissedAllowed, "no execution completes");
        var exp = m.Groups[1].Value;
        var expRace = m.Groups[2].Success;
        var obs = observed.Split(' ')[0];
        var obsRace = observed.EndsWith("DATARACE", StringComparison.Ordinal);
        if (exp != obs)
        {
            // Never < Sometimes < Always in what the condition may do; a missing outcome is
            // either a positive one (Never instead of Sometimes) or a negative one (Always instead of Sometimes).
            var missed = (exp, obs) switch
            {
                ("Sometimes", "Never") or ("Sometimes", "Always") => true,
                _ => false,
            };
            return (missed ? LitmusVerdict.MissedAllowed : LitmusVerdict.AllowedForbidden, null);
        }

        return (LitmusVerdict.RaceFlagDiffers, expRace && !obsRace ? "no data race found" : "data race flagged");
    }
}
