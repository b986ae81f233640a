using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// A promise broke: the thread did not go on to make the promised store, or made it in a way
/// the LKMM orders after something that ran since the promise. The execution is not one of the
/// model's (as an uncertifiable promise in the promising semantics): it has no final state.
/// </summary>
internal sealed class PromiseBrokenException : Exception;

/// <summary>One outstanding promise of a thread: a relaxed store that other threads may already read.</summary>
/// <summary>
/// The newest loads (by number, -1 for none) a value depends on: any load, and the newest
/// strict one. A plain load of a location its thread never stored to (so it reads another
/// thread's store, not its own: no carry-dep, data;rfi) is not strict: the LKMM keeps it out of
/// happens-before ([Marked] at both ends of hb), so a dependency on it orders nothing.
/// </summary>
internal readonly record struct Dep(int Any, int Strict)
{
    public static readonly Dep None = new(-1, -1);

    public Dep Max(Dep o) => new(Math.Max(Any, o.Any), Math.Max(Strict, o.Strict));
}

internal sealed class Promise(int loc, long value, int mark, bool wmbOrdered, bool grounded)
{
    /// <summary>
    /// The value is one the axiomatic engine's value domain has for the location (herd's
    /// values: constants the program computes), so a run may reach it through a dependency the
    /// LKMM does not order (plain accesses). Any other value (a constant the final condition
    /// asks about, as 42 in C-JO-OOTA-1) may only be stored with no dependency at all on a
    /// load since the promise: a dependency cycle through plain accesses would otherwise make
    /// it out of thin air, which the LKMM's cat allows in principle but herd7 never produces.
    /// </summary>
    public bool Grounded { get; } = grounded;

    public int Loc { get; } = loc;
    public long Value { get; } = value;

    /// <summary>The thread's load count when the promise was made: loads numbered above it ran since.</summary>
    public int Mark { get; } = mark;

    /// <summary>The promise carries the thread's whole view, as a store after an smp_wmb() would.</summary>
    public bool WmbOrdered { get; } = wmbOrdered;

    /// <summary>The thread has stored (to another location) since the promise.</summary>
    public bool StoredSince { get; set; }

    /// <summary>The thread has run smp_rmb() since the promise: the loads before it are ordered before later loads.</summary>
    public bool RmbSince { get; set; }

    /// <summary>The memory model's handle on the promised store (<see cref="MemoryModel.PromiseNextStore"/>).</summary>
    public object Token { get; set; } = null!;
}

/// <summary>
/// <para>
/// Value promises (lkmm only), after the promising semantics (Kang, Hur, Lahav, Vafeiadis,
/// Dreyer, "A Promising Semantics for Relaxed-Memory Concurrency", POPL 2017; Lee, Cho,
/// Podkopaev, Chakraborty, Hur, Lahav, Vafeiadis, "Promising 2.0", PLDI 2020). Right before a
/// load, a thread may promise a relaxed store (a location it can WRITE_ONCE() or plainly
/// assign, a value from the location's value domain): the store is made at once, so other
/// threads' loads can read it before the thread reaches it. The choice is a recorded weak
/// choice, so an execution with promises replays like any other, and at most
/// <see cref="OperationalThread.PromiseBound"/> promises are made per execution.
/// </para>
/// <para>
/// Certification. The promising semantics certifies a promise by running the thread alone;
/// here the thread's own run is the certificate, checked as it goes, against the LKMM's
/// orderings rather than against values alone: the LKMM forbids load buffering through a
/// dependency between marked accesses even where a run alone would store the same value
/// (LB+ctrl with equal values in both branches), so value certification alone would be
/// unsound for it. The promise is kept only if the thread reaches a relaxed store of the same
/// value to the same location (else the execution breaks off, <see cref="PromiseBrokenException"/>)
/// and nothing that ran since the promise is ordered before that store by the LKMM
/// (tools/memory-model/linux-kernel.cat):
/// <list type="bullet">
/// <item>no address dependency (herd's syntactic ones, as ThreadInterpreter computes them) from
/// a load that ran since the promise (ppo's addr, and addr;[Plain];wmb);</item>
/// <item>for a marked store, no data or control dependency (register data flow, the branches
/// of an if or up to a LISA label) from a strict load since the promise: a marked one, or a
/// plain one that may have read the thread's own store (carry-dep, data;rfi). A plain load of
/// a location the thread never stored to, and any load feeding a plain store, are in no
/// ordering: hb is [Marked];(ppo|rfe|...);[Marked] (<see cref="Dep"/>). So LB+datas still
/// cannot make 42 out of thin air, and a value no dependency may feed (one only the final
/// condition asks about: <see cref="Promise.Grounded"/>) needs no dependency at all;</item>
/// <item>no acquire (smp_load_acquire, _acquire and fully ordered RMWs, spin_lock), no
/// smp_mb() or RCU call, no RMW of the promised location since the promise;</item>
/// <item>smp_wmb() only for a promise that carries the thread's view (a thread with smp_wmb()
/// in its code always promises that way) and only if every store since the promise reaches
/// its readers first: it was itself promised before it (several promises can be made at one
/// point, each later one carrying the earlier ones, as the promising semantics' messages carry
/// views), or it went before an earlier promise of its location in coherence order. A plain
/// store counts too although the LKMM keeps plain accesses out of hb: a reader of the promise
/// that then reads the plain store's location must see it (plain coherence, w-post-bounded;
/// LB+plainstore-wmb, C-JO-OOTA-5).</item>
/// </list>
/// A load of a location the thread has promised reads a store older than the promise (po-loc
/// orders it before the promised store; a promising thread's view leaves out its own promises,
/// LkmmMemory keeps them only in what the thread publishes), and a store of another value to it
/// goes before the promise in coherence order (C-non-race1, C-non-race3).
/// Each rule is at least as strict as the LKMM's, so a promise only ever adds outcomes the
/// LKMM allows; where a rule is stricter (a full barrier before any access since the promise,
/// at most <see cref="PromiseBound"/> promises) an outcome may be missed, and
/// --compare-operational shows it.
/// </para>
/// <para>
/// Pruning. A promise that must break is not made, and one made breaks as soon as it must
/// (<see cref="PromiseSites"/>: no store the thread can still reach, before a barrier, acquire
/// or lock that would break it, can fulfil it without depending on a load made since); the promising semantics' certification (the thread alone can fulfil it), read
/// off the code instead of run. Without it most executions of a test with promises ended in a
/// broken promise after every interleaving of the other threads had been tried.
/// </para>
/// </summary>
internal sealed partial class OperationalThread
{
    /// <summary>Most promises in one execution (all threads together).</summary>
    public const int PromiseBound = 2;

    private readonly List<Promise> _promises = [];

    private readonly PromiseSites? _sites;

    /// <summary>Where the thread is: the statement lists it is in and the index in each, innermost last.</summary>
    private readonly List<(IReadOnlyList<Stmt> List, int Index)> _frames = [];

    /// <summary>
    /// The thread moves to statement <paramref name="index"/> of its innermost list: a promise no
    /// store from here on can fulfil is broken now (<see cref="PromiseSites"/>).
    /// </summary>
    private void At(int index)
    {
        _frames[^1] = (_frames[^1].List, index);
        if (_sites != null && _promises.Count > 0 && _promises.Exists(p => !_deferredStores.Exists(d => d.Loc == p.Loc) && !_sites.Reachable(_frames, p.Loc, p.Value, begun: false, LoadedSince(p.Mark))))
            throw new PromiseBrokenException();
    }

    /// <summary>The registers holding a value that depends on a load made after the <paramref name="mark"/>-th.</summary>
    private HashSet<string> LoadedSince(int mark) => _regLoad.Where(kv => kv.Value.Strict > mark).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
    private readonly IReadOnlyList<(int Loc, long Value, bool Grounded)> _promisable;
    private readonly bool _wmbOrderedPromises;

    /// <summary>Loads this thread has performed so far; each load's number is its dependency token for promises.</summary>
    private int _loads;

    /// <summary>The newest loads the values evaluated in the current statement depend on.</summary>
    private Dep _dep = Dep.None;

    /// <summary>The newest loads each register's value depends on.</summary>
    private readonly Dictionary<string, Dep> _regLoad = new(StringComparer.Ordinal);

    /// <summary>The newest loads the branches around the current statement depend on.</summary>
    private Dep _ctrl = Dep.None;

    /// <summary>For a LISA branch: the control dependency to restore at its label.</summary>
    private readonly Dictionary<string, Dep> _branchScopes = new(StringComparer.Ordinal);

    /// <summary>The locations this thread has stored to (a plain load of one may read its own store, and carry its dependencies).</summary>
    private readonly HashSet<int> _storedLocs = [];

    private void Depend(Dep d) => _dep = _dep.Max(d);

    /// <summary>
    /// A load (or an RMW's read) was performed: later values computed from it depend on it. A
    /// plain load of a location the thread never stored to is no strict dependency (see <see cref="Dep"/>).
    /// </summary>
    private void Loaded(bool strict = true)
    {
        _loads++;
        Depend(new Dep(_loads, strict ? _loads : -1));
    }

    /// <summary>Offers the promises this thread can make, right before a load of <paramref name="loc"/>.</summary>
    private async ValueTask MaybePromise(int loc)
    {
        // Several promises may be made at one point, one after the other: each later one carries
        // the earlier ones in its view, so a store made between an earlier promise and an
        // smp_wmb() can pass the wmb with a later one (readers of the later promise see it).
        while (_promisable.Count > 0 && _m.PromisesLeft > 0 && _deferredStores.Count == 0)
        {
            var options = _promisable.Where(p => p.Loc != loc && _promises.All(q => q.Loc != p.Loc) && (_sites == null || _sites.Reachable(_frames, p.Loc, p.Value, begun: true, new HashSet<string>(StringComparer.Ordinal)))).ToList();
            if (options.Count == 0)
                return;
            var ex = Execution.Current;
            var k = ex.Driver.ChooseWeak(ex, Current, options.Count + 1, sc: 0);
            if (k == 0)
                return;
            var (ploc, v, grounded) = options[k - 1];
            _m.PromisesLeft--;
            var p = new Promise(ploc, v, _loads, _wmbOrderedPromises, grounded);
            var mem = Execution.Current.Memory;
            mem.PromiseNextStore(Current);
            await _m.Store(this, ploc, v, _wmbOrderedPromises ? StoreKind.Release : StoreKind.Once);
            p.Token = mem.TakePromise(Current);
            _promises.Add(p);
        }
    }

    /// <summary>A store by this thread: fulfils the promise of its location, or is made now.</summary>
    /// <param name="address">the loads the store's address depends on</param>
    private async ValueTask StoreAt(int loc, long v, StoreKind kind, Dep address)
    {
        _storedLocs.Add(loc);
        if (_promises.Count > 0)
        {
            var p = _promises.Find(q => q.Loc == loc);
            if (p != null)
            {
                // The LKMM orders a store after the loads its address depends on (addr, and
                // addr;[Plain];wmb), and a marked store after the marked loads its value or
                // branch depends on (rwdep between marked accesses); a plain store's data and
                // control dependencies are in no ordering (hb is [Marked];...;[Marked]).
                var ordered = address.Any > p.Mark || (kind != StoreKind.Plain && Math.Max(_dep.Strict, _ctrl.Strict) > p.Mark)
                              || (!p.Grounded && Math.Max(_dep.Any, _ctrl.Any) > p.Mark);
                if (v == p.Value && (kind is not (StoreKind.Once or StoreKind.Plain) || ordered))
                    throw new PromiseBrokenException();

                // The promises made before this one do not carry its store in their view: for
                // them, it is a store since the promise (a later smp_wmb() must break them).
                var i = _promises.IndexOf(p);
                for (var j = 0; j < i; j++)
                    _promises[j].StoredSince = true;
                var mem = Execution.Current.Memory;
                if (v == p.Value)
                {
                    mem.Fulfil(Current, p.Token);
                    _promises.RemoveAt(i);
                    return;
                }

                // Another value: a store before the promised one, so it goes before it in
                // coherence order (po-loc). The promises made since carry the promised store,
                // which every reader of theirs sees instead of this one: no store since for them.
                // Only a plain one: a marked store is ordered before the promised one (coi in
                // ppo), and so would be what is ordered before it.
                if (kind != StoreKind.Plain || !mem.BeforePromise(Current, p.Token, older: false))
                    throw new PromiseBrokenException();
                await _m.Store(this, loc, v, kind);
                return;
            }
        }

        await _m.Store(this, loc, v, kind);
        foreach (var q in _promises)
            q.StoredSince = true;
    }

    /// <summary>An RMW of <paramref name="loc"/>: it reads the newest store, so it cannot come before a promise of it.</summary>
    private void Touch(int loc)
    {
        if (_promises.Count > 0 && _promises.Exists(p => p.Loc == loc))
            throw new PromiseBrokenException();
    }

    /// <summary>
    /// <para>
    /// A load of <paramref name="loc"/>: while the thread has promised the location, the load
    /// reads a store older than the promise (po-loc: the promised store comes after it), as a
    /// thread of the promising semantics reads any message its view allows, not its own promise.
    /// </para>
    /// <para>
    /// A marked load is ordered before the promised store (fri in ppo), so nothing since the
    /// promise may be ordered before the load (an address dependency, an smp_rmb() after other
    /// loads; the address of a deferred load is not tracked here, so it may not be one), and it
    /// reads only a store made before the promise: a later one may be hb-after the promise
    /// (read through dependencies by other threads), which would close a cycle. A plain load is
    /// in no hb edge, and reads any store before the promise.
    /// </para>
    /// </summary>
    private void BeforeOwnPromise(int loc, LoadKind kind)
    {
        if (_promises.Count == 0)
            return;
        var p = _promises.Find(q => q.Loc == loc);
        if (p == null)
            return;
        var marked = kind != LoadKind.Plain;
        if (marked && (_performing || p.RmbSince || _dep.Any > p.Mark) || !Execution.Current.Memory.BeforePromise(Current, p.Token, older: marked))
            throw new PromiseBrokenException();
    }

    private void Rmb()
    {
        foreach (var p in _promises)
            p.RmbSince = true;
    }

    /// <summary>Something that orders every later access (acquire, full barrier, RCU): no promise may be outstanding.</summary>
    private void OrdersLater()
    {
        if (_promises.Count > 0)
            throw new PromiseBrokenException();
    }

    /// <summary>An RMW: a read of its location (plus whatever its ordering orders), then a store.</summary>
    private void Rmw(int loc, RmwOrder order)
    {
        Touch(loc);
        _storedLocs.Add(loc);
        if (order is RmwOrder.Acquire or RmwOrder.Full)
            OrdersLater();
        foreach (var q in _promises)
            q.StoredSince = true;
    }

    private void Wmb()
    {
        if (_promises.Exists(p => p.StoredSince || !p.WmbOrdered))
            throw new PromiseBrokenException();
    }

    /// <summary>The thread ended: every promise must have been fulfilled.</summary>
    private void AllFulfilled()
    {
        if (_promises.Count > 0)
            throw new PromiseBrokenException();
    }

    /// <summary>
    /// The (location, value) pairs a thread may promise: the locations its relaxed stores name
    /// (every data location when a store goes through a computed pointer), each with the values
    /// of its domain (<see cref="LitmusEngine.ValueDomains"/>, the values the axiomatic engine
    /// lets a load of it return; for code that engine cannot run, the initial value and the
    /// constants the threads store).
    /// </summary>
    /// <param name="grounded">per location, the values a dependency may compute (<see cref="Promise.Grounded"/>)</param>
    public static IReadOnlyList<(int Loc, long Value, bool Grounded)> Promisable(LitmusTest test, ThreadCode code, IReadOnlyList<CellKind> layout, IReadOnlyList<long>[] domains,
        IReadOnlyList<long>[] grounded)
    {
        var registers = new HashSet<string>(code.InitialRegisters.Keys, StringComparer.Ordinal);
        Declared(code.Body, registers);
        // Per location, the constants its stores write, or null when one writes a computed value
        // (any value of the domain then); a promise of anything else would only ever break.
        var locs = new SortedDictionary<int, HashSet<long>?>();
        var all = false;
        foreach (var (target, value) in RelaxedStores(code.Body))
        {
            var (store, loc) = StoreTarget(test, registers, target);
            if (!store)
                continue;
            if (loc is { } l)
            {
                var known = locs.TryGetValue(l, out var set) ? set : [];
                if (known != null && value is ConstExpr c)
                    known.Add(c.Value);
                else
                    known = null;
                locs[l] = known;
            }
            else
                all = true;
        }

        if (all)
        {
            for (var l = 0; l < test.Locations.Count; l++)
                locs[l] = null;
        }

        return locs.Where(kv => layout[kv.Key] != CellKind.Lock)
            .SelectMany(kv => domains[kv.Key].Where(v => kv.Value == null || kv.Value.Contains(v)).Select(v => (kv.Key, v, grounded[kv.Key].Contains(v)))).ToList();
    }

    /// <summary>
    /// What a store's lvalue names: a shared variable assigned by name, or *p with p a location's
    /// name (not a register holding a pointer), is that location; any other pointer could be any
    /// location (null); a register is no store at all.
    /// </summary>
    internal static (bool Store, int? Loc) StoreTarget(LitmusTest test, HashSet<string> registers, Expr target)
    {
        var (name, named) = target switch
        {
            DerefExpr { Pointer: NameExpr n } => (n.Name, false),
            NameExpr n => (n.Name, true),
            _ => (null, false),
        };
        var loc = name == null || registers.Contains(name) ? null : test.Locations.FirstOrDefault(l => l.Name == name);
        return loc != null ? (true, loc.Index) : (!named, null);
    }

    internal static void Declared(IEnumerable<Stmt> body, HashSet<string> registers)
    {
        foreach (var s in body)
        {
            switch (s)
            {
                case DeclStmt d:
                    registers.Add(d.Name);
                    break;
                case BlockStmt b:
                    Declared(b.Body, registers);
                    break;
                case IfStmt i:
                    Declared([i.Then, .. i.Else is null ? Array.Empty<Stmt>() : [i.Else]], registers);
                    break;
                case LoopStmt l:
                    Declared(new[] { l.Init, l.Body, l.Step }.OfType<Stmt>(), registers);
                    break;
            }
        }
    }

    /// <summary>The lvalues (atomic_set()'s pointer as an lvalue) and values of the stores that can fulfil a promise.</summary>
    private static IEnumerable<(Expr Target, Expr Value)> RelaxedStores(IEnumerable<Stmt> body)
    {
        foreach (var s in body)
        {
            switch (s)
            {
                case BlockStmt b:
                    foreach (var t in RelaxedStores(b.Body))
                        yield return t;
                    break;
                case IfStmt i:
                    foreach (var t in RelaxedStores([i.Then, .. i.Else is null ? Array.Empty<Stmt>() : [i.Else]]))
                        yield return t;
                    break;
                case LoopStmt l:
                    foreach (var t in RelaxedStores(new[] { l.Init, l.Body, l.Step }.OfType<Stmt>()))
                        yield return t;
                    break;
                case AssignStmt { Target: DerefExpr or NameExpr } a:
                    yield return (a.Target, a.Value);
                    break;
                case ExprStmt { Expr: CallExpr { Name: "WRITE_ONCE", Args.Count: 2 } c }:
                    yield return (c.Args[0], c.Args[1]);
                    break;
                case ExprStmt { Expr: CallExpr { Name: "atomic_set", Args.Count: 2 } c }:
                    yield return (c.Args[0] is AddrOfExpr addr ? addr.Target : new DerefExpr(c.Args[0]), c.Args[1]);
                    break;
            }
        }
    }
}
