using Kmc.Models;
using Kmc.Models.Scheduling;
using Xunit.Abstractions;

namespace Kmc.Tests;

/// <summary>
/// Skipping a spin load's stale repeats (<see cref="ExecutionOptions.SkipStaleSpinRepeats"/>) on
/// generated lkmm programs: three tasks of stores (some of 0, so a location holds the same value
/// more than once), loads, exchanges, full barriers and loops that name what they carry
/// (<see cref="SpinLoop.Head(long)"/>), some reading a second location before or after the one
/// they wait on, so the load that ends an iteration is sometimes not the one that decides it.
/// The search with the skip against the same search without it: the same outcomes, unreduced
/// and reduced.
/// </summary>
public class StaleRepeatProgramTests(ITestOutputHelper output)
{
    private enum Op { Write, WriteZero, Read, Xchg, Mb, UntilNonZero, UntilNonZeroReadingOther, OtherThenUntilNonZero, CmpxchgRetry }

    /// <summary>Past this many executions the reference search of a program is not waited for (the program is skipped).</summary>
    private const int Budget = 30_000;

    private static (Op Op, int Loc)[][] Generate(int seed) => GeneratedPrograms.Generate<Op>(seed, GeneratedPrograms.OneOrTwo);

    private static bool HasLoop((Op Op, int Loc)[][] program) =>
        program.Any(t => t.Any(o => o.Op is Op.UntilNonZero or Op.UntilNonZeroReadingOther or Op.OtherThenUntilNonZero or Op.CmpxchgRetry));

    private static HashSet<string>? Outcomes((Op Op, int Loc)[][] program, ExploreOptions options, out ExplorationResult result) =>
        GeneratedPrograms.Outcomes(program, Run, options, out result, Budget);

    private static async ValueTask Run(Op op, Loc<int> x, GeneratedPrograms.TaskState task)
    {
        var other = ReferenceEquals(task.Locs[0], x) ? task.Locs[1] : task.Locs[0];
        switch (op)
        {
            case Op.Write: await Kernel.WriteOnce(x, task.NextValue()); break;
            case Op.WriteZero: await Kernel.WriteOnce(x, 0); break;
            case Op.Read: task.Reads.Add(await Kernel.ReadOnce(x)); break;
            case Op.Xchg: task.Reads.Add(await Kernel.Xchg(x, task.NextValue())); break;
            case Op.Mb: await Kernel.SmpMb(); break;
            case Op.UntilNonZero: task.Reads.Add(await UntilNonZero(x, null, otherFirst: false)); break;
            case Op.UntilNonZeroReadingOther: task.Reads.Add(await UntilNonZero(x, other, otherFirst: false)); break;
            case Op.OtherThenUntilNonZero: task.Reads.Add(await UntilNonZero(x, other, otherFirst: true)); break;
            case Op.CmpxchgRetry:
            {
                // Carries the old value it last read: the cmpxchg's failure is the iteration's only read of x after it.
                var loop = Kernel.SpinLoop("cmpxchg retry");
                var old = await Kernel.ReadOnce(x);
                while (true)
                {
                    await loop.Head(old);
                    if (await Kernel.Cmpxchg(x, old, old + 5) == old)
                        break;
                    old = await Kernel.ReadOnce(x);
                }

                task.Reads.Add(500 + old);
                break;
            }
        }
    }

    /// <summary>A loop carrying nothing that ends on x != 0, reading <paramref name="other"/> too (first or last).</summary>
    private static async ValueTask<int> UntilNonZero(Loc<int> x, Loc<int>? other, bool otherFirst)
    {
        var loop = Kernel.SpinLoop("until nonzero");
        while (true)
        {
            await loop.Head(0);
            var w = other != null && otherFirst ? await Kernel.ReadOnce(other) : 0;
            var v = await Kernel.ReadOnce(x);
            if (other != null && !otherFirst)
                w = await Kernel.ReadOnce(other);
            if (v != 0)
                return v * 10 + Math.Min(w, 9);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Skipping_stale_spin_repeats_loses_no_outcome(bool reduction)
    {
        var options = ReductionTests.UnboundedDfs("lkmm", staleBound: -1) with { Reduction = reduction };
        int compared = 0, skipping = 0, skipped = 0;
        long fewer = 0;
        var mismatches = new List<string>();
        for (var seed = 0; seed < GeneratedPrograms.SpinLoopPrograms; seed++)
        {
            var program = Generate(seed);
            if (!HasLoop(program))
                continue;
            var expected = Outcomes(program, options with { StaleRepeatSkipping = false }, out var full);
            if (expected == null)
            {
                skipped++;
                continue;
            }

            var got = Outcomes(program, options, out var result);
            Assert.NotNull(got);
            compared++;
            if (result.StaleRepeatsSkipped > 0)
                skipping++;
            // Unreduced, each skipped alternative is an execution the reference ran and dropped at
            // once (reduced, the reference also found races in it, which may add others).
            if (!reduction)
                Assert.Equal(full.Executions, result.Executions + result.StaleRepeatsSkipped);
            fewer += full.Executions - result.Executions;
            if (!expected.SetEquals(got))
                mismatches.Add($"program {seed}: {GeneratedPrograms.Show(program)}: missing [{string.Join("; ", expected.Except(got))}], extra [{string.Join("; ", got.Except(expected))}]");
        }

        output.WriteLine($"lkmm, reduction {reduction}: {compared} programs with a loop compared ({skipping} skipping stale repeats, {fewer} executions fewer), {skipped} skipped");
        foreach (var m in mismatches)
            output.WriteLine(m);
        Assert.Empty(mismatches);
        Assert.True(compared >= 15 && skipping >= 5, $"{compared} compared, {skipping} skipping");
    }
}
