using System.Text;

namespace Kmc.Models.WeakMemory;

/// <summary>
/// "tso": x86-TSO (Sewell et al., CACM 2010). Each CPU has a FIFO store buffer; a store goes
/// into it, a load reads the CPU's own newest buffered store to that location or else memory.
/// Buffered stores reach memory in FIFO order per CPU: before each plain access (by any task) one
/// buffered store of any CPU may drain (a recorded choice; 0, no drain, first). Locked instructions
/// (every RMW, including atomic_add() and spin_lock) and smp_mb() drain the whole buffer;
/// smp_rmb()/smp_wmb()/the release and acquire forms are plain accesses on x86.
/// <c>Loc.Value</c> is memory, so other CPUs, spin-wait conditions and invariants see only
/// drained stores. A real buffer drains in bounded time; so that a store that is only buffered
/// never looks like a hang, a task that starts to wait (spin or sleep) drains its own CPU's
/// buffer and those of CPUs with no task left, a task that finishes while another waits drains
/// its CPU's, and everything drains before the end-of-run invariants (so those drain orders
/// relative to a waiter's wakeup are not explored). The buffer holds at most <see cref="Capacity"/> stores; a full buffer drains its
/// oldest store first.
/// RCU: synchronize_rcu() drains the updater's buffer where its grace period starts and where it
/// ends (the kernel's grace-period machinery runs locked instructions on the updater's CPU), and at
/// its end drains each reader CPU's buffer up to the store that was newest at the rcu_read_unlock()
/// of every section it waited for or that ended before it started: a CPU reports its quiescent
/// state with locked instructions after the section, so those stores are visible by then. A section
/// that starts after the grace period started reads memory the opening drain already updated.
/// </summary>
public sealed class TsoMemory : MemoryModel
{
    public const int Capacity = 4;

    private readonly Dictionary<int, List<Buffered>> _buffers = new();
    private StringBuilder? _note;
    private long _stores;

    public override string Name => "tso";

    private abstract class Buffered
    {
        public required Loc Loc;
        public int Step;

        /// <summary>Global store order, to tell which buffered store SC would already have written.</summary>
        public long Seq;

        /// <summary>What the store carries for the data-race detector; memory gets it when the store drains.</summary>
        public RaceStamp Race;

        public abstract void Apply();

        public abstract string ShowValue();
    }

    private sealed class Buffered<T> : Buffered
    {
        public required T Value;

        public override void Apply()
        {
            ((Loc<T>)Loc).Value = Value;
            Loc.Version++;
            SetRace(Loc, Race);
        }

        public override string ShowValue() => Format.Value(Value);
    }

    /// <summary>The store now in memory carries <paramref name="stamp"/> for the data-race detector.</summary>
    private static void SetRace(Loc loc, RaceStamp stamp)
    {
        if (stamp.Writer != 0 || loc.Race != null)
            (loc.Race ??= new RaceCell()).Current = stamp;
    }

    private List<Buffered> BufferOf(SimTask t)
    {
        if (!_buffers.TryGetValue(t.Cpu.Id, out var b))
            _buffers[t.Cpu.Id] = b = new List<Buffered>();
        return b;
    }

    private StringBuilder? Note(bool reset)
    {
        if (!Execution.Current.Recording)
            return null;
        if (reset || _note is null)
            _note = new StringBuilder();
        return _note;
    }

    public override string? TakeNote()
    {
        var s = _note is { Length: > 0 } ? _note.ToString() : null;
        _note = null;
        return s;
    }

    private static void Drain(Cpu cpu, List<Buffered> b, int count, StringBuilder? note)
    {
        // A store reaching memory is an effect of the step that drains it (a spin iteration's, too).
        if (count > 0)
            Execution.NoteSpinEffect();
        for (var i = 0; i < count; i++)
        {
            var s = b[i];
            s.Apply();
            if (note != null)
            {
                note.Append(note.Length > 0 ? "; " : "").Append("CPU").Append(cpu.Id).Append(" drains ")
                    .Append(s.Loc.Name).Append(" = ").Append(s.ShowValue());
                if (s.Step > 0)
                    note.Append(" (step ").Append(s.Step).Append(')');
            }
        }

        b.RemoveRange(0, count);
    }

    /// <summary>
    /// Before an access by any task, one buffered store of any CPU may reach memory (a recorded
    /// choice: 0 = none, i = the oldest store of the i-th CPU with a non-empty buffer, by CPU id).
    /// Drains are thus independent of what the storing CPU does next, as on real hardware. The SC
    /// alternative of the choice drains the store made first of all those buffered: always taking
    /// it, no store outlives the next access, which is SC with each store taking effect at its
    /// drain. Leaving a store buffered across an access, or draining out of store order, is the
    /// weak behaviour a stale bound counts. (A task spinning on a buffered store can run only once
    /// it drains, after the next access of some task: an SC interleaving in which the waiter runs
    /// right after the store is not reached.)
    /// </summary>
    private void MaybeDrain(SimTask t, StringBuilder? note)
    {
        var ex = Execution.Current;
        var nonEmpty = 0;
        var sc = 0;
        var oldest = long.MaxValue;
        foreach (var cpu in ex.Cpus)
        {
            if (_buffers.TryGetValue(cpu.Id, out var b) && b.Count > 0)
            {
                nonEmpty++;
                if (b[0].Seq < oldest)
                {
                    oldest = b[0].Seq;
                    sc = nonEmpty;
                }
            }
        }

        if (nonEmpty == 0)
            return;
        var k = ex.Driver.ChooseWeak(ex, t, nonEmpty + 1, sc);
        if (k == 0)
            return;
        foreach (var cpu in _buffers.Keys.Order())
        {
            var b = _buffers[cpu];
            if (b.Count > 0 && --k == 0)
            {
                Drain(ex.Cpus[cpu], b, 1, note);
                return;
            }
        }
    }

    public override T Load<T>(SimTask task, Loc<T> loc, MemOrder order, bool rmw)
    {
        TouchBuffers();
        var b = BufferOf(task);
        var note = Note(reset: true);
        if (rmw)
        {
            // Another CPU's store may reach memory before the locked instruction, as before any
            // access: without this choice an RMW could never read a store still buffered on a CPU
            // that makes no further access (WRITE_ONCE(p, 1) || xchg(p, 2) reading 1).
            MaybeDrain(task, note);
            Drain(task.Cpu, b, b.Count, note);
            RaceRead = loc.Race?.Current ?? default;
            ReadEntry = null;
            return loc.Value;
        }

        MaybeDrain(task, note);
        return ReadOwnOrMemory(b, loc, note);
    }

    private T ReadOwnOrMemory<T>(List<Buffered> b, Loc<T> loc, StringBuilder? note)
    {
        // A buffered store carries its writer's clock as a drained one does.
        RaceRead = default;
        for (var i = b.Count - 1; i >= 0; i--)
        {
            if (b[i] is Buffered<T> s && ReferenceEquals(s.Loc, loc))
            {
                // The CPU's buffer holds the stores of every task that ran on it, not only this one's.
                RaceRead = s.Race;
                ReadEntry = s;
                note?.Append(note.Length > 0 ? "; " : "").Append("reads #").Append(s.Step).Append(" from its own store buffer (not yet visible to other CPUs)");
                return s.Value;
            }
        }

        RaceRead = loc.Race?.Current ?? default;
        ReadEntry = null;
        return loc.Value;
    }

    /// <summary>
    /// Memory read at its current version with no store to the location still buffered on any
    /// CPU; a store read from the task's own buffer is the newest while it is its CPU's last to the location.
    /// </summary>
    internal override bool IsLatest(Loc loc, object? entry, int version)
    {
        foreach (var b in _buffers.Values)
        {
            for (var i = b.Count - 1; i >= 0; i--)
            {
                if (ReferenceEquals(b[i].Loc, loc) && !ReferenceEquals(b[i], entry))
                    return false;
            }
        }

        return entry != null || version == loc.Version;
    }

    public override T LoadLatest<T>(SimTask task, Loc<T> loc, MemOrder order)
    {
        TouchBuffers();
        return ReadOwnOrMemory(BufferOf(task), loc, Note(reset: true));
    }

    /// <summary>
    /// Any access may drain any CPU's buffer (a recorded choice over the non-empty ones), so for
    /// the partial-order reduction every access reads and writes the buffers as one key.
    /// </summary>
    private void TouchBuffers() => Scheduling.Reduction.Footprints.Write(Scheduling.Reduction.Footprints.TsoBuffersKey);

    public override void Store<T>(SimTask task, Loc<T> loc, T value, MemOrder order, bool rmw)
    {
        TouchBuffers();
        var b = BufferOf(task);
        if (rmw)
        {
            // The load half drained the buffer: a locked instruction writes memory directly.
            loc.Value = value;
            loc.Version++;
            SetRace(loc, RaceStore);
            RaceStore = default;
            return;
        }

        var note = Note(reset: true);
        MaybeDrain(task, note);
        if (b.Count >= Capacity)
            Drain(task.Cpu, b, 1, note);
        b.Add(new Buffered<T> { Loc = loc, Value = value, Step = Execution.Current.NextStepIndex, Seq = ++_stores, Race = RaceStore });
        RaceStore = default;
        note?.Append(note.Length > 0 ? "; " : "").Append("buffered on CPU").Append(task.Cpu.Id).Append(": not yet visible to other CPUs");
    }

    public override void Fence(SimTask task, FenceKind kind)
    {
        TouchBuffers();
        var note = Note(reset: true);
        if (kind is FenceKind.Mb)
        {
            var b = BufferOf(task);
            Drain(task.Cpu, b, b.Count, note);
        }
    }

    /// <summary>
    /// A waiting task would otherwise wait for stores that only its own CPU, or a CPU whose
    /// tasks have all finished, could still drain: those drain now.
    /// </summary>
    /// <remarks>
    /// So a waiting task can be woken by a drain its own wait caused: with "write y || spin
    /// until y" the write stays buffered when its task ends before the spin looks (SB needs it
    /// to), and drains only once the spin waits, so no execution has the spinner see it at its
    /// look. That is why woken spins run on under this model (<see cref="MemoryModel.WaitingMakesStoresVisible"/>).
    /// </remarks>
    internal override bool WaitingMakesStoresVisible => true;

    public override void OnWait(SimTask task)
    {
        TouchBuffers();
        DrainAll(task, task.Cpu, "waits");
        foreach (var cpu in Execution.Current.Cpus)
        {
            if (cpu != task.Cpu && !Execution.Current.Tasks.Any(t => t.Cpu == cpu && !t.Done))
                DrainAll(task, cpu, "waits");
        }
    }

    /// <summary>
    /// A finished task's stores stay buffered (SB needs that) unless a task already waits:
    /// then nothing else might ever drain them.
    /// </summary>
    public override void OnTaskEnd(SimTask task)
    {
        TouchBuffers();
        if (Execution.Current.Tasks.Any(t => !t.Done && t.Blocker != null))
            DrainAll(task, task.Cpu, "ends");
    }

    public override void OnAllDone()
    {
        foreach (var cpu in Execution.Current.Cpus)
        {
            if (_buffers.TryGetValue(cpu.Id, out var b))
                Drain(cpu, b, b.Count, null);
        }
    }

    // ---- RCU (see the class comment) ----------------------------------------------------------

    /// <summary>Per CPU: its newest buffered store at its last outermost rcu_read_unlock() (absent: none was buffered).</summary>
    private readonly Dictionary<int, Buffered> _rcuUnlockMarks = new();

    private sealed record RcuMark(int Cpu, Buffered Store);

    public override object? OnRcuReadUnlock(SimTask task)
    {
        TouchBuffers();
        var b = BufferOf(task);
        if (b.Count == 0)
        {
            _rcuUnlockMarks.Remove(task.Cpu.Id);
            return null;
        }

        _rcuUnlockMarks[task.Cpu.Id] = b[^1];
        return new RcuMark(task.Cpu.Id, b[^1]);
    }

    public override object? OnGracePeriodStart(SimTask updater)
    {
        TouchBuffers();
        Fence(updater, FenceKind.Mb);
        return _rcuUnlockMarks.Select(kv => new RcuMark(kv.Key, kv.Value)).ToList();
    }

    public override void OnGracePeriodEnd(SimTask updater, object? start, IReadOnlyList<object?> readers)
    {
        TouchBuffers();
        // Not reset: without readers to wait for, the start's drains go into the same step.
        var note = Note(reset: false);
        var marks = (start as List<RcuMark> ?? []).Concat(readers.OfType<RcuMark>());
        foreach (var mark in marks.OrderBy(m => m.Cpu))
        {
            // FIFO: the mark gone from the buffer means everything up to it already drained.
            if (_buffers.TryGetValue(mark.Cpu, out var b) && b.IndexOf(mark.Store) is var i and >= 0)
                Drain(Execution.Current.Cpus[mark.Cpu], b, i + 1, note);
        }

        var own = BufferOf(updater);
        Drain(updater.Cpu, own, own.Count, note);
    }

    private void DrainAll(SimTask task, Cpu cpu, string why)
    {
        if (!_buffers.TryGetValue(cpu.Id, out var b) || b.Count == 0)
            return;
        var ex = Execution.Current;
        var note = ex.Recording ? new StringBuilder() : null;
        Drain(cpu, b, b.Count, note);
        if (note != null)
            ex.Record(task, "store buffer drains", null, $"{task.Name} {why}", "(memory model)", "", 0, memory: note.ToString());
    }
}
