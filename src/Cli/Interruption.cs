using System.Runtime.InteropServices;
using Kmc.Checks.Framework;

namespace Kmc.Cli;

/// <summary>
/// Ctrl-C, SIGTERM, SIGHUP and SIGQUIT stop kmc cleanly: the report write in flight finishes
/// (<see cref="TempFiles.Gate"/>), no other starts, worker processes are killed and waited for,
/// and this process's temps are removed before it exits with 128 + the signal number.
/// SIGKILL cannot be caught: the workers notice their parent is gone (<see cref="Workers"/>) and
/// the next kmc sweeps the temps the killed one left.
/// </summary>
public static class Interruption
{
    private static int s_stopping;
    private static readonly List<PosixSignalRegistration> s_registrations = [];

    public static bool Stopping => Volatile.Read(ref s_stopping) != 0;

    /// <summary>Installs the handlers; only the real process does this, not tests calling <see cref="Entry"/> in-process.</summary>
    public static void Register()
    {
        foreach (var (signal, number) in new[] { (PosixSignal.SIGINT, 2), (PosixSignal.SIGTERM, 15), (PosixSignal.SIGHUP, 1), (PosixSignal.SIGQUIT, 3) })
        {
            s_registrations.Add(PosixSignalRegistration.Create(signal, ctx =>
            {
                ctx.Cancel = true;
                Stop($"interrupted by {ctx.Signal}", 128 + number);
            }));
        }
    }

    /// <summary>Stops the process as described above; a second call (a second Ctrl-C) waits for the first.</summary>
    public static void Stop(string why, int exitCode)
    {
        if (Interlocked.Exchange(ref s_stopping, 1) == 1)
            return;
        Monitor.Enter(TempFiles.Gate); // kept until exit: no report write starts after this
        Workers.StopAll();
        TempFiles.Sweep(ReportWriter.ReportsRoot(), includeOwn: true);
        Console.Error.WriteLine($"kmc: {why}; stopped without leaving a partial report");
        Console.Error.Flush();
        Environment.Exit(exitCode);
    }
}
