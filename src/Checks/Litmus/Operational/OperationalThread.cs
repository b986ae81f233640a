using static Kmc.Models.Kernel;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// Runs one litmus thread as a simulated task: every shared access is the kernel API call a
/// port would make (READ_ONCE is <c>ReadOnce</c>, spin_lock is <c>SpinLock</c>, ...), so the
/// memory model under test and the explorer decide what each load returns. Expressions, names
/// and registers follow <see cref="ThreadInterpreter"/> exactly, so both engines run the same
/// program; only where values come from differs.
/// </summary>
internal sealed class OperationalThread
{
    private readonly OperationalMachine _m;
    private readonly ThreadCode _code;
    private readonly bool _rcuReader;

    public OperationalThread(OperationalMachine m, ThreadCode code, bool rcuReader)
    {
        _m = m;
        _code = code;
        _rcuReader = rcuReader;
        if (rcuReader)
            Pending = Footprint.None with { Rcu = RcuRole.Reader };
        foreach (var (name, v) in code.InitialRegisters)
            Registers[name] = v;
    }

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
        for (var pc = 0; pc < body.Count; pc++)
        {
            if (body[pc] is BranchStmt br)
            {
                if (await Eval(br.Cond) != 0)
                    pc = _code.BranchTarget(pc, br.Label);

                continue;
            }

            await Exec(body[pc]);
        }
    }

    private async ValueTask Exec(Stmt s)
    {
        switch (s)
        {
            case BlockStmt b:
                foreach (var x in b.Body)
                    await Exec(x);
                break;
            case ExprStmt e:
                await Eval(e.Expr);
                break;
            case AssignStmt a:
            {
                // Value first, then the lvalue, as ThreadInterpreter does (it matters when both load).
                var v = await Eval(a.Value);
                await Assign(a.Target, v);
                break;
            }

            case IfStmt i:
                if (await Eval(i.Cond) != 0)
                    await Exec(i.Then);
                else if (i.Else != null)
                    await Exec(i.Else);
                break;
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
            if ((l.TestFirst || i > 0) && l.Cond != null && await Eval(l.Cond) == 0)
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
                Registers[n.Name] = v;
                break;
            case DerefExpr:
                await _m.Store(this, await LValue(target), v, StoreKind.Plain);
                break;
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

    private async ValueTask<long> Eval(Expr e)
    {
        switch (e)
        {
            case ConstExpr c:
                return c.Value;
            case NameExpr n:
                if (Registers.TryGetValue(n.Name, out var r))
                    return r;
                return _m.IsLocation(n.Name) ? Values.AddrBase + _m.LocationIndex(n.Name) : 0;
            case DerefExpr:
                return await _m.Load(this, await LValue(e), LoadKind.Plain);
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
        var a = c.Args;
        switch (c.Name)
        {
            case "smp_mb" or "smp_rmb" or "smp_wmb" or "barrier" or "smp_mb__before_atomic" or "smp_mb__after_atomic":
                await _m.Fence(this, c.Name);
                return 0;

            // Models has no form of these; smp_mb() at the same place orders a superset of what
            // the LKMM promises (it only orders the accesses before the lock or unlock), so it can
            // only hide outcomes, never add one.
            case "smp_mb__after_spinlock" or "smp_mb__after_unlock_lock":
                await _m.Fence(this, "smp_mb");
                return 0;

            // No scheduling points, as in Models: they run inside the step before (see RcuRole).
            case "rcu_read_lock":
                RcuReadLock();
                return 0;
            case "rcu_read_unlock":
                RcuReadUnlock();
                return 0;
            case "synchronize_rcu" or "synchronize_rcu_expedited":
                Announce(new Footprint(-1, false, true, _m.Tso, RcuRole.GracePeriod));
                await SynchronizeRcu();
                return 0;

            // Models' RcuDereference() refuses a call outside a read-side section (as
            // CONFIG_PROVE_RCU does) and wants a pointer type; the LKMM has it as READ_ONCE(),
            // which is what the kernel API's version does, so READ_ONCE() it is.
            case "READ_ONCE" or "rcu_dereference" or "rcu_access_pointer" or "rcu_dereference_raw":
                return await _m.Load(this, await LValue(Arg(c, 0, 1)), LoadKind.Once);

            case "WRITE_ONCE" or "rcu_assign_pointer" or "smp_store_mb":
            {
                var l = await LValue(Arg(c, 0, 2));
                var v = await Eval(a[1]);
                await _m.Store(this, l, v, c.Name == "rcu_assign_pointer" ? StoreKind.Release : StoreKind.Once);

                // smp_store_mb() is WRITE_ONCE() then smp_mb(), as the kernel API spells it,
                // called one by one so that each step announces its own footprint.
                if (c.Name == "smp_store_mb")
                    await _m.Fence(this, "smp_mb");
                return 0;
            }

            case "smp_load_acquire" or "atomic_read_acquire":
                return await _m.Load(this, await PointerArg(Arg(c, 0, 1)), LoadKind.Acquire);

            case "smp_store_release" or "atomic_set_release":
            {
                var l = await PointerArg(Arg(c, 0, 2));
                await _m.Store(this, l, await Eval(a[1]), StoreKind.Release);
                return 0;
            }

            case "atomic_read":
                return await _m.Load(this, await PointerArg(Arg(c, 0, 1)), LoadKind.Once);

            case "atomic_set":
            {
                var l = await PointerArg(Arg(c, 0, 2));
                await _m.Store(this, l, await Eval(a[1]), StoreKind.Once);
                return 0;
            }

            case "spin_lock" or "raw_spin_lock" or "spin_unlock" or "raw_spin_unlock" or "spin_trylock" or "raw_spin_trylock" or "spin_is_locked":
                return await _m.LockOp(this, await PointerArg(Arg(c, 0, 1)), c.Name.Replace("raw_", ""));

            case "atomic_sub_and_test" or "atomic_dec_and_test" or "atomic_inc_and_test" or "atomic_add_negative":
            {
                var unit = c.Name is "atomic_dec_and_test" or "atomic_inc_and_test";
                var loc = await PointerArg(Arg(c, unit ? 0 : 1, unit ? 1 : 2));
                var d = unit ? 1 : await Eval(a[0]);
                var cell = _m.Int(this, loc, c.Name, fullyOrdered: true);
                return c.Name switch
                {
                    "atomic_dec_and_test" => await cell.DecAndTest() ? 1 : 0,
                    "atomic_sub_and_test" => await cell.SubAndTest(d) ? 1 : 0,
                    "atomic_inc_and_test" => await cell.AddReturn(1) == 0 ? 1 : 0,
                    _ => await cell.AddReturn(d) < 0 ? 1 : 0,
                };
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
                return await _m.Xchg(this, l, v, order);
            }

            case "cmpxchg":
            {
                var l = await PointerArg(Arg(c, 0, 3));
                var expected = await Eval(a[1]);
                var v = await Eval(a[2]);
                return await _m.Cmpxchg(this, l, expected, v, order);
            }
        }

        var unit = op.EndsWith("inc", StringComparison.Ordinal) || op.EndsWith("dec", StringComparison.Ordinal)
                   || op is "inc_return" or "dec_return";
        var loc = await PointerArg(Arg(c, unit ? 0 : 1, unit ? 1 : 2));
        var d = unit ? 1 : await Eval(a[0]);
        var noreturn = !op.StartsWith("fetch_", StringComparison.Ordinal) && !op.EndsWith("_return", StringComparison.Ordinal);
        if (noreturn && ord != "")
            throw new LitmusUnsupportedException($"{c.Name}()");
        return await _m.Int(this, loc, c.Name, fullyOrdered: !noreturn && order == RmwOrder.Full).Arith(op, order, d);
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
