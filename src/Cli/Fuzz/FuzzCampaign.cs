using System.Diagnostics;
using CsCheck;
using Kmc.Checks.Framework;

namespace Kmc.Cli.Fuzz;

/// <summary>One case that broke a promise: the mutated input is kept for a rerun.</summary>
public sealed record FuzzFailure(string Target, string Case, string Problem, string Input, string[] Args);

/// <summary>Per target: cases run, how they ended, what failed.</summary>
public sealed record FuzzTally(string Target, int Cases, int Refused, int Accepted, TimeSpan Elapsed);

public sealed record FuzzReport(IReadOnlyList<FuzzTally> Tallies, IReadOnlyList<FuzzFailure> Failures)
{
    public int Cases => Tallies.Sum(t => t.Cases);
}

/// <summary>
/// Mutates valid seeds of every input format (CsCheck generates the mutations from one PCG
/// stream, so a seed gives the same cases) and runs each through kmc's entry in-process.
/// The promise checked on every case: exit 2 with exactly one "kmc: " line on stderr, or a
/// valid result (the target's other exit codes, at most one stderr line); never a stack trace
/// or an exception out of the entry; no file left in the case's folder or temp under reports/;
/// done within the target's time bound.
/// </summary>
public static class FuzzCampaign
{
    public static FuzzReport Run(int casesPerTarget, ulong seed, IReadOnlyCollection<string>? targets = null, string? keepFailuresIn = null)
    {
        lock (InProcess.Console)
        {
            var work = Directory.CreateTempSubdirectory("kmc-fuzz").FullName;
            var tallies = new List<FuzzTally>();
            var failures = new List<FuzzFailure>();
            try
            {
                var reports = ReportWriter.ReportsRoot();
                foreach (var target in FuzzTargets.All(targets))
                {
                    var watch = Stopwatch.StartNew();
                    var gen = Gen.Select(Gen.Int[0, target.Seeds.Count - 1], Mutations.Generator(target.Json));
                    var pcg = new PCG((uint)(1 + FuzzTargets.Names.ToList().IndexOf(target.Name)), seed); // one stream per target: adding a target moves no other's cases
                    int refused = 0, accepted = 0;
                    for (var i = 0; i < casesPerTarget; i++)
                    {
                        var (seedIndex, mutations) = gen.Generate(pcg, null, out _);
                        var name = $"{target.Name}#{i} seed {seedIndex}: {string.Join(", ", mutations)}";
                        var dir = Path.Combine(work, $"{target.Name}-{i}");
                        Directory.CreateDirectory(dir);
                        var fc = new FuzzCase(Path.Combine(dir, "input" + target.Extension), Path.Combine(dir, "seed" + target.Extension), Path.Combine(dir, "out"), i);
                        var text = Mutations.Apply(target.Seeds[seedIndex], mutations, target.Json);
                        File.WriteAllText(fc.Input, text);
                        File.WriteAllText(fc.Seed, target.Seeds[(seedIndex + 1) % target.Seeds.Count]);
                        var args = target.Args(fc);
                        var problem = Check(target, fc, args, reports, out var code);
                        if (problem != null)
                        {
                            var kept = Keep(keepFailuresIn, target, i, text);
                            failures.Add(new FuzzFailure(target.Name, name, problem, kept ?? text, args));
                            if (problem.StartsWith("hung", StringComparison.Ordinal))
                                return new FuzzReport(tallies, failures); // a case still running holds the console
                        }
                        else if (code == 2)
                        {
                            refused++;
                        }
                        else
                        {
                            accepted++;
                        }

                        Directory.Delete(dir, recursive: true);
                    }

                    tallies.Add(new FuzzTally(target.Name, casesPerTarget, refused, accepted, watch.Elapsed));
                }
            }
            finally
            {
                try
                {
                    Directory.Delete(work, recursive: true);
                }
                catch (IOException)
                {
                    // A hung case still writing: left for the temp cleaner.
                }
            }

            return new FuzzReport(tallies, failures);
        }
    }

    private static string? Keep(string? folder, FuzzTarget target, int i, string text)
    {
        if (folder == null)
            return null;
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{target.Name}-{i}{target.Extension}");
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>Runs one case; null when every promise held, else what broke.</summary>
    private static string? Check(FuzzTarget target, FuzzCase fc, string[] args, string reports, out int code)
    {
        code = -1;
        InProcessRun r;
        try
        {
            r = InProcess.Run(args, target.Bound);
        }
        catch (TimeoutException e)
        {
            return $"hung: {e.Message}";
        }
        catch (Exception e)
        {
            return $"crashed: {e.GetType().Name}: {InputFiles.OneLine(e.Message)} at {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
        }

        code = r.Code;
        var output = r.Out + r.Err;
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (code == 2 && (lines.Length != 1 || !lines[0].StartsWith("kmc: ", StringComparison.Ordinal)))
            return $"exit 2 with {lines.Length} stderr line(s): {Short(r.Err)}";
        if (code != 2 && !target.ValidCodes.Contains(code))
            return $"exit {code}: {Short(r.Err)}";
        if (lines.Length > 1)
            return $"exit {code} with {lines.Length} stderr lines: {Short(r.Err)}";
        if (output.Contains("   at ", StringComparison.Ordinal) || output.Contains("Unhandled exception", StringComparison.Ordinal))
            return $"a stack trace in the output: {Short(output)}";
        if (output.Contains("internal error", StringComparison.Ordinal))
            return $"an internal error reported as a result: {Short(output)}";
        return Leftovers(fc, code, reports);
    }

    /// <summary>The case's folder holds its two inputs and, after a merge that succeeded, a whole summary; reports/ no temp.</summary>
    private static string? Leftovers(FuzzCase fc, int code, string reports)
    {
        var dir = Path.GetDirectoryName(fc.Input)!;
        var extra = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Where(n => n != Path.GetFileName(fc.Input) && n != Path.GetFileName(fc.Seed) && n != "out").ToList();
        if (extra.Count > 0)
            return $"left {string.Join(", ", extra)} in the case folder";
        if (Directory.Exists(fc.OutDir))
        {
            var outFiles = Directory.GetFileSystemEntries(fc.OutDir).Select(Path.GetFileName).OrderBy(n => n, StringComparer.Ordinal).ToList();
            if (code == 2 && outFiles.Count > 0)
                return $"refused (exit 2) but wrote {string.Join(", ", outFiles)}";
            if (code != 2 && !outFiles.SequenceEqual(["summary.json", "summary.md"]))
                return $"merge output is {string.Join(", ", outFiles)}, not summary.json and summary.md";
            if (code != 2)
                Suite.ReadSummary(Path.Combine(fc.OutDir, "summary.json")); // what merge wrote must read back
        }

        var temps = new[] { reports, Path.Combine(reports, "runs") }.Where(Directory.Exists)
            .SelectMany(Directory.EnumerateFileSystemEntries).Where(e => Path.GetFileName(e).Contains(".tmp-", StringComparison.Ordinal)
                                                                       && Path.GetFileName(e).EndsWith($"-{Environment.ProcessId}", StringComparison.Ordinal)).ToList();
        return temps.Count > 0 ? $"left temp {string.Join(", ", temps)}" : null;
    }

    private static string Short(string s)
    {
        var one = s.Replace('\n', ' ').Trim();
        return one.Length <= 300 ? one : one[..300] + "...";
    }
}
