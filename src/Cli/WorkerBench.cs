using System.Diagnostics;
using System.Text.Json;
using Kmc.Checks.Framework;

namespace Kmc.Cli;

/// <summary>
/// kmc bench --workers: where a worker process's time goes (runtime start, check registry and
/// JIT, the search itself) and what the default worker choice costs against one worker and
/// against every core, on a small and a larger search and a small suite. Each command runs as
/// a child kmc, as a user runs it; the ratios are what to compare across machines.
/// </summary>
public static class WorkerBench
{
    public static void Run(TextWriter o, int repeats = 1)
    {
        var dir = Directory.CreateTempSubdirectory("kmc-bench-workers").FullName;
        try
        {
            var empty = Path.Combine(dir, "empty.json");
            File.WriteAllText(empty, JsonSerializer.Serialize(new WorkerJob([], false), SummaryFile.Json));
            var one = Path.Combine(dir, "one.json");
            File.WriteAllText(one, JsonSerializer.Serialize(new WorkerJob([new WorkerCase("osq", "fixed", new RunSettings { Iterations = 1 })], false), SummaryFile.Json));
            var start = Best(dir, repeats, "worker", empty, Path.Combine(dir, "out.json"));
            var first = Best(dir, repeats, "worker", one, Path.Combine(dir, "out.json"));
            o.WriteLine($"cores {Environment.ProcessorCount}, load average {LoadAverage()}; default workers now: {Workers.Default}");
            o.WriteLine($"a worker's fixed cost: {start:F2} s to start (an empty job), {first - start:F2} s more for the check registry, JIT and one osq execution");
            o.WriteLine($"{"command",-44} {"1 worker",9} {"default",9} {$"{Environment.ProcessorCount} workers",10} {"default/1",10} {"all/1",7}");
            foreach (var args in new[]
                     {
                         new[] { "run", "osq" },
                         ["run", "osq", "--iterations", "20000"],
                         ["ci", "--quick", "--check", "osq", "--out", dir],
                     })
            {
                var single = Best(dir, repeats, [.. args, "--workers", "1"]);
                var deflt = Best(dir, repeats, args);
                var all = Best(dir, repeats, [.. args, "--workers", Environment.ProcessorCount.ToString()]);
                o.WriteLine($"{string.Join(' ', args.TakeWhile(a => a != "--out")),-44} {single,8:F2}s {deflt,8:F2}s {all,9:F2}s {deflt / single,9:F2}x {all / single,6:F2}x");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";

    /// <summary>The fastest of <paramref name="repeats"/> runs of `kmc ARGS` (wall seconds): the least disturbed by other load.</summary>
    private static double Best(string dir, int repeats, params string[] args) =>
        Enumerable.Range(0, repeats).Min(_ => Time(dir, args));

    private static double Time(string dir, string[] args)
    {
        var host = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
            psi.ArgumentList.Add(typeof(WorkerBench).Assembly.Location);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        var seconds = watch.Elapsed.TotalSeconds;
        if (p.ExitCode is not (0 or 1))
            throw new InvalidOperationException($"kmc {string.Join(' ', args)} failed (exit {p.ExitCode}): {err.Result.Trim()}");
        return seconds;
    }
}
