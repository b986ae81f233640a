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
        w.Ints(_gpStarts);
        foreach (var t in tasks)
        {
            if (t.Race is { } c)
                c.WriteState(w);
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
        w.Ints(s.Sync);
        w.Int(s.Writer);
        w.Int(s.Epoch);
    }
}

internal sealed partial class RaceCell
{
    public void WriteState(StateWriter w)
    {
        w.Int(Slots.Length);
        foreach (ref readonly var s in Slots.AsSpan())
        {
            w.Int(s.Clock);
            w.Int(s.Line);
            w.Int((s.Write ? 1 : 0) | (s.Marked ? 2 : 0));
        }

        RaceDetector.WriteStamp(w, Current);
        w.Int(LastWriter);
        w.Int(LastEpoch);
        if (_observed is null)
        {
            w.Int(-1);
            return;
        }

        w.Int(_observed.Length);
        foreach (var row in _observed)
            w.Ints(row);
    }
}

internal sealed partial class RaceClocks
{
    public void WriteState(StateWriter w)
    {
        w.Int(_id);
        w.Ints(Clock);
        w.Ints(_published);
        w.Ints(ReleaseFence);
        w.Ints(Pending);
        w.Ints(LastRead);
        w.Ints(RmwRead);
        w.Ints(WakeSync);
    }
}
