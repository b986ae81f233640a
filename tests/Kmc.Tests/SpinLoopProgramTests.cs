using Kmc.Models;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// Marked spin loops (<see cref="SpinLoop"/>) under lkmm on generated programs: three tasks of
/// stores, loads, RMWs, full barriers and retry loops over two locations, among them loops whose
/// first load is not their last (a second location read, or a cmpxchg retry), so the head
/// decides in a later step than the load. Under lkmm a load in a loop is a store-choosing read
/// for the reduction like any other (reads-from races), because the head decides only from which
/// stores its iteration read. Two differential tests: the loops pruned against the loops run as
/// written, and the reduced search against the unreduced one.
/// </summary>
public class SpinLoopProgramTests(ITestOutputHelper output)
{
    private enum Op { Write, Read, Xchg, Mb, LoopUntilNonZero, LoopReadingBoth, CmpxchgRetry, SpinOrGiveUp }

    /// <summary>Past this many executions the reference search of a program is not waited for (the program is skipped).</summary>
    private const int Budget = 30_000;

    private static (Op Op, int Loc)[][] Generate(int seed) => GeneratedPrograms.Generate<Op>(seed, GeneratedPrograms.OneOrTwo);

    private static bool HasLoop((Op Op, int Loc)[][] program) =>
        program.Any(t => t.Any(o => o.Op is Op.LoopUntilNonZero or Op.LoopReadingBoth or Op.CmpxchgRetry or Op.SpinOrGiveUp));

    private static HashSet<string>? Outcomes((Op Op, int Loc)[][] program, ExploreOptions options, out ExplorationResult result) =>
        GeneratedPrograms.Outcomes(program, Run, options, out result, Budget);

    private static async ValueTask Run(Op op, Loc<int> x, GeneratedPrograms.TaskState task)
    {
        var other = ReferenceEquals(task.Locs[0], x) ? task.Locs[1] : task.Locs[0];
        switch (op)
        {
            case Op.Write: await Kernel.WriteOnce(x, task.NextValue()); break;
            case Op.Read: task.Reads.Add(await Kernel.ReadOnce(x)); break;
            case Op.Xchg: task.Reads.Add(await Kernel.Xchg(x, task.NextValue())); break;
            case Op.Mb: await Kernel.SmpMb(); break;
            case Op.LoopUntilNonZero: task.Reads.Add((await GeneratedPrograms.LoopUntilNonZero(x)).Value); break;
            case Op.LoopReadingBoth:
            {
                var (v, w) = await GeneratedPrograms.LoopUntilNonZero(x, alsoRead: other);
                task.Reads.Add(v);
                task.Reads.Add(300 + w);
                break;
            }
            case Op.CmpxchgRetry:
            {
                // The classic read-then-cmpxchg retry: a stale read makes the cmpxchg fail.
                var loop = Kernel.SpinLoop("cmpxchg retry");
                int old;
                while (true)
                {
                    await loop.Head();
                    old = await Kernel.ReadOnce(x);
                    if (await Kernel.Cmpxchg(x, old, old + 5) == old)
                        break;
                }

                task.Reads.Add(500 + old);
                break;
            }
            case Op.SpinOrGiveUp:
                // A spin that may give up once it has seen its condition false (need_resched()).
                task.Reads.Add(await Kernel.SpinUntilOrGiveUp(() => x.Peek() != 0, "x != 0") ? 701 : 700);
                break;
        }
    }

    /// <summary>
    /// Each generated program with a spin: the outcomes of <paramref name="reference"/> against
    /// those of <paramref name="candidate"/> (all of them, or with <paramref name="exact"/> the
    /// same set); how many programs were compared, in how many the candidate dropped executions
    /// (<paramref name="dropped"/>), how many the reference could not finish, and the mismatches.
    /// </summary>
    private static (int Compared, int Dropping, int Skipped, List<string> Mismatches) Compare(Func<int, (Op Op, int Loc)[][]> generate,
        ExploreOptions reference, ExploreOptions candidate, Func<ExplorationResult, long> dropped, bool exact)
    {
        int compared = 0, dropping = 0, skipped = 0;
        var mismatches = new List<string>();
        for (var seed = 0; seed < GeneratedPrograms.SpinLoopPrograms; seed++)
        {
            var program = generate(seed);
            if (!HasLoop(program))
                continue;
            var expected = Outcomes(program, reference, out _);
            if (expected == null)
            {
                skipped++;
                continue;
            }

            var got = Outcomes(program, candidate, out var result);
            Assert.NotNull(got);
            compared++;
            if (dropped(result) > 0)
                dropping++;
            if (exact ? !expected.SetEquals(got) : !expected.IsSubsetOf(got))
                mismatches.Add($"program {seed}: {GeneratedPrograms.Show(program)}: missing [{string.Join("; ", expected.Except(got))}]"
                               + (exact ? $", extra [{string.Join("; ", got.Except(expected))}]" : ""));
        }

        return (compared, dropping, skipped, mismatches);
    }

    [Fact]
    public void Pruning_the_loops_loses_no_outcome_of_running_them_as_written()
    {
        // A stale bound, so that a loop run as written re-reads a stale store only so often, and
        // no partial-order reduction, whose races a loop cut at the step bound hides. One
        // operation per task: run as written and unreduced, longer programs spin past any budget.
        // Pruning only drops executions, so it cannot add an outcome; but it names a loop nothing
        // ends (a Hang) where, run as written, the loop meets the step bound, which also cuts some
        // executions before their end. So one way: nothing run as written finds is lost.
        var options = ReductionTests.UnboundedDfs("lkmm", staleBound: 1) with { MaxSteps = 12, Reduction = false };
        var (compared, pruning, skipped, mismatches) = Compare(seed => GeneratedPrograms.Generate<Op>(seed, (_, _) => 1),
            options with { SpinPruning = false }, options, r => r.SpinPruned, exact: false);
        output.WriteLine($"lkmm: {compared} programs with a loop compared ({pruning} where pruning dropped executions), {skipped} skipped");
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.Empty(mismatches);
        Assert.True(compared >= 15 && pruning >= 5, $"{compared} compared, {pruning} pruned");
    }

    [Fact]
    public void The_reduced_search_reaches_the_outcomes_of_the_unreduced_one()
    {
        var options = ReductionTests.UnboundedDfs("lkmm", staleBound: -1);
        var programs = GeneratedPrograms.SpinLoopPrograms;
        int compared = 0, skipped = 0, fewer = 0, woken = 0;
        var mismatches = new List<string>();
        for (var seed = 0; seed < programs; seed++)
        {
            var program = Generate(seed);
            if (!HasLoop(program))
                continue;
            var name = $"program {seed}: {GeneratedPrograms.Show(program)}";
            // The reference runs every woken spin on (the reduced searches end those executions).
            var all = Outcomes(program, options with { Reduction = false, WokenSpinPruning = false }, out var fullResult);
            if (all == null)
            {
                skipped++;
                continue;
            }

            var taskLevel = Outcomes(program, options with { ReadsFromSleep = false }, out var taskResult);
            var readsFrom = Outcomes(program, options, out var rfResult);
            Assert.True(taskResult.Reduced && rfResult.Reduced, name);
            compared++;
            if (rfResult.Executions < taskResult.Executions)
                fewer++;
            if (rfResult.SpinWoken > 0)
                woken++;
            if (!all.SetEquals(taskLevel!))
                mismatches.Add($"{name}: task level: missing [{string.Join("; ", all.Except(taskLevel!))}], extra [{string.Join("; ", taskLevel!.Except(all))}]");
            if (!all.SetEquals(readsFrom!))
                mismatches.Add($"{name}: reads-from: missing [{string.Join("; ", all.Except(readsFrom!))}], extra [{string.Join("; ", readsFrom!.Except(all))}]");
            output.WriteLine($"{name}: {fullResult.Executions} unreduced, {taskResult.Executions} task level, {rfResult.Executions} reads-from");
        }

        output.WriteLine($"lkmm: {compared} programs with a loop compared ({fewer} with fewer executions over reads-from, {woken} ending woken spins), {skipped} skipped");
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.Empty(mismatches);
        Assert.True(compared >= 15 && fewer >= 5 && woken >= 5, $"{compared} compared, {fewer} with fewer executions, {woken} ending woken spins");
    }

    [Fact]
    public void Under_tso_a_spin_woken_by_a_drain_its_wait_caused_still_sees_the_store()
    {
        // Program 202 of a longer run: the write stays buffered when its task ends before the
        // spin looks, and drains only once the spin waits, so ending the woken spin there lost
        // the outcome in which the spin sees y = 11.
        var program = new[] { new[] { (Op.Write, 1) }, new[] { (Op.Mb, 0), (Op.Mb, 1) }, new[] { (Op.SpinOrGiveUp, 1) } };
        var options = ReductionTests.UnboundedDfs("tso", staleBound: -1);
        var expected = Outcomes(program, options with { Reduction = false, WokenSpinPruning = false }, out _);
        var got = Outcomes(program, options, out _);
        Assert.Contains(expected!, o => o.Contains("701"));
        Assert.Equal(expected!.Order(), got!.Order());
    }

    [Theory]
    [InlineData("sc")]
    [InlineData("tso")]
    [InlineData("lkmm")]
    public void Ending_woken_spins_loses_no_outcome(string model)
    {
        // Unreduced on both sides, so only the woken-spin rule differs (see ExecutionOptions.PruneWokenSpins).
        var options = ReductionTests.UnboundedDfs(model, staleBound: -1) with { Reduction = false };
        var (compared, woken, skipped, mismatches) = Compare(Generate, options with { WokenSpinPruning = false }, options, r => r.SpinWoken, exact: true);
        output.WriteLine($"{model}: {compared} programs with a spin compared ({woken} ending woken spins), {skipped} skipped");
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.Empty(mismatches);
        // Under tso a task's waiting drains store buffers, so a wake may come from a store no
        // execution has before the look: woken spins run on there (MemoryModel.WaitingMakesStoresVisible).
        if (model == "tso")
            Assert.True(compared >= 15 && woken == 0, $"{compared} compared, {woken} ending woken spins");
        else
            Assert.True(compared >= 15 && woken >= 5, $"{compared} compared, {woken} ending woken spins");
    }
}
