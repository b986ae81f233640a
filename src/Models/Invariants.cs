using System.Runtime.CompilerServices;
using Kmc.Models.Scheduling.Reduction;

namespace Kmc.Models;

/// <summary>
/// A structural invariant of shared state (a queue's links, a tree's children), checked after
/// every step that writes one of the locations or ghosts it watches, rather than only when every
/// task is done (<see cref="Execution.AtEnd"/>): a corruption that later steps repair, or that
/// only costs time, is caught in the state where it exists. Declared in a scenario's setup (or by
/// a port's constructor) with <see cref="Execution.Invariant"/>, then told what it reads with
/// <see cref="Watch(Loc)"/>. The check reads with <see cref="Loc{T}.Peek"/> and
/// <see cref="Ghost{T}.Value"/> (no scheduling point, no memory-model effect); it returns what is
/// wrong, or null. A read of something it does not watch is a silent miss: watch everything it reads.
/// Objects allocated while the execution runs (queue nodes, tree nodes) may be watched by the
/// check itself when it first reaches them: the step that made them reachable wrote a location
/// already watched, and every later write to them is then followed by a check. Freeing memory
/// (kfree(), a frame's end) makes every invariant due, so "a reachable object is not freed" is
/// checked at the free.
///
/// Under the partial-order reduction an invariant is an observer of the locations it watches, so
/// every write to one of them also writes the invariant's own key: two steps that write watched
/// locations are dependent and the search runs them in both orders, which is the "visible
/// operations" rule for assertions under POR (Godefroid, Partial-Order Methods for the
/// Verification of Concurrent Systems, LNCS 1032, 1996, ch. 6; Flanagan and Godefroid, POPL 2005).
/// Without it, two independent writes would be explored in one order only, and a state where the
/// invariant breaks between them might never be visited.
/// </summary>
public sealed class StepInvariant
{
    private readonly InvariantSet _set;

    internal StepInvariant(InvariantSet set, int index, string name, Func<string?> check, string file, int line)
    {
        _set = set;
        Index = index;
        Name = name;
        Check = check;
        File = file;
        Line = line;
        Key = Footprints.NewKey();
    }

    public string Name { get; }

    internal int Index { get; }
    internal Func<string?> Check { get; }
    internal string File { get; }
    internal int Line { get; }

    /// <summary>This invariant in step footprints: every step writing a watched location writes it too.</summary>
    internal long Key { get; }

    /// <summary>The invariant reads this location: a step that writes it is followed by a check.</summary>
    public StepInvariant Watch(Loc loc)
    {
        _set.Watch(loc.Key, this);
        return this;
    }

    public StepInvariant Watch<T>(Ghost<T> ghost)
    {
        _set.Watch(ghost.Key, this);
        return this;
    }

    public StepInvariant Watch(IEnumerable<Loc> locs)
    {
        foreach (var l in locs)
            Watch(l);
        return this;
    }

    public StepInvariant Watch<T>(IEnumerable<Ghost<T>> ghosts)
    {
        foreach (var g in ghosts)
            Watch(g);
        return this;
    }
}

/// <summary>An execution's step invariants, and which of them a write since the last check made due.</summary>
internal sealed class InvariantSet
{
    /// <summary>One bit per invariant in <see cref="_watchers"/>.</summary>
    public const int Max = 64;

    private readonly List<StepInvariant> _all = new();

    /// <summary>By location or ghost key (creation numbers, small and dense): the invariants watching it.</summary>
    private ulong[] _watchers = new ulong[64];

    private ulong _due;

    public StepInvariant Add(string name, Func<string?> check, string file, int line)
    {
        if (_all.Count == Max)
            throw new InvalidOperationException($"at most {Max} step invariants per execution (invariant '{name}')");
        var inv = new StepInvariant(this, _all.Count, name, check, file, line);
        _all.Add(inv);
        // A newly declared invariant is checked at the next step's end, on the state set up so far.
        _due |= 1UL << inv.Index;
        return inv;
    }

    public void Watch(long key, StepInvariant inv)
    {
        if (key <= 0)
            throw new InvalidOperationException($"invariant '{inv.Name}': cannot watch key {key}");
        if (key >= _watchers.Length)
            Array.Resize(ref _watchers, (int)Math.Max(key + 1, _watchers.Length * 2L));
        _watchers[key] |= 1UL << inv.Index;
    }

    /// <summary>A store or ghost write to <paramref name="key"/>: watching invariants become due, and the step writes their keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Wrote(long key, Footprint? step)
    {
        if ((ulong)key >= (ulong)_watchers.Length)
            return;
        var w = _watchers[key];
        if (w == 0)
            return;
        _due |= w;
        if (step != null)
        {
            for (var bits = w; bits != 0; bits &= bits - 1)
                step.Write(_all[System.Numerics.BitOperations.TrailingZeroCount(bits)].Key);
        }
    }

    /// <summary>
    /// Memory was freed (kfree(), an on-stack object's frame returned): every invariant is due, as
    /// any of them may name the object (no location is written, so no watch would fire). The
    /// freeing step is untracked, so the reduction already orders it against every other step.
    /// </summary>
    public void Freed() => _due = _all.Count == Max ? ulong.MaxValue : (1UL << _all.Count) - 1;

    public bool Due => _due != 0;

    /// <summary>Checks every due invariant (every one with <paramref name="all"/>); the first broken one is the failure (in declaration order).</summary>
    public void CheckDue(Execution ex, SimTask task, bool all)
    {
        var due = all ? (_all.Count == Max ? ulong.MaxValue : (1UL << _all.Count) - 1) : _due;
        _due = 0;
        for (var bits = due; bits != 0; bits &= bits - 1)
        {
            var inv = _all[System.Numerics.BitOperations.TrailingZeroCount(bits)];
            if (inv.Check() is not { } wrong)
                continue;
            var message = $"invariant '{inv.Name}' broken by {task.Name}'s last step: {wrong}";
            ex.Record(task, "invariant broken", inv.Name, wrong, "invariant", inv.File, inv.Line);
            throw new KernelFailureException(new Failure(FailureKind.Assertion, message, $"{inv.File}:{inv.Line}"));
        }
    }
}
