using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

/// <summary>
/// Small generated programs for differential tests of the search: three tasks, each a list of
/// operations on one of two locations (x, y). A task numbers its stores (10, 20, 30 per task,
/// plus one per store) and records what its operations return; an execution's outcome is every
/// task's record and the final memory, fine enough to show a load that was never made to read
/// some store.
/// </summary>
internal static class GeneratedPrograms
{
    /// <summary>What one task's operation can use: the two locations, its record of results, its next store value.</summary>
    internal sealed class TaskState(Loc<int>[] locs, List<int> reads, int first)
    {
        private int _value = first;

        public Loc<int>[] Locs => locs;

        public List<int> Reads => reads;

        public int NextValue() => ++_value;
    }

    /// <summary>A length for <see cref="Generate{TOp}"/>: one or two operations, one for the third task (so an unreduced search ends).</summary>
    public static int OneOrTwo(int task, Random rng) => task == 2 ? 1 : 1 + rng.Next(2);

    /// <summary>Three tasks of <paramref name="length"/>(task, rng) operations each, drawn from <typeparamref name="TOp"/>.</summary>
    public static (TOp Op, int Loc)[][] Generate<TOp>(int seed, Func<int, Random, int> length) where TOp : struct, Enum
    {
        var rng = new Random(seed);
        var ops = Enum.GetValues<TOp>();
        return Enumerable.Range(0, 3).Select(t => Enumerable.Range(0, length(t, rng))
            .Select(_ => (ops[rng.Next(ops.Length)], rng.Next(2))).ToArray()).ToArray();
    }

    /// <summary>How many programs a differential test generates: <paramref name="variable"/> from the environment, else <paramref name="fallback"/>.</summary>
    public static int Count(string variable, int fallback = 60) => int.TryParse(Environment.GetEnvironmentVariable(variable), out var n) ? n : fallback;

    /// <summary>
    /// The spin-loop differential tests' default: 60 programs missed woken-spin pruning losing
    /// outcomes under tso (programs 172, 181 and 202 showed it), so they run 250.
    /// </summary>
    public static int SpinLoopPrograms => Count("KMC_SPIN_LOOP_PROGRAMS", 250);

    /// <summary>
    /// Explores <paramref name="scenario"/> to its end: what its executions' ends added to
    /// <paramref name="seen"/> and the search's failures (with the search's own final states only
    /// when <paramref name="finalStates"/>); null when the search was still going after
    /// <paramref name="budget"/> executions.
    /// </summary>
    public static HashSet<string>? Outcomes(Scenario scenario, HashSet<string> seen, ExploreOptions options, out ExplorationResult result,
        int budget = int.MaxValue, bool finalStates = true)
    {
        var run = 0;
        result = new NativeExplorer().Explore(scenario, options with { Cancelled = () => ++run > budget });
        if (!result.Exhausted)
            return null;
        seen.UnionWith(result.Outcomes!.Where(o => finalStates || !o.StartsWith("final ", StringComparison.Ordinal)));
        return seen;
    }

    /// <summary>
    /// The outcomes of <paramref name="program"/>, each operation run by <paramref name="run"/>
    /// (see <see cref="Outcomes(Scenario, HashSet{string}, ExploreOptions, out ExplorationResult, int, bool)"/>).
    /// </summary>
    public static HashSet<string>? Outcomes<TOp>((TOp Op, int Loc)[][] program, Func<TOp, Loc<int>, TaskState, ValueTask> run,
        ExploreOptions options, out ExplorationResult result, int budget) where TOp : struct, Enum
    {
        var seen = new HashSet<string>();
        return Outcomes(Build(program, seen, () => run), seen, options, out result, budget);
    }

    /// <summary>
    /// A marked retry loop (<see cref="SpinLoop"/>) that re-reads <paramref name="x"/> until it is
    /// not zero, and each time round after it <paramref name="alsoRead"/>, if any (then the head
    /// decides in a later step than the load of x): the values its last iteration read.
    /// </summary>
    public static async ValueTask<(int Value, int Also)> LoopUntilNonZero(Loc<int> x, Loc<int>? alsoRead = null)
    {
        var loop = Kernel.SpinLoop(alsoRead is null ? "until nonzero" : "until nonzero, reading both");
        while (true)
        {
            await loop.Head();
            var v = await Kernel.ReadOnce(x);
            var w = alsoRead is null ? 0 : await Kernel.ReadOnce(alsoRead);
            if (v != 0)
                return (v, w);
        }
    }

    public static string Show<TOp>((TOp Op, int Loc)[][] program) where TOp : struct, Enum =>
        string.Join(" || ", program.Select(t => string.Join("; ", t.Select(o => $"{o.Op} {(o.Loc == 0 ? 'x' : 'y')}"))));

    /// <summary>
    /// The program as a scenario whose end adds its outcome to <paramref name="seen"/>. Each
    /// execution calls <paramref name="setup"/> first (for shared objects of its own), which returns
    /// how to run one operation, and <paramref name="extra"/>, if any, describes more final state.
    /// </summary>
    public static Scenario Build<TOp>((TOp Op, int Loc)[][] program, HashSet<string> seen,
        Func<Func<TOp, Loc<int>, TaskState, ValueTask>> setup, Func<string>? extra = null) where TOp : struct, Enum =>
        new(3, ex =>
        {
            var locs = new[] { new Loc<int>("x"), new Loc<int>("y") };
            var run = setup();
            var reads = program.Select(_ => new List<int>()).ToArray();
            for (var t = 0; t < program.Length; t++)
            {
                var task = t;
                ex.Spawn($"P{t}", t, async () =>
                {
                    var state = new TaskState(locs, reads[task], 10 * (task + 1));
                    foreach (var (op, l) in program[task])
                        await run(op, locs[l], state);
                });
            }

            ex.AtEnd("outcome", () => seen.Add(string.Join(" | ", reads.Select(r => string.Join(",", r)))
                                               + $" x={locs[0].Peek()} y={locs[1].Peek()}" + (extra != null ? " " + extra() : "")));
        });
}
