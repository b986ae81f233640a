using Kmc.Models;

namespace Kmc.Checks.Framework;

/// <summary>
/// kmc from a unit test (xunit, NUnit, MSTest: it only throws), as Coyote's TestingEngine is used
/// from xunit: each method explores one check on one variant and throws
/// <see cref="KmcTestException"/> (the verdict, the interleaving and where the replayable
/// trace was written) when the outcome is not the asserted one.
/// Settings are the built-in defaults unless given: a test does not read kmc's config file,
/// so the same test gives the same result wherever it runs.
/// </summary>
public static class KmcTest
{
    /// <summary>No failure in <c>settings.Iterations</c> executions (random/pct) or in the whole bounded search (dfs).</summary>
    public static CheckRun NoBug(Check check, string? variant = null, RunSettings? settings = null)
    {
        var run = Explore(check, variant, settings);
        if (run.Result.Failure != null)
            throw Fail(run, $"expected no bug, found {run.Result.Failure.Kind}: {FirstLine(run.Result.Failure.Message)}");
        return run;
    }

    /// <summary>
    /// No failure in any interleaving: dfs, with partial-order reduction and no preemption bound
    /// unless <paramref name="settings"/> says otherwise. With <paramref name="complete"/> (the
    /// default) no bound may have cut the search (a stale bound reached under tso/lkmm, a
    /// preemption bound, the step bound): the verdict kmc prints as "verified (complete)". With
    /// complete: false a search that ran out of schedules within its bounds passes.
    /// </summary>
    public static CheckRun Exhaustive(Check check, string? variant = null, RunSettings? settings = null, bool complete = true)
    {
        settings ??= new RunSettings { Strategy = "dfs", PreemptionBound = -1 };
        if (settings.Strategy != "dfs")
            throw new ArgumentException($"an exhaustive search is the dfs strategy, not '{settings.Strategy}'", nameof(settings));
        var run = NoBug(check, variant, settings);
        if (!run.Result.Exhausted)
            throw Fail(run, $"the search stopped before it ran out of schedules ({run.Result.Executions} executions{(run.Result.TimedOut ? ", timed out" : "")}): no exhaustive verdict");
        if (run.Result.StepBoundHits > 0)
            throw Fail(run, $"{run.Result.StepBoundHits} executions were cut at the step bound ({settings.MaxSteps}): no exhaustive verdict");
        if (complete && !run.Result.Complete)
            throw Fail(run, $"no failure, but within bounds that cut the search ({run.Result.Bounds}): not complete");
        return run;
    }

    /// <summary>The variant's bug is found (of <paramref name="kind"/>, if given).</summary>
    public static CheckRun FindsBug(Check check, string variant, FailureKind? kind = null, RunSettings? settings = null)
    {
        var run = Explore(check, variant, settings);
        if (run.Result.Failure == null)
            throw Fail(run, $"expected a bug, found none in {run.Result.Executions} executions ({run.Settings.Strategy}, seed {run.Settings.Seed}): raise the iterations or try another strategy");
        if (kind != null && run.Result.Failure.Kind != kind)
            throw Fail(run, $"expected {kind}, found {run.Result.Failure.Kind}: {FirstLine(run.Result.Failure.Message)}");
        return run;
    }

    /// <summary>The outcome is the variant's declared <see cref="Expectation"/> under the settings' memory model.</summary>
    public static CheckRun AsExpected(Check check, string? variant = null, RunSettings? settings = null)
    {
        var run = Explore(check, variant, settings);
        if (run.Mismatch() is { } why)
            throw Fail(run, why);
        return run;
    }

    public static CheckRun NoBug<TCheck>(string? variant = null, RunSettings? settings = null) where TCheck : Check, new() =>
        NoBug(new TCheck(), variant, settings);

    public static CheckRun Exhaustive<TCheck>(string? variant = null, RunSettings? settings = null, bool complete = true) where TCheck : Check, new() =>
        Exhaustive(new TCheck(), variant, settings, complete);

    public static CheckRun FindsBug<TCheck>(string variant, FailureKind? kind = null, RunSettings? settings = null) where TCheck : Check, new() =>
        FindsBug(new TCheck(), variant, kind, settings);

    public static CheckRun AsExpected<TCheck>(string? variant = null, RunSettings? settings = null) where TCheck : Check, new() =>
        AsExpected(new TCheck(), variant, settings);

    private static CheckRun Explore(Check check, string? variant, RunSettings? settings)
    {
        var v = variant != null ? check.GetVariant(variant) : check.Variants[0];
        var s = (settings ?? new RunSettings()).Validate("KmcTest settings");
        var run = CheckRunner.Run(check, v, s);
        if (run.Result.Inconclusive is { } why)
            throw Fail(run, $"inconclusive: {why}");
        return run;
    }

    private static KmcTestException Fail(CheckRun run, string verdict)
    {
        var text = new System.Text.StringBuilder($"{run.Check.Name}/{run.Variant.Name}: {verdict}");
        if (run.Trace is { } trace)
        {
            // The trace goes where `kmc replay` can take it, under the test's own output folder.
            var folder = ReportWriter.Write(trace, Path.Combine(AppContext.BaseDirectory, "kmc-runs"));
            text.AppendLine().AppendLine($"trace: {Path.Combine(folder, "trace.json")} (kmc replay it with --assembly {run.Check.GetType().Assembly.Location})");
            foreach (var line in ReportWriter.Lines(trace.Steps))
                text.AppendLine(line);
            text.Append($"Then: {trace.Failure.Kind}: {trace.Failure.Message}");
        }

        return new KmcTestException(text.ToString(), run);
    }

    private static string FirstLine(string s) => s.Split('\n')[0];
}

/// <summary>A check's outcome was not what the test asserted; the message holds the interleaving.</summary>
public sealed class KmcTestException(string message, CheckRun run) : Exception(message)
{
    public CheckRun Run { get; } = run;
}
