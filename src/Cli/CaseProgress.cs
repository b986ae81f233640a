using Kmc.Checks.Framework;

namespace Kmc.Cli;

/// <summary>
/// "[done/total]" lines as suite cases finish, here or on workers: plain lines, so a CI log
/// shows the suite's progress as it goes, not only the table at the end.
/// </summary>
public sealed class CaseProgress(int total)
{
    private readonly object _lock = new();
    private int _done;

    /// <summary>Workers the cases ran on (1: this process only).</summary>
    public int Workers { get; set; } = 1;

    public void Done(SuiteRow row)
    {
        lock (_lock)
        {
            _done++;
            var verdict = row.Matches ? "as expected" : "NOT as expected";
            Console.WriteLine($"[{_done}/{total}] {row.Check}/{row.Variant}: {row.Observed}, {verdict} ({row.Executions} executions, {row.Seconds:F2} s)");
        }
    }
}
