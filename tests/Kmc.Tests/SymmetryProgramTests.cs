using Kmc.Models;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// The symmetry reduction (<see cref="TaskSymmetry"/>) against the full search on generated
/// symmetric programs: three tasks on CPUs 0-2 run the same operation list, naming their CPU only
/// through per-CPU locations and stored CPU numbers (c + 1), as kernel code does. The full search
/// (no partial-order reduction, no symmetry) and source-DPOR with the symmetry declared must reach
/// the same outcomes up to a renaming of the CPUs: each task's record of what it read, the shared
/// and per-CPU memory, and failures (a hang and a midway assertion among them). An outcome is put
/// in canonical form by renaming it under each of the six permutations and keeping the least.
/// </summary>
public class SymmetryProgramTests(ITestOutputHelper output)
{
    internal enum Op
    {
        WriteMine, WriteConst, Read, XchgMine, CmpxchgMine, WaitNonZero, LockedIncrement,
        ReadAndPokeNamed, WriteOwn, ReadOwn, AssertNotTwelve, ChooseWriteMine, Mb,
    }

    private const int Tasks = 3;

    /// <summary>Past this many executions the full search of a program is not waited for (the program is skipped).</summary>
    private const int FullBudget = 30_000;

    /// <summary>Values 1..3 name a CPU (c + 1); constants are 10 and up, so a renaming knows which values to rename.</summary>
    private static int Mine(int cpu) => cpu + 1;

    internal static (Op Op, int Loc)[] Generate(int seed)
    {
        var rng = new Random(seed);
        var ops = Enum.GetValues<Op>();
        return Enumerable.Range(0, 2 + rng.Next(2)).Select(_ => (ops[rng.Next(ops.Length)], rng.Next(2))).ToArray();
    }

    private static string Show((Op Op, int Loc)[] program) => string.Join("; ", program.Select(o => $"{o.Op} {(o.Loc == 0 ? 'x' : 'y')}"));

    /// <summary>What one execution ends with, before canonical renaming.</summary>
    private sealed record Outcome(List<int>[] Reads, int X, int Y, int[] Own, int Counter);

    internal static Scenario Build((Op Op, int Loc)[] program, HashSet<string> seen, bool declare) => new(Tasks, ex =>
    {
        var locs = new[] { new Loc<int>("x"), new Loc<int>("y") };
        var own = Enumerable.Range(0, Tasks).Select(c => new Loc<int>($"own[{c}]")).ToArray();
        var counter = new Loc<int>("counter");
        var lk = new SpinlockT("lk");
        var reads = Enumerable.Range(0, Tasks).Select(_ => new List<int>()).ToArray();
        var tasks = new SimTask[Tasks];
        for (var c = 0; c < Tasks; c++)
        {
            var cpu = c;
            tasks[c] = ex.Spawn($"P{c}", c, async () =>
            {
                for (var k = 0; k < program.Length; k++)
                    await Run(program[k].Op, locs[program[k].Loc], k, cpu, locs, own, counter, lk, reads[cpu]);
            });
        }

        if (declare)
            ex.Symmetric(tasks, locs[0]);
        ex.AtEnd("outcome", () => seen.Add(Canonical(new Outcome(reads, locs[0].Peek(), locs[1].Peek(), own.Select(o => o.Peek()).ToArray(), counter.Peek()))));
    });

    private static async ValueTask Run(Op op, Loc<int> x, int k, int cpu, Loc<int>[] locs, Loc<int>[] own, Loc<int> counter, SpinlockT lk, List<int> reads)
    {
        switch (op)
        {
            case Op.WriteMine: await Kernel.WriteOnce(x, Mine(cpu)); break;
            case Op.WriteConst: await Kernel.WriteOnce(x, 10 + k); break;
            case Op.Read: reads.Add(await Kernel.ReadOnce(x)); break;
            case Op.XchgMine: reads.Add(await Kernel.Xchg(x, Mine(cpu))); break;
            case Op.CmpxchgMine: reads.Add(await Kernel.Cmpxchg(x, 0, Mine(cpu))); break;
            case Op.WaitNonZero:
                await Kernel.SpinUntil(() => x.Peek() != 0, $"{x.Name} != 0");
                reads.Add(await Kernel.ReadOnce(x));
                break;
            case Op.LockedIncrement:
                await Kernel.SpinLock(lk);
                var n = await Kernel.ReadOnce(counter);
                await Kernel.WriteOnce(counter, n + 1);
                reads.Add(100 + n);
                await Kernel.SpinUnlock(lk);
                break;
            case Op.ReadAndPokeNamed:
            {
                // The value names a CPU: touch that CPU's own location (as the OSQ follows an encoded tail to a node).
                var v = await Kernel.ReadOnce(x);
                reads.Add(v);
                if (v is >= 1 and <= Tasks)
                    reads.Add(await Kernel.Xchg(own[v - 1], 20 + k));
                break;
            }
            case Op.WriteOwn: await Kernel.WriteOnce(own[cpu], 30 + k); break;
            case Op.ReadOwn: reads.Add(await Kernel.ReadOnce(own[cpu])); break;
            case Op.AssertNotTwelve:
            {
                var v = await Kernel.ReadOnce(x);
                Kernel.Assert(v != 12, $"{x.Name} == 12");
                reads.Add(v);
                break;
            }
            case Op.ChooseWriteMine:
                var which = Kernel.Choose(2, "which location");
                await Kernel.WriteOnce(locs[which], Mine(cpu));
                reads.Add(200 + which);
                break;
            case Op.Mb: await Kernel.SmpMb(); break;
        }
    }

    private static readonly int[][] Permutations = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];

    /// <summary>The least of the outcome's six renamings: CPU c becomes p[c], in task order, per-CPU data and CPU-naming values.</summary>
    private static string Canonical(Outcome o) => Permutations.Select(p =>
    {
        int R(int v) => v is >= 1 and <= Tasks ? p[v - 1] + 1 : v;
        var reads = new string[Tasks];
        var own = new int[Tasks];
        for (var c = 0; c < Tasks; c++)
        {
            reads[p[c]] = string.Join(",", o.Reads[c].Select(R));
            own[p[c]] = R(o.Own[c]);
        }

        return $"{string.Join(" | ", reads)} x={R(o.X)} y={R(o.Y)} own={string.Join(",", own)} counter={o.Counter}";
    }).Min(StringComparer.Ordinal)!;

    private static HashSet<string>? Outcomes((Op Op, int Loc)[] program, ExploreOptions options, bool declare, out ExplorationResult result, int budget = int.MaxValue)
    {
        // The search's own final states name CPUs: only the canonical ones the scenario records are compared.
        var seen = new HashSet<string>();
        return GeneratedPrograms.Outcomes(Build(program, seen, declare), seen, options, out result, budget, finalStates: false);
    }

    public static IEnumerable<object[]> Models => [["sc"], ["tso"], ["lkmm"]];

    [Theory]
    [MemberData(nameof(Models))]
    public void Generated_symmetric_programs_reach_the_same_outcomes_up_to_renaming(string model)
    {
        var options = ReductionTests.UnboundedDfs(model, staleBound: -1);
        var programs = GeneratedPrograms.Count("KMC_SYMMETRY_PROGRAMS");
        int compared = 0, skipped = 0, hanging = 0;
        long full = 0, reduced = 0, unsymmetric = 0, covered = 0;
        var mismatches = new List<string>();
        for (var seed = 0; seed < programs; seed++)
        {
            var program = Generate(seed);
            var name = $"program {seed}: {Show(program)}";
            var all = Outcomes(program, options with { Reduction = false }, declare: true, out var fullResult, FullBudget);
            if (all == null)
            {
                skipped++;
                continue;
            }

            Assert.Null(fullResult.Symmetry); // the plain search ignores the declaration
            var some = Outcomes(program, options with { Symmetry = true }, declare: true, out var symmetric);
            var dporOnly = Outcomes(program, options, declare: true, out var dporResult);
            Assert.NotNull(some);
            Assert.NotNull(dporOnly);
            Assert.Null(dporResult.Symmetry);
            compared++;
            full += fullResult.Executions;
            reduced += symmetric.Executions;
            unsymmetric += dporResult.Executions;
            covered += symmetric.SymmetryCovered;
            if (all.Any(o => o.StartsWith("Hang", StringComparison.Ordinal)))
                hanging++;
            if (!all.SetEquals(some))
                mismatches.Add($"{name}: missing [{string.Join("; ", all.Except(some))}], extra [{string.Join("; ", some.Except(all))}]");
            if (!all.SetEquals(dporOnly))
                mismatches.Add($"{name} (source-DPOR without symmetry): missing [{string.Join("; ", all.Except(dporOnly))}]");
        }

        output.WriteLine($"{model}: {compared} programs compared ({hanging} with a hang), {skipped} skipped; executions: {full} full, " +
                         $"{unsymmetric} source-DPOR, {reduced} source-DPOR with symmetry ({covered} of them covered by a renaming)");
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.Empty(mismatches);
        // Under tso and lkmm the full search of half the programs is past its budget.
        Assert.True(compared >= programs / 3 && hanging >= 3, $"{compared} compared, {hanging} with a hang");
        // The reduction reduces: fewer executions than source-DPOR alone over the programs.
        Assert.True(reduced < unsymmetric, $"symmetry ran {reduced} executions, source-DPOR alone {unsymmetric}");
    }
}
