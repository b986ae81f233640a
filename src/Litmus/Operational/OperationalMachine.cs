using Kmc.Models;
using static Kmc.Models.Kernel;

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

    private readonly bool _tso;

    /// <summary>Under tso every step depends on every other (see <see cref="Access"/>).</summary>
    public bool Tso => _tso;

    /// <summary>Under lkmm a load may be deferred past later stores (load buffering, see OperationalThread).</summary>
    public bool LoadBuffering { get; }

    /// <summary>Promises the threads may still make in this execution (see <see cref="OperationalThread.PromiseBound"/>).</summary>
    public int PromisesLeft { get; set; } = OperationalThread.PromiseBound;

    /// <summary>Choices that can only repeat or break an execution are not offered (promise pruning, deferrals performed at once).</summary>
    public bool Prune { get; }

    public OperationalMachine(LitmusTest test, IReadOnlyDictionary<string, int> byName, IReadOnlyList<CellKind> layout, bool tso, bool loadBuffering = false,
        bool prune = true)
    {
        Prune = prune;
        _test = test;
        _tso = tso;
        LoadBuffering = loadBuffering;
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

    /// <summary>
    /// A step's footprint under this model. Under tso every access may drain any CPU's store
    /// buffer first, so every access (and smp_mb(), which drains) depends on every other.
    /// </summary>
    private Footprint Access(int loc, bool write, bool global = false) =>
        _tso ? new Footprint(loc, true, true, true) : new Footprint(loc, write, global, false);

    public ValueTask<long> Load(OperationalThread t, int loc, LoadKind kind)
    {
        t.Announce(Access(loc, write: false));
        return _cells[loc].Load(kind);
    }

    public ValueTask Store(OperationalThread t, int loc, long v, StoreKind kind)
    {
        NeedsPointer(loc, v);
        t.Announce(Access(loc, write: true));
        return _cells[loc].Store(v, kind);
    }

    public ValueTask<long> Xchg(OperationalThread t, int loc, long v, RmwOrder order)
    {
        NeedsPointer(loc, v);
        t.Announce(Access(loc, write: true, global: order == RmwOrder.Full));
        return _cells[loc].Xchg(v, order);
    }

    public ValueTask<long> Cmpxchg(OperationalThread t, int loc, long old, long @new, RmwOrder order)
    {
        NeedsPointer(loc, @new);
        t.Announce(Access(loc, write: true, global: order == RmwOrder.Full));
        return _cells[loc].Cmpxchg(old, @new, order);
    }

    /// <summary>The arithmetic atomics, which need an integer location.</summary>
    public IntCell Int(OperationalThread t, int loc, string op, bool fullyOrdered)
    {
        if (_cells[loc] is not IntCell i)
            throw new LitmusUnsupportedException($"{op}() on {_cells[loc].Name}, which holds {(_cells[loc].Kind == CellKind.Lock ? "a spinlock" : "a pointer")}");
        t.Announce(Access(loc, write: true, global: fullyOrdered));
        return i;
    }

    /// <summary>
    /// smp_mb() and the barriers that the lkmm model takes as one publish to the global fence
    /// view, so they depend on each other; smp_rmb()/smp_wmb()/barrier() only change the task's
    /// own views (under sc no barrier is even a scheduling point).
    /// </summary>
    public ValueTask Fence(OperationalThread t, string name)
    {
        var global = name is "smp_mb" or "smp_mb__before_atomic" or "smp_mb__after_atomic";
        t.Announce(_tso ? Access(-1, true) : global ? new Footprint(-1, false, true, false) : Footprint.None);
        return name switch
        {
            "smp_mb" => SmpMb(),
            "smp_rmb" => SmpRmb(),
            "smp_wmb" => SmpWmb(),
            "smp_mb__before_atomic" => SmpMbBeforeAtomic(),
            "smp_mb__after_atomic" => SmpMbAfterAtomic(),
            _ => Barrier(),
        };
    }

    /// <summary>spin_lock/spin_unlock/spin_trylock/spin_is_locked; the result is trylock's success or is_locked's answer.</summary>
    public async ValueTask<long> LockOp(OperationalThread t, int loc, string op)
    {
        var l = Lock(loc);
        t.Announce(Access(loc, write: op != "spin_is_locked"));
        switch (op)
        {
            case "spin_lock":
                await SpinLock(l);
                return 0;
            case "spin_unlock":
                await SpinUnlock(l);
                return 0;
            case "spin_trylock":
                return await SpinTrylock(l) ? 1 : 0;
            default:
                return await SpinIsLocked(l) ? 1 : 0;
        }
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

    private SpinlockT Lock(int loc) => _cells[loc] switch
    {
        LockCell l => l.Lock,
        { Kind: CellKind.Int } c when !_test.InitialValues.TryGetValue(c.Index, out var init) || init == 0 => throw new RelayoutException(loc, CellKind.Lock),
        var c => throw new LitmusUnsupportedException($"spin lock operation on {c.Name}, which holds data"),
    };
}
