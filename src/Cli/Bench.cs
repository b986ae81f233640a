using System.Diagnostics;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Microsoft.Coyote;
using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using static Kmc.Models.Kernel;

namespace Kmc.Cli;

/// <summary>
/// Throughput of the two drivers on a fixed workload (each task passes 20 scheduling points),
/// next to raw Coyote (the same threads calling Operation.ScheduleNext() directly).
/// Ratios, not absolute numbers, are what to compare across machines.
/// </summary>
public static class Bench
{
    public const int PointsPerTask = 20;

    /// <summary>
    /// The native explorer's targets on this workload (issue 14): bytes allocated per step (what
    /// one search's executions do not recycle: the workload's own tasks and locations) and
    /// scheduling decisions per second.
    /// </summary>
    public const double TargetBytesPerStep = 30;

    public const double TargetDecisionsPerSec = 5_000_000;

    public static Scenario Workload(int tasks) => new(tasks, ex =>
    {
        var shared = new Loc<int>("shared");
        for (var i = 0; i < tasks; i++)
        {
            var own = new Loc<int>($"own{i}");
            ex.Spawn($"T{i}", i, async () =>
            {
                for (var k = 0; k < PointsPerTask / 2; k++)
                {
                    var v = await ReadOnce(shared);
                    await WriteOnce(k % 2 == 0 ? own : shared, v + 1);
                }
            });
        }
    });

    public static void Run(TextWriter o)
    {
        o.WriteLine("workload: N tasks x 20 scheduling points (READ_ONCE/WRITE_ONCE), random strategy");
        o.WriteLine($"{"tasks",5} {"driver",-12} {"schedules/s",12} {"points/s",12} {"decisions/s",12} {"B/step",8}");
        foreach (var tasks in new[] { 2, 4 })
        {
            var ceiling = Ceiling(tasks, 100_000);
            var native = Measure(new NativeExplorer(), Workload(tasks), 100_000);
            var coyote = Measure(new CoyoteExplorer(), Workload(tasks), 100);
            var raw = RawCoyote(tasks, 100);
            Print(o, tasks, "ceiling", ceiling);
            Print(o, tasks, "native", native);
            Print(o, tasks, "coyote", coyote);
            Print(o, tasks, "raw coyote", raw);
            o.WriteLine($"{"",5} ratios: native/ceiling {native.DecisionsPerSec / ceiling.DecisionsPerSec:F2} decisions/s, " +
                        $"{native.BytesPerStep / Math.Max(1, ceiling.BytesPerStep):F1}x B/step; " +
                        $"native/coyote {native.SchedulesPerSec / coyote.SchedulesPerSec:F0}x schedules, " +
                        $"{native.PointsPerSec / coyote.PointsPerSec:F0}x points; coyote driver/raw coyote {coyote.SchedulesPerSec / raw.SchedulesPerSec:F2}");
            o.WriteLine($"{"",5} targets: native {native.BytesPerStep:F1} B/step (<= {TargetBytesPerStep:F0}: {Met(native.BytesPerStep <= TargetBytesPerStep)}), " +
                        $"{native.DecisionsPerSec / 1e6:F2}M decisions/s (>= {TargetDecisionsPerSec / 1e6:F0}M: {Met(native.DecisionsPerSec >= TargetDecisionsPerSec)})");
        }
    }

    private static string Met(bool met) => met ? "met" : "missed";

    private static void Print(TextWriter o, int tasks, string driver, Throughput t) =>
        o.WriteLine($"{tasks,5} {driver,-12} {t.SchedulesPerSec,12:F0} {t.PointsPerSec,12:F0} " +
                    $"{(double.IsNaN(t.DecisionsPerSec) ? "-" : t.DecisionsPerSec.ToString("F0")),12} " +
                    $"{(double.IsNaN(t.BytesPerStep) ? "-" : t.BytesPerStep.ToString("F1")),8}");

    /// <param name="DecisionsPerSec">scheduling decisions among two or more runnable tasks (NaN: not counted by this driver)</param>
    /// <param name="BytesPerStep">bytes allocated on the exploring thread per scheduling point (NaN: the driver runs tasks on other threads)</param>
    public sealed record Throughput(double SchedulesPerSec, double PointsPerSec, double DecisionsPerSec = double.NaN, double BytesPerStep = double.NaN);

    public static Throughput Measure(IExplorer explorer, Scenario scenario, int iterations)
    {
        var options = new ExploreOptions { Strategy = "random", Iterations = iterations, Seed = 7, MaxSteps = 10_000 };
        // Warm up until the JIT has settled (tiered compilation promotes hot code after a while).
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1.5)
            explorer.Explore(scenario, options with { Iterations = Math.Max(1, iterations / 10) });
        return Best(() =>
        {
            var bytes = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            var r = explorer.Explore(scenario, options);
            var s = watch.Elapsed.TotalSeconds;
            bytes = GC.GetAllocatedBytesForCurrentThread() - bytes;
            if (r.Failure != null)
                throw new InvalidOperationException($"bench workload failed: {r.Failure}");
            // Coyote runs every task on a thread of its own: this thread's allocations are not the steps'.
            return explorer is NativeExplorer
                ? new Throughput(r.Executions / s, r.Steps / s, r.Decisions / s, (double)bytes / r.Steps)
                : new Throughput(r.Executions / s, r.Steps / s);
        });
    }

    /// <summary>
    /// The fastest of three runs: on a shared machine other work only ever slows a run down, so
    /// the best one is the closest to what the code itself costs.
    /// </summary>
    private static Throughput Best(Func<Throughput> run) =>
        Enumerable.Range(0, 3).Select(_ => run()).MaxBy(t => t.PointsPerSec)!;

    /// <summary>The bare coroutine ring (<see cref="CoroutineRing"/>) with the workload's shape: its start point and 20 more per task.</summary>
    public static Throughput Ceiling(int tasks, int iterations)
    {
        var ring = new CoroutineRing(tasks, PointsPerTask + 1);
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1.0)
            ring.Run(iterations / 10, 7);
        return Best(() =>
        {
            var bytes = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            var (decisions, steps) = ring.Run(iterations, 7);
            var s = watch.Elapsed.TotalSeconds;
            bytes = GC.GetAllocatedBytesForCurrentThread() - bytes;
            return new Throughput(iterations / s, steps / s, decisions / s, (double)bytes / steps);
        });
    }

    /// <summary>The same shape written straight against Coyote's Operation API, with no kmc layer.</summary>
    public static Throughput RawCoyote(int tasks, int iterations)
    {
        Throughput Once(int n)
        {
            var config = Configuration.Create().WithTestingIterations((uint)n).WithRandomStrategy().WithRandomGeneratorSeed(7)
                .WithTelemetryEnabled(false).WithConsoleLoggingEnabled(false);
            var threads = new List<Thread>();
            using var engine = TestingEngine.Create(config, () =>
            {
                var ids = new List<ulong>();
                for (var i = 0; i < tasks; i++)
                {
                    var id = Operation.CreateNext()!.Value;
                    ids.Add(id);
                    var t = new Thread(() =>
                    {
                        try
                        {
                            Operation.OnStarted(id);
                            for (var k = 0; k < PointsPerTask; k++)
                                Operation.ScheduleNext();
                        }
                        catch (Exception)
                        {
                        }
                        finally
                        {
                            try
                            {
                                Operation.OnCompleted();
                                Operation.ScheduleNext();
                            }
                            catch (Exception)
                            {
                            }
                        }
                    }) { IsBackground = true };
                    threads.Add(t);
                    Operation.Start(id);
                    t.Start();
                    Operation.ScheduleNext();
                }

                foreach (var id in ids)
                    Operation.PauseUntilCompleted(id);
            });
            engine.SetLogger(new Microsoft.Coyote.Logging.TextWriterLogger(TextWriter.Null, Microsoft.Coyote.Logging.VerbosityLevel.None));
            var watch = Stopwatch.StartNew();
            engine.Run();
            var s = watch.Elapsed.TotalSeconds;
            foreach (var t in threads)
                t.Join();
            var r = engine.TestReport;
            var steps = (double)r.TotalExploredFairSteps + r.TotalExploredUnfairSteps;
            return new Throughput(n / s, steps / s);
        }

        Once(Math.Max(1, iterations / 10));
        return Once(iterations);
    }
}
