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
/// <remarks>
/// What a worker costs, measured on this project's 2-core machine under load (15 runnable
/// tasks): 0.6 s to start the runtime and parse the command line (an empty job), 0.35 s more to
/// build the check registry and JIT the model code for its first execution; a 2000-execution
/// osq search takes 1.0 s of CPU. So by default kmc works in its own process first
/// (<see cref="InProcessSeconds"/>) and hands the rest to workers only when the rest would
/// still take several times a worker's start (<see cref="WorthSplitting"/>) and cores are idle.
/// </remarks>
public static class Workers
{
    /// <summary>How long a search or suite runs in kmc's own process before the rest may go to workers.</summary>
    public const double InProcessSeconds = 1.0;

    /// <summary>A worker's fixed cost (process start, registry, JIT), measured as above.</summary>
    public const double StartSeconds = 1.0;

    /// <summary>
    /// Workers for the default: the cores not already busy (Linux: the load average of the last
    /// minute), at least 1. Which cores run which part never changes a result: native searches
    /// split into exact execution ranges and suite cases run whole.
    /// </summary>
    public static int Default => Math.Max(1, Environment.ProcessorCount - Busy());

    private static int Busy()
    {
        try
        {
            var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : null;
            return load != null && double.TryParse(load, System.Globalization.CultureInfo.InvariantCulture, out var l) ? (int)Math.Round(l) : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>Whether work estimated at <paramref name="remainingSeconds"/> in one process finishes sooner on <paramref name="workers"/> workers.</summary>
    public static bool WorthSplitting(double remainingSeconds, int workers) =>
        workers > 1 && StartSeconds + remainingSeconds / workers < remainingSeconds / 1.5;

    /// <summary>A worker's line on stdout for each finished case, so the parent can show progress.</summary>
    public const string RowPrefix = "kmc-row ";

    private static readonly JsonSerializerOptions s_line = new(SummaryFile.Json) { WriteIndented = false };

    public static IReadOnlyList<SuiteRow> Run(IReadOnlyList<WorkerJob> jobs, Action<SuiteRow>? caseDone = null)
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
                var p = new Process { StartInfo = StartInfo(job, output) };
                p.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is { } line && line.StartsWith(RowPrefix, StringComparison.Ordinal) && caseDone != null
                        && JsonSerializer.Deserialize<SuiteRow>(line[RowPrefix.Length..], s_line) is { } row)
                        caseDone(row);
                };
                if (!p.Start())
                    throw new InvalidOperationException("could not start a worker process");
                p.BeginOutputReadLine();
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
            var row = Suite.RunCase(check, check.GetVariant(c.Variant), c.Settings.Validate("worker job"), job.WriteReports);
            rows.Add(row);
            Console.Out.WriteLine(RowPrefix + JsonSerializer.Serialize(row, s_line));
            Console.Out.Flush();
        }

        Suite.WriteSummaryJson(outPath, rows, watch.Elapsed);
        return 0;
    }

    /// <summary>
    /// The same kmc: its apphost when this process is one, else the dotnet host with kmc.dll
    /// (also when kmc runs inside another program, such as a test host).
    /// </summary>
    private static ProcessStartInfo StartInfo(string job, string output)
    {
        var host = Environment.ProcessPath!;
        var apphost = System.Reflection.Assembly.GetEntryAssembly() == typeof(Workers).Assembly && Path.GetFileNameWithoutExtension(host) != "dotnet";
        if (!apphost && Path.GetFileNameWithoutExtension(host) != "dotnet")
            host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } dotnet ? dotnet : "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (!apphost)
            psi.ArgumentList.Add(typeof(Workers).Assembly.Location);
        psi.ArgumentList.Add("worker");
        psi.ArgumentList.Add(job);
        psi.ArgumentList.Add(output);
        return psi;
    }
}
