namespace Kmc.Checks.Framework;

/// <summary>The verdict of replaying one saved trace.</summary>
public sealed record RegressionResult(string File, string Check, string Variant, bool StillFails, string OnFixed, string? Problem)
{
    public bool Ok => Problem == null;
}

/// <summary>
/// reports/regressions/: one trace per known bug, named by check and variant. Each must still
/// fail on its buggy variant and must not fail on the fixed one.
/// </summary>
public static class RegressionCorpus
{
    /// <summary>Replays every trace of the corpus, as the suite summary records them.</summary>
    public static List<RegressionRow> CheckAll() =>
        Files().Select(Check).Select(r => new RegressionRow(Path.GetFileName(r.File), r.Ok, r.Problem, r.OnFixed)).ToList();

    public static string Dir(string? reportsRoot = null) => Path.Combine(reportsRoot ?? ReportWriter.ReportsRoot(), "regressions");

    public static string FileName(TraceFile t) => $"{t.Check}__{t.Variant}.json";

    public static IReadOnlyList<string> Files(string? dir = null)
    {
        dir ??= Dir();
        return Directory.Exists(dir) ? Directory.GetFiles(dir, "*.json").OrderBy(f => f, StringComparer.Ordinal).ToList() : [];
    }

    /// <summary>Adds a trace after checking that it replays to its failure on this code.</summary>
    public static string Add(string tracePath, string? dir = null)
    {
        var t = TraceFile.Load(tracePath);
        var outcome = TraceReplayer.Replay(t);
        if (!outcome.Reproduced)
            throw new KmcInputException($"{tracePath}: does not reproduce its failure, so it is not a regression trace");
        dir ??= Dir();
        Directory.CreateDirectory(dir);
        var dest = Path.Combine(dir, FileName(t));
        Suite.WriteAtomically(dest, t.ToJson());
        return dest;
    }

    public static RegressionResult Check(string path)
    {
        TraceFile t;
        try
        {
            t = TraceFile.Load(path);
        }
        catch (KmcInputException e)
        {
            return new RegressionResult(path, "?", "?", false, "", e.Message);
        }

        try
        {
            var own = TraceReplayer.Replay(t);
            var check = CheckRegistry.Get(t.Check);
            var fixedVariant = check.Variants[0];
            var fixedReplay = fixedVariant.Name == t.Variant ? null : TraceReplayer.Replay(t, fixedVariant.Name);
            var onFixed = fixedReplay?.Summary ?? "(trace is on the fixed variant)";
            // A fixed variant declared to fail under the trace's model (a finding in the kernel code,
            // such as the closures' s->done data race) may fail on the trace's schedule too.
            var fixedFails = (fixedReplay?.Reproduced ?? false) && !fixedVariant.ExpectedUnder(t.Options.MemoryModel).BugExpected;
            var problem = !own.Reproduced ? "no longer fails on its variant"
                : fixedFails ? $"fails on the fixed variant '{fixedVariant.Name}' too"
                : null;
            return new RegressionResult(path, t.Check, t.Variant, own.Reproduced, onFixed, problem);
        }
        catch (KmcInputException e)
        {
            return new RegressionResult(path, t.Check, t.Variant, false, "", e.Message);
        }
    }

    /// <summary>
    /// Re-records traces whose model code changed: the same check, variant, driver, strategy and
    /// seed are explored again. A bug that is no longer found is an error, never a silent drop.
    /// </summary>
    public static IReadOnlyList<string> Refresh(string? dir = null)
    {
        var lines = new List<string>();
        foreach (var path in Files(dir))
        {
            var t = TraceFile.Load(path);
            var check = CheckRegistry.Get(t.Check);
            if (ModelHash.Of(check) == t.ModelHash)
            {
                lines.Add($"{Path.GetFileName(path)}: up to date");
                continue;
            }

            var settings = t.Settings();
            var run = CheckRunner.Run(check, check.GetVariant(t.Variant), settings);
            if (run.Trace == null)
                throw new KmcInputException($"{path}: the model changed and {t.Check}/{t.Variant} is no longer found with seed {t.Seed} in {t.Options.Iterations} executions");
            Suite.WriteAtomically(path, run.Trace.ToJson());
            lines.Add($"{Path.GetFileName(path)}: re-recorded ({run.Trace.Steps.Count} steps, execution {run.Trace.FailingExecution})");
        }

        return lines;
    }
}
