using System.Diagnostics;
using Kmc.Checks.Framework;

namespace Kmc.Tests;

/// <summary>
/// Stopping kmc at any moment: a real kmc process running with worker processes gets SIGINT,
/// SIGTERM or SIGKILL at several moments of its run. Afterwards no worker may still run, no
/// temp or partial file may be under reports/ (for SIGKILL: once the next run has started,
/// since a killed process cleans nothing), and the next run must work.
/// </summary>
public class InterruptionTests
{
    private static readonly string Kmc = Path.Combine(AppContext.BaseDirectory, "kmc.dll");

    private const int SigInt = 2, SigKill = 9, SigTerm = 15;

    /// <summary>A folder like a checkout: the repository's config, so ci judges against the real expectations.</summary>
    private static string Workspace()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-signal").FullName;
        File.Copy(Path.Combine(TestPaths.InRepo("reports"), "..", "coyote.runtimeconfig.json"), Path.Combine(dir, "coyote.runtimeconfig.json"));
        return dir;
    }

    private static Process Start(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        psi.ArgumentList.Add(Kmc);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>kill(1): .NET has no API to send a signal other than SIGKILL.</summary>
    private static string Signal(int pid, int signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString()]) { RedirectStandardError = true })!;
        var err = kill.StandardError.ReadToEnd();
        kill.WaitForExit();
        return kill.ExitCode == 0 ? "" : $"kill -{signal} {pid}: {err.Trim()}";
    }

    /// <summary>Processes whose parent is <paramref name="pid"/> (Linux /proc).</summary>
    private static List<int> Children(int pid) =>
        Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(n => n!.All(char.IsDigit)).Select(int.Parse!)
            .Where(p => Stat(p) is { } s && s.PPid == pid).ToList();

    private static (char State, int PPid)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var rest = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            return (rest[0][0], int.Parse(rest[1]));
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Running, not a zombie waiting for a parent to reap it.</summary>
    private static bool Running(int pid) => Stat(pid) is { State: not 'Z' and not 'X' };

    private static List<string> Temps(string dir) =>
        Directory.Exists(Path.Combine(dir, "reports"))
            ? Directory.EnumerateFileSystemEntries(Path.Combine(dir, "reports"), "*", SearchOption.AllDirectories)
                .Where(e => Path.GetFileName(e).Contains(".tmp-", StringComparison.Ordinal)).ToList()
            : [];

    /// <summary>SIGINT ignored by this process (a test run started in the background) is ignored by its children too.</summary>
    private static bool SigIntIgnored() =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal)) is { } line
        && (Convert.ToUInt64(line[7..].Trim(), 16) & (1UL << (SigInt - 1))) != 0;

    /// <summary>
    /// Signal, command, and when: -1 is during start-up (0.3 s in, before any worker), 0 as soon
    /// as the workers exist, and later values that many milliseconds after (mid-search, with
    /// reports being written by ci's workers).
    /// </summary>
    public static TheoryData<int, string, int> Moments => new()
    {
        { SigInt, "ci", -1 }, { SigInt, "ci", 0 }, { SigInt, "ci", 3000 }, { SigInt, "run", 1000 },
        { SigTerm, "ci", 0 }, { SigTerm, "ci", 1500 }, { SigTerm, "run", 500 },
        { SigKill, "ci", 0 }, { SigKill, "ci", 2000 }, { SigKill, "run", 1000 },
    };

    /// <summary>Signals kmc at the moment and checks what it leaves.</summary>
    private static void Stop(Process p, Task<string> stderr, string[] args, int signal, int moment, string dir)
    {
        var workers = new HashSet<int>();
        var watch = Stopwatch.StartNew();
        if (moment < 0)
        {
            Thread.Sleep(300);
        }
        else
        {
            while (workers.Count == 0 && watch.Elapsed < TimeSpan.FromSeconds(60) && !p.HasExited)
            {
                workers.UnionWith(Children(p.Id));
                Thread.Sleep(20);
            }

            Assert.True(workers.Count > 0, $"kmc {string.Join(' ', args)} started no worker in 60 s (exited: {p.HasExited})");
            watch.Restart();
            while (watch.ElapsedMilliseconds < moment && !p.HasExited)
            {
                workers.UnionWith(Children(p.Id));
                Thread.Sleep(20);
            }
        }

        Assert.False(p.HasExited, $"kmc {string.Join(' ', args)} ended before the signal: exit {(p.HasExited ? p.ExitCode : 0)}: {(p.HasExited ? stderr.Result : "")}");
        workers.UnionWith(Children(p.Id));
        var sent = Signal(p.Id, signal);
        Assert.True(sent == "", $"{sent} (kmc exited: {p.HasExited}{(p.HasExited ? $", code {p.ExitCode}: {stderr.Result}" : "")})");
        Assert.True(p.WaitForExit(20_000), "kmc did not stop within 20 s of the signal");

        // No orphaned worker: every one ends within 5 s of its parent (on SIGKILL, by noticing it is gone).
        var deadline = Stopwatch.StartNew();
        while (workers.Any(Running) && deadline.ElapsedMilliseconds < 5000)
            Thread.Sleep(50);
        Assert.True(!workers.Any(Running), $"worker(s) {string.Join(", ", workers.Where(Running))} still run after kmc got signal {signal}");

        if (signal != SigKill)
        {
            Assert.True(128 + signal == p.ExitCode, $"exit {p.ExitCode}, expected {128 + signal}; stderr: {stderr.Result}");
            var lines = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            if (moment < 0 && lines.Length == 0)
                Assert.False(Directory.Exists(Path.Combine(dir, "reports")), "stopped before its handlers were in place, yet it had written"); // the default action: nothing written yet, nothing to say
            else
                Assert.StartsWith("kmc: interrupted by", Assert.Single(lines));
            Assert.Empty(Temps(dir));
        }
        else
        {
            // What a kill in the middle of a write leaves: temps named with the killed process's id.
            Directory.CreateDirectory(Path.Combine(dir, "reports", "runs", $".tmp-counter__no-lock-{p.Id}"));
            File.WriteAllText(Path.Combine(dir, "reports", $"summary.json.tmp-{p.Id}"), "{ half");
        }
    }

    /// <summary>A stop reaches the workers too, so one may die in the middle of its progress line: the parent skips the line (the results come from the checked summary file).</summary>
    [Fact]
    public void A_progress_line_cut_short_by_a_stopped_worker_is_skipped()
    {
        var row = Suite.ReadSummary(Path.Combine(TestPaths.InRepo("reports"), "summary.json")).Rows[0];
        var line = System.Text.Json.JsonSerializer.Serialize(row, SummaryFile.Json);
        Assert.Equal(row.Check, global::Kmc.Cli.Workers.ProgressRow(line)?.Check);
        Assert.Null(global::Kmc.Cli.Workers.ProgressRow(line[..(line.Length / 2)]));
    }

    [Theory]
    [MemberData(nameof(Moments))]
    public void StoppedAtAnyMomentLeavesNoWorkerNoTempAndTheNextRunWorks(int signal, string command, int moment)
    {
        if (!OperatingSystem.IsLinux())
            return;
        if (signal == SigInt && SigIntIgnored())
            signal = SigTerm; // the child could not be interrupted by SIGINT at all; SIGTERM takes the same path
        var dir = Workspace();
        string[] args = command == "ci"
            ? ["ci", "--quick", "--workers", "2"]
            : ["run", "counter", "--workers", "2", "--iterations", "100000000", "--no-minimize"];
        using var p = Start(dir, args);
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        try
        {
            Stop(p, stderr, args, signal, moment, dir);
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true); // a failed assertion must not leave kmc running
        }

        // Summary files that exist are whole.
        foreach (var summary in Directory.Exists(Path.Combine(dir, "reports")) ? Directory.GetFiles(Path.Combine(dir, "reports"), "summary*.json") : [])
            Suite.ReadSummary(summary);

        // The next run works, and sweeps what a killed one left.
        using var next = Start(dir, "ci", "--quick", "--workers", "2", "--check", "counter");
        var nextErr = next.StandardError.ReadToEndAsync();
        var nextOut = next.StandardOutput.ReadToEndAsync();
        Assert.True(next.WaitForExit(120_000), "the next run did not end");
        Assert.True(next.ExitCode == 0, $"the next run: exit {next.ExitCode}: {nextErr.Result} {nextOut.Result}");
        Assert.Empty(Temps(dir));
        Assert.Empty(Directory.EnumerateDirectories(Path.GetTempPath(), $"kmc-workers-{p.Id}-*"));
    }
}
