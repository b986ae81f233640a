using System.Diagnostics;
using System.Text.RegularExpressions;
using Kmc.Checks.Framework;

namespace Kmc.Checks.Litmus;

public enum LitmusVerdict
{
    Match,

    /// <summary>The file's Result allows an outcome the model never produced.</summary>
    MissedAllowed,

    /// <summary>The model produced an outcome the file's Result forbids.</summary>
    AllowedForbidden,

    /// <summary>The model's data-race flag differs from the DATARACE marker of the Result (whatever the verdict).</summary>
    RaceFlagDiffers,

    /// <summary>The verdict differs, but the model flags a data race the Result predicts too, which moots the verdict.</summary>
    Forgiven,

    /// <summary>
    /// The Result forbids an outcome (or its absence) that a sequentially consistent execution
    /// reaches: the Result line itself is wrong, since every LKMM execution set contains the SC ones.
    /// </summary>
    ScContradicted,

    /// <summary>No model verdict to compare with (Maybe, a flag, no Result line).</summary>
    NotJudged,
    Unsupported,
    ParseError,
    TimedOut,
}

/// <summary>One file's row: expected and observed verdicts, executions and time; <paramref name="Witness"/> an execution that backs the verdict.</summary>
public sealed record LitmusResult(string File, string Expected, string Observed, LitmusVerdict Verdict, string? Note, long Candidates, long Allowed, TimeSpan Time, string? Witness = null);

/// <summary>Runs litmus files and folders and compares each answer with the file's Result line.</summary>
public static partial class LitmusRunner
{
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
            var (verdict, note) = memoryModel == "lkmm"
                ? Judge(test.Result, obs.Verdict, obs.DataRace)
                : (LitmusVerdict.NotJudged, $"Result is for lkmm, not {memoryModel}");
            var witness = WitnessFor(verdict, note, Outcome(test.Result), obs);
            if (verdict == LitmusVerdict.AllowedForbidden && ScWitness(test, timeout, watch) is { } w)
                (verdict, note, witness) = (LitmusVerdict.ScContradicted, null, w);
            return new LitmusResult(path, expected, observed, verdict, note, obs.Candidates, obs.Allowed, watch.Elapsed, witness);
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

    /// <summary>
    /// An SC execution that the Result forbids: one satisfying a "Never" condition, or failing an
    /// "Always" one. The LKMM is weaker than SC: kmc's sc keeps the interleavings that also respect
    /// the kernel's software guarantees (RCU grace periods), and each of those is an LKMM
    /// execution, so such a witness shows the Result line is wrong rather than the model. Only
    /// asked about files that would otherwise be "allowed a forbidden outcome", so the extra
    /// search is rare.
    /// </summary>
    private static string? ScWitness(LitmusTest test, TimeSpan? timeout, Stopwatch watch)
    {
        var outcome = Outcome(test.Result);
        if (outcome is not ("Never" or "Always"))
            return null;
        var left = timeout is { } t ? t - watch.Elapsed : (TimeSpan?)null;
        if (left is { } l && l <= TimeSpan.Zero)
            return null;
        var sc = LitmusEngine.Run(test, LitmusModels.Get("sc"), left);
        if (sc.TimedOut)
            return null;
        return outcome == "Never" ? sc.SatisfyingWitness : sc.FailingWitness;
    }

    /// <summary>The model's execution behind a mismatch, for checking it by hand: the forbidden outcome, or a racy execution the Result does not expect.</summary>
    private static string? WitnessFor(LitmusVerdict verdict, string? note, string outcome, LitmusObservation obs) => verdict switch
    {
        LitmusVerdict.AllowedForbidden => outcome switch
        {
            "Never" => obs.SatisfyingWitness,
            "Always" => obs.FailingWitness,
            _ => obs.SatisfyingWitness ?? obs.FailingWitness,
        },
        LitmusVerdict.RaceFlagDiffers when note?.StartsWith("unexpected", StringComparison.Ordinal) == true => obs.RaceWitness,
        _ => null,
    };

    private static string ExpectedOf(string path)
    {
        var m = Regex.Match(File.ReadAllText(path), @"Result:\s*([^\n\r]*)");
        return m.Success ? m.Groups[1].Value.Trim() : "(none)";
    }

    /// <summary>The first word of a Result line, the part herd's Observation line is matched against.</summary>
    private static string Outcome(string? result) => result?.Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries) is [var w, ..] ? w : "";

    /// <summary>
    /// Judges an LKMM answer against a file's Result line by the rules of the kernel's
    /// tools/memory-model/scripts/judgelitmus.sh: (1) a DATARACE marker in the Result and the
    /// model's data-race flag must agree, whatever the verdict ("Predicted data race not modeled",
    /// "Unexpected data race modeled"); (2) "DEADLOCK" passes only when no execution completes
    /// (herd's "Never 0 0"), and an unexpected "Never 0 0" fails; (3) "Maybe" accepts any
    /// verdict; (4) when the model flags a data race, a wrong Never/Sometimes/Always is forgiven,
    /// since the race makes the outcome undefined. The script takes the Result's first word; notes
    /// that are not herd verdicts (a "Flag ..." line, an outcome said to need compiler modelling)
    /// are not judged, as the corpus documents them.
    /// </summary>
    /// <param name="verdict">the model's Never/Sometimes/Always, or DEADLOCK when no execution completes</param>
    /// <param name="dataRace">the model's data-race flag; null for a model that flags none (kmc's
    /// operational models): then the marker is not compared and no verdict is forgiven</param>
    public static (LitmusVerdict Verdict, string? Note) Judge(string? result, string verdict, bool? dataRace)
    {
        if (result == null)
            return (LitmusVerdict.NotJudged, "no Result line");
        var outcome = Outcome(result);
        if (outcome == "Flag" || (result.Contains("compiler", StringComparison.OrdinalIgnoreCase) && outcome != "Maybe"))
            return (LitmusVerdict.NotJudged, $"Result '{result}' is not a model verdict");
        if (outcome is not ("Never" or "Sometimes" or "Always" or "DEADLOCK") && !outcome.StartsWith("Maybe", StringComparison.Ordinal))
            return (LitmusVerdict.NotJudged, $"Result '{result}' is not a model verdict");

        var noExecution = verdict == "DEADLOCK";
        var flagged = dataRace == true && !noExecution;
        var predictedRace = RaceMarker().IsMatch(result);
        var verdictDiffers = outcome != verdict && !outcome.StartsWith("Maybe", StringComparison.Ordinal);
        if (dataRace != null && predictedRace != flagged)
        {
            var why = predictedRace ? "predicted data race not modeled" : "unexpected data race modeled";
            return (LitmusVerdict.RaceFlagDiffers, verdictDiffers ? $"{why}; verdict differs too" : why);
        }

        if (outcome == "DEADLOCK")
            return noExecution ? (LitmusVerdict.Match, null) : (LitmusVerdict.AllowedForbidden, "executions complete, DEADLOCK expected");
        if (noExecution)
            return (LitmusVerdict.MissedAllowed, "no execution completes");
        if (outcome.StartsWith("Maybe", StringComparison.Ordinal))
            return (LitmusVerdict.NotJudged, "Maybe: any verdict passes");
        if (!verdictDiffers)
            return (LitmusVerdict.Match, null);
        if (flagged)
            return (LitmusVerdict.Forgiven, $"{verdict}, not {outcome}: the data race moots it");

        // Never < Sometimes < Always in what the condition may do; a missing outcome is either a
        // positive one (Never instead of Sometimes) or a negative one (Always instead of Sometimes).
        return outcome == "Sometimes" ? (LitmusVerdict.MissedAllowed, null) : (LitmusVerdict.AllowedForbidden, null);
    }

    [GeneratedRegex(@"\bDATARACE\b")]
    private static partial Regex RaceMarker();
}
