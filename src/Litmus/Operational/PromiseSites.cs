namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// <para>
/// Where a thread's code can fulfil a promise: the relaxed stores (WRITE_ONCE(), atomic_set(),
/// smp_store_mb(), plain assignments through a pointer) of each statement, each as the location
/// it names (or any, through a computed pointer) and the constant it stores (or any value).
/// </para>
/// <para>
/// A promise is kept only if the thread later reaches a store of its value to its location
/// (<see cref="OperationalThread"/>), and the stores the thread can still reach are those of
/// the code from where it is: the rest of each enclosing block, a loop it is in as a whole. So a
/// promise no reachable store can fulfil is never made, and one made earlier breaks as soon as
/// the thread is past its last candidate store, rather than after every interleaving of the
/// other threads up to the thread's end. This is the certification step of the promising
/// semantics (Kang et al., POPL 2017, section 4: a promise must be fulfillable by the thread
/// running alone) weakened to what the code's syntax tells (Lee et al., PLDI 2020, bound the
/// certification run likewise, to keep it cheap): a store that is not reachable cannot
/// fulfil the promise on any run, so only executions that would break are dropped.
/// </para>
/// </summary>
internal sealed class PromiseSites
{
    private readonly LitmusTest _test;
    private readonly HashSet<string> _registers;

    /// <summary>Per statement: the stores in it, and the registers it may assign.</summary>
    private readonly Dictionary<Stmt, (Site[] Sites, HashSet<string> Assigned)> _byStmt = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// A store: its location (null: any), its constant value (null: any), the registers its
    /// address reads, and those its value and the conditions of the ifs around it (inside the
    /// statement) read; a plain store's value and conditions order nothing (OperationalThread.StoreAt).
    /// </summary>
    private sealed record Site(int? Loc, long? Value, string[] Address, string[] Data, bool Plain)
    {
        public bool Fulfils(int loc, long v, HashSet<string> tainted)
        {
            if (Loc != null && Loc != loc || Value != null && Value != v)
                return false;
            return !Address.Any(tainted.Contains) && (Plain || !Data.Any(tainted.Contains));
        }
    }

    public PromiseSites(LitmusTest test, ThreadCode code)
    {
        _test = test;
        _registers = new HashSet<string>(code.InitialRegisters.Keys, StringComparer.Ordinal);
        OperationalThread.Declared(code.Body, _registers);
    }

    private bool IsRegister(string name) => _registers.Contains(name) || _test.Locations.All(l => l.Name != name);

    /// <summary>
    /// <para>
    /// Whether a store of <paramref name="v"/> to <paramref name="loc"/> is reachable from the
    /// position the frames give, before something that would break the promise for sure. Each
    /// frame is a statement list and the index of the statement being run in it, innermost last.
    /// The walk goes forward from the innermost statement (whole when it is under way,
    /// <paramref name="begun"/>: where in it the thread is, the syntax does not tell) outwards,
    /// and stops at a statement that runs unconditionally and breaks the promise (see
    /// <see cref="Breaks"/>); a loop under way counts whole (its earlier statements run again),
    /// a statement inside an if or a loop is only a candidate store, never a stop.
    /// </para>
    /// <para>
    /// A store whose address, value or enclosing if reads a register that holds a value loaded
    /// since the promise (<paramref name="tainted"/>, and the registers the walk sees assigned
    /// from a load or a tainted register; a load under way when the promise is made comes after
    /// it) depends on that load and would break the promise, so it is no candidate. A register
    /// the walk cannot be sure about (assigned inside an if or a loop, or after a LISA branch)
    /// is taken as clean.
    /// </para>
    /// </summary>
    public bool Reachable(IReadOnlyList<(IReadOnlyList<Stmt> List, int Index)> frames, int loc, long v, bool begun, HashSet<string> tainted)
    {
        for (var f = frames.Count - 1; f >= 0; f--)
        {
            var (list, index) = frames[f];
            var from = index + 1;
            if (index < list.Count)
            {
                var current = list[index];
                if (f == frames.Count - 1)
                {
                    if (!begun)
                        from = index;
                    else
                    {
                        if (Fulfils(current, loc, v, tainted))
                            return true;
                        Assigns(current, tainted, sure: true);
                    }
                }
                else if (current is LoopStmt)
                {
                    if (Fulfils(current, loc, v, tainted))
                        return true;
                    Assigns(current, tainted, sure: false);
                }
            }

            switch (Walk(list, from, loc, v, tainted))
            {
                case true:
                    return true;
                case false:
                    return false;
            }
        }

        return false;
    }

    /// <summary>Forward through a statement list: true at a candidate store, false at a sure break, null at the end.</summary>
    private bool? Walk(IReadOnlyList<Stmt> list, int from, int loc, long v, HashSet<string> tainted)
    {
        // A LISA branch may skip what follows it up to its label: nothing after it is sure to run.
        var sure = true;
        for (var i = from; i < list.Count; i++)
        {
            var s = list[i];
            if (s is BranchStmt)
                sure = false;
            if (s is BlockStmt b && sure)
            {
                if (Walk(b.Body, 0, loc, v, tainted) is { } inner)
                    return inner;
                continue;
            }

            if (Fulfils(s, loc, v, tainted))
                return true;
            if (sure && Breaks(s))
                return false;
            Assigns(s, tainted, sure);
        }

        return null;
    }

    /// <summary>Whether a store in the statement may fulfil the promise, its registers as <paramref name="tainted"/> leaves them clean.</summary>
    private bool Fulfils(Stmt s, int loc, long v, HashSet<string> tainted)
    {
        var (sites, assigned) = Summary(s);
        if (sites.Length == 0)
            return false;

        // A register assigned inside the statement may be clean by the time its store runs.
        var clean = tainted.Count > 0 && assigned.Count > 0 ? tainted.Where(r => !assigned.Contains(r)).ToHashSet() : tainted;
        foreach (var site in sites)
        {
            if (site.Fulfils(loc, v, clean))
                return true;
        }

        return false;
    }

    /// <summary>
    /// The registers the statement leaves tainted: one it surely assigns from a load or a tainted
    /// register becomes tainted, any other it may assign is taken as clean.
    /// </summary>
    private void Assigns(Stmt s, HashSet<string> tainted, bool sure)
    {
        if (sure && s is AssignStmt { Target: NameExpr n } a && IsRegister(n.Name))
        {
            if (MarkedLoads(a.Value) || Registers(a.Value).Any(tainted.Contains))
                tainted.Add(n.Name);
            else
                tainted.Remove(n.Name);
            return;
        }

        var assigned = Summary(s).Assigned;
        if (assigned.Count > 0)
            tainted.ExceptWith(assigned);
    }

    private (Site[] Sites, HashSet<string> Assigned) Summary(Stmt s)
    {
        if (!_byStmt.TryGetValue(s, out var summary))
        {
            var assigned = new HashSet<string>(StringComparer.Ordinal);
            AssignedIn(s, assigned);
            _byStmt[s] = summary = (Sites(s, []).Distinct().ToArray(), assigned);
        }

        return summary;
    }

    private void AssignedIn(Stmt s, HashSet<string> into)
    {
        switch (s)
        {
            case AssignStmt { Target: NameExpr n } when IsRegister(n.Name):
                into.Add(n.Name);
                break;
            case BlockStmt b:
                foreach (var x in b.Body)
                    AssignedIn(x, into);
                break;
            case IfStmt i:
                AssignedIn(i.Then, into);
                if (i.Else != null)
                    AssignedIn(i.Else, into);
                break;
            case LoopStmt l:
                foreach (var x in new[] { l.Init, l.Step, l.Body }.OfType<Stmt>())
                    AssignedIn(x, into);
                break;
        }
    }

    /// <summary>
    /// Whether evaluating the expression may make a strict load (any call may; a plain
    /// dereference of a location the thread also stores may too, but the walk takes it as clean:
    /// pruning too little only costs time).
    /// </summary>
    private static bool MarkedLoads(Expr e) => e switch
    {
        CallExpr => true,
        DerefExpr d => MarkedLoads(d.Pointer),
        UnaryExpr u => MarkedLoads(u.Operand),
        BinaryExpr b => MarkedLoads(b.Left) || MarkedLoads(b.Right),
        CondExpr c => MarkedLoads(c.Cond) || MarkedLoads(c.Then) || MarkedLoads(c.Else),
        _ => false,
    };

    private IEnumerable<string> Registers(Expr e) => e switch
    {
        NameExpr n when IsRegister(n.Name) => [n.Name],
        CallExpr c => c.Args.SelectMany(Registers),
        DerefExpr d => Registers(d.Pointer),
        AddrOfExpr a => Registers(a.Target),
        UnaryExpr u => Registers(u.Operand),
        BinaryExpr b => Registers(b.Left).Concat(Registers(b.Right)),
        CondExpr c => Registers(c.Cond).Concat(Registers(c.Then)).Concat(Registers(c.Else)),
        _ => [],
    };

    private static readonly HashSet<string> s_ordersLater =
    [
        "smp_mb", "smp_mb__before_atomic", "smp_mb__after_atomic", "smp_mb__after_spinlock", "smp_mb__after_unlock_lock",
        "rcu_read_lock", "rcu_read_unlock", "synchronize_rcu", "synchronize_rcu_expedited", "spin_lock", "raw_spin_lock",
        "smp_load_acquire", "atomic_read_acquire", "atomic_sub_and_test", "atomic_dec_and_test", "atomic_inc_and_test", "atomic_add_negative",
    ];

    /// <summary>
    /// A statement (no store of the promise's; <see cref="Fulfils"/> is asked first) that breaks
    /// every outstanding promise whenever it runs: a call the thread runs as something that
    /// orders every later access (a full barrier, an acquire, a fully ordered or acquire RMW, a
    /// lock, an RCU call; OperationalThread.OrdersLater). Only the plain statement forms: an
    /// expression statement or an assignment to a register of the call itself. (A load of the
    /// promised location breaks nothing: it reads a store older than the promise.)
    /// </summary>
    private bool Breaks(Stmt s)
    {
        var call = s switch
        {
            ExprStmt { Expr: CallExpr c } => c,
            AssignStmt { Target: NameExpr n, Value: CallExpr c } when _registers.Contains(n.Name) => c,
            _ => null,
        };
        if (call == null)
            return false;
        if (s_ordersLater.Contains(call.Name))
            return true;
        if (AtomicCall.TryParse(call.Name, out var op, out var ord))
        {
            var returns = op is "xchg" or "cmpxchg" || op.StartsWith("fetch_", StringComparison.Ordinal) || op.EndsWith("_return", StringComparison.Ordinal);
            return returns && ord is "" or "_acquire";
        }

        return false;
    }

    /// <param name="ctrl">the registers the conditions of the ifs around the statement read</param>
    private IEnumerable<Site> Sites(Stmt s, string[] ctrl) => s switch
    {
        BlockStmt b => b.Body.SelectMany(x => Sites(x, ctrl)),
        IfStmt i => Sites(i.Cond, ctrl).Concat(new[] { i.Then, i.Else }.OfType<Stmt>().SelectMany(x => Sites(x, [.. ctrl, .. Registers(i.Cond)]))),
        LoopStmt l => new[] { l.Init, l.Step, l.Body }.OfType<Stmt>().SelectMany(x => Sites(x, ctrl)).Concat(l.Cond is null ? [] : Sites(l.Cond, ctrl)),
        AssignStmt a => Sites(a.Value, ctrl).Concat(Of(a.Target, a.Value, ctrl, plain: true)),
        ExprStmt e => Sites(e.Expr, ctrl),
        BranchStmt b => Sites(b.Cond, ctrl),
        _ => [],
    };

    /// <summary>Every store call inside an expression, wherever it sits.</summary>
    private IEnumerable<Site> Sites(Expr e, string[] ctrl) => e switch
    {
        CallExpr { Name: "WRITE_ONCE" or "smp_store_mb", Args.Count: 2 } c => c.Args.SelectMany(x => Sites(x, ctrl)).Concat(Of(c.Args[0], c.Args[1], ctrl, plain: false)),
        CallExpr { Name: "atomic_set", Args.Count: 2 } c =>
            c.Args.SelectMany(x => Sites(x, ctrl)).Concat(Of(c.Args[0] is AddrOfExpr a ? a.Target : new DerefExpr(c.Args[0]), c.Args[1], ctrl, plain: false)),
        CallExpr c => c.Args.SelectMany(x => Sites(x, ctrl)),
        DerefExpr d => Sites(d.Pointer, ctrl),
        AddrOfExpr a => Sites(a.Target, ctrl),
        UnaryExpr u => Sites(u.Operand, ctrl),
        BinaryExpr b => Sites(b.Left, ctrl).Concat(Sites(b.Right, ctrl)),
        CondExpr c => Sites(c.Cond, ctrl).Concat(Sites(c.Then, ctrl)).Concat(Sites(c.Else, ctrl)),
        _ => [],
    };

    private IEnumerable<Site> Of(Expr target, Expr value, string[] ctrl, bool plain)
    {
        var (store, loc) = OperationalThread.StoreTarget(_test, _registers, target);
        if (store)
        {
            var address = target is DerefExpr d ? Registers(d.Pointer) : [];
            yield return new Site(loc, value is ConstExpr c ? c.Value : null, [.. address], [.. ctrl, .. Registers(value)], plain);
        }
    }
}
