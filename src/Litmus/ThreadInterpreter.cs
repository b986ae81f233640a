
namespace Kmc.Checks.Litmus;

/// <summary>
/// Runs one thread of a litmus test with the value of each load given by an oracle, and records
/// its events with their address, data and control dependencies (herd's C semantics: a value
/// depends on the loads it was computed from; a branch orders every later event).
/// </summary>
public sealed class ThreadInterpreter
{
    private readonly LitmusTest _test;
    private readonly ThreadCode _code;
    private readonly Func<int, long> _read;
    private readonly List<ThreadEvent> _events = [];
    private readonly Dictionary<string, Dv> _regs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _locByName;
    private ulong _ctrl;
    private readonly Dictionary<string, ulong> _branchScopes = new(StringComparer.Ordinal);
    private int _cookies;
    private int _rcuDepth;
    private bool _syncInsideReader;

    /// <summary>A value and the mask of the thread's loads it depends on.</summary>
    private readonly record struct Dv(long V, ulong D);

    private enum Order
    {
        Once,
        Acquire,
        Release,
        Mb,
    }

    public ThreadInterpreter(LitmusTest test, ThreadCode code, Func<int, long> read)
    {
        _test = test;
        _code = code;
        _read = read;
        _locByName = test.Locations.ToDictionary(l => l.Name, l => l.Index, StringComparer.Ordinal);
        foreach (var (name, v) in code.InitialRegisters)
            _regs[name] = new Dv(v, 0);
    }

    public IReadOnlyList<ThreadEvent> EventsSoFar => _events;

    public ThreadRun Run()
    {
        var body = _code.Body;
        for (var pc = 0; pc < body.Count; pc++)
        {
            // Like C's if, a LISA branch orders the instructions it may skip, up to its label.
            if (body[pc] is LabelStmt lab && _branchScopes.Remove(lab.Name, out var before))
                _ctrl = before;
            if (body[pc] is BranchStmt br)
            {
                var c = Eval(br.Cond);
                _branchScopes.TryAdd(br.Label, _ctrl);
                _ctrl |= c.D;
                if (c.V != 0)
                    pc = _code.BranchTarget(pc, br.Label);

                continue;
            }

            Exec(body[pc]);
        }

        return new ThreadRun(_events, _regs.ToDictionary(kv => kv.Key, kv => kv.Value.V, StringComparer.Ordinal), _syncInsideReader);
    }

    private void Exec(Stmt s)
    {
        switch (s)
        {
            case BlockStmt b:
                foreach (var x in b.Body)
                    Exec(x);
                break;
            case ExprStmt e:
                Eval(e.Expr);
                break;
            case AssignStmt a:
                Assign(a.Target, Eval(a.Value));
                break;
            case IfStmt i:
            {
                // herd's C: a control dependency reaches the events inside the branches, not those after the if.
                var c = Eval(i.Cond);
                var saved = _ctrl;
                _ctrl |= c.D;
                if (c.V != 0)
                    Exec(i.Then);
                else if (i.Else != null)
                    Exec(i.Else);
                _ctrl = saved;
                break;
            }

            case LabelStmt:
                break;
            case DeclStmt d:
                _regs.TryAdd(d.Name, new Dv(0, 0));
                break;
            case BranchStmt:
                throw new LitmusUnsupportedException("branch inside a block");
            case LoopStmt l:
                throw new LitmusUnsupportedException($"'{l.Keyword}' loop");
            default:
                throw new LitmusUnsupportedException(s.GetType().Name);
        }
    }

    private void Assign(Expr target, Dv v)
    {
        switch (target)
        {
            case NameExpr n when !_locByName.ContainsKey(n.Name) || _regs.ContainsKey(n.Name):
                _regs[n.Name] = v;
                break;
            case DerefExpr:
            {
                var (loc, ad) = LValue(target);
                Write(loc, v, EventTags.Plain, ad);
                break;
            }

            default:
                throw new LitmusUnsupportedException($"assignment to {target}");
        }
    }

    /// <summary>The location an lvalue names (*p, a[i], or a shared variable's name) and its address dependencies.</summary>
    private (int Loc, ulong Deps) LValue(Expr e) => e switch
    {
        DerefExpr d => Pointer(Eval(d.Pointer)),
        NameExpr n when _locByName.TryGetValue(n.Name, out var l) && !_regs.ContainsKey(n.Name) => (l, 0),
        _ => throw new LitmusUnsupportedException($"lvalue {e}"),
    };

    private (int Loc, ulong Deps) PointerArg(Expr e) => Pointer(Eval(e));

    private (int, ulong) Pointer(Dv p)
    {
        if (!Values.IsAddress(p.V) || p.V - Values.AddrBase >= _test.Locations.Count)
            throw new InfeasibleRunException();
        return ((int)(p.V - Values.AddrBase), p.D);
    }

    private Dv Eval(Expr e)
    {
        switch (e)
        {
            case ConstExpr c:
                return new Dv(c.Value, 0);
            case NameExpr n:
                if (_regs.TryGetValue(n.Name, out var r))
                    return r;
                if (_locByName.TryGetValue(n.Name, out var loc))
                    return new Dv(Values.AddrBase + loc, 0);
                return new Dv(0, 0);
            case DerefExpr:
            {
                var (l, ad) = LValue(e);
                return Read(l, EventTags.Plain, ad);
            }

            case AddrOfExpr a:
                return a.Target switch
                {
                    DerefExpr d => Eval(d.Pointer),
                    NameExpr n when _locByName.TryGetValue(n.Name, out var l) => new Dv(Values.AddrBase + l, 0),
                    _ => throw new LitmusUnsupportedException($"address of {a.Target}"),
                };
            case UnaryExpr u:
            {
                var v = Eval(u.Operand);
                return new Dv(u.Op switch
                {
                    "!" => v.V == 0 ? 1 : 0,
                    "~" => ~v.V,
                    "-" => -v.V,
                    _ => v.V,
                }, v.D);
            }

            case BinaryExpr b:
                return Binary(b);
            case CondExpr c:
            {
                var cond = Eval(c.Cond);
                var v = cond.V != 0 ? Eval(c.Then) : Eval(c.Else);
                return new Dv(v.V, v.D | cond.D);
            }

            case CallExpr call:
                return Call(call);
            default:
                throw new LitmusUnsupportedException(e.GetType().Name);
        }
    }

    private Dv Binary(BinaryExpr b)
    {
        var l = Eval(b.Left);
        if (b.Op == "&&" && l.V == 0 || b.Op == "||" && l.V != 0)
            return new Dv(b.Op == "||" ? 1 : 0, l.D);
        var r = Eval(b.Right);
        long v = b.Op switch
        {
            "+" => l.V + r.V,
            "-" => l.V - r.V,
            "*" => l.V * r.V,
            "/" => r.V == 0 ? throw new InfeasibleRunException() : l.V / r.V,
            "%" => r.V == 0 ? throw new InfeasibleRunException() : l.V % r.V,
            "&" => l.V & r.V,
            "|" => l.V | r.V,
            "^" => l.V ^ r.V,
            "<<" => l.V << (int)r.V,
            ">>" => l.V >> (int)r.V,
            "==" => l.V == r.V ? 1 : 0,
            "!=" => l.V != r.V ? 1 : 0,
            "<" => l.V < r.V ? 1 : 0,
            ">" => l.V > r.V ? 1 : 0,
            "<=" => l.V <= r.V ? 1 : 0,
            ">=" => l.V >= r.V ? 1 : 0,
            "&&" or "||" => r.V != 0 ? 1 : 0,
            _ => throw new LitmusUnsupportedException($"operator {b.Op}"),
        };
        return new Dv(v, l.D | r.D);
    }

    private int Emit(ThreadEvent ev)
    {
        if (_events.Count >= 64)
            throw new LitmusUnsupportedException("more than 64 events in one thread");
        _events.Add(ev);
        return _events.Count - 1;
    }

    private Dv Read(int loc, EventTags tags, ulong addr, long? forced = null)
    {
        var v = forced ?? _read(loc);
        var i = Emit(new ThreadEvent { Kind = EventKind.Read, Loc = loc, Value = v, Tags = tags, AddrDeps = addr, CtrlDeps = _ctrl });
        return new Dv(v, 1UL << i);
    }

    private int Write(int loc, Dv v, EventTags tags, ulong addr, int rmwRead = -1) =>
        Emit(new ThreadEvent { Kind = EventKind.Write, Loc = loc, Value = v.V, Tags = tags, AddrDeps = addr, DataDeps = v.D, CtrlDeps = _ctrl, RmwRead = rmwRead });

    private ThreadEvent Fence(FenceKind k, int loc = -1, long cookie = 0)
    {
        if (k == FenceKind.RcuLock)
            _rcuDepth++;
        else if (k == FenceKind.RcuUnlock)
            _rcuDepth--;
        else if (k == FenceKind.SyncRcu && _rcuDepth > 0)
            _syncInsideReader = true;
        var ev = new ThreadEvent { Kind = EventKind.Fence, Fence = k, Loc = loc, Cookie = cookie, CtrlDeps = _ctrl };
        Emit(ev);
        return ev;
    }

    private static readonly Dictionary<string, FenceKind> s_fences = new(StringComparer.Ordinal)
    {
        ["smp_mb"] = FenceKind.Mb, ["smp_rmb"] = FenceKind.Rmb, ["smp_wmb"] = FenceKind.Wmb,
        ["smp_mb__before_atomic"] = FenceKind.BeforeAtomic, ["smp_mb__after_atomic"] = FenceKind.AfterAtomic,
        ["smp_mb__after_spinlock"] = FenceKind.AfterSpinlock, ["smp_mb__after_unlock_lock"] = FenceKind.AfterUnlockLock,
        ["smp_mb__after_srcu_read_unlock"] = FenceKind.AfterSrcuReadUnlock, ["barrier"] = FenceKind.Barrier,
        ["rcu_read_lock"] = FenceKind.RcuLock, ["rcu_read_unlock"] = FenceKind.RcuUnlock,
        ["synchronize_rcu"] = FenceKind.SyncRcu, ["synchronize_rcu_expedited"] = FenceKind.SyncRcu,
        ["smp_memb"] = FenceKind.Memb,
    };

    private Dv Call(CallExpr c)
    {
        var a = c.Args;
        if (s_fences.TryGetValue(c.Name, out var fk))
        {
            Fence(fk);
            return new Dv(0, 0);
        }

        switch (c.Name)
        {
            case "READ_ONCE" or "rcu_dereference" or "rcu_access_pointer" or "rcu_dereference_raw":
            {
                var (l, ad) = LValue(Arg(c, 0, 1));
                return Read(l, EventTags.Once, ad);
            }

            case "WRITE_ONCE" or "rcu_assign_pointer" or "smp_store_mb":
            {
                var (l, ad) = LValue(Arg(c, 0, 2));
                Write(l, Eval(a[1]), c.Name == "rcu_assign_pointer" ? EventTags.Release : EventTags.Once, ad);
                if (c.Name == "smp_store_mb")
                    Fence(FenceKind.Mb);
                return new Dv(0, 0);
            }

            case "smp_load_acquire" or "atomic_read_acquire":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 1));
                return Read(l, EventTags.Acquire, ad);
            }

            case "smp_store_release" or "atomic_set_release":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 2));
                Write(l, Eval(a[1]), EventTags.Release, ad);
                return new Dv(0, 0);
            }

            case "atomic_read":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 1));
                return Read(l, EventTags.Once, ad);
            }

            case "atomic_set":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 2));
                Write(l, Eval(a[1]), EventTags.Once, ad);
                return new Dv(0, 0);
            }

            case "spin_lock" or "raw_spin_lock":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 1));
                var r = Read(l, EventTags.LockRead, ad, forced: 0);
                Write(l, new Dv(1, 0), EventTags.LockWrite, ad, _events.Count - 1);
                return r with { V = 0 };
            }

            case "spin_unlock" or "raw_spin_unlock":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 1));
                Write(l, new Dv(0, 0), EventTags.Unlock, ad);
                return new Dv(0, 0);
            }

            case "spin_trylock" or "raw_spin_trylock":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 1));
                var v = _read(l);
                if (v == 0)
                {
                    var r = Read(l, EventTags.LockRead, ad, forced: 0);
                    Write(l, new Dv(1, 0), EventTags.LockWrite, ad, _events.Count - 1);
                    return new Dv(1, r.D);
                }

                var f = Read(l, EventTags.LockFail, ad, forced: v);
                return new Dv(0, f.D);
            }

            case "spin_is_locked":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 1));
                var v = _read(l);
                var r = Read(l, v != 0 ? EventTags.IsLockedTrue : EventTags.IsLockedFalse, ad, forced: v);
                return new Dv(v != 0 ? 1 : 0, r.D);
            }

            case "srcu_read_lock" or "srcu_down_read":
            {
                var (l, _) = PointerArg(Arg(c, 0, 1));
                var cookie = Values.CookieBase + _code.Index * 1000 + _cookies++;
                Fence(FenceKind.SrcuLock, l, cookie);
                return new Dv(cookie, 0);
            }

            case "srcu_read_unlock" or "srcu_up_read":
            {
                var (l, _) = PointerArg(Arg(c, 0, 2));
                Fence(FenceKind.SrcuUnlock, l, Eval(a[1]).V);
                return new Dv(0, 0);
            }

            case "synchronize_srcu" or "synchronize_srcu_expedited":
            {
                var (l, _) = PointerArg(Arg(c, 0, 1));
                Fence(FenceKind.SyncSrcu, l);
                return new Dv(0, 0);
            }

            case "atomic_sub_and_test" or "atomic_dec_and_test" or "atomic_inc_and_test" or "atomic_add_negative":
            {
                var isAdd = c.Name is "atomic_inc_and_test" or "atomic_add_negative";
                var unit = c.Name is "atomic_dec_and_test" or "atomic_inc_and_test";
                var (l, ad) = PointerArg(Arg(c, unit ? 0 : 1, unit ? 1 : 2));
                var d = unit ? new Dv(1, 0) : Eval(a[0]);
                var (_, nw) = Rmw(l, ad, Order.Mb, old => isAdd ? old + d.V : old - d.V, d.D, noreturn: false);
                return new Dv(c.Name == "atomic_add_negative" ? (nw.V < 0 ? 1 : 0) : (nw.V == 0 ? 1 : 0), nw.D);
            }

            case "atomic_add_unless" or "atomic_inc_not_zero":
            {
                var inc = c.Name == "atomic_inc_not_zero";
                var (l, ad) = PointerArg(Arg(c, 0, inc ? 1 : 3));
                var d = inc ? new Dv(1, 0) : Eval(a[1]);
                var u = inc ? new Dv(0, 0) : Eval(a[2]);
                var (old, _) = Rmw(l, ad, Order.Mb, o => o != u.V ? o + d.V : null, d.D | u.D, noreturn: false);
                return new Dv(old.V != u.V ? 1 : 0, old.D);
            }
        }

        if (AtomicCall.TryParse(c.Name, out var op, out var ord))
            return Atomic(c, op, ord);
        throw new LitmusUnsupportedException($"{c.Name}()");
    }

    private Dv Atomic(CallExpr c, string op, string ord)
    {
        var a = c.Args;
        var order = ord switch
        {
            "_relaxed" => Order.Once,
            "_acquire" => Order.Acquire,
            "_release" => Order.Release,
            _ => Order.Mb,
        };
        switch (op)
        {
            case "xchg":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 2));
                var v = Eval(a[1]);
                return Rmw(l, ad, order, _ => v.V, v.D, noreturn: false).Old;
            }

            case "cmpxchg":
            {
                var (l, ad) = PointerArg(Arg(c, 0, 3));
                var expected = Eval(a[1]);
                var v = Eval(a[2]);
                return Rmw(l, ad, order, o => o == expected.V ? v.V : null, v.D | expected.D, noreturn: false).Old;
            }
        }

        var unit = op.EndsWith("inc", StringComparison.Ordinal) || op.EndsWith("dec", StringComparison.Ordinal)
                   || op is "inc_return" or "dec_return";
        var (loc, adeps) = PointerArg(Arg(c, unit ? 0 : 1, unit ? 1 : 2));
        var d = unit ? new Dv(1, 0) : Eval(a[0]);
        var baseOp = op.Replace("fetch_", "").Replace("_return", "");
        Func<long, long?> f = baseOp switch
        {
            "add" or "inc" => o => o + d.V,
            "sub" or "dec" => o => o - d.V,
            "and" => o => o & d.V,
            "or" => o => o | d.V,
            "xor" => o => o ^ d.V,
            _ => throw new LitmusUnsupportedException($"{c.Name}()"),
        };
        var noreturn = !op.StartsWith("fetch_", StringComparison.Ordinal) && !op.EndsWith("_return", StringComparison.Ordinal);
        if (noreturn && ord != "")
            throw new LitmusUnsupportedException($"{c.Name}()");
        var (old, nw) = Rmw(loc, adeps, noreturn ? Order.Once : order, f, d.D, noreturn);
        return op.StartsWith("fetch_", StringComparison.Ordinal) ? old : nw;
    }

    /// <summary>
    /// One atomic read-modify-write. A fully ordered one that succeeds behaves as if enclosed in
    /// smp_mb(); a failed one (newValue null) is a lone relaxed read with no ordering.
    /// </summary>
    private (Dv Old, Dv New) Rmw(int loc, ulong addr, Order order, Func<long, long?> newValue, ulong argDeps, bool noreturn)
    {
        var before = order == Order.Mb ? Fence(FenceKind.None) : null;
        var old = Read(loc, (noreturn ? EventTags.Noreturn : EventTags.Once) | EventTags.Rmw, addr);
        var readIndex = _events.Count - 1;
        var nv = newValue(old.V);
        if (nv == null)
            return (old, old);
        if (order == Order.Acquire)
            _events[readIndex].Tags |= EventTags.Acquire;
        var w = new Dv(nv.Value, argDeps);
        Write(loc, w, EventTags.Once | EventTags.Rmw | (order == Order.Release ? EventTags.Release : 0), addr, readIndex);
        if (before != null)
        {
            before.Fence = FenceKind.Mb;
            Fence(FenceKind.Mb);
        }

        return (old, new Dv(nv.Value, old.D | argDeps));
    }

    private static Expr Arg(CallExpr c, int i, int count)
    {
        if (c.Args.Count != count)
            throw new LitmusParseException($"{c.Name}() takes {count} argument(s), got {c.Args.Count}");
        return c.Args[i];
    }
}

/// <summary>The oracle's values lead nowhere (a wild pointer, a division by zero): not a candidate execution.</summary>
public sealed class InfeasibleRunException : Exception;
