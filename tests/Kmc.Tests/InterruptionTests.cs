using System.Diagnostics;
using System.Runtime.InteropServices;
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

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

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

    public static TheoryData<int, int, string> Moments => new()
    {
        { SigInt, 1500, "ci" }, { SigInt, 4000, "ci" }, { SigInt, 2500, "run" },
        { SigTerm, 2000, "ci" }, { SigTerm, 5000, "ci" }, { SigTerm, 3000, "run" },
        { SigKill, 2500, "ci" }, { SigKill, 5000, "ci" }, { SigKill, 3000, "run" },
    };

    [Theory]
    [MemberData(nameof(Moments))]
    public void StoppedAtAnyMomentLeavesNoWorkerNoTempAndTheNextRunWorks(int signal, int afterMs, string command)
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
        var workers = new HashSet<int>();
        var watch = Stopwatch.StartNew();
        while (watch.ElapsedMilliseconds < afterMs && !p.HasExited)
        {
            workers.UnionWith(Children(p.Id));
            Thread.Sleep(50);
        }

        Assert.False(p.HasExited, $"kmc {string.Join(' ', args)} ended before the signal: {stderr.Result}");
        workers.UnionWith(Children(p.Id));
        Assert.NotEmpty(workers);
        Assert.Equal(0, kill(p.Id, signal));
        Assert.True(p.WaitForExit(20_000), "kmc did not stop within 20 s of the signal");

        // No orphaned worker: every one ends within 5 s of its parent (on SIGKILL, by noticing it is gone).
        var deadline = Stopwatch.StartNew();
        while (workers.Any(Running) && deadline.ElapsedMilliseconds < 5000)
            Thread.Sleep(50);
        Assert.True(!workers.Any(Running), $"worker(s) {string.Join(", ", workers.Where(Running))} still run after kmc got signal {signal}");

        if (signal != SigKill)
        {
            Assert.Equal(128 + signal, p.ExitCode);
            var lines = stderr.Result.Trim().Split('\n');
            Assert.Single(lines);
            Assert.StartsWith("kmc: interrupted by", lines[0]);
            Assert.Empty(Temps(dir));
        }
        else
        {
            // What a kill in the middle of a write leaves: temps named with the killed process's id.
            Directory.CreateDirectory(Path.Combine(dir, "reports", "runs", $".tmp-counter__no-lock-{p.Id}"));
            File.WriteAllText(Path.Combine(dir, "reports", $"summary.json.tmp-{p.Id}"), "{ half");
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
