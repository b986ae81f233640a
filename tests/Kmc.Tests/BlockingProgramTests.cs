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

    internal static (Op Op, int Loc)[][] Generate(int seed)
    {
        var rng = new Random(seed);
        var ops = Enum.GetValues<Op>();
        return Enumerable.Range(0, 3).Select(t => Enumerable.Range(0, (t == 2 ? 1 : 2) + rng.Next(2))
            .Select(_ => (ops[rng.Next(ops.Length)], rng.Next(2))).ToArray()).ToArray();
    }

    internal static string Show((Op Op, int Loc)[][] program) =>
        string.Join(" || ", program.Select(t => string.Join("; ", t.Select(o => o.Op == Op.Mb ? "mb" : $"{o.Op} {(o.Loc == 0 ? 'x' : 'y')}"))));

    internal static Scenario Build((Op Op, int Loc)[][] program, HashSet<string> seen) => new(3, ex =>
    {
        var locs = new[] { new Loc<int>("x"), new Loc<int>("y") };
        var counter = new Loc<int>("counter");
        var lk = new SpinlockT("lk");
        var reads = program.Select(_ => new List<int>()).ToArray();
        for (var t = 0; t < program.Length; t++)
        {
            var task = t;
            ex.Spawn($"P{t}", t, async () =>
            {
                var value = 10 * (task + 1);
                foreach (var (op, l) in program[task])
                {
                    var x = locs[l];
                    switch (op)
                    {
                        case Op.Write: await Kernel.WriteOnce(x, ++value); break;
                        case Op.Read: reads[task].Add(await Kernel.ReadOnce(x)); break;
                        case Op.Xchg: reads[task].Add(await Kernel.Xchg(x, ++value)); break;
                        case Op.Cmpxchg: reads[task].Add(await Kernel.Cmpxchg(x, 0, ++value)); break;
                        case Op.WaitNonZero:
                            await Kernel.SpinUntil(() => x.Peek() != 0, $"{x.Name} != 0");
                            reads[task].Add(await Kernel.ReadOnce(x));
                            break;
                        case Op.CondLoadAcquire: reads[task].Add(await Kernel.SmpCondLoadAcquire(x, v => v != 0)); break;
                        case Op.LoopUntilNonZero:
                        {
                            var loop = Kernel.SpinLoop("until nonzero");
                            int v;
                            while (true)
                            {
                                await loop.Head();
                                v = await Kernel.ReadOnce(x);
                                if (v != 0)
                                    break;
                            }

                            reads[task].Add(v);
                            break;
                        }
                        case Op.LockedIncrement:
                            await Kernel.SpinLock(lk);
                            var c = await Kernel.ReadOnce(counter);
                            await Kernel.WriteOnce(counter, c + 1);
                            reads[task].Add(100 + c);
                            await Kernel.SpinUnlock(lk);
                            break;
                        case Op.ChooseWrite:
                            var which = Kernel.Choose(2, "which location");
                            await Kernel.WriteOnce(locs[which], ++value);
                            reads[task].Add(200 + which);
                            break;
                        case Op.AssertNotTwo:
                            // A failure that ends the execution while the other tasks still have steps.
                            var seen2 = await Kernel.ReadOnce(x);
                            Kernel.Assert(seen2 % 10 != 2, $"{x.Name} holds a second store");
                            reads[task].Add(seen2);
                            break;
                        case Op.Mb: await Kernel.SmpMb(); break;
                    }
                }
            });
        }

        ex.AtEnd("outcome", () => seen.Add(string.Join(" | ", reads.Select(r => string.Join(",", r)))
                                           + $" x={locs[0].Peek()} y={locs[1].Peek()} counter={counter.Peek()}"));
    });

    /// <summary>Every outcome: the end states reached and the failures (kind and site, a hang among them).</summary>
    internal static HashSet<string>? Outcomes((Op Op, int Loc)[][] program, ExploreOptions options, out ExplorationResult result, int budget = int.MaxValue)
    {
        var seen = new HashSet<string>();
        var run = 0;
        result = new NativeExplorer().Explore(Build(program, seen), options with { Cancelled = () => ++run > budget });
        if (!result.Exhausted)
            return null;
        seen.UnionWith(result.Outcomes!);
        return seen;
    }

    public static IEnumerable<object[]> Models => [["sc"], ["tso"], ["lkmm"]];

    [Theory]
    [MemberData(nameof(Models))]
    public void Generated_blocking_programs_reach_the_same_outcomes_reduced_as_unreduced(string model)
    {
        var options = ReductionTests.UnboundedDfs(model, staleBound: -1);
        var programs = int.TryParse(Environment.GetEnvironmentVariable("KMC_BLOCKING_PROGRAMS"), out var n) ? n : 60;
        int compared = 0, skipped = 0, hanging = 0;
        long full = 0, reduced = 0;
        var mismatches = new List<string>();
        for (var seed = 0; seed < programs; seed++)
        {
            var program = Generate(seed);
            var name = $"program {seed}: {Show(program)}";
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
