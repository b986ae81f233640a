using Kmc.Models.Scheduling.Reduction;

namespace Kmc.Models;

/// <summary>
/// <para>
/// Symmetry reduction for tasks a scenario declares interchangeable (<see cref="Execution.Symmetric"/>):
/// N tasks running the same code on their own CPUs, differing only in the CPU (and the per-CPU
/// data it selects), from an initial state that is the same under any renaming of those CPUs.
/// Any execution then has N! images, one per renaming of the tasks, that are executions too and
/// fail or pass alike (Emerson and Sistla, "Symmetry and model checking", FMSD 9, 1996; Ip and
/// Dill, "Better verification through symmetry", FMSD 9, 1996). Exploring one image of each is
/// enough.
/// </para>
/// <para>
/// Which image: the scenario names a location (e.g. the OSQ's tail) and the reduced search keeps
/// only the executions in which the tasks make their first write to it (a store or an atomic
/// read-modify-write, failed cmpxchg included) in declaration order: T0 first, then T1, ..., and
/// a task that never writes it comes after every task that does. Every execution has exactly one
/// image of that shape (rename the k-th task to write first as task k, the rest in their order):
/// the search loses no behaviour up to renaming. It is enforced as a wait: task j's first write
/// waits until task j-1 has made its own, and the N first writes are made mutually dependent
/// through a key of their own (each reads and writes it), so their order is the same in every
/// equivalent interleaving and the constraint is a property of Mazurkiewicz traces, which the
/// partial-order reduction (source-DPOR, whose spin-wait races handle the wait) explores in full.
/// An execution in which no task can move while one waits here has, under the same renaming, an
/// image in which it does not wait: it is abandoned as covered (neither a pass nor a hang). A
/// good location is the first one the tasks contend on: the N! orders of those first writes are
/// where the tasks' interleavings split. Any location is sound; a location never written only
/// gives up the reduction. (Combining symmetry with partial-order reduction through a canonical
/// order of symmetric events follows the idea of SPORE, Kokologiannakis, Marmanis and
/// Vafeiadis, PLDI 2024, here for source-DPOR over interleavings.)
/// </para>
/// <para>
/// What kmc cannot check, the scenario promises: the tasks' code is the same up to the CPU,
/// uses CPU numbers only as names (per-CPU data, an encoded CPU in a word; no "if cpu == 0", no
/// loop over CPUs in a fixed order), the properties do not single out a CPU, and the initial
/// state is symmetric. A wrong promise can hide a bug, so the reduction is off unless the
/// exhaustive search asks for it, and <c>--no-symmetry</c> turns it off there.
/// </para>
/// </summary>
public sealed class TaskSymmetry
{
    private readonly SimTask[] _tasks;
    private readonly bool[] _wrote;
    private readonly Func<bool>[] _waits;
    private readonly WaitText[] _waitTexts;

    /// <summary>The key the first writes all read and write (their order is fixed in every trace).</summary>
    private readonly long _orderKey;

    internal TaskSymmetry(IReadOnlyList<SimTask> tasks, Loc orderedBy)
    {
        _tasks = tasks.ToArray();
        OrderedBy = orderedBy;
        _wrote = new bool[_tasks.Length];
        _waits = new Func<bool>[_tasks.Length];
        _waitTexts = new WaitText[_tasks.Length];
        _orderKey = Footprints.NewKey();
        for (var i = 0; i < _tasks.Length; i++)
        {
            _tasks[i].SymmetryIndex = i;
            if (i == 0)
                continue;
            var before = i - 1;
            _waits[i] = () =>
            {
                Footprints.Read(_orderKey);
                return _wrote[before];
            };
            _waitTexts[i] = new WaitText($"(symmetry) {_tasks[before].Name}'s first write to {orderedBy.Name}");
        }
    }

    /// <summary>
    /// Some task made its first write to the ordering location in this execution (through a
    /// store or atomic kmc can hold back: not a spinlock's own word). A search in which none ever
    /// did cut nothing, and says so.
    /// </summary>
    public bool Ordered { get; private set; }

    /// <summary>The location whose first writes put the tasks in order.</summary>
    public Loc OrderedBy { get; }

    /// <summary>"T0, T1, T2 interchangeable, explored with their first writes to osq.tail in that order"</summary>
    public string Describe() =>
        $"{string.Join(", ", _tasks.Select(t => t.Name))} interchangeable, explored with their first writes to {OrderedBy.Name} in that order";

    /// <summary>
    /// Task <paramref name="t"/> has parked a step that writes <paramref name="x"/>: when that is
    /// its first write to the ordering location, the step waits for the task before it. Not
    /// through <see cref="Execution.Point"/>'s blocker: a model's own reaction to a wait (tso
    /// drains the buffer) would make the wait part of the program.
    /// </summary>
    internal void GuardFirstWrite(SimTask t, Loc x)
    {
        var i = t.SymmetryIndex;
        if (i < 0 || !ReferenceEquals(x, OrderedBy) || _wrote[i])
            return;
        t.SymmetryFirstWrite = true;
        if (i == 0)
            return;
        t.Blocker = _waits[i];
        t.SetWait(_waitTexts[i], default);
    }

    /// <summary>Task <paramref name="t"/> makes its first write to the ordering location now (its step has begun).</summary>
    internal void FirstWrite(SimTask t)
    {
        Ordered = true;
        _wrote[t.SymmetryIndex] = true;
        Footprints.Read(_orderKey);
        Footprints.Write(_orderKey);
    }

    /// <summary>Some unfinished task waits for another's first write (no task can move: the execution is covered by a renaming).</summary>
    internal bool AnyWaiting()
    {
        for (var i = 1; i < _tasks.Length; i++)
        {
            var t = _tasks[i];
            if (!t.Done && t.SymmetryFirstWrite && !_wrote[i - 1])
                return true;
        }

        return false;
    }
}
