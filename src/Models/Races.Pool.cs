namespace Kmc.Models;

// Recycling of the race detector's per-execution state. A search runs its executions one after
// another on one thread, and everything the detector keeps (a cell per location, clocks per
// task, their arrays) dies with the execution: allocated afresh, it was most of what a step of
// the native explorer allocated. The detector is kept by its execution (Execution.Reset) and
// hands its objects back here when the execution starts again; each comes out exactly as a new
// one would be (arrays kept by length, so a rented array has the length a new one would have,
// and zeroed), which RecyclingTests checks by running searches with and without recycling.
// Published clocks (the immutable messages stores and wakeups carry) are not recycled: they
// may be shared anywhere in the execution and are cheap next to the cells.

internal sealed partial class RaceDetector
{
    private readonly RacePool _pool = new();

    /// <summary>Starts the next execution: every cell and clock handed out goes back to the pool.</summary>
    public void Reset()
    {
        _gpStarts = null;
        _pool.ReclaimAll();
    }

    /// <summary>The cell of <paramref name="loc"/>, created (from the pool) if it has none.</summary>
    public RaceCell CellFor(Loc loc) => loc.Race ?? _pool.CellFor(loc);
}

/// <summary>The race detector's recycled objects and the ones the running execution holds.</summary>
internal sealed class RacePool
{
    private readonly Stack<RaceCell> _cells = new();
    private readonly Stack<RaceClocks> _clocks = new();
    private readonly Stack<List<RaceObservation>> _seenLists = new();
    private readonly Stack<object?[]> _pointerRings = new();
    private readonly Stack<int[]?[]> _syncRings = new();

    /// <summary>Slot arrays by length / 4 (a cell's slots are four per task).</summary>
    private readonly List<Stack<RaceAccess[]>?> _slots = new();

    /// <summary>Vector clocks by length.</summary>
    private readonly List<Stack<int[]>?> _clockArrays = new();

    /// <summary>The locations given a cell and the clocks handed out in the running execution.</summary>
    private readonly List<Loc> _celled = new();

    private readonly List<RaceClocks> _clocked = new();

    public RaceCell CellFor(Loc loc)
    {
        var cell = _cells.Count > 0 ? _cells.Pop() : new RaceCell();
        loc.Race = cell;
        _celled.Add(loc);
        return cell;
    }

    public RaceClocks ClocksFor(SimTask t)
    {
        var clock = RentClock(t.Id + 1);
        var c = _clocks.Count > 0 ? _clocks.Pop().Restart(t.Id, clock) : new RaceClocks(t.Id, clock);
        t.Race = c;
        _clocked.Add(c);
        return c;
    }

    /// <summary>A copy of <paramref name="slots"/> of length <paramref name="size"/>; the old array goes back to the pool.</summary>
    public RaceAccess[] Grow(RaceAccess[] slots, int size)
    {
        var n = Take(_slots, size >> 2) ?? new RaceAccess[size];
        slots.CopyTo(n, 0);
        ReturnSlots(slots);
        return n;
    }

    public List<RaceObservation> SeenList() => _seenLists.Count > 0 ? _seenLists.Pop() : [];

    public object?[] PointerRing() => _pointerRings.Count > 0 ? _pointerRings.Pop() : new object?[RaceClocks.PointerRing];

    public int[]?[] SyncRing() => _syncRings.Count > 0 ? _syncRings.Pop() : new int[]?[RaceClocks.PointerRing];

    /// <summary>Takes back everything the execution holds; its locations and tasks lose their race state.</summary>
    public void ReclaimAll()
    {
        foreach (var loc in _celled)
        {
            var cell = loc.Race!;
            loc.Race = null;
            ReturnSlots(cell.Slots);
            cell.Restart();
            _cells.Push(cell);
        }

        _celled.Clear();
        foreach (var c in _clocked)
        {
            c.Recycle(this);
            _clocks.Push(c);
        }

        _clocked.Clear();
    }

    internal void ReturnClock(int[] clock)
    {
        Array.Clear(clock);
        Give(_clockArrays, clock.Length, clock);
    }

    internal void ReturnSeen(List<RaceObservation> list)
    {
        list.Clear();
        _seenLists.Push(list);
    }

    internal void ReturnRings(object?[]? pointers, int[]?[]? syncs)
    {
        if (pointers != null)
        {
            Array.Clear(pointers);
            _pointerRings.Push(pointers);
        }

        if (syncs != null)
        {
            Array.Clear(syncs);
            _syncRings.Push(syncs);
        }
    }

    private int[] RentClock(int length) => Take(_clockArrays, length) ?? new int[length];

    private void ReturnSlots(RaceAccess[] slots)
    {
        if (slots.Length == 0)
            return;
        Array.Clear(slots);
        Give(_slots, slots.Length >> 2, slots);
    }

    private static T? Take<T>(List<Stack<T>?> byLength, int index) where T : class =>
        index < byLength.Count && byLength[index] is { Count: > 0 } stack ? stack.Pop() : null;

    private static void Give<T>(List<Stack<T>?> byLength, int index, T item)
    {
        while (byLength.Count <= index)
            byLength.Add(null);
        (byLength[index] ??= new Stack<T>()).Push(item);
    }
}

internal sealed partial class RaceCell
{
    /// <summary>Back to a new cell's state (its slot array went back to the pool).</summary>
    public void Restart()
    {
        Slots = [];
        Current = default;
        _observed = null;
    }
}

internal sealed partial class RaceClocks
{
    /// <summary>This object as <c>new RaceClocks(id, clock)</c> would be (after <see cref="Recycle"/>).</summary>
    public RaceClocks Restart(int id, int[] clock)
    {
        _id = id;
        Clock = clock;
        Clock[id] = 1;
        return this;
    }

    /// <summary>Hands the arrays only this task held back to the pool and drops every reference.</summary>
    public void Recycle(RacePool pool)
    {
        pool.ReturnClock(Clock);
        Clock = [];
        if (_pendingSeen != null)
            pool.ReturnSeen(_pendingSeen);
        _pendingSeen = null;
        pool.ReturnRings(_pointers, _pointerSyncs);
        _pointers = null;
        _pointerSyncs = null;
        _nextPointer = 0;
        _published = null;
        ReleaseFence = null;
        Pending = null;
        LastSeen = default;
        RmwSeen = default;
        LastRead = null;
        RmwRead = null;
        WakeSync = null;
    }
}
