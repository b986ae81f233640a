using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// A value held by a pointer-typed location. It is a reference type on purpose: the operational
/// lkmm gives loads of reference-typed locations their address dependency (they act as acquire),
/// as it does for the pointers of ported kernel code, so a litmus pointer must look like one.
/// </summary>
public sealed record Ptr(long Value);

/// <summary>How a litmus location is represented in the simulated kernel.</summary>
public enum CellKind
{
    /// <summary>An integer (<c>Loc&lt;long&gt;</c>).</summary>
    Int,

    /// <summary>A location that holds addresses (<c>Loc&lt;Ptr&gt;</c>).</summary>
    Pointer,

    /// <summary>A spinlock_t.</summary>
    Lock,
}

public enum LoadKind
{
    Plain,
    Once,
    Acquire,
}

public enum StoreKind
{
    Plain,
    Once,
    Release,

    /// <summary>smp_store_mb(): a store then a full barrier.</summary>
    Mb,
}

public enum RmwOrder
{
    Full,
    Relaxed,
    Acquire,
    Release,
}

/// <summary>
/// One litmus location of one execution, with every access going through the kernel API so the
/// memory model under test decides what it returns.
/// </summary>
internal abstract class Cell(int index, string name)
{
    public int Index { get; } = index;
    public string Name { get; } = name;

    public abstract CellKind Kind { get; }

    /// <summary>The value the end-of-run condition sees (coherence-latest, store buffers drained).</summary>
    public abstract long Final { get; }

    public virtual ValueTask<long> Load(LoadKind kind) => throw AsData();

    public virtual ValueTask Store(long v, StoreKind kind) => throw AsData();

    public virtual ValueTask<long> Xchg(long v, RmwOrder order) => throw AsData();

    public virtual ValueTask<long> Cmpxchg(long old, long @new, RmwOrder order) => throw AsData();

    private LitmusUnsupportedException AsData() => new($"spinlock {Name} read or written as data");
}

/// <summary>Integers and pointers share the accesses; only the value type differs.</summary>
internal abstract class ValueCell<T>(int index, string name, T initial) : Cell(index, name)
{
    public readonly Loc<T> Loc = new(name, initial);

    protected abstract T In(long v);

    protected abstract long Out(T v);

    public override long Final => Out(Loc.Peek());

    public override async ValueTask<long> Load(LoadKind kind) => Out(kind switch
    {
        LoadKind.Plain => await PlainRead(Loc),
        LoadKind.Once => await ReadOnce(Loc),
        _ => await SmpLoadAcquire(Loc),
    });

    public override ValueTask Store(long v, StoreKind kind) => kind switch
    {
        StoreKind.Plain => PlainWrite(Loc, In(v)),
        StoreKind.Once => WriteOnce(Loc, In(v)),
        StoreKind.Release => SmpStoreRelease(Loc, In(v)),
        _ => SmpStoreMb(Loc, In(v)),
    };

    public override async ValueTask<long> Xchg(long v, RmwOrder order) => Out(order switch
    {
        RmwOrder.Full => await Kernel.Xchg(Loc, In(v)),
        RmwOrder.Relaxed => await XchgRelaxed(Loc, In(v)),
        RmwOrder.Acquire => await XchgAcquire(Loc, In(v)),
        _ => await XchgRelease(Loc, In(v)),
    });

    public override async ValueTask<long> Cmpxchg(long old, long @new, RmwOrder order) => Out(order switch
    {
        RmwOrder.Full => await Kernel.Cmpxchg(Loc, In(old), In(@new)),
        RmwOrder.Relaxed => await CmpxchgRelaxed(Loc, In(old), In(@new)),
        RmwOrder.Acquire => await CmpxchgAcquire(Loc, In(old), In(@new)),
        _ => await CmpxchgRelease(Loc, In(old), In(@new)),
    });
}

internal sealed class IntCell(int index, string name, long initial) : ValueCell<long>(index, name, initial)
{
    public override CellKind Kind => CellKind.Int;

    protected override long In(long v) => v;

    protected override long Out(long v) => v;

    /// <summary>
    /// The arithmetic atomics, each mapped to the kernel API call of the same ordering. Forms the
    /// API lacks are spelled with one it has that the LKMM gives the same events and ordering
    /// (atomic_inc_return_relaxed(v) is atomic_add_return_relaxed(1, v)); and/or/xor have none.
    /// <see cref="RmwOrder.Full"/> stands for "no suffix", which for the no-return forms
    /// (atomic_add() and friends) means relaxed, as the kernel API has them.
    /// </summary>
    public async ValueTask<long> Arith(string op, RmwOrder order, long d)
    {
        var v = Loc;
        switch (op)
        {
            case "add" when order == RmwOrder.Full:
                await AtomicAdd(d, v);
                return 0;
            case "sub" when order == RmwOrder.Full:
                await AtomicSub(d, v);
                return 0;
            case "inc" when order == RmwOrder.Full:
                await AtomicInc(v);
                return 0;
            case "dec" when order == RmwOrder.Full:
                await AtomicDec(v);
                return 0;
            case "add_return" or "inc_return" or "sub_return" or "dec_return":
            {
                var delta = op is "sub_return" or "dec_return" ? -d : d;
                return order switch
                {
                    RmwOrder.Full => op switch
                    {
                        "inc_return" => await AtomicIncReturn(v),
                        "dec_return" => await AtomicDecReturn(v),
                        "sub_return" => await AtomicSubReturn(d, v),
                        _ => await AtomicAddReturn(d, v),
                    },
                    RmwOrder.Relaxed => op == "sub_return" ? await AtomicSubReturnRelaxed(d, v) : await AtomicAddReturnRelaxed(delta, v),
                    RmwOrder.Acquire => op == "sub_return" ? await AtomicSubReturnAcquire(d, v) : await AtomicAddReturnAcquire(delta, v),
                    _ => op == "sub_return" ? await AtomicSubReturnRelease(d, v) : await AtomicAddReturnRelease(delta, v),
                };
            }

            case "fetch_add" or "fetch_inc" or "fetch_sub" or "fetch_dec":
            {
                var delta = op is "fetch_sub" or "fetch_dec" ? -d : d;
                return (op, order) switch
                {
                    ("fetch_sub", RmwOrder.Full) => await AtomicFetchSub(d, v),
                    ("fetch_sub", RmwOrder.Release) => await AtomicFetchSubRelease(d, v),
                    (_, RmwOrder.Full) => await AtomicFetchAdd(delta, v),
                    (_, RmwOrder.Relaxed) => await AtomicFetchAddRelaxed(delta, v),
                    (_, RmwOrder.Acquire) => await AtomicFetchAddAcquire(delta, v),
                    _ => await AtomicFetchAddRelease(delta, v),
                };
            }

            default:
                throw new LitmusUnsupportedException($"atomic_{op}{Suffix(order)}() (no kernel API for it in Models)");
        }
    }

    public ValueTask<bool> SubAndTest(long d) => AtomicSubAndTest(d, Loc);

    public ValueTask<bool> DecAndTest() => AtomicDecAndTest(Loc);

    /// <summary>atomic_inc_and_test()/atomic_add_negative(): fully ordered, so atomic_add_return() and a test.</summary>
    public ValueTask<long> AddReturn(long d) => AtomicAddReturn(d, Loc);

    private static string Suffix(RmwOrder o) => o switch
    {
        RmwOrder.Relaxed => "_relaxed",
        RmwOrder.Acquire => "_acquire",
        RmwOrder.Release => "_release",
        _ => "",
    };
}

internal sealed class PtrCell(int index, string name, long initial) : ValueCell<Ptr>(index, name, new Ptr(initial))
{
    public override CellKind Kind => CellKind.Pointer;

    protected override Ptr In(long v) => new(v);

    protected override long Out(Ptr v) => v.Value;
}

internal sealed class LockCell(int index, string name) : Cell(index, name)
{
    public readonly SpinlockT Lock = new(name);

    public override CellKind Kind => CellKind.Lock;

    public override long Final => Lock.IsLocked ? 1 : 0;
}
