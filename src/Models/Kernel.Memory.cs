using System.Numerics;
using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>
/// The simulated kernel's API, in kernel names. Ports write <c>using static Kmc.Models.Kernel;</c>
/// and then read like the C: <c>await ReadOnce(node.Locked)</c>, <c>await SpinLock(l)</c>.
/// Every access is a scheduling point taken before the access, so the explorers can run
/// another task between any two shared accesses.
/// </summary>
public static partial class Kernel
{
    private static (Execution, SimTask) Ctx() => Execution.CurrentWithTask();

    /// <summary>The task running this code (<c>current</c>).</summary>
    public static SimTask Current => Execution.CurrentTask;

    // ---- plain and marked accesses ---------------------------------------------------------

    public static MemAccess<T> ReadOnce<T>(Loc<T> x, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Load(x, MemOrder.Once, "READ_ONCE", fn, file, line);

    public static MemAccess WriteOnce<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Store(x, v, MemOrder.Once, "WRITE_ONCE", fn, file, line);

    public static MemAccess<T> SmpLoadAcquire<T>(Loc<T> x, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Load(x, MemOrder.Acquire, "smp_load_acquire", fn, file, line);

    public static MemAccess SmpStoreRelease<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Store(x, v, MemOrder.Release, "smp_store_release", fn, file, line);

    /// <summary>An unmarked C load (<c>x</c>). Racing with a store is a data race in the LKMM.</summary>
    public static MemAccess<T> PlainRead<T>(Loc<T> x, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Load(x, MemOrder.Plain, "load", fn, file, line);

    /// <summary>An unmarked C store (<c>x = v</c>).</summary>
    public static MemAccess PlainWrite<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Store(x, v, MemOrder.Plain, "store", fn, file, line);

    /// <summary>
    /// data_race(x): a plain load the kernel marks as an intentional race (a statistic, a
    /// diagnostic, a racy check whose result is rechecked): exempt from data-race detection, as
    /// KCSAN exempts it. Ordered like a plain load.
    /// </summary>
    public static MemAccess<T> DataRace<T>(Loc<T> x, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Load(x, MemOrder.Plain, "data_race", fn, file, line, tracked: false);

    /// <summary>data_race(x = v): a plain store marked as an intentional race (see <see cref="DataRace{T}"/>).</summary>
    public static MemAccess DataRaceWrite<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Store(x, v, MemOrder.Plain, "data_race store", fn, file, line, tracked: false);

    /// <summary>
    /// Marks <paramref name="p"/> as computed from the value of the task's last load (decode_tail(),
    /// decode_cpu(), per_cpu_ptr(..., cpu) with cpu just read): an address dependency, so
    /// accesses through it come after the store that load read. The race detector needs to be
    /// told (a port's C# does not show which value a pointer came from); as with pointer-valued
    /// loads it then orders all of the task's later accesses, not only those through p.
    /// </summary>
    public static T DependentPointer<T>(T p)
    {
        var ex = Execution.Current;
        ex.Races?.OnAddressDependency(Execution.CurrentTask);
        return p;
    }

    /// <summary>smp_store_mb(): a store followed by a full barrier.</summary>
    public static async ValueTask SmpStoreMb<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        await Store(x, v, MemOrder.Once, "smp_store_mb", fn, file, line);
        await Fence(FenceKind.Mb, "smp_mb", fn, file, line);
    }

    internal static MemAccess<T> Load<T>(Loc<T> x, MemOrder order, string op, string fn, string file, int line, bool tracked = true)
    {
        var (ex, t) = Ctx();
        if (ex.Orderings != null && (order >= MemOrder.Acquire || (order == MemOrder.Once && ex.Orderings.SeesOnceSites)))
            (order, op) = Hooked(ex, order, rmw: false, op, fn, file, line);
        return AccessStep<LoadAccess<T>, T>.At(ex, t, new LoadAccess<T>(x, order, op, fn, file, line, tracked));
    }

    /// <summary>The step of a load, run once its task is scheduled (see <see cref="AccessStep{TAccess, T}"/>).</summary>
    private readonly record struct LoadAccess<T>(Loc<T> X, MemOrder Order, string Op, string Fn, string File, int Line, bool Tracked) : IAccess<T>, ISameAccess<LoadAccess<T>>
    {
        public bool IsSame(in LoadAccess<T> o) =>
            Same.Site(X, Op, Fn, File, o.X, o.Op, o.Fn, o.File) && Order == o.Order && Line == o.Line && Tracked == o.Tracked;

        public T Run(Execution ex, SimTask t)
        {
            Allocator.CheckLive(X, Op, File, Line, t);
            var v = ex.Load(t, X, Order, rmw: false);
            if (ex.Recording)
                ex.Record(t, Op, X.Name, X.FormatValue(v), Fn, File, Line, memory: ex.MemoryNote);
            if (v is null)
                NoteNull(ex, t, X, Op, Fn, File, Line);
            if (Tracked)
                ex.RaceCheck(t, X, write: false, Order, Op, Fn, File, Line, v);
            return v;
        }
    }

    internal static MemAccess Store<T>(Loc<T> x, T v, MemOrder order, string op, string fn, string file, int line, bool tracked = true)
    {
        var (ex, t) = Ctx();
        if (ex.Orderings != null && (order >= MemOrder.Acquire || (order == MemOrder.Once && ex.Orderings.SeesOnceSites)))
            (order, op) = Hooked(ex, order, rmw: false, op, fn, file, line);
        return AccessStep<StoreAccess<T>, bool>.AtVoid(ex, t, new StoreAccess<T>(x, v, order, op, fn, file, line, tracked), x);
    }

    private readonly record struct StoreAccess<T>(Loc<T> X, T V, MemOrder Order, string Op, string Fn, string File, int Line, bool Tracked) : IAccess<bool>, ISameAccess<StoreAccess<T>>
    {
        public bool IsSame(in StoreAccess<T> o) =>
            Same.Site(X, Op, Fn, File, o.X, o.Op, o.Fn, o.File) && Same.Value(V, o.V) && Order == o.Order && Line == o.Line && Tracked == o.Tracked;

        public bool Run(Execution ex, SimTask t)
        {
            Allocator.CheckLive(X, Op, File, Line, t);
            NodeLifetime.CheckWrite(X, V, Op, File, Line, t);
            ex.Store(t, X, V, Order, rmw: false);
            if (ex.Recording)
                ex.Record(t, Op, X.Name, X.FormatValue(V), Fn, File, Line, memory: ex.MemoryNote);
            if (Tracked)
                ex.RaceCheck(t, X, write: true, Order, Op, Fn, File, Line, V);
            return true;
        }
    }

    /// <summary>Remembers the task's last load of NULL, for the NULL-dereference report.</summary>
    private static void NoteNull(Execution ex, SimTask t, Loc x, string op, string fn, string file, int line) =>
        t.LastNullLoad = new NullLoad(op, x.Name, fn, file, line, ex.Recorder?.Steps.Count ?? 0);

    // ---- exchange and compare-exchange -----------------------------------------------------

    public static MemAccess<T> Xchg<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => XchgCore(x, v, MemOrder.Full, "xchg", fn, file, line);

    public static MemAccess<T> XchgAcquire<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => XchgCore(x, v, MemOrder.Acquire, "xchg_acquire", fn, file, line);

    public static MemAccess<T> XchgRelease<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => XchgCore(x, v, MemOrder.Release, "xchg_release", fn, file, line);

    public static MemAccess<T> XchgRelaxed<T>(Loc<T> x, T v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => XchgCore(x, v, MemOrder.Relaxed, "xchg_relaxed", fn, file, line);

    /// <summary>cmpxchg(): returns the old value; stores only when it equalled <paramref name="old"/>. A failed cmpxchg is unordered.</summary>
    public static MemAccess<T> Cmpxchg<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => CmpxchgCore(x, old, @new, MemOrder.Full, "cmpxchg", fn, file, line);

    public static MemAccess<T> CmpxchgAcquire<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => CmpxchgCore(x, old, @new, MemOrder.Acquire, "cmpxchg_acquire", fn, file, line);

    public static MemAccess<T> CmpxchgRelease<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => CmpxchgCore(x, old, @new, MemOrder.Release, "cmpxchg_release", fn, file, line);

    public static MemAccess<T> CmpxchgRelaxed<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => CmpxchgCore(x, old, @new, MemOrder.Relaxed, "cmpxchg_relaxed", fn, file, line);

    /// <summary>try_cmpxchg(): (success, the value found). C updates <c>*old</c> on failure; here it is returned.</summary>
    public static async ValueTask<(bool Ok, T Old)> TryCmpxchg<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var found = await CmpxchgCore(x, old, @new, MemOrder.Full, "try_cmpxchg", fn, file, line);
        return (EqualityComparer<T>.Default.Equals(found, old), found);
    }

    public static async ValueTask<(bool Ok, T Old)> TryCmpxchgAcquire<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var found = await CmpxchgCore(x, old, @new, MemOrder.Acquire, "try_cmpxchg_acquire", fn, file, line);
        return (EqualityComparer<T>.Default.Equals(found, old), found);
    }

    public static async ValueTask<(bool Ok, T Old)> TryCmpxchgRelease<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var found = await CmpxchgCore(x, old, @new, MemOrder.Release, "try_cmpxchg_release", fn, file, line);
        return (EqualityComparer<T>.Default.Equals(found, old), found);
    }

    public static async ValueTask<(bool Ok, T Old)> TryCmpxchgRelaxed<T>(Loc<T> x, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var found = await CmpxchgCore(x, old, @new, MemOrder.Relaxed, "try_cmpxchg_relaxed", fn, file, line);
        return (EqualityComparer<T>.Default.Equals(found, old), found);
    }

    internal static MemAccess<T> XchgCore<T>(Loc<T> x, T v, MemOrder order, string op, string fn, string file, int line)
    {
        var (ex, t) = Ctx();
        if (ex.Orderings != null && order >= MemOrder.Acquire)
            (order, op) = Hooked(ex, order, rmw: true, op, fn, file, line);
        return AccessStep<XchgAccess<T>, T>.At(ex, t, new XchgAccess<T>(x, v, order, op, fn, file, line), x);
    }

    private readonly record struct XchgAccess<T>(Loc<T> X, T V, MemOrder Order, string Op, string Fn, string File, int Line) : IAccess<T>, ISameAccess<XchgAccess<T>>
    {
        public bool IsSame(in XchgAccess<T> o) =>
            Same.Site(X, Op, Fn, File, o.X, o.Op, o.Fn, o.File) && Same.Value(V, o.V) && Order == o.Order && Line == o.Line;

        public T Run(Execution ex, SimTask t)
        {
            Allocator.CheckLive(X, Op, File, Line, t);
            NodeLifetime.CheckWrite(X, V, Op, File, Line, t);
            var old = ex.Load(t, X, Order, rmw: true);
            ex.Store(t, X, V, Order, rmw: true);
            if (ex.Recording)
                ex.Record(t, Op, X.Name, $"{X.FormatValue(old)} -> {X.FormatValue(V)}", Fn, File, Line, memory: ex.MemoryNote);
            if (old is null)
                NoteNull(ex, t, X, Op, Fn, File, Line);
            ex.RaceCheck(t, X, write: true, MemOrder.Relaxed, Op, Fn, File, Line, V);
            return old;
        }
    }

    internal static MemAccess<T> CmpxchgCore<T>(Loc<T> x, T old, T @new, MemOrder order, string op, string fn, string file, int line)
    {
        var (ex, t) = Ctx();
        if (ex.Orderings != null && order >= MemOrder.Acquire)
            (order, op) = Hooked(ex, order, rmw: true, op, fn, file, line);
        return AccessStep<CmpxchgAccess<T>, T>.At(ex, t, new CmpxchgAccess<T>(x, old, @new, order, op, fn, file, line), x);
    }

    private readonly record struct CmpxchgAccess<T>(Loc<T> X, T Old, T New, MemOrder Order, string Op, string Fn, string File, int Line) : IAccess<T>, ISameAccess<CmpxchgAccess<T>>
    {
        public bool IsSame(in CmpxchgAccess<T> o) =>
            Same.Site(X, Op, Fn, File, o.X, o.Op, o.Fn, o.File) && Same.Value(Old, o.Old) && Same.Value(New, o.New) && Order == o.Order && Line == o.Line;

        public T Run(Execution ex, SimTask t)
        {
            Allocator.CheckLive(X, Op, File, Line, t);
            var found = ex.Load(t, X, Order, rmw: true);
            var ok = EqualityComparer<T>.Default.Equals(found, Old);
            if (ok)
            {
                // A failed cmpxchg writes nothing: OSQ's Step A tries it on a node that may have left.
                NodeLifetime.CheckWrite(X, New, Op, File, Line, t);
                ex.Store(t, X, New, Order, rmw: true);
            }
            if (ex.Recording)
            {
                var value = ok
                    ? $"{X.FormatValue(found)} -> {X.FormatValue(New)}"
                    : $"{X.FormatValue(found)} (expected {X.FormatValue(Old)}, failed)";
                ex.Record(t, Op, X.Name, value, Fn, File, Line, memory: ex.MemoryNote);
            }

            if (found is null)
                NoteNull(ex, t, X, Op, Fn, File, Line);
            ex.RaceCheck(t, X, write: ok, MemOrder.Relaxed, Op, Fn, File, Line, ok ? New : found);
            return found;
        }
    }

    // ---- atomic_t / atomic_long_t ----------------------------------------------------------

    public static MemAccess<T> AtomicRead<T>(Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => Load(v, MemOrder.Once, "atomic_read", fn, file, line);

    public static MemAccess<T> AtomicReadAcquire<T>(Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => Load(v, MemOrder.Acquire, "atomic_read_acquire", fn, file, line);

    public static MemAccess AtomicSet<T>(Loc<T> v, T i, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => Store(v, i, MemOrder.Once, "atomic_set", fn, file, line);

    public static MemAccess AtomicSetRelease<T>(Loc<T> v, T i, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => Store(v, i, MemOrder.Release, "atomic_set_release", fn, file, line);

    /// <summary>atomic_add(): no return value, so no ordering.</summary>
    public static async ValueTask AtomicAdd<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => await AddCore(v, i, MemOrder.Relaxed, returnNew: true, "atomic_add", fn, file, line);

    public static async ValueTask AtomicSub<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => await AddCore(v, -i, MemOrder.Relaxed, returnNew: true, "atomic_sub", fn, file, line);

    public static async ValueTask AtomicInc<T>(Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => await AddCore(v, T.One, MemOrder.Relaxed, returnNew: true, "atomic_inc", fn, file, line);

    public static async ValueTask AtomicDec<T>(Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => await AddCore(v, -T.One, MemOrder.Relaxed, returnNew: true, "atomic_dec", fn, file, line);

    public static MemAccess<T> AtomicAddReturn<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Full, returnNew: true, "atomic_add_return", fn, file, line);

    public static MemAccess<T> AtomicAddReturnRelaxed<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Relaxed, returnNew: true, "atomic_add_return_relaxed", fn, file, line);

    public static MemAccess<T> AtomicAddReturnAcquire<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Acquire, returnNew: true, "atomic_add_return_acquire", fn, file, line);

    public static MemAccess<T> AtomicAddReturnRelease<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Release, returnNew: true, "atomic_add_return_release", fn, file, line);

    public static MemAccess<T> AtomicSubReturn<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, -i, MemOrder.Full, returnNew: true, "atomic_sub_return", fn, file, line);

    public static MemAccess<T> AtomicSubReturnRelaxed<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, -i, MemOrder.Relaxed, returnNew: true, "atomic_sub_return_relaxed", fn, file, line);

    public static MemAccess<T> AtomicSubReturnAcquire<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, -i, MemOrder.Acquire, returnNew: true, "atomic_sub_return_acquire", fn, file, line);

    public static MemAccess<T> AtomicSubReturnRelease<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, -i, MemOrder.Release, returnNew: true, "atomic_sub_return_release", fn, file, line);

    public static MemAccess<T> AtomicIncReturn<T>(Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, T.One, MemOrder.Full, returnNew: true, "atomic_inc_return", fn, file, line);

    public static MemAccess<T> AtomicDecReturn<T>(Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, -T.One, MemOrder.Full, returnNew: true, "atomic_dec_return", fn, file, line);

    public static MemAccess<T> AtomicFetchAdd<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Full, returnNew: false, "atomic_fetch_add", fn, file, line);

    public static MemAccess<T> AtomicFetchAddRelaxed<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Relaxed, returnNew: false, "atomic_fetch_add_relaxed", fn, file, line);

    public static MemAccess<T> AtomicFetchAddAcquire<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Acquire, returnNew: false, "atomic_fetch_add_acquire", fn, file, line);

    public static MemAccess<T> AtomicFetchAddRelease<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, i, MemOrder.Release, returnNew: false, "atomic_fetch_add_release", fn, file, line);

    public static MemAccess<T> AtomicFetchSub<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, -i, MemOrder.Full, returnNew: false, "atomic_fetch_sub", fn, file, line);

    public static MemAccess<T> AtomicFetchSubRelease<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => AddCore(v, -i, MemOrder.Release, returnNew: false, "atomic_fetch_sub_release", fn, file, line);

    public static async ValueTask<bool> AtomicDecAndTest<T>(Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => T.IsZero(await AddCore(v, -T.One, MemOrder.Full, returnNew: true, "atomic_dec_and_test", fn, file, line));

    public static async ValueTask<bool> AtomicSubAndTest<T>(T i, Loc<T> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => T.IsZero(await AddCore(v, -i, MemOrder.Full, returnNew: true, "atomic_sub_and_test", fn, file, line));

    public static MemAccess<T> AtomicXchg<T>(Loc<T> v, T i, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => XchgCore(v, i, MemOrder.Full, "atomic_xchg", fn, file, line);

    public static MemAccess<T> AtomicXchgAcquire<T>(Loc<T> v, T i, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => XchgCore(v, i, MemOrder.Acquire, "atomic_xchg_acquire", fn, file, line);

    public static MemAccess<T> AtomicCmpxchg<T>(Loc<T> v, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => CmpxchgCore(v, old, @new, MemOrder.Full, "atomic_cmpxchg", fn, file, line);

    public static MemAccess<T> AtomicCmpxchgAcquire<T>(Loc<T> v, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => CmpxchgCore(v, old, @new, MemOrder.Acquire, "atomic_cmpxchg_acquire", fn, file, line);

    public static MemAccess<T> AtomicCmpxchgRelease<T>(Loc<T> v, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => CmpxchgCore(v, old, @new, MemOrder.Release, "atomic_cmpxchg_release", fn, file, line);

    public static MemAccess<T> AtomicCmpxchgRelaxed<T>(Loc<T> v, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
        => CmpxchgCore(v, old, @new, MemOrder.Relaxed, "atomic_cmpxchg_relaxed", fn, file, line);

    public static async ValueTask<(bool Ok, T Old)> AtomicTryCmpxchg<T>(Loc<T> v, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
    {
        var found = await CmpxchgCore(v, old, @new, MemOrder.Full, "atomic_try_cmpxchg", fn, file, line);
        return (found == old, found);
    }

    public static async ValueTask<(bool Ok, T Old)> AtomicTryCmpxchgAcquire<T>(Loc<T> v, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
    {
        var found = await CmpxchgCore(v, old, @new, MemOrder.Acquire, "atomic_try_cmpxchg_acquire", fn, file, line);
        return (found == old, found);
    }

    public static async ValueTask<(bool Ok, T Old)> AtomicTryCmpxchgRelaxed<T>(Loc<T> v, T old, T @new, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) where T : IBinaryInteger<T>
    {
        var found = await CmpxchgCore(v, old, @new, MemOrder.Relaxed, "atomic_try_cmpxchg_relaxed", fn, file, line);
        return (found == old, found);
    }

    /// <summary>atomic_fetch_or_acquire(): sets the bits of <paramref name="i"/>, returns the old value.</summary>
    public static MemAccess<int> AtomicFetchOrAcquire(int i, Loc<int> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => SubwordCore(v, null, i, i, MemOrder.Acquire, "atomic_fetch_or_acquire", fn, file, line);

    /// <summary>atomic_andnot(): clears the bits of <paramref name="i"/>; no return value, so no ordering.</summary>
    public static async ValueTask AtomicAndnot(int i, Loc<int> v, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => await SubwordCore(v, null, i, 0, MemOrder.Relaxed, "atomic_andnot", fn, file, line);

    internal static MemAccess<T> AddCore<T>(Loc<T> x, T delta, MemOrder order, bool returnNew, string op, string fn, string file, int line)
        where T : IBinaryInteger<T>
    {
        var (ex, t) = Ctx();
        if (ex.Orderings != null && order >= MemOrder.Acquire)
            (order, op) = Hooked(ex, order, rmw: true, op, fn, file, line);
        return AccessStep<AddAccess<T>, T>.At(ex, t, new AddAccess<T>(x, delta, order, returnNew, op, fn, file, line), x);
    }

    private readonly record struct AddAccess<T>(Loc<T> X, T Delta, MemOrder Order, bool ReturnNew, string Op, string Fn, string File, int Line) : IAccess<T>, ISameAccess<AddAccess<T>>
        where T : IBinaryInteger<T>
    {
        public bool IsSame(in AddAccess<T> o) =>
            Same.Site(X, Op, Fn, File, o.X, o.Op, o.Fn, o.File) && Same.Value(Delta, o.Delta) && Order == o.Order && ReturnNew == o.ReturnNew && Line == o.Line;

        public T Run(Execution ex, SimTask t)
        {
            Allocator.CheckLive(X, Op, File, Line, t);
            var old = ex.Load(t, X, Order, rmw: true);
            var @new = old + Delta;
            NodeLifetime.CheckWrite(X, @new, Op, File, Line, t);
            ex.Store(t, X, @new, Order, rmw: true);
            if (ex.Recording)
                ex.Record(t, Op, X.Name, X.Layout is null ? $"{old} -> {@new}" : $"{X.FormatValue(old)} -> {X.FormatValue(@new)}", Fn, File, Line, memory: ex.MemoryNote);
            ex.RaceCheck(t, X, write: true, MemOrder.Relaxed, Op, Fn, File, Line, @new);
            return ReturnNew ? @new : old;
        }
    }

    // ---- barriers --------------------------------------------------------------------------

    public static ValueTask SmpMb([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Fence(FenceKind.Mb, "smp_mb", fn, file, line);

    public static ValueTask SmpRmb([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Fence(FenceKind.Rmb, "smp_rmb", fn, file, line);

    public static ValueTask SmpWmb([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Fence(FenceKind.Wmb, "smp_wmb", fn, file, line);

    /// <summary>barrier(): a compiler barrier only.</summary>
    public static ValueTask Barrier([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Fence(FenceKind.Barrier, "barrier", fn, file, line);

    public static ValueTask SmpMbBeforeAtomic([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Fence(FenceKind.MbBeforeAtomic, "smp_mb__before_atomic", fn, file, line);

    public static ValueTask SmpMbAfterAtomic([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Fence(FenceKind.MbAfterAtomic, "smp_mb__after_atomic", fn, file, line);

    public static ValueTask SmpAcquireAfterCtrlDep([CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Fence(FenceKind.AcquireAfterCtrlDep, "smp_acquire__after_ctrl_dep", fn, file, line);

    /// <summary>
    /// Under sequential consistency a barrier orders nothing that an interleaving does not
    /// already order, so it is recorded but is not a scheduling point (which would only multiply
    /// equivalent schedules). Weak models make it one.
    /// </summary>
    internal static ValueTask Fence(FenceKind kind, string op, string fn, string file, int line)
    {
        var (ex, t) = Ctx();
        var removed = ex.Orderings != null && kind != FenceKind.Barrier
            && ex.Orderings.At(new OrderingSite(file, line, fn, op, "fence")) == SiteAction.Relax;
        if (removed)
            op += " (weakened: removed)";
        if (ex.Memory is ScMemory)
        {
            if (!removed)
                ex.Races?.OnFence(t, kind);
            ex.Record(t, op, null, null, fn, file, line);
            return ValueTask.CompletedTask;
        }

        return FenceAsync(ex, t, removed ? null : kind, op, fn, file, line);
    }

    /// <summary>A removed barrier (<paramref name="kind"/> null) keeps its scheduling point: only what it orders goes.</summary>
    private static async ValueTask FenceAsync(Execution ex, SimTask t, FenceKind? kind, string op, string fn, string file, int line)
    {
        await ex.Point(t, null, null);
        if (kind is { } k)
            ex.Fence(t, k);
        ex.Record(t, op, null, null, fn, file, line, memory: ex.MemoryNote);
    }

    // ---- ordered-call hook ----------------------------------------------------------------

    /// <summary>
    /// Shows an ordered call to the execution's <see cref="IOrderingHook"/>: the ordering the
    /// access gets, and its recorded name (which says when the hook relaxed it).
    /// </summary>
    internal static (MemOrder Order, string Op) Hooked(Execution ex, MemOrder order, bool rmw, string op, string fn, string file, int line)
    {
        var site = new OrderingSite(file, line, fn, op, order.ToString().ToLowerInvariant());
        if (ex.Orderings!.At(site) != SiteAction.Relax)
            return (order, op);
        return order == MemOrder.Once
            ? (MemOrder.Plain, op + " (weakened: plain)")
            : (rmw ? MemOrder.Relaxed : MemOrder.Once, op + " (weakened: relaxed)");
    }

    // ---- sub-word accesses ----------------------------------------------------------------

    /// <summary>
    /// A store to part of a word that is also accessed whole (qspinlock's locked byte, pending
    /// byte, locked_pending and tail half-words), or an exchange of that part: the bits in
    /// <paramref name="mask"/> become those of <paramref name="value"/>, the others stay, and the
    /// old whole word is returned. The memory models have no mixed-size accesses (neither has the
    /// LKMM), so this is an atomic read-modify-write of the whole word with the ordering asked for
    /// (<paramref name="op"/> names the kernel operation, <paramref name="part"/> the field). Exact
    /// for the values the word takes; stronger than a sub-word store only in that, being an RMW,
    /// it reads the newest value and cannot become visible late.
    /// </summary>
    public static MemAccess<int> SubwordStore(Loc<int> word, string part, int mask, int value, MemOrder order, string op,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => SubwordCore(word, part, mask, value, order, op, fn, file, line);

    private static MemAccess<int> SubwordCore(Loc<int> x, string? part, int mask, int value, MemOrder order, string op, string fn, string file, int line)
    {
        var (ex, t) = Ctx();
        if (ex.Orderings != null && order >= MemOrder.Acquire)
            (order, op) = Hooked(ex, order, rmw: true, op, fn, file, line);
        return AccessStep<SubwordAccess, int>.At(ex, t, new SubwordAccess(x, part, mask, value, order, op, fn, file, line), x);
    }

    private readonly record struct SubwordAccess(Loc<int> X, string? Part, int Mask, int Value, MemOrder Order, string Op, string Fn, string File, int Line) : IAccess<int>, ISameAccess<SubwordAccess>
    {
        public bool IsSame(in SubwordAccess o) =>
            Same.Site(X, Op, Fn, File, o.X, o.Op, o.Fn, o.File) && ReferenceEquals(Part, o.Part) && Mask == o.Mask && Value == o.Value && Order == o.Order && Line == o.Line;

        public int Run(Execution ex, SimTask t)
        {
            Allocator.CheckLive(X, Op, File, Line, t);
            var old = ex.Load(t, X, Order, rmw: true);
            var @new = (old & ~Mask) | (Value & Mask);
            NodeLifetime.CheckWrite(X, @new, Op, File, Line, t);
            ex.Store(t, X, @new, Order, rmw: true);
            if (ex.Recording)
                ex.Record(t, Op, Part is null ? X.Name : $"{X.Name}.{Part}", X.Layout is null ? $"0x{old:x} -> 0x{@new:x}" : $"{X.FormatValue(old)} -> {X.FormatValue(@new)}", Fn, File, Line, memory: ex.MemoryNote);
            ex.RaceCheck(t, X, write: true, MemOrder.Relaxed, Op, Fn, File, Line, @new);
            return old;
        }
    }
}
