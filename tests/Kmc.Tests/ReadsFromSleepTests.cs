using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// Sleep sets over a load's reads-from choice (Kmc.Models.Scheduling.Reduction.DporPolicy.ReadsFromSleep)
/// against task-level sleep sets, under lkmm with no preemption or stale bound (the only setting
/// where the refinement acts): on every variant of every check whose search without it ends within
/// a budget of executions, the search with it must end too, reach the same failures (kind and
/// site) and final states, find a failure in the first-failure mode exactly when the other does
/// (one the other reaches), and run no more executions.
/// </summary>
public class ReadsFromSleepTests(ITestOutputHelper output)
{
    private const int BaselineExecutions = 4_000;

    private static ExploreOptions Options(bool readsFrom, bool allOutcomes) =>
        ReductionTests.UnboundedDfs("lkmm", staleBound: -1) with { ReadsFromSleep = readsFrom, AllOutcomes = allOutcomes };

    [Fact]
    public void Reads_from_sleep_sets_reach_the_same_failures_and_final_states_in_no_more_executions()
    {
        int compared = 0, failing = 0, fewer = 0;
        var mismatches = new List<string>();
        foreach (var check in CheckRegistry.All)
        {
            foreach (var variant in check.Variants)
            {
                var name = $"{check.Name}/{variant.Name}";
                var scenario = check.Build(variant);
                var run = 0;
                var without = new NativeExplorer().Explore(scenario,
                    Options(readsFrom: false, allOutcomes: true) with { Cancelled = () => ++run > BaselineExecutions });
                if (!without.Exhausted)
                {
                    output.WriteLine($"skipped {name}: the search without it needs more than {BaselineExecutions} executions");
                    continue;
                }

                var with = new NativeExplorer().Explore(scenario, Options(readsFrom: true, allOutcomes: true));
                Assert.True(with.Reduced && with.Exhausted, name);
                compared++;
                output.WriteLine($"{name}: {without.Executions} ({without.SleepBlocked} sleep-blocked) -> {with.Executions} ({with.SleepBlocked} sleep-blocked) executions, {without.Outcomes!.Count} outcomes");
                if (!without.Outcomes!.SetEquals(with.Outcomes!))
                {
                    mismatches.Add($"{name}: only without: [{string.Join("; ", without.Outcomes.Except(with.Outcomes!))}] " +
                                   $"only with: [{string.Join("; ", with.Outcomes!.Except(without.Outcomes))}]");
                }

                if (with.Executions > without.Executions)
                    mismatches.Add($"{name}: {with.Executions} executions with reads-from sleep sets, {without.Executions} without");
                if (with.Executions < without.Executions)
                    fewer++;

                // The verdict of a search that stops at its first failure: a bug found both ways or neither.
                var first = new NativeExplorer().Explore(scenario, Options(readsFrom: false, allOutcomes: false));
                var firstWith = new NativeExplorer().Explore(scenario, Options(readsFrom: true, allOutcomes: false));
                if ((first.Failure == null) != (firstWith.Failure == null))
                    mismatches.Add($"{name}: first failure without: {first.Failure?.Kind.ToString() ?? "none"}, with: {firstWith.Failure?.Kind.ToString() ?? "none"}");
                if (firstWith.Failure is { } f)
                {
                    failing++;
                    if (!without.Outcomes.Any(o => o.StartsWith($"{f.Kind} at ", StringComparison.Ordinal)))
                        mismatches.Add($"{name}: the first failure with reads-from sleep sets, {f.Kind}, is not among the outcomes without them");
                }
            }
        }

        output.WriteLine($"{compared} configurations compared, {failing} failing, {fewer} with fewer executions");
        Assert.Empty(mismatches);
        // The comparison covers bugs, and configurations where the refinement prunes.
        Assert.True(compared >= 30 && failing >= 10 && fewer >= 5, $"{compared} compared, {failing} failing, {fewer} with fewer executions");
    }

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    public void Other_memory_models_explore_the_same_executions_with_or_without_it(string model)
    {
        foreach (var name in new[] { "ticket-spinlock", "mcs-spinlock-2cpu", "osq-1round" })
        {
            var check = CheckRegistry.Get(name);
            var scenario = check.Build(check.GetVariant("fixed"));
            var options = ReductionTests.UnboundedDfs(model, staleBound: -1) with { ExecutionBudget = 2_000 };
            var without = new NativeExplorer().Explore(scenario, options with { ReadsFromSleep = false });
            var with = new NativeExplorer().Explore(scenario, options with { ReadsFromSleep = true });
            Assert.Equal((without.Executions, without.SleepBlocked, without.Exhausted), (with.Executions, with.SleepBlocked, with.Exhausted));
        }
    }

    [Fact]
    public void A_stale_bound_keeps_task_level_sleep_sets()
    {
        var check = CheckRegistry.Get("ticket-spinlock");
        var scenario = check.Build(check.GetVariant("fixed"));
        var options = ReductionTests.UnboundedDfs("lkmm", staleBound: 1) with { ExecutionBudget = 3_000 };
        var without = new NativeExplorer().Explore(scenario, options with { ReadsFromSleep = false });
        var with = new NativeExplorer().Explore(scenario, options with { ReadsFromSleep = true });
        Assert.Equal((without.Executions, without.SleepBlocked, without.Exhausted), (with.Executions, with.SleepBlocked, with.Exhausted));
    }

    /// <summary>
    /// A load whose task woke from a reads-from sleep set chooses only among the stores made
    /// since; a replay has no sleep sets and offers it every store. The failing schedule must name
    /// the store among those, or its trace diverges (rcu.mp's search found its assertion at
    /// execution 8, and the replay threw "the trace has 5 decisions, but the execution asks for a
    /// choice after them").
    /// </summary>
    [Theory]
    [InlineData("rcu.mp", "no-synchronize-rcu")]
    [InlineData("counter", "no-lock")]
    public void A_failure_found_under_reads_from_sleep_sets_replays_from_its_trace(string checkName, string variantName)
    {
        var check = CheckRegistry.Get(checkName);
        var run = CheckRunner.Run(check, check.GetVariant(variantName),
            new RunSettings { Strategy = "dfs", PreemptionBound = -1, StaleBound = -1, MemoryModel = "lkmm", FirstPass = false, Minimize = false });
        Xunit.Assert.NotNull(run.Result.Failure);
        Xunit.Assert.True(TraceReplayer.Replay(run.Trace!).Reproduced);
    }
}

/// <summary>
/// The same comparison on small generated litmus-shaped programs, whose outcomes hold every value
/// each load returned (the checks' final states are too coarse to show a load that was never
/// made to read some store): three tasks of marked accesses to two locations, the outcome sets of
/// the search with reads-from sleep sets, with task-level ones and without reduction must agree.
/// </summary>
public class ReadsFromSleepProgramTests(ITestOutputHelper output)
{
    private enum Op { Write, WriteRelease, Read, ReadAcquire, Xchg, Mb }

    private const int Programs = 80;

    private static (Op Op, int Loc)[][] Generate(int seed) => GeneratedPrograms.Generate<Op>(seed, (t, _) => t == 2 ? 2 : 3);

    private static string Show((Op Op, int Loc)[][] program) => GeneratedPrograms.Show(program);

    private static HashSet<string> Outcomes((Op Op, int Loc)[][] program, ExploreOptions options, out ExplorationResult result)
    {
        var seen = new HashSet<string>();
        result = new NativeExplorer().Explore(GeneratedPrograms.Build(program, seen, () => Run), options);
        return seen;
    }

    private static async ValueTask Run(Op op, Loc<int> x, GeneratedPrograms.TaskState task)
    {
        switch (op)
        {
            case Op.Write: await Kernel.WriteOnce(x, task.NextValue()); break;
            case Op.WriteRelease: await Kernel.SmpStoreRelease(x, task.NextValue()); break;
            case Op.Read: task.Reads.Add(await Kernel.ReadOnce(x)); break;
            case Op.ReadAcquire: task.Reads.Add(await Kernel.SmpLoadAcquire(x)); break;
            case Op.Xchg: task.Reads.Add(await Kernel.Xchg(x, task.NextValue())); break;
            case Op.Mb: await Kernel.SmpMb(); break;
        }
    }

    [Fact]
    public void Generated_programs_reach_the_same_load_results_with_reads_from_sleep_sets_as_without_and_unreduced()
    {
        var options = ReductionTests.UnboundedDfs("lkmm", staleBound: -1) with { AllOutcomes = false };
        long with = 0, without = 0;
        var fewer = 0;
        for (var seed = 0; seed < Programs; seed++)
        {
            var program = Generate(seed);
            var name = $"program {seed}: {Show(program)}";
            var full = Outcomes(program, options with { Reduction = false }, out var fullResult);
            var task = Outcomes(program, options with { ReadsFromSleep = false }, out var taskResult);
            var rf = Outcomes(program, options with { ReadsFromSleep = true }, out var rfResult);
            Assert.True(fullResult.Exhausted && taskResult.Exhausted && rfResult.Exhausted, name);
            Assert.True(full.SetEquals(task), $"{name}: task-level sleep sets: missing [{string.Join("; ", full.Except(task))}]");
            Assert.True(full.SetEquals(rf), $"{name}: reads-from sleep sets: missing [{string.Join("; ", full.Except(rf))}], extra [{string.Join("; ", rf.Except(full))}]");
            Assert.True(rfResult.Executions <= taskResult.Executions, $"{name}: {rfResult.Executions} executions with, {taskResult.Executions} without");
            with += rfResult.Executions;
            without += taskResult.Executions;
            if (rfResult.Executions < taskResult.Executions)
                fewer++;
        }

        output.WriteLine($"{Programs} programs: {without} executions with task-level sleep sets, {with} with reads-from sleep sets; fewer on {fewer}");
        Assert.True(fewer >= Programs / 4, $"only {fewer} programs ran fewer executions");
    }
}
