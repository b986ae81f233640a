using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Kmc.Checks.Framework;

/// <summary>
/// The temporary files and folders kmc writes beside reports before moving them into place
/// (<c>summary.json.tmp-PID</c>, <c>runs/.tmp-NAME-PID</c>), and what becomes of them when a
/// process is stopped. Every such write happens under <see cref="Gate"/>: a signal handler that
/// takes the gate waits for the write in flight to finish and keeps any other from starting,
/// then removes what is left. A process killed outright (SIGKILL) cannot clean up; its temps
/// carry its process id, and the next kmc removes those whose process is gone.
/// </summary>
public static partial class TempFiles
{
    /// <summary>Held while a temporary file or folder exists under reports/.</summary>
    public static readonly object Gate = new();

    /// <summary>The temp name of <paramref name="path"/> for this process.</summary>
    public static string For(string path) => $"{path}.tmp-{Environment.ProcessId}";

    /// <summary>The temp folder name for a report folder, in the same parent (a move within one file system).</summary>
    public static string FolderFor(string parent, string name) => Path.Combine(parent, $".tmp-{name}-{Environment.ProcessId}");

    /// <summary>
    /// Removes the temps under <paramref name="reportsRoot"/> whose process has ended, and this
    /// process's own when <paramref name="includeOwn"/>. Returns how many it removed.
    /// </summary>
    public static int Sweep(string reportsRoot, bool includeOwn = false)
    {
        if (!Directory.Exists(reportsRoot))
            return 0;
        var removed = 0;
        foreach (var dir in new[] { reportsRoot, Path.Combine(reportsRoot, "runs"), Path.Combine(reportsRoot, "regressions") }.Where(Directory.Exists))
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(dir))
            {
                var m = TempName().Match(Path.GetFileName(entry));
                if (!m.Success || !int.TryParse(m.Groups["pid"].Value, out var pid))
                    continue;
                if (pid == Environment.ProcessId ? !includeOwn : IsAlive(pid))
                    continue;
                try
                {
                    if (Directory.Exists(entry))
                        Directory.Delete(entry, recursive: true);
                    else
                        File.Delete(entry);
                    removed++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Another kmc removing the same stale temp, or a read-only checkout: not this run's concern.
                }
            }
        }

        return removed;
    }

    /// <summary>Whether a process id is a running process (a reused id keeps a stale temp a while longer: harmless).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"(^\.tmp-.+-|\.tmp-)(?<pid>\d+)$")]
    private static partial Regex TempName();
}
