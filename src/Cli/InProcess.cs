using Spectre.Console;

namespace Kmc.Cli;

/// <summary>What one in-process kmc command printed and returned.</summary>
public sealed record InProcessRun(int Code, string Out, string Err);

/// <summary>
/// Runs kmc's <see cref="Entry"/> inside this process with its output captured: thousands of
/// fuzz cases cost milliseconds each instead of a process start. Console output is
/// process-wide, so callers hold <see cref="Console"/> around their runs (one at a time).
/// </summary>
public static class InProcess
{
    public static readonly object Console = new();

    /// <summary>
    /// The exit code and output; an exception out of the entry (a crash in a real process)
    /// propagates; a run past <paramref name="bound"/> throws <see cref="TimeoutException"/> and
    /// goes on in the background (the caller should stop then).
    /// </summary>
    public static InProcessRun Run(string[] args, TimeSpan bound)
    {
        lock (Console)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            var (oldOut, oldErr, oldAnsi) = (System.Console.Out, System.Console.Error, AnsiConsole.Console);
            System.Console.SetOut(TextWriter.Synchronized(stdout));
            System.Console.SetError(TextWriter.Synchronized(stderr));
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No, ColorSystem = ColorSystemSupport.NoColors,
            });
            var run = Task.Factory.StartNew(() => Entry.Run(args), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            bool done;
            try
            {
                done = run.Wait(bound);
            }
            catch (AggregateException e) when (e.InnerException != null)
            {
                Restore();
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
                throw;
            }

            Restore();
            if (!done)
                throw new TimeoutException($"kmc {string.Join(' ', args)} still running after {bound.TotalSeconds} s");
            return new InProcessRun(run.Result, stdout.ToString(), stderr.ToString());

            void Restore()
            {
                System.Console.SetOut(oldOut);
                System.Console.SetError(oldErr);
                AnsiConsole.Console = oldAnsi;
            }
        }
    }
}
