using System.Buffers.Binary;
using System.IO.Hashing;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Kmc.Models.Scheduling;

/// <summary>
/// Shared state a check keeps outside kernel memory that tells the partial-order reduction it is
/// touched (through <see cref="Reduction.Footprints"/> keys): implementing this lets the state
/// cache fingerprint it too. An object that reports a key without it turns the state cache off.
/// </summary>
public interface IStateful
{
    /// <summary>Writes everything the object's future behaviour depends on.</summary>
    void WriteState(StateWriter w);

    /// <summary>
    /// Whether a task that touches the object can carry what it saw into its own locals (true: a
    /// value it returns). An object whose methods return nothing and only assert and update
    /// itself says false: its state is still part of every state, but a task's history does not
    /// record it at each touch, so interleavings that reach the same state merge.
    /// </summary>
    bool TasksReadIt => true;
}

/// <summary>
/// A visited-state set for the plain exhaustive search: stateless search (every execution still
/// replays its prefix from the start, as C# coroutines cannot be snapshot) with the pruning of a
/// stateful one. After each step on a path no earlier execution took, the state's fingerprint
/// is looked up; a state seen before ends the execution, as in SPIN's depth-first search with a
/// visited set (Holzmann, "The Model Checker SPIN", IEEE TSE 1997; "An Analysis of Bitstate
/// Hashing", FMSD 1998, for hash compaction). Stateful search in a stateless checker follows
/// Yang, Chen, Gopalakrishnan and Kirby, "Efficient Stateful Dynamic Partial Order Reduction"
/// (SPIN 2008); their combination with DPOR's backtrack sets is not built: a cached search is a
/// plain dfs (with its preemption and stale bounds), which is sound for safety with a visited set.
///
/// What a state is. Task-local C# state cannot be read, but port code is deterministic, so a task's
/// locals are a function of what the kernel API gave it: each task keeps a running hash of its
/// steps, the values its loads and RMWs returned, the recorded choices made in its steps, the
/// locations it created, and the current state of every check object (<see cref="IStateful"/>)
/// or CPU shared with other tasks it touched. The state is then that per-task history with each
/// task's status (done, blocked, sleeping, preempt count, ...), every CPU, every location's value
/// (object values by a number stable across executions: a location's creation number, a task id,
/// an allocation number), the ghosts and check objects, the lock holders, the allocator, the
/// data-race detector's clocks and the memory model's own state, the step count, and, with a
/// preemption bound, the task that ran last. The search is acyclic (the step count grows), so a
/// state seen before was explored to the end: pruning it loses nothing. Under a preemption or
/// stale bound a state is pruned only when it was seen with no more of either budget spent.
/// Liveness stays as it was: kmc finds a livelock or hang as a state in which no task can move
/// (spins are blocked tasks, see <see cref="Liveness"/>), not as a cycle of states, and such a
/// state below a pruned one was reached when that state was first explored.
///
/// What it cannot see, it refuses: a step the partial-order reduction calls untracked (wait
/// queues, RCU, the allocator's kmalloc/kfree, task creation, fault injection, hotplug), a check
/// object's key with no <see cref="IStateful"/>, a value it cannot number, a memory model without
/// a fingerprint, or fields a port added to task_struct turn the cache off for the run: the search
/// starts again without it and the verdict says why. C# variables shared by tasks (captured by
/// their lambdas) are invisible to it, as they are to the reduction (docs/guide.md).
///
/// Fingerprints are 128-bit XxHash128 values: two different states with the same fingerprint
/// would merge, with probability about n²/2^129 for n states (SPIN's hash-compact caveat), which
/// the verdict states.
/// </summary>
public sealed class StateCache(int preemptionBound, int staleBound)
{
    /// <summary>At most this many states are kept; past it, new states are not remembered (still sound, less pruning).</summary>
    public const int MaxStates = 16_000_000;

    [ThreadStatic] private static StateCache? t_active;

    private readonly Dictionary<UInt128, (int Preemptions, int Stale)> _visited = new();
    private readonly StateWriter _w = new();
    private readonly StateWriter _event = new();
    private readonly List<(long Key, object Obj)> _objects = new();
    private readonly Dictionary<long, object> _byKey = new();
    private UInt128[] _history = new UInt128[8];
    private UInt128 _outside;
    private SimTask? _stepping;
    private Execution? _ex;

    /// <summary>Distinct states seen.</summary>
    public long States => _visited.Count;

    /// <summary>Executions ended at a state seen before.</summary>
    public long Pruned { get; internal set; }

    /// <summary>Why the cache turned itself off (null while on).</summary>
    public string? Off { get; private set; }

    /// <summary>The state limit was reached: later states were not remembered.</summary>
    public bool Full { get; private set; }

    /// <summary>Turns the cache off for the run; the explorer starts the search again without it.</summary>
    public void Disable(string why) => Off ??= why;

    internal static StateCache? Active => t_active;

    // ---- per execution ------------------------------------------------------------------------

    /// <summary>Before the scenario's setup: objects will register as they are created.</summary>
    internal void BeginExecution()
    {
        _objects.Clear();
        _byKey.Clear();
        Array.Clear(_history);
        _outside = 0;
        _stepping = null;
        _ex = null;
        t_active = this;
    }

    internal void Attach(Execution ex)
    {
        _ex = ex;
        ex.StateCache = this;
    }

    internal static void EndExecution() => t_active = null;

    /// <summary>A location, ghost, cpumask or check object was created (creation order is key order).</summary>
    internal static void Created(long key, object obj)
    {
        if (t_active is not { } c)
            return;
        c._objects.Add((key, obj));
        c._byKey[key] = obj;
        if (c._stepping is { } t)
            c.Mix(t, Op.Create, key, null);
    }

    /// <summary>The step of <paramref name="t"/> starts: its history counts the step and what it may read without a key.</summary>
    internal void BeginStep(SimTask t)
    {
        _stepping = t;
        Mix(t, Op.Step, 0, null);
        if (t.Cpu.TaskCount > 1)
        {
            // The CPU's state (irqs, occupant, its tasks' preempt counts) is shared with other tasks.
            _event.Clear();
            WriteCpu(_event, t.Cpu);
            Mix(t, Op.Cpu, t.Cpu.Id, _event);
        }

        // A spin-wait's condition may leave what it read in the task's locals.
        t.Blocker?.Invoke();
    }

    internal void EndStep() => _stepping = null;

    internal void Loaded<T>(long key, T value)
    {
        if (_stepping is not { } t)
            return;
        _event.Clear();
        _event.Value(value);
        Mix(t, Op.Load, key, _event);
    }

    internal void Chose(int value)
    {
        if (_stepping is { } t)
        {
            Mix(t, Op.Choice, value, null);
        }
        else
        {
            // A choice outside any step (the setup's): it may steer every task.
            Span<byte> b = stackalloc byte[24];
            BinaryPrimitives.WriteUInt128LittleEndian(b, _outside);
            BinaryPrimitives.WriteInt64LittleEndian(b[16..], value);
            _outside = XxHash128.HashToUInt128(b);
        }
    }

    /// <summary>A step read or wrote the object with this key (see <see cref="Reduction.Footprints"/>).</summary>
    internal static void Touch(long key, bool read = true)
    {
        if (t_active is not { _stepping: { } t } c)
            return;
        if (c._byKey.TryGetValue(key, out var obj))
        {
            if (!read || obj is IStateful { TasksReadIt: false })
                return;
            c._event.Clear();
            WriteObject(c._event, obj);
            c.Mix(t, Op.Touch, key, c._event);
            return;
        }

        if (key is Reduction.Footprints.TsoBuffersKey or Reduction.Footprints.LkmmFenceKey)
            return; // the memory model's state: a task learns it only through the values its loads return
        if (key <= -100 && c._ex is { } ex && -100 - key < ex.Cpus.Count)
        {
            c._event.Clear();
            WriteCpu(c._event, ex.Cpus[(int)(-100 - key)]);
            c.Mix(t, Op.Cpu, key, c._event);
            return;
        }

        c.Disable($"a step touched shared state (reduction key {key}) that has no fingerprint: a check object that reports its accesses to the reduction must implement IStateful");
    }

    /// <summary>A step touched state the reduction cannot name: the cache cannot name it either.</summary>
    internal static void Untracked(string file, string member)
    {
        if (t_active is { _stepping: not null } c)
            c.Disable($"a step used {member} ({Path.GetFileName(file)}), state the cache does not fingerprint");
    }

    private enum Op : byte { Step = 1, Load, Choice, Create, Touch, Cpu }

    /// <summary>The hasher of <see cref="Mix"/>, reset for each event rather than made anew (it runs at every load of a step).</summary>
    private readonly XxHash128 _hasher = new();

    private void Mix(SimTask t, Op op, long key, StateWriter? payload)
    {
        if (t.Id >= _history.Length)
            Array.Resize(ref _history, Math.Max(t.Id + 1, _history.Length * 2));
        var h = _hasher;
        h.Reset();
        Span<byte> head = stackalloc byte[25];
        BinaryPrimitives.WriteUInt128LittleEndian(head, _history[t.Id]);
        head[16] = (byte)op;
        BinaryPrimitives.WriteInt64LittleEndian(head[17..], key);
        h.Append(head);
        if (payload != null)
            h.Append(payload.Span);
        _history[t.Id] = h.GetCurrentHashAsUInt128();
    }

    // ---- the state ----------------------------------------------------------------------------

    /// <summary>
    /// Looks the current state up and remembers it. True: it was seen before with no more budget
    /// spent, so the execution ends here. <paramref name="preemptions"/> and <paramref name="stale"/>
    /// are the budgets spent so far (ignored when unbounded).
    /// </summary>
    internal bool SeenBefore(Execution ex, int preemptions, int stale)
    {
        var fp = Fingerprint(ex);
        if (Off != null)
            return false;
        var spent = (preemptionBound < 0 ? 0 : preemptions, staleBound < 0 ? 0 : stale);
        if (_visited.TryGetValue(fp, out var seen))
        {
            if (seen.Preemptions <= spent.Item1 && seen.Stale <= spent.Item2)
            {
                Pruned++;
                return true;
            }

            _visited[fp] = spent;
            return false;
        }

        if (_visited.Count >= MaxStates)
        {
            Full = true;
            return false;
        }

        _visited.Add(fp, spent);
        return false;
    }

    private UInt128 Fingerprint(Execution ex)
    {
        var w = _w;
        w.Clear();
        w.Int(ex.StepCount);
        w.U128(_outside);
        w.Int(preemptionBound >= 0 ? ex.LastRun?.Id ?? -1 : -2);
        foreach (var t in ex.TaskList)
        {
            w.Int(t.Id);
            w.U128(t.Id < _history.Length ? _history[t.Id] : 0);
            w.Int((t.Done ? 1 : 0) | (t.Sleeping ? 2 : 0) | (t.Blocker != null ? 4 : 0) | (t.Continuation != null ? 8 : 0)
                  | (t.QueuedOn != null ? 16 : 0) | (t.Contending != null ? 32 : 0) | ((int)t.State << 8) | ((int)t.SchedClass << 12));
            w.Int(t.PreemptCount);
            w.Int(t.RcuReadLockNesting);
            w.Int(t.OpenProgress.Count);
            if (t.HasFields)
                Disable("a port added fields to task_struct (SimTask.SetField), which the cache does not fingerprint");
        }

        foreach (var cpu in ex.Cpus)
            WriteCpu(w, cpu);
        foreach (var (key, obj) in _objects)
        {
            w.Int(key);
            WriteObject(w, obj);
        }

        foreach (var l in ex.Locks)
        {
            if (l is ArchSpinlock a)
            {
                w.Int(a.Holder?.Id ?? -1);
                continue;
            }

            foreach (var hold in l.Holds)
            {
                w.Int(hold.Task.Id);
                w.Object(hold.Mode);
            }

            w.Int(-1);
        }

        if (ex.AllocatorIfUsed is { } alloc)
        {
            w.Int(alloc.All.Count);
            foreach (var a in alloc.All)
                w.Int(a.Freed ? 1 : 0);
        }

        if (!ex.IsSc && !ex.Memory.WriteState(w, _objects))
            Disable($"the {ex.Memory.Name} memory model keeps state (store histories, views) the cache does not fingerprint yet");
        if (ex.RcuIfUsed != null)
            Disable("RCU grace periods");
        ex.Races?.WriteState(w, ex.TaskList, _objects);
        if (w.Unsupported is { } why)
            Disable(why);
        w.RankClockValues();
        return XxHash128.HashToUInt128(w.Span);
    }

    private static void WriteCpu(StateWriter w, Cpu cpu)
    {
        w.Int(cpu.Id);
        w.Int(cpu.Occupant?.Id ?? -1);
        w.Int((cpu.IrqsDisabled ? 1 : 0) | (cpu.Online ? 2 : 0));
    }

    private static void WriteObject(StateWriter w, object obj)
    {
        switch (obj)
        {
            case Loc l:
                l.WriteValue(w);
                break;
            case IStateful s:
                s.WriteState(w);
                break;
            default:
                w.Unsupported ??= $"state of a {obj.GetType().Name} the cache cannot fingerprint";
                break;
        }
    }
}

/// <summary>Builds the bytes a state or an event is hashed from.</summary>
public sealed class StateWriter
{
    private byte[] _buf = new byte[1024];
    private int _len;

    /// <summary>Set when a value cannot be written (the state cache then turns off).</summary>
    public string? Unsupported { get; set; }

    public ReadOnlySpan<byte> Span => _buf.AsSpan(0, _len);

    public void Clear()
    {
        _len = 0;
        _clocks = 0;
    }

    private Span<byte> Take(int n)
    {
        if (_len + n > _buf.Length)
            Array.Resize(ref _buf, Math.Max(_buf.Length * 2, _len + n));
        var s = _buf.AsSpan(_len, n);
        _len += n;
        return s;
    }

    public void Int(long v) => BinaryPrimitives.WriteInt64LittleEndian(Take(8), v);

    public void U128(UInt128 v) => BinaryPrimitives.WriteUInt128LittleEndian(Take(16), v);

    public void Ints(int[]? a)
    {
        if (a is null)
        {
            Int(-1);
            return;
        }

        Int(a.Length);
        foreach (var x in a)
            BinaryPrimitives.WriteInt32LittleEndian(Take(4), x);
    }

    /// <summary>
    /// A vector clock (or a row of one), entry i a value of task i's component: entries past the
    /// end are 0, so trailing zeros are left out and clocks that grew in a different order but
    /// hold the same entries write the same. Values are written by rank (<see cref="ClockValue"/>).
    /// </summary>
    public void Clock(int[]? a)
    {
        if (a is null)
        {
            Int(-1);
            return;
        }

        var n = a.Length;
        while (n > 0 && a[n - 1] == 0)
            n--;
        Int(n);
        for (var i = 0; i < n; i++)
            ClockValue(i, a[i]);
    }

    private long[] _clockKeys = new long[256];
    private int[] _clockAt = new int[256];
    private int _clocks;

    /// <summary>
    /// A value of one task's component of the race detector's clocks (a clock entry or an epoch):
    /// written as a placeholder that <see cref="RankClockValues"/> replaces by the value's rank
    /// among the distinct values of that component in the state (0 stays 0). See Races.State.cs
    /// for why the ranked state has the same future as the raw one.
    /// </summary>
    public void ClockValue(int component, int value)
    {
        var at = _len;
        BinaryPrimitives.WriteInt32LittleEndian(Take(4), 0);
        if (value == 0)
            return;
        if (_clocks == _clockKeys.Length)
        {
            Array.Resize(ref _clockKeys, _clocks * 2);
            Array.Resize(ref _clockAt, _clocks * 2);
        }

        _clockKeys[_clocks] = ((long)component << 32) | (uint)value;
        _clockAt[_clocks++] = at;
    }

    /// <summary>Replaces every <see cref="ClockValue"/> written since <see cref="Clear"/> by its rank within its component.</summary>
    public void RankClockValues()
    {
        if (_clocks == 0)
            return;
        Array.Sort(_clockKeys, _clockAt, 0, _clocks);
        var rank = 0;
        var key = -1L;
        for (var i = 0; i < _clocks; i++)
        {
            var k = _clockKeys[i];
            if (k >> 32 != key >> 32)
                rank = 0;
            if (k != key)
                rank++;
            key = k;
            BinaryPrimitives.WriteInt32LittleEndian(_buf.AsSpan(_clockAt[i], 4), rank);
        }

        _clocks = 0;
    }

    /// <summary>A value of a location: primitives by their bits, objects by a number stable across executions.</summary>
    public void Value<T>(T v)
    {
        if (typeof(T) == typeof(int))
            Int(Unsafe.As<T, int>(ref v));
        else if (typeof(T) == typeof(long))
            Int(Unsafe.As<T, long>(ref v));
        else if (typeof(T) == typeof(bool))
            Int(Unsafe.As<T, bool>(ref v) ? 1 : 0);
        else if (typeof(T) == typeof(ulong))
            Int((long)Unsafe.As<T, ulong>(ref v));
        else if (typeof(T) == typeof(uint))
            Int(Unsafe.As<T, uint>(ref v));
        else
            Object(v);
    }

    private enum Tag : byte { Null, Int, Str, Task, Loc, Alloc, Obj, Struct, Enum }

    public void Object(object? o)
    {
        switch (o)
        {
            case null:
                Take(1)[0] = (byte)Tag.Null;
                return;
            case int or long or bool or uint or ulong or short or ushort or byte or sbyte or char:
                Take(1)[0] = (byte)Tag.Int;
                Int(o is bool b ? (b ? 1 : 0) : o is ulong u ? (long)u : Convert.ToInt64(o));
                return;
            case Enum e:
                Take(1)[0] = (byte)Tag.Enum;
                Int(Convert.ToInt64(e));
                return;
            case string s:
                Take(1)[0] = (byte)Tag.Str;
                Int(s.Length);
                foreach (var ch in s)
                    BinaryPrimitives.WriteUInt16LittleEndian(Take(2), ch);
                return;
            case SimTask t:
                Take(1)[0] = (byte)Tag.Task;
                Int(t.Id);
                return;
            case Loc l:
                Take(1)[0] = (byte)Tag.Loc;
                Int(l.Key);
                return;
            case KObject { Allocation: { } a }:
                Take(1)[0] = (byte)Tag.Alloc;
                Int(a.Id);
                return;
            case Delegate:
                Unsupported ??= "a delegate stored in a location";
                Take(1)[0] = (byte)Tag.Null;
                return;
        }

        var type = o.GetType();
        var shape = Shape.Of(type);
        if (type.IsValueType)
        {
            Take(1)[0] = (byte)Tag.Struct;
            foreach (var f in shape.Fields)
                Object(f.GetValue(o));
            return;
        }

        // An object is known by its first location (its creation number in the execution).
        var key = long.MaxValue;
        foreach (var f in shape.Locs)
        {
            if (f.GetValue(o) is Loc l && l.Key < key)
                key = l.Key;
        }

        if (key == long.MaxValue)
        {
            Unsupported ??= $"a {type.Name} in a location: the cache can tell objects apart only by their own locations, a task or an allocation";
            Take(1)[0] = (byte)Tag.Null;
            return;
        }

        Take(1)[0] = (byte)Tag.Obj;
        Int(key);
    }

    /// <summary>A type's instance fields (all, for structs) and its location fields (for objects), looked up once.</summary>
    private sealed class Shape
    {
        private static readonly Dictionary<Type, Shape> s_shapes = new();

        public FieldInfo[] Fields = [];
        public FieldInfo[] Locs = [];

        public static Shape Of(Type type)
        {
            lock (s_shapes)
            {
                if (s_shapes.TryGetValue(type, out var s))
                    return s;
                var fields = new List<FieldInfo>();
                for (var ty = type; ty != null && ty != typeof(object); ty = ty.BaseType)
                    fields.AddRange(ty.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly));
                s = new Shape
                {
                    Fields = fields.ToArray(),
                    Locs = fields.Where(f => typeof(Loc).IsAssignableFrom(f.FieldType)).ToArray(),
                };
                s_shapes[type] = s;
                return s;
            }
        }
    }
}
