using System.Collections;
using System.Reflection;
using Kmc.Checks.Framework;
using Kmc.Cli;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

/// <summary>
/// The native explorer runs one execution object again and again within a search (Execution.Reset,
/// its tasks, CPUs and race-detector state recycled). A reset execution must be a new one in all
/// but its spare objects, and a search must not be able to tell: the same executions, failures,
/// schedules and traces as with a new execution per run (<see cref="ExploreOptions.Recycle"/> off).
/// </summary>
public class RecyclingTests
{
    private const BindingFlags Fields = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    /// <summary>The objects an execution or task keeps only to hand them out again: no state of the run.</summary>
    private static readonly string[] Spares = ["_spareTasks", "_pool", "_steps"];

    /// <summary>A check's scenario, handing each execution it sets up to <paramref name="seen"/>.</summary>
    private static Scenario Watched(string check, string variant, RunSettings settings, Action<Execution> seen)
    {
        var c = CheckRegistry.Get(check);
        var inner = FaultQueries.Build(c, c.GetVariant(variant), settings);
        return new Scenario(inner.Cpus, ex =>
        {
            seen(ex);
            inner.Setup(ex);
        }, inner.Preemptive);
    }

    [Fact]
    public void A_search_runs_one_execution_object_and_without_recycling_a_new_one_each_time()
    {
        foreach (var recycle in new[] { true, false })
        {
            var seen = new List<Execution>();
            var settings = new RunSettings { Strategy = "dfs", PreemptionBound = -1, MemoryModel = "sc", FirstPass = false };
            var r = new NativeExplorer().Explore(Watched("lglock-3cpu-2round", "fixed", settings, seen.Add), settings.ToExploreOptions() with { ExecutionBudget = 200, Recycle = recycle });
            Xunit.Assert.Null(r.Failure);
            Xunit.Assert.Equal(200, r.Executions);
            Xunit.Assert.Equal(200, seen.Count);
            Xunit.Assert.Equal(recycle ? 1 : seen.Count, seen.Distinct().Count());
        }
    }

    /// <summary>
    /// An execution that ran a search's executions (tasks done, race cells and clocks handed out,
    /// locks registered), once reset, holds exactly what a new execution with the same options
    /// holds, field by field through its CPUs, its race detector and a task spawned in each.
    /// </summary>
    [Theory]
    [InlineData("osq", "fixed", "sc")]
    [InlineData("lglock-3cpu-2round", "fixed", "sc")]
    [InlineData("closure-sync", "sync-wakeup-race", "lkmm")]
    public void A_reset_execution_is_a_new_one(string check, string variant, string model)
    {
        Execution? last = null;
        var settings = new RunSettings { Strategy = "random", Iterations = 50, MemoryModel = model, Seed = 3 };
        new NativeExplorer().Explore(Watched(check, variant, settings, ex => last = ex), settings.ToExploreOptions());
        var used = last!;
        Xunit.Assert.NotEmpty(used.Tasks);
        var fresh = new Execution(used.Options, used.Driver);
        typeof(Execution).GetMethod("Reset", Fields)!.Invoke(used, [used.Options]);
        AssertSameState(fresh, used, "execution");

        Func<ValueTask> body = () => ValueTask.CompletedTask;
        var a = fresh.Spawn("T0", 0, body);
        var b = used.Spawn("T0", 0, body);
        Xunit.Assert.NotSame(a, b);
        AssertSameState(a, b, "task");
        AssertSameState(fresh, used, "execution after a spawn");
    }

    /// <summary>The searches recycling must not change: reduced, plain, cached, sampled, weak, failing.</summary>
    public static TheoryData<string, string, string, string, int> Searches => new()
    {
        { "osq", "fixed", "sc", "dpor", 3000 },
        { "osq-4cpu-1round", "fixed", "sc", "dpor", 1500 },
        { "lglock-3cpu-2round", "fixed", "sc", "dpor", 1500 },
        { "lglock-3cpu-2round", "fixed", "sc", "cache", 1500 },
        { "lglock", "fixed", "lkmm", "bounded", 2000 },
        { "closure-refcount", "fixed", "lkmm", "random", 1500 },
        { "closure-sync", "sync-wakeup-race", "lkmm", "dpor", 20000 },
        { "closure-enomem", "enomem-frees-op", "sc", "random", 5000 },
        { "closure-enomem", "enomem-returns-early", "sc", "pct", 5000 },
        { "osq", "fixed", "lkmm", "outcomes", 2000 },
    };

    [Theory]
    [MemberData(nameof(Searches))]
    public void A_search_recycling_its_execution_finds_what_one_with_new_executions_finds(string check, string variant, string model, string how, int budget)
    {
        var settings = new RunSettings
        {
            Strategy = how is "random" or "pct" ? how : "dfs",
            Iterations = budget,
            PreemptionBound = how == "bounded" ? 2 : -1,
            StateCache = how == "cache",
            MemoryModel = model,
            FirstPass = false,
            Seed = 5,
        };
        var c = CheckRegistry.Get(check);
        var scenario = FaultQueries.Build(c, c.GetVariant(variant), settings);
        var options = settings.ToExploreOptions() with { ExecutionBudget = budget, AllOutcomes = how == "outcomes" };
        var recycled = new NativeExplorer().Explore(scenario, options);
        var fresh = new NativeExplorer().Explore(scenario, options with { Recycle = false });

        Xunit.Assert.True(recycled.Executions > 0);
        Xunit.Assert.Equal(fresh.Executions, recycled.Executions);
        Xunit.Assert.Equal(fresh.Steps, recycled.Steps);
        Xunit.Assert.Equal(fresh.Decisions, recycled.Decisions);
        Xunit.Assert.Equal(fresh.StepBoundHits, recycled.StepBoundHits);
        Xunit.Assert.Equal(fresh.SpinPruned, recycled.SpinPruned);
        Xunit.Assert.Equal(fresh.SleepBlocked, recycled.SleepBlocked);
        Xunit.Assert.Equal(fresh.CachedStates, recycled.CachedStates);
        Xunit.Assert.Equal(fresh.CachePruned, recycled.CachePruned);
        Xunit.Assert.Equal(fresh.Exhausted, recycled.Exhausted);
        Xunit.Assert.Equal(fresh.Failure, recycled.Failure);
        Xunit.Assert.Equal(fresh.FailingExecution, recycled.FailingExecution);
        Xunit.Assert.Equal(fresh.Schedule, recycled.Schedule);
        Xunit.Assert.Equal(fresh.Outcomes?.Order(), recycled.Outcomes?.Order());
        if (how == "cache")
            Xunit.Assert.NotNull(recycled.CachedStates);
        if (how == "outcomes")
            Xunit.Assert.True(recycled.Outcomes!.Count > 1);
        if (recycled.Failure is null)
            return;

        // The failure's trace: the replay of the schedule each search returned, step by step.
        var a = new NativeExplorer().Replay(scenario, options, fresh.Schedule, null);
        var b = new NativeExplorer().Replay(scenario, options, recycled.Schedule, null);
        Xunit.Assert.Equal(a.Failure, b.Failure);
        Xunit.Assert.Equal(recycled.Failure.Kind, b.Failure!.Kind);
        Xunit.Assert.Equal(a.Steps.Select(s => s.ToString()), b.Steps.Select(s => s.ToString()));
    }

    private static bool ModelsOptimised =>
        typeof(Execution).Assembly.GetCustomAttribute<System.Diagnostics.DebuggableAttribute>()?.IsJITOptimizerDisabled != true;

    /// <summary>
    /// The bench workload's allocation per step, measured as kmc bench measures it (bytes this
    /// thread allocated over the steps of a search): a deterministic count, not a time. Without
    /// recycling the same search allocates well over the bound, so the bound tells the two apart.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void The_bench_workload_allocates_under_40_bytes_per_step(int tasks)
    {
        double BytesPerStep(bool recycle)
        {
            var options = new ExploreOptions { Strategy = "random", Iterations = 20_000, Seed = 7, MaxSteps = 10_000, Recycle = recycle };
            new NativeExplorer().Explore(Bench.Workload(tasks), options with { Iterations = 2_000 });
            var before = GC.GetAllocatedBytesForCurrentThread();
            var r = new NativeExplorer().Explore(Bench.Workload(tasks), options);
            return (double)(GC.GetAllocatedBytesForCurrentThread() - before) / r.Steps;
        }

        var recycled = BytesPerStep(recycle: true);
        var fresh = BytesPerStep(recycle: false);
        // kmc bench's figure (and this bound) is for optimised code. The models are optimised in
        // every configuration (Kmc.Models.csproj); built with `-p:Optimize=false` their async
        // methods' state machines are classes, allocated on each call: about 14 B/step more on
        // this workload, with or without recycling.
        var bound = ModelsOptimised ? 40 : 55;
        Xunit.Assert.True(recycled < bound, $"{recycled:F1} B/step with recycling (bound {bound})");
        Xunit.Assert.True(fresh > 60, $"{fresh:F1} B/step without recycling");
    }

    /// <summary>
    /// Compares two object graphs of the model (Kmc.Models types, their arrays and lists) field by
    /// field, skipping the spares (<see cref="Spares"/>). Objects outside the model (delegates, the
    /// driver, the options) must be the same object or both null.
    /// </summary>
    private static void AssertSameState(object? a, object? b, string path, HashSet<object>? visited = null)
    {
        visited ??= new HashSet<object>(ReferenceEqualityComparer.Instance);
        if (a is null || b is null)
        {
            Xunit.Assert.True(a is null && b is null, $"{path}: {a ?? "null"} against {b ?? "null"}");
            return;
        }

        var type = a.GetType();
        Xunit.Assert.True(type == b.GetType(), $"{path}: {type} against {b.GetType()}");
        if (type.IsPrimitive || type.IsEnum || a is string || a is decimal)
        {
            Xunit.Assert.True(a.Equals(b), $"{path}: {a} against {b}");
            return;
        }

        if (!type.IsValueType && !visited.Add(a))
            return;
        if (a is Array arr)
        {
            var brr = (Array)b;
            Xunit.Assert.True(arr.Length == brr.Length, $"{path}: length {arr.Length} against {brr.Length}");
            for (var i = 0; i < arr.Length; i++)
                AssertSameState(arr.GetValue(i), brr.GetValue(i), $"{path}[{i}]", visited);
            return;
        }

        if (a is IList list && type.IsGenericType)
        {
            var other = (IList)b;
            Xunit.Assert.True(list.Count == other.Count, $"{path}: count {list.Count} against {other.Count}");
            for (var i = 0; i < list.Count; i++)
                AssertSameState(list[i], other[i], $"{path}[{i}]", visited);
            return;
        }

        if (type.Namespace?.StartsWith("Kmc.Models", StringComparison.Ordinal) != true)
        {
            Xunit.Assert.True(type.IsValueType ? a.Equals(b) : ReferenceEquals(a, b), $"{path}: {type.Name} differs");
            return;
        }

        for (var t = type; t != null && t != typeof(object); t = t.BaseType)
        {
            foreach (var f in t.GetFields(Fields | BindingFlags.DeclaredOnly))
            {
                if (Spares.Contains(f.Name))
                    continue;
                AssertSameState(f.GetValue(a), f.GetValue(b), $"{path}.{f.Name}", visited);
            }
        }
    }
}
