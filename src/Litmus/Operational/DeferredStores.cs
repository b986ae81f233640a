using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// Store deferral (lkmm only), the companion of load deferral: a WRITE_ONCE() to a named
/// location whose value needs a register with a deferred load may be deferred too, as a
/// recorded weak choice, instead of performing that load. The thread goes on, and the store is
/// performed (its load first) when something needs it: an access to its location, an
/// assignment to a register its value reads, any call other than a relaxed load or store of
/// another location (fences, acquires, releases, RMWs, locks, RCU), and the thread's end. So
/// the load and the store it feeds stay in order (data dependency), and together they pass
/// only what the LKMM does not order after a store: relaxed loads and stores of other
/// locations (a store is ordered before later accesses only by fences, release, same-location
/// coherence and unlock+lock, none of which a deferred store passes). As with load deferral no
/// value is guessed: the store writes what its load read, so nothing comes out of thin air.
/// This is the reordering TC11 (Pugh's Java memory model causality tests) is about: a
/// load-to-store pair moved after an independent one. While a store is deferred no promise is
/// made (a promise made then would sit after the store in program order but be made before it).
/// </summary>
internal sealed partial class OperationalThread
{
    private readonly List<(int Loc, Expr Value, Dep Ctrl)> _deferredStores = [];

    private static readonly HashSet<string> s_storePassable = ["READ_ONCE", "rcu_dereference", "rcu_access_pointer", "rcu_dereference_raw", "atomic_read", "WRITE_ONCE", "atomic_set"];

    /// <summary>Offers to defer WRITE_ONCE(*x, e) whose value reads a register with a deferred load; true when deferred.</summary>
    private bool DeferStore(CallExpr c)
    {
        if (c is not { Name: "WRITE_ONCE", Args: [DerefExpr { Pointer: NameExpr p }, var v] } || IsRegister(p.Name) || !Pure(v)
            || !_deferred.Exists(d => Reads(v, d.Reg)))
            return false;
        var loc = _m.LocationIndex(p.Name);
        if (_deferred.Exists(d => d.Loc == loc) || _deferredStores.Exists(d => d.Loc == loc))
            return false;
        var (list, index) = _frames[^1];
        if (index < list.Count && list[index] is ExprStmt { Expr: var e } && ReferenceEquals(e, c) && !DeferralPays(list, index))
            return false;
        var ex = Execution.Current;
        if (ex.Driver.ChooseWeak(ex, Current, 2, sc: 0) == 0)
            return false;
        _deferredStores.Add((loc, v, _ctrl));
        return true;
    }

    /// <summary>
    /// Whether deferring the store at <paramref name="index"/> of <paramref name="list"/> can
    /// let anything pass it: not when the thread ends right after it or the next statement is
    /// a call no deferred store passes (both perform it at once: the same state by the same
    /// steps, a duplicate execution). Only with pruning on (<see cref="OperationalMachine.Prune"/>).
    /// </summary>
    private bool DeferralPays(IReadOnlyList<Stmt> list, int index)
    {
        if (!_m.Prune)
            return true;
        if (index + 1 >= list.Count)
            return _frames.Count > 1;
        return list[index + 1] switch
        {
            ExprStmt { Expr: CallExpr c } => s_storePassable.Contains(c.Name),
            AssignStmt { Target: NameExpr n, Value: CallExpr c } when IsRegister(n.Name) => s_storePassable.Contains(c.Name),
            _ => true,
        };
    }

    /// <summary>
    /// Whether the statement after a load into <paramref name="reg"/> of <paramref name="loadLoc"/>
    /// (at <paramref name="index"/>) is a WRITE_ONCE() that needs the register and cannot be
    /// deferred with it (same location, or deferring it pays nothing): the load is then performed
    /// at once anyway.
    /// </summary>
    private bool StoreNeedsAtOnce(IReadOnlyList<Stmt> list, int index, string reg, int loadLoc) =>
        list[index + 1] is ExprStmt { Expr: CallExpr { Name: "WRITE_ONCE", Args: [DerefExpr { Pointer: NameExpr p }, var v] } }
        && !IsRegister(p.Name) && FirstNeeds(v, reg) && (_m.LocationIndex(p.Name) == loadLoc || !DeferralPays(list, index + 1));

    private async ValueTask PerformStore(int index)
    {
        var (loc, value, ctrl) = _deferredStores[index];
        _deferredStores.RemoveAt(index);
        var (dep, outerCtrl, tokens) = (_dep, _ctrl, _tokens.Count);
        _dep = Dep.None;
        _ctrl = ctrl;
        var v = await Eval(value);
        await StoreAt(loc, v, StoreKind.Once, Dep.None);
        _tokens.RemoveRange(tokens, _tokens.Count - tokens);
        _dep = dep;
        _ctrl = outerCtrl;
    }

    private async ValueTask PerformStoresAt(int loc)
    {
        int i;
        while ((i = _deferredStores.FindIndex(d => d.Loc == loc)) >= 0)
            await PerformStore(i);
    }

    /// <summary>The register is about to be assigned: a deferred store that reads it is performed first.</summary>
    private async ValueTask BeforeAssign(string reg)
    {
        int i;
        while ((i = _deferredStores.FindIndex(d => Reads(d.Value, reg))) >= 0)
            await PerformStore(i);
    }

    private static bool Reads(Expr e, string reg) => e switch
    {
        NameExpr n => n.Name == reg,
        UnaryExpr u => Reads(u.Operand, reg),
        BinaryExpr b => Reads(b.Left, reg) || Reads(b.Right, reg),
        CondExpr c => Reads(c.Cond, reg) || Reads(c.Then, reg) || Reads(c.Else, reg),
        _ => false,
    };
}
