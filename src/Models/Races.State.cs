using Kmc.Models.Scheduling;

namespace Kmc.Models;

// The data-race detector's state, for the state cache (Scheduling/StateCache.cs): two states
// that differ only in happens-before knowledge can differ in the races still to come, so every
// clock, epoch and stamp is part of the state. A test (StateCacheTests) lists the fields these
// methods cover and fails when a field is added to the detector without being written here.
// Left out on purpose, as they only word a report: RaceAccess.Step/Op/Fn/File.
//
// Clock values are written by rank, not as they are (StateWriter.ClockValue). Every value the
// detector keeps belongs to one task's component t: entry t of a vector clock (a task's clock,
// its published copy, its fence and pending clocks, a store's Sync, _gpStarts, a pointer's
// sync, a row of RaceCell._observed), or an epoch of task t (a RaceAccess slot of task t, a
// RaceStamp or RaceObservation with Writer t + 1). Per component, the fingerprint replaces each
// value by its rank among the distinct nonzero values of that component anywhere in the state (0
// stays 0, "no access"). Why two states with the same ranked fingerprint have the same future:
//  - The detector does only these things with a value: compares it (<, >, ==) with another value
//    of the same component or with 0 (Access, Join, Observe, AddPending, the trailing-zero trim),
//    copies it, takes the max of two of the same component (JoinOf, Join), and starts a task's
//    own entry at 1 (a new RaceClocks) or adds 1 to it (BeforeAccess, Join after a publication).
//    No value is printed (a report names steps, RaceAccess.Step, never clocks) nor used as an
//    index or a length, and no value of one component meets one of another.
//  - Task t's own entry Clock_t[t] is the largest value of component t in the state: every other
//    value of component t is a copy, a max of copies, or an epoch of Clock_t[t] as it was, and
//    Clock_t[t] only grows (a join cannot raise it: nothing larger exists). Before t has a
//    RaceClocks, component t holds no value at all.
//  - So if the ranks agree, there is, per component, an order isomorphism between the two states'
//    value sets that fixes 0 and maps one state's detector onto the other's. Comparisons, copies
//    and max commute with an order isomorphism; a +1 to the largest value extends it (the new value
//    is above every other in both states), as does the first value 1 of an empty component. By
//    induction on the steps, both states take the same decisions (the same races, the same
//    choices the scheduler sees), and their successors are again isomorphic. Values that leave the
//    state (overwritten) only shrink the isomorphism's domain.
// This is the order-only abstraction of unbounded counters (the Bakery algorithm's tickets, whose
// model checking keeps only their relative order) applied to vector clocks: the argument of data
// independence (Wolper, POPL 1986, for programs that only copy and compare data for equality),
// extended to order, max and successor-of-the-largest, and proved here rather than borrowed. It
// is exact, not an approximation: no reachable behaviour is merged away.
//
// Dead detector state is left out as well, as SPIN resets dead variables before it hashes a state
// (its dead-variable elimination; Holzmann, "The SPIN Model Checker", 2003), so states that differ
// only in data nothing will read again merge:
//  - the clocks of a task that is done (and its rows of RaceCell._observed): only the task's own
//    accesses, fences, loads and publications read them, and it makes none any more (a done task
//    is not woken, spawns nothing, and RCU turns the cache off);
//  - a RaceAccess slot of task u that every task other than u that is not done is ordered after
//    (slot epoch <= its Clock[u] or what it observed of u at the location): Access compares a slot
//    only with another task's knowledge of u, which only grows, so the slot never races again and
//    its epoch and line are never read; it is written as an empty slot (RaceCell.Live). A task
//    with no clocks yet knows nothing, so it keeps every slot live.
// Dead values are not ranked either: the isomorphism above need only cover values still read.
// It needs every place that keeps a clock value to be written through ClockValue (a value left
// out would no longer be ranked with the others): the fields are listed by StateCacheTests, which
// also lists every field in Kmc.Models that holds a RaceStamp, RaceCell, RaceClocks or clock,
// with where it is covered (the memory models' store buffers and histories: their WriteState).

internal sealed partial class RaceDetector
{
    public void WriteState(StateWriter w, List<SimTask> tasks, List<(long Key, object Obj)> objects)
    {
        w.Clock(_gpStarts);
        // A pending observation names its location by the location's key.
        Dictionary<RaceCell, long>? cells = null;
        foreach (var (key, obj) in objects)
        {
            if (obj is Loc { Race: { } cell })
                (cells ??= new(ReferenceEqualityComparer.Instance!))[cell] = key;
        }

        foreach (var t in tasks)
        {
            // A task that is done never reads its clocks again (see the header).
            if (t.Race is { } c && !t.Done)
                c.WriteState(w, cells);
            else
                w.Int(-2);
        }

        foreach (var (key, obj) in objects)
        {
            if (obj is Loc { Race: { } cell })
            {
                w.Int(key);
                cell.WriteState(w, tasks);
            }
        }
    }

    internal static void WriteStamp(StateWriter w, in RaceStamp s)
    {
        w.Clock(s.Sync);
        w.Int(s.Writer);
        Epoch(w, s.Writer, s.Epoch);
        w.Int(s.Marked ? 1 : 0);
    }

    internal static void WriteObservation(StateWriter w, in RaceObservation o, Dictionary<RaceCell, long>? cells)
    {
        if (o.Cell is null)
        {
            w.Int(-1);
            return;
        }

        if (cells is null || !cells.TryGetValue(o.Cell, out var key))
        {
            w.Unsupported ??= "a race observation of a location the cache does not know";
            return;
        }

        w.Int(key);
        w.Int(o.Writer);
        Epoch(w, o.Writer, o.Epoch);
    }

    /// <summary>An epoch of the task with id <paramref name="writer"/> - 1 (writer 0: no task's, never compared).</summary>
    private static void Epoch(StateWriter w, int writer, int epoch)
    {
        if (writer > 0)
            w.ClockValue(writer - 1, epoch);
        else
            w.Int(epoch);
    }
}

internal sealed partial class RaceCell
{
    public void WriteState(StateWriter w, List<SimTask> tasks)
    {
        // Slots past the last live one are empty (clock 0), however far the array grew.
        var used = Slots.Length;
        while (used > 0 && !Live(used - 1, tasks))
            used--;
        w.Int(used);
        for (var i = 0; i < used; i++)
        {
            ref readonly var s = ref Slots[i];
            if (!Live(i, tasks))
            {
                w.Int(0);
                w.Int(0);
                w.Int(0);
                continue;
            }

            w.ClockValue(i >> 2, s.Clock);
            w.Int(s.Line);
            w.Int((s.Write ? 1 : 0) | (s.Marked ? 2 : 0));
        }

        RaceDetector.WriteStamp(w, Current);
        if (_observed is null)
        {
            w.Int(-1);
            return;
        }

        var rows = _observed.Length;
        while (rows > 0 && _observed[rows - 1] is null)
            rows--;
        w.Int(rows);
        for (var i = 0; i < rows; i++)
            w.Clock(i < tasks.Count && tasks[i].Done ? null : _observed[i]);
    }

    /// <summary>
    /// Whether slot <paramref name="i"/> can still race: some task other than its own that is not
    /// done is not yet ordered after it. What a task is ordered after only grows (its clock, what it
    /// observed here), so a slot every such task is ordered after never races again.
    /// </summary>
    private bool Live(int i, List<SimTask> tasks)
    {
        var epoch = Slots[i].Clock;
        if (epoch == 0)
            return false;
        var u = i >> 2;
        foreach (var t in tasks)
        {
            if (t.Id == u || t.Done)
                continue;
            var clock = t.Race?.Clock;
            var seen = clock != null && u < clock.Length ? clock[u] : 0;
            if (ObservedBy(t.Id) is { } observed && u < observed.Length && observed[u] > seen)
                seen = observed[u];
            if (epoch > seen)
                return true;
        }

        return false;
    }
}

internal sealed partial class RaceClocks
{
    public void WriteState(StateWriter w, Dictionary<RaceCell, long>? cells)
    {
        w.Int(_id);
        w.Clock(Clock);
        w.Clock(_published);
        w.Clock(ReleaseFence);
        w.Clock(Pending);
        w.Clock(LastRead);
        w.Clock(RmwRead);
        w.Clock(WakeSync);
        RaceDetector.WriteObservation(w, LastSeen, cells);
        RaceDetector.WriteObservation(w, RmwSeen, cells);
        w.Int(_pendingSeen?.Count ?? -1);
        foreach (var o in _pendingSeen ?? [])
            RaceDetector.WriteObservation(w, o, cells);
        // The pointer ring in its replacement order: which pointers a data dependency can still use.
        w.Int(_nextPointer);
        for (var i = 0; i < PointerRing; i++)
        {
            // A ring not created yet is written as the empty ring it stands for.
            w.Object(_pointers?[i]);
            w.Clock(_pointerSyncs?[i]);
        }
    }
}
