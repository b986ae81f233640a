using System.Diagnostics;
using Microsoft.Coyote;
using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.Specifications;
using Microsoft.Coyote.SystematicTesting;

namespace Kmc.Models.Scheduling;

/// <summary>
/// The Coyote driver: every simulated task is one Coyote controlled operation on its own
/// thread, and every scheduling point is <c>Operation.ScheduleNext()</c> (or
/// <c>PauseUntil</c> for a blocked task), so Coyote's strategies pick the interleaving, its
/// deadlock detection reports hangs, and its reproducible trace replays them.
/// </summary>
public sealed class CoyoteExplorer : IExplorer
{
    public string Name => "coyote";

    public IReadOnlyList<string> Strategies { get; } =
        ["portfolio", "random", "probabilistic", "pct", "fair-pct", "delay-bounding", "qlearning"];

    public ExplorationResult Explore(Scenario scenario, ExploreOptions options)
    {
        var config = Configure(options, replayTrace: null);
        var watch = Stopwatch.StartNew();
        var run = new IterationRunner(scenario, options, record: false);
        var executions = 0;
        using var engine = TestingEngine.Create(config, () => run.Iteration());
        engine.SetLogger(new Microsoft.Coyote.Logging.TextWriterLogger(TextWriter.Null, Microsoft.Coyote.Logging.VerbosityLevel.None));
        engine.RegisterEndIterationCallBack(i =>
        {
            executions = (int)i + 1;
            if (executions % 256 == 0)
                options.Progress?.Invoke(executions);
            run.JoinThreads();
            if (options.Cancelled?.Invoke() == true)
                engine.Stop();
        });
        engine.Run();
        run.JoinThreads();
        var report = engine.TestReport;
        executions = Math.Max(executions, report.NumOfExploredFairPaths + report.NumOfExploredUnfairPaths);
        options.Progress?.Invoke(executions);
        var failure = report.NumOfFoundBugs > 0 ? run.FailureOf(report.BugReports.FirstOrDefault()) : null;
        return new ExplorationResult
        {
            Driver = Name,
            Strategy = options.Strategy,
            Failure = failure,
            Executions = executions,
            FailingExecution = failure != null ? executions : 0,
            Decisions = (long)report.TotalExploredFairSteps + report.TotalExploredUnfairSteps,
            Steps = (long)report.TotalExploredFairSteps + report.TotalExploredUnfairSteps,
            TimedOut = options.TimeoutSeconds is { } t && watch.Elapsed.TotalSeconds >= t && failure == null,
            StepBoundHits = report.MaxUnfairStepsHitInUnfairTests + report.MaxFairStepsHitInFairTests,
            Elapsed = watch.Elapsed,
            CoyoteTrace = failure != null ? engine.ReproducibleTrace : null,
        };
    }

    public ReplayResult Replay(Scenario scenario, ExploreOptions options, IReadOnlyList<int>? schedule, string? coyoteTrace)
    {
        if (string.IsNullOrEmpty(coyoteTrace))
            throw new ReplayDivergedException("this trace has no Coyote schedule (it was recorded by another driver)");
        var config = Configure(options with { Iterations = 1 }, coyoteTrace);
        var run = new IterationRunner(scenario, options, record: true);
        using (var engine = TestingEngine.Create(config, () => run.Iteration()))
        {
            engine.SetLogger(new Microsoft.Coyote.Logging.TextWriterLogger(TextWriter.Null, Microsoft.Coyote.Logging.VerbosityLevel.None));
            engine.Run();
            run.JoinThreads();
            var report = engine.TestReport;
            var failure = report.NumOfFoundBugs > 0 ? run.FailureOf(report.BugReports.FirstOrDefault()) : null;
            var steps = run.Last?.Recorder?.Steps ?? [];
            return new ReplayResult(failure, steps, run.Last?.StepBoundHit ?? false);
        }
    }

    private Configuration Configure(ExploreOptions o, string? replayTrace)
    {
        var c = Configuration.Create()
            .WithTestingIterations((uint)Math.Max(1, o.Iterations))
            .WithMaxSchedulingSteps((uint)o.MaxSteps)
            .WithTelemetryEnabled(false)
            .WithConsoleLoggingEnabled(false)
            .WithVerbosityEnabled(Microsoft.Coyote.Logging.VerbosityLevel.None)
            .WithPotentialDeadlocksReportedAsBugs(true)
            .WithPartiallyControlledConcurrencyAllowed(false)
            .WithSystematicFuzzingFallbackEnabled(false)
            .WithRandomGeneratorSeed(Rng.CoyoteSeed(o.Seed, o.Part));
        if (o.TimeoutSeconds is { } t)
            c = c.WithTestingTimeout((int)Math.Ceiling(t));
        if (replayTrace != null)
            return c.WithReproducibleTrace(replayTrace);
        return o.Strategy switch
        {
            "portfolio" => c,
            "random" => c.WithRandomStrategy(),
            "probabilistic" => c.WithProbabilisticStrategy(3),
            "pct" => c.WithPrioritizationStrategy(false, (uint)Math.Max(1, o.PctDepth)),
            "fair-pct" => c.WithPrioritizationStrategy(true, (uint)Math.Max(1, o.PctDepth)),
            "delay-bounding" => c.WithDelayBoundingStrategy(false, (uint)Math.Max(1, o.PreemptionBound)),
            "qlearning" => c.WithQLearningStrategy(),
            _ => throw new ArgumentException($"unknown strategy '{o.Strategy}' for the coyote driver (use {string.Join(", ", Strategies)})"),
        };
    }

    /// <summary>One Coyote iteration: set up the scenario, run each task on a controlled thread, check the end.</summary>
    private sealed class IterationRunner(Scenario scenario, ExploreOptions options, bool record)
    {
        private readonly List<Thread> _threads = new();

        public Execution? Last { get; private set; }

        public void Iteration()
        {
            var driver = new CoyoteDriver(this);
            var ex = new Execution(new ExecutionOptions
            {
                Cpus = scenario.Cpus,
                Preemptive = scenario.Preemptive,
                MaxSteps = int.MaxValue, // Coyote enforces its own step bound
                Record = record,
                Memory = options.Memory?.Invoke(),
                DetectRaces = options.DetectRaces,
                DetectUseAfterLeave = options.DetectUseAfterLeave,
                // Coyote reports a deadlock itself and cannot tell a stale spin wait from a hang.
                SpinPruning = false,
            }, driver);
            Last = ex;
            Execution.Enter(ex, null);
            try
            {
                scenario.Setup(ex);
                foreach (var (task, body) in ex.TakePendingStarts())
                    StartTask(ex, task, body);

                Operation.PauseUntil(() => ex.Aborted || ex.Tasks.All(t => t.Done));
                if (ex.Failure == null)
                    ex.RunFinalChecks();
                if (ex.Failure != null)
                    Specification.Assert(false, ex.Failure.ToString());
            }
            finally
            {
                Execution.Leave();
            }
        }

        public void StartTask(Execution ex, SimTask task, Func<ValueTask> body)
        {
            var id = Operation.CreateNext() ?? throw new InvalidOperationException("Coyote did not hand out an operation id: not running under the Coyote test engine");
            var thread = new Thread(() => TaskThread(ex, task, body, id)) { IsBackground = true, Name = $"kmc {task.Name}" };
            lock (_threads)
                _threads.Add(thread);
            Operation.Start(id);
            thread.Start();
            Operation.ScheduleNext();
        }

        private static void TaskThread(Execution ex, SimTask task, Func<ValueTask> body, ulong id)
        {
            using var _ = new NoSynchronizationContext();
            try
            {
                Operation.OnStarted(id);
                Execution.Enter(ex, task);
                var run = ex.RunTask(task, body);
                if (run.IsCompleted)
                    run.GetAwaiter().GetResult();
                if (ex.Failure != null)
                    Specification.Assert(false, ex.Failure.ToString());
            }
            catch (Exception)
            {
                // Coyote ends an iteration by interrupting its threads; nothing to do but exit.
            }
            finally
            {
                Execution.Leave();
                try
                {
                    Operation.OnCompleted();
                    Operation.ScheduleNext();
                }
                catch (Exception)
                {
                    // The iteration may already be over.
                }
            }
        }

        public void JoinThreads()
        {
            Thread[] threads;
            lock (_threads)
            {
                threads = _threads.ToArray();
                _threads.Clear();
            }

            // When Coyote ends an iteration on a bug, a task it had paused (every task, in a hang)
            // may stay blocked inside Operation.PauseUntil: wake it so that it unwinds through
            // TaskThread's catch instead of costing each failure a join timeout.
            foreach (var t in threads)
            {
                if (t.Join(TimeSpan.FromMilliseconds(100)))
                    continue;
                t.Interrupt();
                t.Join(TimeSpan.FromSeconds(5));
            }
        }

        /// <summary>Our own failure when the model raised one; otherwise Coyote's (a deadlock is a hang).</summary>
        public Failure FailureOf(string? coyoteReport)
        {
            if (Last?.Failure is { } f)
                return f;
            if (Last != null && coyoteReport != null && coyoteReport.Contains("eadlock", StringComparison.Ordinal))
                return Last.DescribeHang();
            return new Failure(FailureKind.Assertion, coyoteReport ?? "Coyote reported a bug");
        }
    }

    private sealed class CoyoteDriver(IterationRunner runner) : IExecutionDriver
    {
        private Microsoft.Coyote.Random.Generator? _generator;

        public bool Synchronous => true;

        public void SchedulingPoint(Execution ex, SimTask task)
        {
            if (ex.CanRun(task))
                Operation.ScheduleNext();
            while (!ex.CanRun(task))
                Operation.PauseUntil(() => ex.CanRun(task));
        }

        public int Choose(Execution ex, SimTask? task, int n)
        {
            _generator ??= Microsoft.Coyote.Random.Generator.Create();
            return _generator.NextInteger(n);
        }

        public void OnSpawn(Execution ex, SimTask task, Func<ValueTask> body) => runner.StartTask(ex, task, body);
    }
}
