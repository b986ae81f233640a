using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// Runs one litmus thread as a simulated task: every shared access is the kernel API call a
/// port would make (READ_ONCE is <c>ReadOnce</c>, spin_lock is <c>SpinLock</c>, ...), so the
/// memory model under test and the explorer decide what each load returns. Expressions, names
/// and registers follow <see cref="ThreadInterpreter"/> exactly, so both engines run the same
/// program; only where values come from differs.
/// </summary>
internal sealed partial class OperationalThread
{
    private readonly OperationalMachine _m;
    private readonly ThreadCode _code;
    private readonly bool _rcuReader;

    /// <summary>
    /// Load buffering (lkmm only). A READ_ONCE() into a register may be deferred, as a recorded
    /// weak choice (bounded by the stale bound like the model's other weak choices): the thread
    /// goes on, and the load is performed only when something needs it. Whatever executes in
    /// between is thereby promised before the load, in the sense of the promising semantics
    /// (Kang, Hur, Lahav, Vafeiadis, Dreyer, POPL 2017), and certified by construction: no value
    /// is guessed, the register is unknown until the load is performed, so a store can pass the
    /// load only if neither its value, its address nor whether it runs depends on the load
    /// (data, address and control dependencies are honoured, and out-of-thin-air values cannot
    /// arise). The load is performed, in program order with the other deferred loads of its
    /// location, before: any use of its register; any access to the same location (coherence);
    /// and anything the LKMM orders after an earlier load or that the model cannot reorder
    /// (acquire and release accesses, RMWs, locks, smp_mb()/smp_rmb(), RCU calls), which only
    /// ever removes outcomes. Only smp_wmb() and barrier(), which order nothing after a load,
    /// and relaxed accesses to other locations let a deferred load pass.
    /// </summary>
    private readonly List<(string Reg, int Loc, LoadKind Kind, object[] AddressDeps)> _deferred = [];

    /// <summary>
    /// Address dependencies through integers: the dependency tokens of the loads each register's
    /// value came from (syntactically, as herd's deps), and those collected while the current
    /// statement is evaluated. A load whose address uses such values is ordered after those loads
    /// (<see cref="MemoryModel.AddressDependsOn"/>).
    /// </summary>
    private readonly Dictionary<string, object[]> _registerDeps = new(StringComparer.Ordinal);

    private readonly List<object> _tokens = [];

    private readonly bool _mayDefer;

    /// <summary>A deferred load is being performed (no promise is offered before it).</summary>
    private bool _performing;

    /// <param name="promisable">what the thread may promise (<see cref="Promisable"/>; lkmm only)</param>
    /// <param name="hasWmb">the thread's code has smp_wmb(), so its promises carry its view (see <see cref="Promise.WmbOrdered"/>)</param>
    /// <param name="sites">where the thread's code can fulfil a promise, to prune promises that must break (null: no pruning)</param>
    public OperationalThread(OperationalMachine m, ThreadCode code, bool rcuReader, IReadOnlyList<(int Loc, long Value, bool Grounded)>? promisable = null, bool hasWmb = false,
        PromiseSites? sites = null)
    {
        _promisable = m.LoadBuffering && promisable != null ? promisable : [];
        _sites = sites;
        _wmbOrderedPromises = hasWmb;
        _m = m;
        _code = code;
        _rcuReader = rcuReader;
        if (rcuReader)
            Pending = Footprint.None with { Rcu = RcuRole.Reader };
        foreach (var (name, v) in code.InitialRegisters)
            Registers[name] = v;
        _mayDefer = m.LoadBuffering && code.Body.Any(StoresAnything);
    }

    private static readonly HashSet<string> s_passable = ["READ_ONCE", "rcu_dereference", "rcu_access_pointer", "rcu_dereference_raw", "atomic_read", "WRITE_ONCE", "atomic_set", "smp_wmb", "barrier"];

    /// <summary>
    /// What a deferred load may pass besides relaxed accesses to other locations: acquires (the
    /// acquire load, spin_lock(), _acquire and _relaxed RMWs) order only what follows them.
    /// </summary>
    private static bool Passable(string name) =>
        s_passable.Contains(name) || name is "smp_load_acquire" or "atomic_read_acquire" or "spin_lock" or "raw_spin_lock"
        || (AtomicCall.TryParse(name, out _, out var ord) && ord is "_relaxed" or "_acquire");

    private static readonly HashSet<string> s_deferrable = ["READ_ONCE", "rcu_dereference", "rcu_access_pointer", "rcu_dereference_raw", "atomic_read"];

    /// <summary>Whether a statement may store (a deferred load can only be passed by a store).</summary>
    private static bool StoresAnything(Stmt s) => s switch
    {
        BlockStmt b => b.Body.Any(StoresAnything),
        IfStmt i => StoresAnything(i.Then) || (i.Else != null && StoresAnything(i.Else)),
        LoopStmt l => StoresAnything(l.Body),
        AssignStmt { Target: DerefExpr } => true,
        AssignStmt a => Calls(a.Value),
        ExprStmt e => Calls(e.Expr),
        _ => false,
    };

    private static bool Calls(Expr e) => e switch
    {
        CallExpr c => !s_deferrable.Contains(c.Name) || c.Args.Any(Calls),
        BinaryExpr b => Calls(b.Left) || Calls(b.Right),
        UnaryExpr u => Calls(u.Operand),
        CondExpr c => Calls(c.Cond) || Calls(c.Then) || Calls(c.Else),
        DerefExpr d => Calls(d.Pointer),
        _ => false,
    };

    /// <summary>Performs the deferred load of a register, after the earlier deferred loads of its location.</summary>
    private async ValueTask Perform(int index)
    {
        var (reg, loc, kind, deps) = _deferred[index];
        for (var i = 0; i < index; i++)
        {
            if (_deferred[i].Loc == loc)
            {
                await Perform(i);
                index--;
                i--;
            }
        }

        _deferred.RemoveAt(index);
        var mark = _tokens.Count;
        _tokens.AddRange(deps);
        var dep = _dep;
        _dep = Dep.None;
        // A promise here would only repeat one made before the load was deferred.
        _performing = true;
        Registers[reg] = await LoadAt(loc, kind, mark);
        _performing = false;
        SetRegisterDeps(reg, mark);
        _regLoad[reg] = _dep;
        _dep = dep;
    }

    /// <summary>A load, ordered after the loads behind the address tokens collected since <paramref name="mark"/>; adds its own token.</summary>
    private async ValueTask<long> LoadAt(int loc, LoadKind kind, int mark)
    {
        // An acquire orders everything after it, a promise made before it would break at once.
        if (kind != LoadKind.Acquire && !_performing)
            await MaybePromise(loc);
        if (kind == LoadKind.Acquire)
            OrdersLater();
        var mem = Execution.Current.Memory;
        if (_tokens.Count > mark)
            mem.AddressDependsOn(Current, _tokens.GetRange(mark, _tokens.Count - mark));
        BeforeOwnPromise(loc, kind);
        var v = await _m.Load(this, loc, kind);
        if (mem.LastReadDependency(Current) is { } token)
            _tokens.Add(token);
        Loaded(strict: kind != LoadKind.Plain || _storedLocs.Contains(loc));
        return v;
    }

    private void SetRegisterDeps(string reg, int mark)
    {
        if (_tokens.Count > mark)
            _registerDeps[reg] = _tokens.GetRange(mark, _tokens.Count - mark).ToArray();
        else
            _registerDeps.Remove(reg);
    }

    private async ValueTask PerformRegister(string reg)
    {
        var i = _deferred.FindIndex(d => d.Reg == reg);
        if (i >= 0)
            await Perform(i);
    }

    private async ValueTask PerformLocation(int loc)
    {
        int i;
        while ((i = _deferred.FindLastIndex(d => d.Loc == loc)) >= 0)
            await Perform(i);
        if (_deferredStores.Count > 0)
            await PerformStoresAt(loc);
    }

    private async ValueTask PerformAll()
    {
        while (_deferred.Count > 0)
            await Perform(0);
        while (_deferredStores.Count > 0)
            await PerformStore(0);
    }

    /// <summary>
    /// r = READ_ONCE(*p), atomic_read(v) or *p with a deferral choice: the address now (a pointer
    /// argument or an lvalue), the load now or when needed.
    /// </summary>
    private async ValueTask DeferrableLoad(string reg, Expr? pointer, Expr? lvalue, LoadKind kind)
    {
        await BeforeAssign(reg);
        _tokens.Clear();
        _dep = Dep.None;
        var loc = pointer != null ? await PointerArg(pointer) : await LValue(lvalue!);
        var addressDeps = _tokens.ToArray();
        await PerformRegister(reg);
        await PerformLocation(loc);
        var ex = Execution.Current;
        if (!PerformedAtOnce(reg, loc) && ex.Driver.ChooseWeak(ex, Current, 2, sc: 0) == 1)
        {
            _deferred.Add((reg, loc, kind, addressDeps));
            return;
        }

        _tokens.Clear();
        _tokens.AddRange(addressDeps);
        Registers[reg] = await LoadAt(loc, kind, 0);
        SetRegisterDeps(reg, addressDeps.Length);
        _regLoad[reg] = _dep;
    }

    /// <summary>
    /// Whether deferring the load into <paramref name="reg"/> would perform it again before the
    /// thread's next shared access: no other load is deferred, and the next statement first
    /// needs the register (a condition or a store or assignment whose value reads it, with no
    /// load of its own) or first performs every deferred load (a call no deferred load may
    /// pass, or the thread's end). The deferral then reaches the state the load made at once reaches, by the same
    /// steps, so the choice is not offered (a duplicate of executions, not a new behaviour).
    /// </summary>
    private bool PerformedAtOnce(string reg, int loc)
    {
        if (!_m.Prune || _deferred.Count > 0 || _frames.Count == 0)
            return false;
        var (list, index) = _frames[^1];
        if (list[index] is not AssignStmt)
            return false;

        // The thread's last statement: the end performs every deferred load before anything else.
        if (index + 1 >= list.Count)
            return _frames.Count == 1;
        if (StoreNeedsAtOnce(list, index, reg, loc))
            return true;
        return list[index + 1] switch
        {
            ExprStmt { Expr: CallExpr c } when !Passable(c.Name) => true,
            AssignStmt { Target: NameExpr n, Value: CallExpr c } when IsRegister(n.Name) && !Passable(c.Name) => true,
            IfStmt i => FirstNeeds(i.Cond, reg),
            AssignStmt { Target: NameExpr n } a when IsRegister(n.Name) => FirstNeeds(a.Value, reg),
            AssignStmt { Target: DerefExpr { Pointer: NameExpr p } } a when !IsRegister(p.Name) => FirstNeeds(a.Value, reg),
            // (WRITE_ONCE(*x, reg) only when it cannot be deferred with the load: StoreNeedsAtOnce.)
            _ => false,
        };
    }

    /// <summary>An expression with no load of its own that reads the register: its first shared access is the register's deferred load.</summary>
    private bool FirstNeeds(Expr e, string reg) => Pure(e) && Mentions(e, reg);

    private static bool Pure(Expr e) => e switch
    {
        ConstExpr or NameExpr => true,
        UnaryExpr u => Pure(u.Operand),
        BinaryExpr b => Pure(b.Left) && Pure(b.Right),
        CondExpr c => Pure(c.Cond) && Pure(c.Then) && Pure(c.Else),
        _ => false,
    };

    /// <summary>Whether evaluating the expression surely reads the register (the right of &amp;&amp; and ||, and a ?: branch, may be skipped).</summary>
    private static bool Mentions(Expr e, string reg) => e switch
    {
        NameExpr n => n.Name == reg,
        UnaryExpr u => Mentions(u.Operand, reg),
        BinaryExpr { Op: "&&" or "||" } b => Mentions(b.Left, reg),
        BinaryExpr b => Mentions(b.Left, reg) || Mentions(b.Right, reg),
        CondExpr c => Mentions(c.Cond, reg),
        _ => false,
    };

    /// <summary>Iterations of one loop before the execution is cut.</summary>
    public const int LoopBound = 4;

    public Dictionary<string, long> Registers { get; } = new(StringComparer.Ordinal);

    /// <summary>What the step the task is suspended before will touch, for <see cref="SleepSetDfs"/>.</summary>
    public Footprint Pending { get; private set; } = Footprint.None;

    /// <summary>Counts announcements, so a scheduler can tell that the task moved on.</summary>
    public int Seq { get; private set; }

    /// <summary>Called right before the kernel API call whose scheduling point ends the current step.</summary>
    public void Announce(Footprint next)
    {
        Pending = _rcuReader && next.Rcu == RcuRole.None ? next with { Rcu = RcuRole.Reader } : next;
        Seq++;
    }

    public async ValueTask Run()
    {
        var body = _code.Body;
        _frames.Add((body, 0));
        for (var pc = 0; pc < body.Count; pc++)
        {
            At(pc);
            // As in ThreadInterpreter: a LISA branch orders what it may skip, up to its label.
            if (body[pc] is LabelStmt lab && _branchScopes.Remove(lab.Name, out var before))
                _ctrl = before;
            if (body[pc] is BranchStmt br)
            {
                _dep = Dep.None;
                var c = await Eval(br.Cond);
                _branchScopes.TryAdd(br.Label, _ctrl);
                _ctrl = _ctrl.Max(_dep);
                if (c != 0)
                    pc = _code.BranchTarget(pc, br.Label);

                continue;
            }

            await Exec(body[pc]);
        }

        await PerformAll();
        AllFulfilled();
    }

    private async ValueTask Exec(Stmt s)
    {
        switch (s)
        {
            case BlockStmt b:
                _frames.Add((b.Body, 0));
                for (var i = 0; i < b.Body.Count; i++)
                {
                    At(i);
                    await Exec(b.Body[i]);
                }

                _frames.RemoveAt(_frames.Count - 1);
                break;
            case ExprStmt e:
                if (_deferred.Count > 0 && e.Expr is CallExpr store && DeferStore(store))
                    break;
                _dep = Dep.None;
                await Eval(e.Expr);
                break;
            case AssignStmt { Target: NameExpr n, Value: CallExpr { Args.Count: 1 } c } when _mayDefer && IsRegister(n.Name) && s_deferrable.Contains(c.Name):
                await DeferrableLoad(n.Name, c.Name == "atomic_read" ? c.Args[0] : null, c.Name == "atomic_read" ? null : c.Args[0], LoadKind.Once);
                break;
            case AssignStmt { Target: NameExpr n, Value: DerefExpr d } when _mayDefer && IsRegister(n.Name):
                await DeferrableLoad(n.Name, null, d, LoadKind.Plain);
                break;
            case AssignStmt a:
            {
                // Value first, then the lvalue, as ThreadInterpreter does (it matters when both load).
                _tokens.Clear();
                _dep = Dep.None;
                var v = await Eval(a.Value);
                var deps = _tokens.ToArray();
                var valueDep = _dep;
                await Assign(a.Target, v);
                if (a.Target is NameExpr n && IsRegister(n.Name))
                {
                    _regLoad[n.Name] = valueDep;
                    if (deps.Length > 0)
                        _registerDeps[n.Name] = deps;
                    else
                        _registerDeps.Remove(n.Name);
                }

                break;
            }

            case IfStmt i:
            {
                // herd's C: the control dependency reaches the branches, not what follows the if.
                _dep = Dep.None;
                var c = await Eval(i.Cond);
                var saved = _ctrl;
                _ctrl = _ctrl.Max(_dep);
                if (c != 0)
                    await Exec(i.Then);
                else if (i.Else != null)
                    await Exec(i.Else);
                _ctrl = saved;
                break;
            }
            case LabelStmt:
                break;
            case DeclStmt d:
                Registers.TryAdd(d.Name, 0);
                break;
            case BranchStmt:
                throw new LitmusUnsupportedException("branch inside a block");
            case LoopStmt l:
                await Loop(l);
                break;
            default:
                throw new LitmusUnsupportedException(s.GetType().Name);
        }
    }

    /// <summary>
    /// A loop, cut after <see cref="LoopBound"/> iterations: the execution then has no final
    /// state, like an execution herd's unrolling does not reach. A spin loop's load is a
    /// choice each time round, so without a bound the search would not end.
    /// </summary>
    private async ValueTask Loop(LoopStmt l)
    {
        if (l.Init != null)
            await Exec(l.Init);
        for (var i = 0; ; i++)
        {
            // What follows a loop runs only once its condition fails: a control dependency that
            // stays (herd has no loops; stricter than unrolling, which only removes outcomes).
            _dep = Dep.None;
            var stop = (l.TestFirst || i > 0) && l.Cond != null && await Eval(l.Cond) == 0;
            _ctrl = _ctrl.Max(_dep);
            if (stop)
                return;
            if (i == LoopBound)
                throw new LoopBoundException();
            await Exec(l.Body);
            if (l.Step != null)
                await Exec(l.Step);
        }
    }

    private bool IsRegister(string name) => !_m.IsLocation(name) || Registers.ContainsKey(name);

    private async ValueTask Assign(Expr target, long v)
    {
        switch (target)
        {
            case NameExpr n when IsRegister(n.Name):
                await PerformRegister(n.Name);
                if (_deferredStores.Count > 0)
                    await BeforeAssign(n.Name);
                Registers[n.Name] = v;
                break;
            case DerefExpr:
            {
                var (loc, address) = await Addressed(target, pointer: false);
                await PerformLocation(loc);
                await StoreAt(loc, v, StoreKind.Plain, address);
                break;
            }
            default:
                throw new LitmusUnsupportedException($"assignment to {target}");
        }
    }

    /// <summary>The location an lvalue names: *p, a[i], or a shared variable's name.</summary>
    private async ValueTask<int> LValue(Expr e) => e switch
    {
        DerefExpr d => _m.Pointer(await Eval(d.Pointer)),
        NameExpr n when !IsRegister(n.Name) => _m.LocationIndex(n.Name),
        _ => throw new LitmusUnsupportedException($"lvalue {e}"),
    };

    private async ValueTask<int> PointerArg(Expr e) => _m.Pointer(await Eval(e));

    /// <summary>A store's location (an lvalue, or a pointer argument) and the loads its address depends on.</summary>
    private async ValueTask<(int Loc, Dep Address)> Addressed(Expr e, bool pointer)
    {
        var outer = _dep;
        _dep = Dep.None;
        var loc = pointer ? await PointerArg(e) : await LValue(e);
        var address = _dep;
        _dep = outer.Max(address);
        return (loc, address);
    }

    private async ValueTask<long> Eval(Expr e)
    {
        switch (e)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                if (_deferred.Count > 0)
                    await PerformRegister(n.Name);
                if (Registers.TryGetValue(n.Name, out var r))
                {
                    if (_regLoad.TryGetValue(n.Name, out var load))
                        Depend(load);
                    if (_registerDeps.TryGetValue(n.Name, out var deps))
                        _tokens.AddRange(deps);
                    return r;
                }
                return _m.IsLocation(n.Name) ? Values.AddrBase + _m.LocationIndex(n.Name) : 0;
            case DerefExpr:
            {
                var mark = _tokens.Count;
                var loc = await LValue(e);
                await PerformLocation(loc);
                return await LoadAt(loc, LoadKind.Plain, mark);
            }
            case AddrOfExpr a:
                return a.Target switch
                {
                    DerefExpr d => await Eval(d.Pointer),
                    NameExpr n when _m.IsLocation(n.Name) => Values.AddrBase + _m.LocationIndex(n.Name),
                    _ => throw new LitmusUnsupportedException($"address of {a.Target}"),
                };
            case UnaryExpr u:
            {
                var v = await Eval(u.Operand);
                return u.Op switch
                {
                    "!" => v == 0 ? 1 : 0,
                    "~" => ~v,
                    "-" => -v,
                    _ => v,
                };
            }

            case BinaryExpr b:
                return await Binary(b);
            case CondExpr c:
                return await Eval(c.Cond) != 0 ? await Eval(c.Then) : await Eval(c.Else);
            case CallExpr call:
                return await Call(call);
            default:
                throw new LitmusUnsupportedException(e.GetType().Name);
        }
    }

    private async ValueTask<long> Binary(BinaryExpr b)
    {
        var l = await Eval(b.Left);
        if (b.Op == "&&" && l == 0 || b.Op == "||" && l != 0)
            return b.Op == "||" ? 1 : 0;
        var r = await Eval(b.Right);
        return b.Op switch
        {
            "+" => l + r,
            "-" => l - r,
            "*" => l * r,
            "/" => r == 0 ? throw new InfeasibleRunException() : l / r,
            "%" => r == 0 ? throw new InfeasibleRunException() : l % r,
            "&" => l & r,
            "|" => l | r,
            "^" => l ^ r,
            "<<" => l << (int)r,
            ">>" => l >> (int)r,
            "==" => l == r ? 1 : 0,
            "!=" => l != r ? 1 : 0,
            "<" => l < r ? 1 : 0,
            ">" => l > r ? 1 : 0,
            "<=" => l <= r ? 1 : 0,
            ">=" => l >= r ? 1 : 0,
            "&&" or "||" => r != 0 ? 1 : 0,
            _ => throw new LitmusUnsupportedException($"operator {b.Op}"),
        };
    }

    /// <summary>Calls the Models API has no counterpart for.</summary>
    public static string? Unsupported(string name) => name switch
    {
        "call_rcu" or "rcu_barrier" or "kfree_rcu" => $"{name}() (no litmus form of its callback)",
        "srcu_read_lock" or "srcu_read_unlock" or "srcu_down_read" or "srcu_up_read" or "synchronize_srcu" or "synchronize_srcu_expedited"
            or "smp_mb__after_srcu_read_unlock" => $"{name}() (no SRCU in Models)",
        "smp_memb" => "smp_memb() (no sys_membarrier in Models)",
        "atomic_add_unless" or "atomic_inc_not_zero" => $"{name}() (no kernel API for it in Models)",
        _ => null,
    };

    private async ValueTask<long> Call(CallExpr c)
    {
        if (Unsupported(c.Name) is { } why)
            throw new LitmusUnsupportedException(why);
        if (_deferred.Count > 0 && !Passable(c.Name) || _deferredStores.Count > 0 && !s_storePassable.Contains(c.Name))
            await PerformAll();
        var a = c.Args;
        switch (c.Name)
        {
            case "smp_mb" or "smp_rmb" or "smp_wmb" or "barrier" or "smp_mb__before_atomic" or "smp_mb__after_atomic":
                if (c.Name == "smp_wmb")
                    Wmb();
                else if (c.Name == "smp_rmb")
                    Rmb();
                else if (c.Name is not ("smp_rmb" or "barrier"))
                    OrdersLater();
                await _m.Fence(this, c.Name);
                return 0;

            // Models has no form of these; smp_mb() at the same place orders a superset of what
            // the LKMM promises (it only orders the accesses before the lock or unlock), so it can
            // only hide outcomes, never add one.
            case "smp_mb__after_spinlock" or "smp_mb__after_unlock_lock":
                OrdersLater();
                await _m.Fence(this, "smp_mb");
                return 0;

            // No scheduling points, as in Models: they run inside the step before (see RcuRole).
            case "rcu_read_lock":
                OrdersLater();
                RcuReadLock();
                return 0;
            case "rcu_read_unlock":
                OrdersLater();
                RcuReadUnlock();
                return 0;
            case "synchronize_rcu" or "synchronize_rcu_expedited":
                OrdersLater();
                Announce(new Footprint(-1, false, true, _m.Tso, RcuRole.GracePeriod));
                await SynchronizeRcu();
                return 0;

            // Models' RcuDereference() refuses a call outside a read-side section (as
            // CONFIG_PROVE_RCU does) and wants a pointer type; the LKMM has it as READ_ONCE(),
            // which is what the kernel API's version does, so READ_ONCE() it is.
            case "READ_ONCE" or "rcu_dereference" or "rcu_access_pointer" or "rcu_dereference_raw":
            {
                var mark = _tokens.Count;
                var l = await LValue(Arg(c, 0, 1));
                await PerformLocation(l);
                return await LoadAt(l, LoadKind.Once, mark);
            }

            case "WRITE_ONCE" or "rcu_assign_pointer" or "smp_store_mb":
            {
                var (l, address) = await Addressed(Arg(c, 0, 2), pointer: false);
                var v = await Eval(a[1]);
                await PerformLocation(l);
                await StoreAt(l, v, c.Name == "rcu_assign_pointer" ? StoreKind.Release : StoreKind.Once, address);

                // smp_store_mb() is WRITE_ONCE() then smp_mb(), as the kernel API spells it,
                // called one by one so that each step announces its own footprint.
                if (c.Name == "smp_store_mb")
                {
                    OrdersLater();
                    await _m.Fence(this, "smp_mb");
                }
                return 0;
            }

            case "smp_load_acquire" or "atomic_read_acquire":
            {
                var mark = _tokens.Count;
                return await LoadAt(await PointerArg(Arg(c, 0, 1)), LoadKind.Acquire, mark);
            }

            case "smp_store_release" or "atomic_set_release":
            {
                var (l, address) = await Addressed(Arg(c, 0, 2), pointer: true);
                await StoreAt(l, await Eval(a[1]), StoreKind.Release, address);
                return 0;
            }

            case "atomic_read":
            {
                var mark = _tokens.Count;
                var l = await PointerArg(Arg(c, 0, 1));
                await PerformLocation(l);
                return await LoadAt(l, LoadKind.Once, mark);
            }

            case "atomic_set":
            {
                var (l, address) = await Addressed(Arg(c, 0, 2), pointer: true);
                var v = await Eval(a[1]);
                await PerformLocation(l);
                await StoreAt(l, v, StoreKind.Once, address);
                return 0;
            }

            case "spin_lock" or "raw_spin_lock" or "spin_unlock" or "raw_spin_unlock" or "spin_trylock" or "raw_spin_trylock" or "spin_is_locked":
            {
                var l = await PointerArg(Arg(c, 0, 1));
                var lockOp = c.Name.Replace("raw_", "");
                Rmw(l, lockOp is "spin_lock" or "spin_trylock" ? RmwOrder.Acquire : RmwOrder.Release);
                var r = await _m.LockOp(this, l, lockOp);
                Loaded();
                return r;
            }

            case "atomic_sub_and_test" or "atomic_dec_and_test" or "atomic_inc_and_test" or "atomic_add_negative":
            {
                var unit = c.Name is "atomic_dec_and_test" or "atomic_inc_and_test";
                var loc = await PointerArg(Arg(c, unit ? 0 : 1, unit ? 1 : 2));
                var d = unit ? 1 : await Eval(a[0]);
                Rmw(loc, RmwOrder.Full);
                var cell = _m.Int(this, loc, c.Name, fullyOrdered: true);
                var r = c.Name switch
                {
                    "atomic_dec_and_test" => await cell.DecAndTest() ? 1 : 0,
                    "atomic_sub_and_test" => await cell.SubAndTest(d) ? 1 : 0,
                    "atomic_inc_and_test" => await cell.AddReturn(1) == 0 ? 1 : 0,
                    _ => await cell.AddReturn(d) < 0 ? 1 : 0,
                };
                Loaded();
                return r;
            }
        }

        if (AtomicCall.TryParse(c.Name, out var op, out var ord))
            return await Atomic(c, op, ord);
        throw new LitmusUnsupportedException($"{c.Name}()");
    }

    private async ValueTask<long> Atomic(CallExpr c, string op, string ord)
    {
        var a = c.Args;
        var order = ord switch
        {
            "_relaxed" => RmwOrder.Relaxed,
            "_acquire" => RmwOrder.Acquire,
            "_release" => RmwOrder.Release,
            _ => RmwOrder.Full,
        };
        switch (op)
        {
            case "xchg":
            {
                var l = await PointerArg(Arg(c, 0, 2));
                var v = await Eval(a[1]);
                Rmw(l, order);
                var r = await _m.Xchg(this, l, v, order);
                Loaded();
                return r;
            }

            case "cmpxchg":
            {
                var l = await PointerArg(Arg(c, 0, 3));
                var expected = await Eval(a[1]);
                var v = await Eval(a[2]);
                Rmw(l, order);
                var r = await _m.Cmpxchg(this, l, expected, v, order);
                Loaded();
                return r;
            }
        }

        var unit = op.EndsWith("inc", StringComparison.Ordinal) || op.EndsWith("dec", StringComparison.Ordinal)
                   || op is "inc_return" or "dec_return";
        var loc = await PointerArg(Arg(c, unit ? 0 : 1, unit ? 1 : 2));
        var d = unit ? 1 : await Eval(a[0]);
        var noreturn = !op.StartsWith("fetch_", StringComparison.Ordinal) && !op.EndsWith("_return", StringComparison.Ordinal);
        if (noreturn && ord != "")
            throw new LitmusUnsupportedException($"{c.Name}()");
        Rmw(loc, noreturn ? RmwOrder.Relaxed : order);
        var result = await _m.Int(this, loc, c.Name, fullyOrdered: !noreturn && order == RmwOrder.Full).Arith(op, order, d);
        Loaded();
        return result;
    }

    private static Expr Arg(CallExpr c, int i, int count)
    {
        if (c.Args.Count != count)
            throw new LitmusParseException($"{c.Name}() takes {count} argument(s), got {c.Args.Count}");
        return c.Args[i];
    }
}

/// <summary>A loop ran <see cref="OperationalThread.LoopBound"/> times: the execution is cut.</summary>
internal sealed class LoopBoundException : Exception;
