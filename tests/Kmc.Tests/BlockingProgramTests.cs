using Kmc.Models;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// The reduced search against the unreduced one on generated programs that block: three tasks
/// of marked accesses, RMWs, spin-waits on a value, a marked spin loop, a spinlock's critical
/// section, a recorded choice, an assertion that can fail midway and full barriers, over two locations. Their outcomes hold every
/// value each task read and the final memory, and a hang is an outcome of its own, so a
/// reduction that loses an interleaving behind a blocked task (a spin-wait's races, a blocked
/// initial, a failure ending an execution early) shows up as a missing outcome, where the
/// checks' coarse final states hide it. Under sc, tso and lkmm with no bound.
/// </summary>
public class BlockingProgramTests(ITestOutputHelper output)
{
    internal enum Op { Write, Read, Xchg, Cmpxchg, WaitNonZero, CondLoadAcquire, LoopUntilNonZero, LockedIncrement, ChooseWrite, AssertNotTwo, Mb }

    /// <summary>Past this many executions the unreduced search of a program is not waited for (the program is skipped).</summary>
    private const int FullBudget = 30_000;

    internal static (Op Op, int Loc)[][] Generate(int seed) => GeneratedPrograms.Generate<Op>(seed, (t, rng) => (t == 2 ? 1 : 2) + rng.Next(2));

    internal static Scenario Build((Op Op, int Loc)[][] program, HashSet<string> seen)
    {
        Loc<int> counter = null!;
        return GeneratedPrograms.Build(program, seen, () =>
        {
            counter = new Loc<int>("counter");
            var lk = new SpinlockT("lk");
            return (op, x, task) => Run(op, x, task, counter, lk);
        }, () => $"counter={counter.Peek()}");
    }

    private static async ValueTask Run(Op op, Loc<int> x, GeneratedPrograms.TaskState task, Loc<int> counter, SpinlockT lk)
    {
        switch (op)
        {
            case Op.Write: await Kernel.WriteOnce(x, task.NextValue()); break;
            case Op.Read: task.Reads.Add(await Kernel.ReadOnce(x)); break;
            case Op.Xchg: task.Reads.Add(await Kernel.Xchg(x, task.NextValue())); break;
            case Op.Cmpxchg: task.Reads.Add(await Kernel.Cmpxchg(x, 0, task.NextValue())); break;
            case Op.WaitNonZero:
                await Kernel.SpinUntil(() => x.Peek() != 0, $"{x.Name} != 0");
                task.Reads.Add(await Kernel.ReadOnce(x));
                break;
            case Op.CondLoadAcquire: task.Reads.Add(await Kernel.SmpCondLoadAcquire(x, v => v != 0)); break;
            case Op.LoopUntilNonZero: task.Reads.Add((await GeneratedPrograms.LoopUntilNonZero(x)).Value); break;
            case Op.LockedIncrement:
                await Kernel.SpinLock(lk);
                var c = await Kernel.ReadOnce(counter);
                await Kernel.WriteOnce(counter, c + 1);
                task.Reads.Add(100 + c);
                await Kernel.SpinUnlock(lk);
                break;
            case Op.ChooseWrite:
                var which = Kernel.Choose(2, "which location");
                await Kernel.WriteOnce(task.Locs[which], task.NextValue());
                task.Reads.Add(200 + which);
                break;
            case Op.AssertNotTwo:
                // A failure that ends the execution while the other tasks still have steps.
                var seen = await Kernel.ReadOnce(x);
                Kernel.Assert(seen % 10 != 2, $"{x.Name} holds a second store");
                task.Reads.Add(seen);
                break;
            case Op.Mb: await Kernel.SmpMb(); break;
        }
    }

    /// <summary>Every outcome: the end states reached and the failures (kind and site, a hang among them).</summary>
    internal static HashSet<string>? Outcomes((Op Op, int Loc)[][] program, ExploreOptions options, out ExplorationResult result, int budget = int.MaxValue)
    {
        var seen = new HashSet<string>();
        return GeneratedPrograms.Outcomes(Build(program, seen), seen, options, out result, budget);
    }

    public static IEnumerable<object[]> Models => [["sc"], ["tso"], ["lkmm"]];

    [Theory]
    [MemberData(nameof(Models))]
    public void Generated_blocking_programs_reach_the_same_outcomes_reduced_as_unreduced(string model)
    {
        var options = ReductionTests.UnboundedDfs(model, staleBound: -1);
        var programs = GeneratedPrograms.Count("KMC_BLOCKING_PROGRAMS");
        int compared = 0, skipped = 0, hanging = 0;
        long full = 0, reduced = 0;
        var mismatches = new List<string>();
        for (var seed = 0; seed < programs; seed++)
        {
            var program = Generate(seed);
            var name = $"program {seed}: {GeneratedPrograms.Show(program)}";
            var all = Outcomes(program, options with { Reduction = false }, out var fullResult, FullBudget);
            if (all == null)
            {
                skipped++;
                continue;
            }

            var some = Outcomes(program, options, out var reducedResult);
            Assert.True(reducedResult.Reduced, name);
            Assert.NotNull(some);
            compared++;
            full += fullResult.Executions;
            reduced += reducedResult.Executions;
            if (all.Any(o => o.StartsWith("Hang", StringComparison.Ordinal)))
                hanging++;
            if (!all.SetEquals(some))
                mismatches.Add($"{name}: missing [{string.Join("; ", all.Except(some))}], extra [{string.Join("; ", some.Except(all))}]");
        }

        output.WriteLine($"{model}: {compared} programs compared ({hanging} with a hang), {skipped} skipped; {full} executions unreduced, {reduced} reduced");
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.Empty(mismatches);
        Assert.True(compared >= programs / 2 && hanging >= 3, $"{compared} compared, {hanging} with a hang");
    }
}
