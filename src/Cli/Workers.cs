using System.Diagnostics;
using System.Text.Json;
using Kmc.Checks.Framework;

namespace Kmc.Cli;

/// <summary>One check, variant and its settings, as a worker process receives it.</summary>
public sealed record WorkerCase(string Check, string Variant, RunSettings Settings);

/// <summary>What a worker process is asked to do.</summary>
public sealed record WorkerJob(IReadOnlyList<WorkerCase> Cases, bool WriteReports);

/// <summary>
/// Local worker processes: each runs its cases with `kmc worker JOB OUT` and writes their rows
/// as a summary file, which the parent merges like the summaries of CI shards.
/// </summary>
public static class Workers
{
    public static int Default => Environment.ProcessorCount;

    public static IReadOnlyList<SuiteRow> Run(IReadOnlyList<WorkerJob> jobs)
    {
        var dir = Directory.CreateTempSubdirectory("kmc-workers").FullName;
        try
        {
            var processes = new List<(Process Process, string Out, Task<string> Err)>();
            for (var i = 0; i < jobs.Count; i++)
            {
                var job = Path.Combine(dir, $"job{i}.json");
                var output = Path.Combine(dir, $"rows{i}.json");
                File.WriteAllText(job, JsonSerializer.Serialize(jobs[i], SummaryFile.Json));
                var p = Process.Start(StartInfo(job, output)) ?? throw new InvalidOperationException("could not start a worker process");
                processes.Add((p, output, p.StandardError.ReadToEndAsync()));
            }

            var rows = new List<SuiteRow>();
            foreach (var (p, output, err) in processes)
            {
                p.WaitForExit();
                var stderr = err.Result.Trim();
                if (p.ExitCode == 2)
                    throw new KmcInputException(stderr.Replace("kmc: ", ""));
                if (p.ExitCode != 0 || !File.Exists(output))
                    throw new InvalidOperationException($"a worker process failed (exit {p.ExitCode}): {stderr}");
                rows.AddRange(Suite.ReadSummary(output).Rows);
            }

            return rows;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The worker side: run the job's cases and write their rows.</summary>
    public static int Serve(string jobPath, string outPath)
    {
        WorkerJob? job;
        try
        {
            job = JsonSerializer.Deserialize<WorkerJob>(File.ReadAllText(jobPath), SummaryFile.Json);
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            throw new KmcInputException($"{jobPath}: not a worker job ({e.Message.Split('\n')[0]})");
        }

        var watch = Stopwatch.StartNew();
        var rows = new List<SuiteRow>();
        foreach (var c in job!.Cases)
        {
            var check = CheckRegistry.Get(c.Check);
            rows.Add(Suite.RunCase(check, check.GetVariant(c.Variant), c.Settings.Validate("worker job"), job.WriteReports));
        }

        Suite.WriteSummaryJson(outPath, rows, watch.Elapsed);
        return 0;
    }

    /// <summary>The same kmc, started the way this one was (the dotnet host with kmc.dll, or the apphost).</summary>
    private static ProcessStartInfo StartInfo(string job, string output)
    {
        var host = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(host) { RedirectStandardError = true, RedirectStandardOutput = false, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            psi.ArgumentList.Add(typeof(Workers).Assembly.Location);
        psi.ArgumentList.Add("worker");
        psi.ArgumentList.Add(job);
        psi.ArgumentList.Add(output);
        return psi;
    }
}
