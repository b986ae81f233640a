using System.Diagnostics;
using System.Text.Json;
using Kmc.Checks.Framework;

namespace Kmc.Cli;

/// <summary>One check, variant and its settings, as a worker process receives it.</summary>
public sealed record WorkerCase(string Check, string Variant, RunSettings Settings);

/// <summary>What a worker process is asked to do.</summary>
public sealed record WorkerJob(IReadOnlyList<WorkerCase> Cases, bool WriteReports) : IValidatedInput
{
    internal static readonly JsonSerializerOptions Read = InputFiles.Strict(SummaryFile.Json);

    public void Validate(InputPath at) => at["cases"].Each(Cases, (c, p) =>
    {
        p.NonEmpty(c.Check, "check");
        p.NonEmpty(c.Variant, "variant");
        p["settings"].Present(c.Settings).Validate(p["settings"].ToString());
    });
}

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

    /// <summary>Worker processes per core at most: past a few, extra processes only wait for a core and cost memory.</summary>
    public const int PerCore = 4;

    public static int Max => PerCore * Environment.ProcessorCount;

    /// <summary>The worker processes running now, for <see cref="Interruption"/> to stop with their parent.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, Process> s_running = new();

    /// <summary>The temp folders of running <see cref="Run"/> calls, removed when they end or the process is stopped.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> s_folders = new();

    private const string FolderPrefix = "kmc-workers-";

    public static IReadOnlyList<SuiteRow> Run(IReadOnlyList<WorkerJob> jobs, Action<SuiteRow>? caseDone = null)
    {
        SweepStaleFolders();
        var dir = Path.Combine(Path.GetTempPath(), $"{FolderPrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        s_folders[dir] = 0;
        var processes = new List<(Process Process, string Out, Task<string> Err)>();
        try
        {
            for (var i = 0; i < jobs.Count; i++)
            {
                var job = Path.Combine(dir, $"job{i}.json");
                var output = Path.Combine(dir, $"rows{i}.json");
                File.WriteAllText(job, JsonSerializer.Serialize(jobs[i], SummaryFile.Json));
                var p = new Process { StartInfo = StartInfo(job, output) };
                p.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is { } line && line.StartsWith(RowPrefix, StringComparison.Ordinal) && caseDone != null
                        && ProgressRow(line[RowPrefix.Length..]) is { } row)
                        caseDone(row);
                };
                if (!p.Start())
                    throw new InvalidOperationException("could not start a worker process");
                s_running[p.Id] = p;
                // A stop that came while this worker started did not see it: stop it here.
                if (Interruption.Stopping)
                    Stop(p);
                p.BeginOutputReadLine();
                processes.Add((p, output, p.StandardError.ReadToEndAsync()));
            }

            var rows = new List<SuiteRow>();
            foreach (var (p, output, err) in processes)
            {
                p.WaitForExit();
                if (Interruption.Stopping)
                    Thread.Sleep(Timeout.Infinite); // the signal handler killed it and is ending the process
                if (p.ExitCode > 128)
                    Interruption.Stop($"a worker process was stopped by signal {p.ExitCode - 128}", p.ExitCode); // Ctrl-C reaches the whole process group
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
            // On an error in one worker, the others have nothing left to do.
            foreach (var (p, _, _) in processes)
            {
                Stop(p);
                s_running.TryRemove(p.Id, out _);
                p.Dispose();
            }

            DeleteFolder(dir);
        }
    }

    /// <summary>
    /// A worker's progress line, or null when it is cut short: a stop signal reaches the whole
    /// process group, so a worker may die in the middle of writing it. The line only shows
    /// progress; the results are read from the worker's summary file, which is checked.
    /// </summary>
    public static SuiteRow? ProgressRow(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<SuiteRow>(json, s_line);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Kills every running worker and waits for it, then removes the temp folders: a stopped kmc leaves no worker behind.</summary>
    public static void StopAll()
    {
        foreach (var p in s_running.Values)
            Stop(p);
        foreach (var dir in s_folders.Keys)
            DeleteFolder(dir);
    }

    private static void Stop(Process p)
    {
        try
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private static void DeleteFolder(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
                Directory.Delete(dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A worker still closing a file; the next run's sweep removes it.
        }

        s_folders.TryRemove(dir, out _);
    }

    /// <summary>Temp folders of kmc processes killed outright (SIGKILL): their process id is in the name.</summary>
    private static void SweepStaleFolders()
    {
        try
        {
            foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), FolderPrefix + "*"))
            {
                var rest = Path.GetFileName(dir)[FolderPrefix.Length..];
                var dash = rest.IndexOf('-');
                if (dash > 0 && int.TryParse(rest[..dash], out var pid) && pid != Environment.ProcessId && !TempFiles.IsAlive(pid))
                    DeleteFolder(dir);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The temp folder is not ours to list; nothing of ours to sweep then.
        }
    }

    /// <summary>The worker side: run the job's cases and write their rows; ends when the parent does.</summary>
    public static int Serve(string jobPath, string outPath)
    {
        WatchParent();
        var job = InputFiles.ReadJson<WorkerJob>(jobPath, "worker job", WorkerJob.Read);
        var watch = Stopwatch.StartNew();
        var rows = new List<SuiteRow>();
        foreach (var c in job.Cases)
        {
            var check = CheckRegistry.Get(c.Check);
            var row = Suite.RunCase(check, check.GetVariant(c.Variant), c.Settings, job.WriteReports);
            rows.Add(row);
            Console.Out.WriteLine(RowPrefix + JsonSerializer.Serialize(row, s_line));
            Console.Out.Flush();
        }

        Suite.WriteSummaryJson(outPath, rows, watch.Elapsed);
        return 0;
    }

    /// <summary>
    /// The parent holds the write end of this worker's standard input and never writes: end of
    /// input means the parent is gone, even killed outright, and the worker stops with it
    /// instead of running on as an orphan.
    /// </summary>
    private static void WatchParent()
    {
        var thread = new Thread(() =>
        {
            try
            {
                using var stdin = Console.OpenStandardInput();
                var buffer = new byte[64];
                while (stdin.Read(buffer, 0, buffer.Length) > 0)
                {
                }
            }
            catch (IOException)
            {
            }

            Interruption.Stop("its parent kmc ended", 1);
        }) { IsBackground = true, Name = "kmc parent watch" };
        thread.Start();
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
        var psi = new ProcessStartInfo(host) { RedirectStandardError = true, RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        if (!apphost)
            psi.ArgumentList.Add(typeof(Workers).Assembly.Location);
        psi.ArgumentList.Add("worker");
        psi.ArgumentList.Add(job);
        psi.ArgumentList.Add(output);
        foreach (var path in KmcAssemblies.AddedFiles)
        {
            psi.ArgumentList.Add("--assembly");
            psi.ArgumentList.Add(path);
        }

        return psi;
    }
}
