using System.Diagnostics;
using Kmc.Checks.Framework;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>One file's row in <c>kmc litmus --operational</c>.</summary>
public sealed record OperationalResult(
    string File, string Model, string Expected, string Observed, LitmusVerdict Verdict, string? Note,
    long Executions, int Outcomes, TimeSpan Time);

/// <summary>How an operational model's outcome set relates to the axiomatic one for the same model.</summary>
public enum Soundness
{
    /// <summary>The same outcomes.</summary>
    SoundComplete,

    /// <summary>Only outcomes the axiomatic model allows, but not all of them.</summary>
    SoundIncomplete,

    /// <summary>An outcome the axiomatic model forbids: the operational model would report bugs that are not there.</summary>
    Unsound,

    /// <summary>
    /// Extra outcomes in a test the LKMM flags as racy: plain accesses race, the LKMM promises
    /// nothing for it, so the extra outcomes are no evidence against the operational model.
    /// </summary>
    ExtraButRacy,
    Unsupported,
    TimedOut,
    Error,
}

/// <summary>One file under one model in <c>kmc litmus --compare-operational</c>.</summary>
public sealed record ComparisonResult(
    string File, string Model, Soundness Class, string OperationalVerdict, string AxiomaticVerdict,
    IReadOnlyList<string> Extra, IReadOnlyList<string> Missed, int OperationalOutcomes, int AxiomaticOutcomes,
    long Executions, TimeSpan OperationalTime, TimeSpan AxiomaticTime, string? Note)
{
    /// <summary>The missed outcomes that need load buffering (the model without it lacks them too): the known gap.</summary>
    public IReadOnlyList<string> MissedByLoadBuffering { get; init; } = [];

    /// <summary>Whether kmc's race detector reported a data race in an operational execution the filter keeps (null: not compared).</summary>
    public bool? OperationalRace { get; init; }

    /// <summary>The LKMM's data-race flag over the executions this model allows (the axiomatic sc and tso are the LKMM intersected with the hardware model).</summary>
    public bool? AxiomaticRace { get; init; }

    /// <summary>The detector's first race, when it reported one.</summary>
    public string? RaceWitness { get; init; }

    /// <summary>The race verdicts differ (both known).</summary>
    public bool RaceMismatch => OperationalRace is { } op && AxiomaticRace is { } ax && op != ax;
}

/// <summary>The operational litmus modes: a test's verdict on an operational model, and the comparison with the axiomatic engine.</summary>
public static class OperationalRunner
{
    public static OperationalResult RunFile(string path, string model, TimeSpan? timeout, bool reduce = true)
    {
        var watch = Stopwatch.StartNew();
        LitmusTest test;
        OutcomeSpace space;
        try
        {
            test = LitmusParser.ParseFile(path);
            space = OutcomeSpace.OfFile(test, path);
        }
        catch (LitmusParseException e)
        {
            return new OperationalResult(path, model, "?", "parse error", LitmusVerdict.ParseError, e.Message, 0, 0, watch.Elapsed);
        }
        catch (LitmusUnsupportedException e)
        {
            return new OperationalResult(path, model, "?", "unsupported", LitmusVerdict.Unsupported, e.Construct, 0, 0, watch.Elapsed);
        }

        var expected = test.Result ?? "(none)";
        OperationalObservation obs;
        try
        {
            obs = OperationalEngine.Run(test, space, model, timeout, reduce);
        }
        catch (Exception e) when (e is not KmcInputException)
        {
            // One file's unexpected failure must not end a run over a folder.
            return new OperationalResult(path, model, expected, "error", LitmusVerdict.ParseError, $"internal error: {e.GetType().Name}: {e.Message}", 0, 0, watch.Elapsed);
        }

        var row = new OperationalResult(path, model, expected, obs.Verdict, LitmusVerdict.NotJudged, Counts(obs), obs.Executions, obs.Outcomes.Count, watch.Elapsed);
        if (obs.Unsupported != null)
            return row with { Verdict = LitmusVerdict.Unsupported, Note = obs.Unsupported };
        if (obs.Error != null)
            return row with { Verdict = LitmusVerdict.ParseError, Note = obs.Error };
        if (obs.TimedOut)
            return row with { Verdict = LitmusVerdict.TimedOut };
        return Judge(row, test.Result, obs.Verdict, model);
    }

    private static string Counts(OperationalObservation o)
    {
        var parts = new List<string>();
        if (o.Hangs > 0)
            parts.Add($"{o.Hangs} hung");
        if (o.Infeasible > 0)
            parts.Add($"{o.Infeasible} infeasible");
        if (o.Cut > 0)
            parts.Add($"{o.Cut} cut at {OperationalEngine.MaxSteps} steps");
        if (o.LoopCut > 0)
            parts.Add($"{o.LoopCut} cut at {OperationalThread.LoopBound} loop iterations");
        if (o.Unfulfilled > 0)
            parts.Add($"{o.Unfulfilled} with a broken promise");
        return parts.Count == 0 ? "" : string.Join(", ", parts);
    }

    /// <summary>
    /// The file's Result is the LKMM's answer, so only lkmm is judged, by the same rules as the
    /// axiomatic engine; the operational models flag no data races.
    /// </summary>
    private static OperationalResult Judge(OperationalResult row, string? result, string observed, string model)
    {
        if (model != "lkmm")
            return row;
        var (verdict, note) = LitmusRunner.Judge(result, observed, dataRace: null);
        return row with { Verdict = verdict, Note = string.IsNullOrEmpty(row.Note) ? note : note == null ? row.Note : $"{row.Note}; {note}" };
    }

    /// <summary>Runs the operational and the axiomatic engine on one file under one model and compares their outcome sets.</summary>
    public static ComparisonResult Compare(string path, string model, TimeSpan? timeout, bool reduce = true)
    {
        var row = new ComparisonResult(path, model, Soundness.Error, "-", "-", [], [], 0, 0, 0, TimeSpan.Zero, TimeSpan.Zero, null);
        LitmusTest test;
        OutcomeSpace space;
        try
        {
            test = LitmusParser.ParseFile(path);
            space = OutcomeSpace.OfFile(test, path);
        }
        catch (LitmusParseException e)
        {
            return row with { Note = $"parse error: {e.Message}" };
        }
        catch (LitmusUnsupportedException e)
        {
            return row with { Class = Soundness.Unsupported, Note = e.Construct };
        }

        try
        {
            return Compare(path, test, space, model, timeout, reduce);
        }
        catch (LitmusParseException e)
        {
            return row with { Note = $"parse error: {e.Message}" };
        }
        catch (Exception e) when (e is not KmcInputException)
        {
            return row with { Note = $"internal error: {e.GetType().Name}: {e.Message}" };
        }
    }

    public static ComparisonResult Compare(string path, LitmusTest test, OutcomeSpace space, string model, TimeSpan? timeout, bool reduce = true)
    {
        var opWatch = Stopwatch.StartNew();
        var op = OperationalEngine.Run(test, space, model, timeout, reduce, races: true);
        var opTime = opWatch.Elapsed;
        var row = new ComparisonResult(path, model, Soundness.Error, op.Verdict, "-", [], [], op.Outcomes.Count, 0, op.Executions, opTime, TimeSpan.Zero, null);
        if (op.Unsupported != null)
            return row with { Class = Soundness.Unsupported, Note = op.Unsupported };
        if (op.Error != null)
            return row with { Note = op.Error };
        var axWatch = Stopwatch.StartNew();
        AxiomaticOutcomes.Result ax;
        try
        {
            ax = AxiomaticOutcomes.Collect(test, space, model, timeout);
        }
        catch (LitmusUnsupportedException e)
        {
            return row with { Class = Soundness.Unsupported, AxiomaticTime = axWatch.Elapsed, Note = $"axiomatic: {e.Construct}" };
        }

        row = row with
        {
            AxiomaticTime = axWatch.Elapsed, AxiomaticOutcomes = ax.Outcomes.Count,
            // A search cut short knows only the races it saw; the axiomatic engine's timed out, nothing.
            OperationalRace = op.TimedOut && op.DataRace != true ? null : op.DataRace,
            AxiomaticRace = ax.TimedOut ? null : ax.DataRace, RaceWitness = op.RaceWitness,
        };
        if (ax.TimedOut)
            return row with { Class = Soundness.TimedOut, Note = op.TimedOut ? "both" : "axiomatic" };
        var axVerdict = ax.SelfDeadlock ? "DEADLOCK" : space.Verdict(ax.Outcomes);
        var extra = space.Show(op.Outcomes.Where(o => !ax.Outcomes.Contains(o))).ToList();
        if (op.TimedOut)
        {
            // What the operational search found before its time ran out is still evidence: one
            // outcome the axiomatic model forbids settles soundness; otherwise nothing is known
            // about completeness.
            return extra.Count > 0
                ? row with
                {
                    Class = ax.DataRace && model == "lkmm" ? Soundness.ExtraButRacy : Soundness.Unsound, AxiomaticVerdict = axVerdict, Extra = extra,
                    Note = $"operational search cut after {op.Executions} executions",
                }
                : row with { Class = Soundness.TimedOut, AxiomaticVerdict = axVerdict, Note = $"operational: {op.Executions} executions{(op.Unfulfilled > 0 ? $" ({op.Unfulfilled} with a broken promise)" : "")}, {op.Outcomes.Count} outcomes so far, all allowed" };
        }

        var missed = space.Show(ax.Outcomes.Where(o => !op.Outcomes.Contains(o))).ToList();
        var cls = extra.Count > 0 ? (ax.DataRace && model == "lkmm" ? Soundness.ExtraButRacy : Soundness.Unsound)
            : missed.Count > 0 ? Soundness.SoundIncomplete
            : Soundness.SoundComplete;
        IReadOnlyList<string> byLb = [];
        if (missed.Count > 0)
        {
            // Sort the misses: those that need a load to read a store not yet executed.
            var noLb = AxiomaticOutcomes.Collect(test, space, new NoLoadBuffering(LitmusModels.Get(model)), timeout);
            if (!noLb.TimedOut)
                byLb = space.Show(ax.Outcomes.Where(o => !op.Outcomes.Contains(o) && !noLb.Outcomes.Contains(o))).ToList();
        }

        string? note = null;
        if (ax.SelfDeadlock && op.Outcomes.Count > 0)
            note = "the axiomatic engine answers DEADLOCK (synchronize_rcu() inside a reader)";
        else if (op.Hangs > 0 || op.Cut > 0 || op.LoopCut > 0)
            note = Counts(op);
        return row with { Class = cls, AxiomaticVerdict = axVerdict, Extra = extra, Missed = missed, Note = note, MissedByLoadBuffering = byLb };
    }
}
