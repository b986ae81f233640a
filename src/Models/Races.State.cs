using Kmc.Models.Scheduling;

namespace Kmc.Models;

// The data-race detector's state, for the state cache (Scheduling/StateCache.cs): two states
// that differ only in happens-before knowledge can differ in the races still to come, so every
// clock, epoch and stamp is part of the state. A test (StateCacheTests) lists the fields these
// methods cover and fails when a field is added to the detector without being written here.
// Left out on purpose, as they only word a report: RaceAccess.Step/Op/Fn/File.

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
            if (t.Race is { } c)
                c.WriteState(w, cells);
            else
                w.Int(-2);
        }

        foreach (var (key, obj) in objects)
        {
            if (obj is Loc { Race: { } cell })
            {
                w.Int(key);
                cell.WriteState(w);
            }
        }
    }

    internal static void WriteStamp(StateWriter w, in RaceStamp s)
    {
        w.Clock(s.Sync);
        w.Int(s.Writer);
        w.Int(s.Epoch);
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
        w.Int(o.Epoch);
    }
}

internal sealed partial class RaceCell
{
    public void WriteState(StateWriter w)
    {
        // Slots past the last used one are empty (clock 0), however far the array grew.
        var used = Slots.Length;
        while (used > 0 && Slots[used - 1].Clock == 0)
            used--;
        w.Int(used);
        foreach (ref readonly var s in Slots.AsSpan(0, used))
        {
            w.Int(s.Clock);
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
            w.Clock(_observed[i]);
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
