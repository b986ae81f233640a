using Kmc.Models;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// A location turned out to need another representation (an address stored into an integer, a
/// spin_lock() on a plain variable): the exploration restarts with the new layout.
/// </summary>
internal sealed class RelayoutException(int loc, CellKind kind) : Exception
{
    public int Loc { get; } = loc;
    public CellKind Kind { get; } = kind;
}

/// <summary>The simulated memory of one execution: one <see cref="Cell"/> per litmus location.</summary>
internal sealed class OperationalMachine
{
    private readonly LitmusTest _test;
    private readonly IReadOnlyDictionary<string, int> _byName;
    private readonly Cell[] _cells;

    public OperationalMachine(LitmusTest test, IReadOnlyDictionary<string, int> byName, IReadOnlyList<CellKind> layout)
    {
        _test = test;
        _byName = byName;
        _cells = new Cell[test.Locations.Count];
        foreach (var l in test.Locations)
        {
            var init = test.InitialValues.TryGetValue(l.Index, out var v) ? v : 0;
            _cells[l.Index] = layout[l.Index] switch
            {
                CellKind.Lock when init != 0 => throw new LitmusUnsupportedException($"spinlock {l.Name} initially {test.FormatValue(init)}"),
                CellKind.Lock => new LockCell(l.Index, l.Name),
                CellKind.Pointer => new PtrCell(l.Index, l.Name, init),
                _ => new IntCell(l.Index, l.Name, init),
            };
        }
    }

    public bool IsLocation(string name) => _byName.ContainsKey(name);

    public int LocationIndex(string name) => _byName[name];

    public long Final(int loc) => _cells[loc].Final;

    /// <summary>The location an address value points to; anything else makes the execution infeasible, as in the axiomatic engine.</summary>
    public int Pointer(long v)
    {
        if (!Values.IsAddress(v) || v - Values.AddrBase >= _cells.Length)
            throw new InfeasibleRunException();
        return (int)(v - Values.AddrBase);
    }

    public ValueTask<long> Load(int loc, LoadKind kind) => _cells[loc].Load(kind);

    public ValueTask Store(int loc, long v, StoreKind kind)
    {
        NeedsPointer(loc, v);
        return _cells[loc].Store(v, kind);
    }

    public ValueTask<long> Xchg(int loc, long v, RmwOrder order)
    {
        NeedsPointer(loc, v);
        return _cells[loc].Xchg(v, order);
    }

    public ValueTask<long> Cmpxchg(int loc, long old, long @new, RmwOrder order)
    {
        NeedsPointer(loc, @new);
        return _cells[loc].Cmpxchg(old, @new, order);
    }

    /// <summary>
    /// An integer location that receives an address becomes a pointer location: its loads must
    /// carry the address dependency the operational lkmm gives pointer-typed loads.
    /// </summary>
    private void NeedsPointer(int loc, long v)
    {
        if (_cells[loc].Kind == CellKind.Int && Values.IsAddress(v))
            throw new RelayoutException(loc, CellKind.Pointer);
    }

    public SpinlockT Lock(int loc) => _cells[loc] switch
    {
        LockCell l => l.Lock,
        { Kind: CellKind.Int } c when !_test.InitialValues.ContainsKey(c.Index) || _test.InitialValues[c.Index] == 0 => throw new RelayoutException(loc, CellKind.Lock),
        var c => throw new LitmusUnsupportedException($"spin lock operation on {c.Name}, which holds data"),
    };

    public IntCell Int(int loc, string op) => _cells[loc] switch
    {
        IntCell i => i,
        var c => throw new LitmusUnsupportedException($"{op}() on {c.Name}, which holds {(c.Kind == CellKind.Lock ? "a spinlock" : "a pointer")}"),
    };
}
