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
        o.WriteLine($"{"tasks",5} {"driver",-12} {"schedules/s",12} {"points/s",12}");
        foreach (var tasks in new[] { 2, 4 })
        {
            var native = Measure(new NativeExplorer(), Workload(tasks), 100_000);
            var coyote = Measure(new CoyoteExplorer(), Workload(tasks), 300);
            var raw = RawCoyote(tasks, 300);
            Print(o, tasks, "native", native);
            Print(o, tasks, "coyote", coyote);
            Print(o, tasks, "raw coyote", raw);
            o.WriteLine($"{"",5} ratios: native/coyote {native.SchedulesPerSec / coyote.SchedulesPerSec:F0}x schedules, " +
                        $"{native.PointsPerSec / coyote.PointsPerSec:F0}x points; coyote driver/raw coyote {coyote.SchedulesPerSec / raw.SchedulesPerSec:F2}");
        }
    }

    private static void Print(TextWriter o, int tasks, string driver, Throughput t) =>
        o.WriteLine($"{tasks,5} {driver,-12} {t.SchedulesPerSec,12:F0} {t.PointsPerSec,12:F0}");

    public sealed record Throughput(double SchedulesPerSec, double PointsPerSec);

    public static Throughput Measure(IExplorer explorer, Scenario scenario, int iterations)
    {
        var options = new ExploreOptions { Strategy = "random", Iterations = iterations, Seed = 7, MaxSteps = 10_000 };
        // Warm up until the JIT has settled (tiered compilation promotes hot code after a while).
        var warm = Stopwatch.StartNew();
        while (warm.Elapsed.TotalSeconds < 1.5)
            explorer.Explore(scenario, options with { Iterations = Math.Max(1, iterations / 10) });
        var watch = Stopwatch.StartNew();
        var r = explorer.Explore(scenario, options);
        var s = watch.Elapsed.TotalSeconds;
        if (r.Failure != null)
            throw new InvalidOperationException($"bench workload failed: {r.Failure}");
        return new Throughput(r.Executions / s, r.Steps / s);
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
