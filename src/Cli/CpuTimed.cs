using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Models.Scheduling;

namespace Kmc.Cli;

/// <summary>
/// One search of a bench row and the CPU time the process spent on it: CPU time rather than wall
/// time, so a loaded machine shifts the searches a row compares alike.
/// </summary>
public static class CpuTimed
{
    public static (ExplorationResult Result, double CpuSeconds) Explore(Check check, Variant variant, RunSettings settings, ExploreOptions options)
    {
        var process = Process.GetCurrentProcess();
        var before = process.TotalProcessorTime;
        var result = new NativeExplorer().Explore(FaultQueries.Build(check, variant, settings), options);
        process.Refresh();
        return (result, (process.TotalProcessorTime - before).TotalSeconds);
    }
}
