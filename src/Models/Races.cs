using System.Runtime.CompilerServices;
using System.Text;

namespace Kmc.Models;

/// <summary>
/// <para>
/// Data races as the Linux kernel memory model defines them and KCSAN reports them: two
/// accesses to the same location from different tasks, at least one a store, at least one
/// plain (not READ_ONCE/WRITE_ONCE/an atomic/a lock operation), and neither happening before
/// the other. A race is undefined behaviour in the LKMM (tools/memory-model/Documentation/
/// explanation.txt, "PLAIN ACCESSES AND DATA RACES"); accesses the port wraps in data_race()
/// (<see cref="Kernel.DataRace{T}"/>) are exempt, as KCSAN exempts them.
/// </para>
/// <para>
/// Algorithm: vector clocks per task and, per location, the epoch (task, clock) of each task's
/// last plain and last marked read and write: the vector-clock race detection of DJIT+
/// (Pozniansky and Schuster, PPoPP 2003) with FastTrack's epochs (Flanagan and Freund, PLDI
/// 2009). FastTrack keeps one write epoch per location; here each task keeps one per kind
/// (plain/marked), because the LKMM exempts marked-marked pairs: a marked write may follow a
/// plain one of the same task that still races with a third task's marked access.
/// </para>
/// <para>
/// Happens-before is the LKMM's for marked accesses, built from what the execution actually read
/// (the memory model says which store each load read): an acquire (smp_load_acquire, the acquire
/// and fully ordered RMWs, spin_lock, mutex_lock, smp_cond_load_acquire) joins the clock the
/// store it read carries; a release (smp_store_release, the release and fully ordered RMWs,
/// spin_unlock) carries the task's clock; a relaxed marked store carries the task's clock at its
/// last smp_wmb()/smp_mb(); a relaxed marked load collects the clock of the store it read for its
/// task's next smp_rmb()/smp_mb()/smp_acquire__after_ctrl_dep() (the C11 fence rules, which is how
/// the LKMM's fences order marked accesses for the plain ones around them: w-pre-bounded and
/// r-post-bounded). RMWs continue what the store they read carried (rmw-sequences). Task
/// creation, wake_up_process() (try_to_wake_up()'s full barrier and the runqueue lock), and RCU
/// grace periods (a grace period ends after the sections it waited for; a section that starts after
/// a grace period started comes after what preceded synchronize_rcu()) are the other edges.
/// </para>
/// <para>
/// Reads-from is an hb edge only between marked accesses (the LKMM's hb has rfe on [Marked]): a
/// plain store carries nothing to the loads that read it, and a marked load of a plain store
/// orders nothing. A marked load of a marked store puts that store (for its location:
/// <see cref="RaceCell.Observe"/>) before the reader's later accesses only once the load is
/// ordered before them, as its clock: at once for an acquire, an ordered RMW that stores or a
/// pointer (an address dependency), at the task's next read barrier for a relaxed load (a
/// failed cmpxchg too). A READ_ONCE() of another CPU's WRITE_ONCE() followed by a plain store to
/// the same location with nothing between is a race (coherence orders no plain access;
/// tests/Kmc.Tests/RaceLitmus, which kmc's axiomatic LKMM judges the same way). A relaxed
/// store of a pointer that a marked load of the same task returned carries what that load's
/// store carried (a data dependency, so ppo and hb).
/// </para>
/// <para>
/// Limits, said loudly: an RMW that stores with any ordering but relaxed (an _acquire or a
/// _release one too) is taken as both acquiring and releasing. That is stronger than the LKMM,
/// which orders only the side the name says. A relaxed RMW (and so a weakened one) carries only
/// what its task's last barrier published. smp_wmb() publishes the task's clock for plain writes
/// too, so a plain store, smp_wmb(), then a marked store another CPU reads before writing the
/// first location is not reported, though the LKMM flags it (its ww-nonrace needs a strong
/// fence, release or acquire after the plain store: rw-xbstar); smp_rmb() orders a relaxed
/// load's store before later writes as well as reads (the LKMM: reads only). An address
/// dependency through an integer is seen only where the port says so
/// (<see cref="Kernel.DependentPointer{T}"/>, after decode_tail() and decode_cpu()); a data
/// dependency only through a pointer value (the last few a task loaded). A pointer-valued load is
/// taken as an acquire (the memory models' approximation of address dependencies), so a plain
/// access through an RCU- or READ_ONCE-loaded pointer is ordered after the pointer's publisher,
/// which is the LKMM's rule for the accesses through that pointer and stronger than it for the
/// others. Control dependencies order nothing here (nor, for plain accesses, in the LKMM).
/// Writes outside the kernel API (initialisation, <c>Loc.Init</c>) and <c>Peek()</c> are not
/// accesses. Interrupt handlers run as tasks.
/// </para>
/// </summary>
internal sealed partial class RaceDetector
{
    /// <summary>A clock no one has published: joining it orders nothing.</summary>
    private static readonly int[] Empty = [];

    // ---- happens-before ----------------------------------------------------------------------

    private RaceClocks Of(SimTask t) => t.Race ?? _pool.ClocksFor(t);

    public void OnSpawn(SimTask? parent, SimTask child)
    {
        var c = Of(child);
        if (parent != null)
            c.Join(Of(parent).Publish());
    }

    /// <summary>A load of <paramref name="loc"/> took effect; <paramref name="read"/> is what the store it read carries.</summary>
    public void OnLoad(SimTask t, Loc loc, MemOrder order, bool rmw, bool pointer, RaceStamp read, object? value = null)
    {
        var c = Of(t);
        c.BeforeAccess();
        // Only a marked load of a marked store orders the store itself (the LKMM's hb has rfe
        // between marked accesses only); a marked load of a plain store orders nothing.
        var seen = (rmw || order != MemOrder.Plain) && read.Writer > 0 && read.Marked && loc.Race is { } cell
            ? new RaceObservation(cell, read.Writer, read.Epoch)
            : default;
        var sync = read.Sync;
        c.LastRead = sync;
        c.LastSeen = seen;
        if (pointer)
        {
            // Accesses through the pointer it returns are address-dependent on it (a failed
            // cmpxchg's too, as genradix's losing root cmpxchg_release() uses the winner's node).
            c.Join(sync);
            seen.Apply(t.Id);
            if (value != null && order != MemOrder.Plain)
                c.NotePointer(value, sync, _pool);
        }

        if (rmw)
        {
            // Its ordering applies when (if) it stores: a failed cmpxchg is a relaxed load.
            c.RmwRead = sync;
            c.RmwSeen = seen;
            c.AddPending(sync, seen, _pool);
            return;
        }

        if (order is MemOrder.Acquire or MemOrder.Full)
        {
            c.Join(sync);
            seen.Apply(t.Id);
        }
        else if (!pointer)
        {
            c.AddPending(sync, seen, _pool);
        }
    }

    /// <summary>What a store about to take effect carries (for the memory model to keep with it); <paramref name="value"/>: the object reference it stores, if any.</summary>
    public RaceStamp OnStore(SimTask t, MemOrder order, bool rmw, object? value = null)
    {
        var c = Of(t);
        c.BeforeAccess();
        var stamp = new RaceStamp { Writer = t.Id + 1, Epoch = c.Clock[t.Id], Marked = rmw || order != MemOrder.Plain };
        int[]? message;
        if (rmw)
        {
            var read = c.RmwRead;
            var seen = c.RmwSeen;
            c.RmwRead = null;
            c.RmwSeen = default;
            if (order == MemOrder.Full)
                c.FullFence();
            // An ordered RMW that stores both acquires and releases (see the limits above).
            var ordered = order is not MemOrder.Relaxed and not MemOrder.Once and not MemOrder.Plain;
            if (ordered)
            {
                c.Join(read);
                seen.Apply(t.Id);
            }

            stamp.Epoch = c.Clock[t.Id];
            message = ordered ? c.Publish() : c.ReleaseFence;
            stamp.Sync = JoinOf(message, read);
            if (order == MemOrder.Full)
                c.FullFence();
            return stamp;
        }

        // rfe from a plain store is no hb edge: a plain store carries nothing to its readers.
        if (order is MemOrder.Release or MemOrder.Full)
            stamp.Sync = c.Publish();
        else if (order != MemOrder.Plain)
        {
            // A relaxed store of a pointer a marked load returned depends on that load (data
            // dependency: ppo, so hb): it carries what the load's store carried (osq_wait_next()'s
            // node->next handed on by Step C's WRITE_ONCE(prev->next, next)).
            stamp.Sync = value != null && c.PointerSync(value) is { } dep ? JoinOf(c.ReleaseFence, dep) : c.ReleaseFence;
        }

        return stamp;
    }

    /// <summary>The port computed a pointer from the value of its last load (decode_tail(), decode_cpu()): an address dependency.</summary>
    public void OnAddressDependency(SimTask t)
    {
        var c = Of(t);
        c.Join(c.LastRead);
        c.LastSeen.Apply(t.Id);
    }

    public void OnFence(SimTask t, FenceKind kind)
    {
        var c = Of(t);
        switch (kind)
        {
            case FenceKind.Mb:
            case FenceKind.MbBeforeAtomic:
            case FenceKind.MbAfterAtomic:
                c.FullFence();
                break;
            case FenceKind.Wmb:
                c.ReleaseFence = c.Publish();
                break;
            case FenceKind.Rmb:
            case FenceKind.AcquireAfterCtrlDep:
                c.JoinPending();
                break;
        }
    }

    /// <summary>try_to_wake_up() woke <paramref name="wakee"/>: what the waker did before is visible once it runs.</summary>
    public void OnWake(SimTask waker, SimTask wakee)
    {
        var w = Of(wakee);
        w.WakeSync = JoinOf(w.WakeSync, Of(waker).Publish());
    }

    /// <summary>The task returned from schedule().</summary>
    public void OnScheduled(SimTask t)
    {
        var c = Of(t);
        c.Join(c.WakeSync);
        c.WakeSync = null;
    }

    private int[]? _gpStarts;

    /// <summary>The outermost rcu_read_lock(): the section comes after what preceded every grace period started so far.</summary>
    public void OnRcuReadLock(SimTask t) => Of(t).Join(_gpStarts);

    /// <summary>The outermost rcu_read_unlock(): a grace period that waited for this section ends after it.</summary>
    public int[] OnRcuReadUnlock(SimTask t) => Of(t).Publish();

    public void OnGracePeriodStart(SimTask updater) => _gpStarts = JoinOf(_gpStarts, Of(updater).Publish());

    public void OnGracePeriodEnd(SimTask updater, IEnumerable<int[]?> sections)
    {
        var c = Of(updater);
        foreach (var s in sections)
            c.Join(s);
    }

    internal static int[]? JoinOf(int[]? a, int[]? b)
    {
        if (b is null || b.Length == 0 || ReferenceEquals(a, b))
            return a;
        if (a is null || a.Length == 0)
            return b;
        var r = new int[Math.Max(a.Length, b.Length)];
        for (var i = 0; i < r.Length; i++)
            r[i] = Math.Max(i < a.Length ? a[i] : 0, i < b.Length ? b[i] : 0);
        return r;
    }

    // ---- the race check ----------------------------------------------------------------------

    /// <summary>
    /// Checks one access (already recorded in the trace, when recording) against every other
    /// task's last accesses of the location, then records it. Returns the race it forms, or null. <paramref name="value"/> is shown in the report.
    /// </summary>
    public Failure? Access(Execution ex, SimTask t, Loc loc, bool write, bool marked, string op, string fn, string file, int line, string? value)
    {
        var c = Of(t);
        var cell = loc.Race ?? _pool.CellFor(loc);
        var slots = cell.Slots;
        var clock = c.Clock;
        var observed = cell.ObservedBy(t.Id);
        Failure? race = null;
        for (var u = 0; u < slots.Length >> 2 && race is null; u++)
        {
            if (u == t.Id)
                continue;
            var seen = u < clock.Length ? clock[u] : 0;
            if (observed != null && u < observed.Length && observed[u] > seen)
                seen = observed[u];
            // Slots: 0 plain write, 1 marked write, 2 plain read, 3 marked read.
            var b = u << 2;
            if (slots[b].Clock > seen)
                race = Report(ex, t, loc, write, marked, op, fn, file, line, value, ref slots[b], u);
            else if (!marked && slots[b + 1].Clock > seen)
                race = Report(ex, t, loc, write, marked, op, fn, file, line, value, ref slots[b + 1], u);
            else if (write && slots[b + 2].Clock > seen)
                race = Report(ex, t, loc, write, marked, op, fn, file, line, value, ref slots[b + 2], u);
            else if (write && !marked && slots[b + 3].Clock > seen)
                race = Report(ex, t, loc, write, marked, op, fn, file, line, value, ref slots[b + 3], u);
        }

        var mine = (t.Id << 2) + (write ? 0 : 2) + (marked ? 1 : 0);
        if (mine >= slots.Length)
        {
            // A location a second task touches is likely shared by all: size it for every task
            // now rather than grow it once per task (empty slots are clock 0 and order nothing).
            var size = (t.Id + 1) << 2;
            cell.Slots = slots = _pool.Grow(slots, slots.Length == 0 ? size : Math.Max(size, ex.TaskList.Count << 2));
        }
        ref var s = ref slots[mine];
        s.Clock = clock[t.Id];
        s.Step = ex.Recorder?.Steps.Count ?? 0;
        s.Op = op;
        s.Fn = fn;
        s.File = file;
        s.Line = line;
        s.Write = write;
        s.Marked = marked;
        return race;
    }

    private static Failure Report(Execution ex, SimTask t, Loc loc, bool write, bool marked, string op, string fn, string file, int line, string? value,
        ref RaceAccess other, int otherTask)
    {
        var otherName = ex.Tasks[otherTask].Name;
        var otherWrite = other.Write;
        var otherValue = other.Step > 0 && ex.Recorder is { } rec && other.Step <= rec.Steps.Count ? rec.Steps[other.Step - 1].Value : null;
        var sb = new StringBuilder("data race on ").Append(loc.Name).Append(": ")
            .Append(t.Name).Append(' ').Append(Describe(write, marked, op, value)).Append(" in ").Append(fn)
            .Append(" (").Append(Path.GetFileName(file)).Append(':').Append(line).Append(") and ")
            .Append(otherName).Append(' ').Append(Describe(otherWrite, other.Marked, other.Op!, otherValue)).Append(" in ").Append(other.Fn)
            .Append(" (").Append(Path.GetFileName(other.File)).Append(':').Append(other.Line)
            .Append(other.Step > 0 ? $", step {other.Step}" : "").Append(") are not ordered by happens-before, and ")
            .Append(!marked && !other.Marked ? "both are plain" : "one is plain")
            .Append(" (the LKMM's data race; KCSAN would report it)");
        return new Failure(FailureKind.DataRace, sb.ToString(), $"{file}:{line}");
    }

    private static string Describe(bool write, bool marked, string op, string? value)
    {
        var kind = marked ? $"{op} ({(write ? "marked write" : "marked read")})" : write ? "plain write" : "plain read";
        return value is null ? kind : $"{kind} = {value}";
    }
}

/// <summary>One task's last access of one kind to a location.</summary>
internal struct RaceAccess
{
    /// <summary>The task's clock at the access (0: none).</summary>
    public int Clock;

    /// <summary>Its recorded step (0 when not recording).</summary>
    public int Step;

    public string? Op;
    public string? Fn;
    public string? File;
    public int Line;

    public bool Write;
    public bool Marked;
}

/// <summary>What a store carries for the race detector: its writer's epoch and the clock an acquirer joins.</summary>
internal struct RaceStamp
{
    /// <summary>The clock a reader that acquires from the store joins (null: nothing).</summary>
    public int[]? Sync;

    /// <summary>The writing task's id + 1 (0: the initial value or a write outside the kernel API).</summary>
    public int Writer;

    /// <summary>The writer's clock at the store.</summary>
    public int Epoch;

    /// <summary>A marked store (WRITE_ONCE, a release, an RMW): only these order a marked load of them.</summary>
    public bool Marked;
}

/// <summary>The race state of one location: each task's last plain/marked read and write.</summary>
internal sealed partial class RaceCell
{
    public RaceAccess[] Slots = [];

    /// <summary>Under sc and tso: what the store memory holds carries.</summary>
    public RaceStamp Current;

    /// <summary>
    /// Per task, per writer: the newest epoch of that writer's marked stores to this location
    /// the task is ordered after. A marked load of a marked store is rfe between marked accesses,
    /// so the store is in the LKMM's happens-before of the load; the load's own ordering (an
    /// acquire, a fully ordered RMW, a later smp_rmb()/smp_mb(), an address dependency through
    /// its value) then orders the store before the task's later accesses to the location (the
    /// LKMM's vis ; w-pre-bounded / r-pre-bounded). The store alone, not the writer's earlier
    /// accesses (that takes a release or a barrier on the writer's side: the store's clock), and
    /// not the stores coherence-before it (coherence orders no plain access). What lets a CPU
    /// reinitialise its per-CPU queue node with plain stores after its xchg() took what another
    /// CPU had linked into it.
    /// </summary>
    private int[]?[]? _observed;

    public int[]? ObservedBy(int task) => _observed != null && task < _observed.Length ? _observed[task] : null;

    public void Observe(int task, int writer, int epoch)
    {
        if (_observed is null || task >= _observed.Length)
            Array.Resize(ref _observed, task + 1);
        ref var row = ref _observed[task];
        if (row is null || writer > row.Length)
            Array.Resize(ref row, Math.Max(writer, Slots.Length >> 2));
        if (epoch > row[writer - 1])
            row[writer - 1] = epoch;
    }
}

/// <summary>A marked store a task's marked load read: ordered before the task's later accesses once the load is (<see cref="RaceCell.Observe"/>).</summary>
internal readonly record struct RaceObservation(RaceCell? Cell, int Writer, int Epoch)
{
    public void Apply(int task) => Cell?.Observe(task, Writer, Epoch);
}

/// <summary>One task's vector clock and the clocks its fences and relaxed reads gather.</summary>
internal sealed partial class RaceClocks
{
    private int _id;

    /// <param name="clock">a zeroed array of length <paramref name="id"/> + 1</param>
    public RaceClocks(int id, int[] clock)
    {
        _id = id;
        Clock = clock;
        Clock[id] = 1;
    }

    public int[] Clock;

    /// <summary>A copy of <see cref="Clock"/> handed out since it last changed (published clocks are immutable).</summary>
    private int[]? _published;

    /// <summary>The clock at the last smp_wmb()/smp_mb(), which relaxed stores carry.</summary>
    public int[]? ReleaseFence;

    /// <summary>What the stores read by relaxed loads carried, for the next read barrier.</summary>
    public int[]? Pending;

    /// <summary>The marked stores relaxed marked loads read, ordered before what follows the next read barrier.</summary>
    private List<RaceObservation>? _pendingSeen;

    /// <summary>The marked store the task's last load read (for an address dependency through its value).</summary>
    public RaceObservation LastSeen;

    /// <summary>The marked store an RMW read (ordered before what follows if the RMW stores with ordering).</summary>
    public RaceObservation RmwSeen;

    /// <summary>What the store the task's last load read carries (for an address dependency through its value).</summary>
    public int[]? LastRead;

    /// <summary>The store an RMW read (its ordering applies if it stores).</summary>
    public int[]? RmwRead;

    /// <summary>Entries of the pointer ring.</summary>
    internal const int PointerRing = 4;

    /// <summary>
    /// The last pointers marked loads returned and what their stores carried (a small ring: no
    /// allocation per step). Created at the task's first pointer load: most tasks load none.
    /// </summary>
    private object?[]? _pointers;

    private int[]?[]? _pointerSyncs;
    private int _nextPointer;

    public void NotePointer(object value, int[]? sync, RacePool pool)
    {
        _pointers ??= pool.PointerRing();
        _pointerSyncs ??= pool.SyncRing();
        for (var i = 0; i < _pointers.Length; i++)
        {
            if (ReferenceEquals(_pointers[i], value))
            {
                _pointerSyncs[i] = sync;
                return;
            }
        }

        _pointers[_nextPointer] = value;
        _pointerSyncs[_nextPointer] = sync;
        _nextPointer = (_nextPointer + 1) % _pointers.Length;
    }

    public int[]? PointerSync(object value)
    {
        if (_pointers is null)
            return null;
        for (var i = 0; i < _pointers.Length; i++)
        {
            if (ReferenceEquals(_pointers[i], value))
                return _pointerSyncs![i];
        }

        return null;
    }

    /// <summary>What wakers published, joined when the task returns from schedule().</summary>
    public int[]? WakeSync;

    /// <summary>The clock as others may now see it; the task's own entry moves on before its next access.</summary>
    public int[] Publish() => _published ??= (int[])Clock.Clone();

    /// <summary>An access after a publication gets a later epoch, so it is not ordered by what was published.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void BeforeAccess()
    {
        if (_published is null)
            return;
        Clock[_id]++;
        _published = null;
    }

    public void Join(int[]? other)
    {
        if (other is null)
            return;
        if (other.Length > Clock.Length)
            Array.Resize(ref Clock, other.Length);
        for (var i = 0; i < other.Length; i++)
        {
            if (other[i] > Clock[i])
            {
                // The published copy stays as it was (an immutable message).
                if (_published != null)
                {
                    Clock[_id]++;
                    _published = null;
                }

                Clock[i] = other[i];
            }
        }
    }

    public void AddPending(int[]? sync, RaceObservation seen, RacePool pool)
    {
        if (sync is { Length: > 0 })
            Pending = RaceDetector.JoinOf(Pending, sync);
        if (seen.Cell is null)
            return;
        var list = _pendingSeen ??= pool.SeenList();
        for (var i = 0; i < list.Count; i++)
        {
            // One entry per location and writer: a spin of relaxed loads does not grow the list.
            if (ReferenceEquals(list[i].Cell, seen.Cell) && list[i].Writer == seen.Writer)
            {
                if (seen.Epoch > list[i].Epoch)
                    list[i] = seen;
                return;
            }
        }

        list.Add(seen);
    }

    /// <summary>A read barrier: what the relaxed loads since the last one read is ordered before what follows.</summary>
    public void JoinPending()
    {
        Join(Pending);
        Pending = null;
        if (_pendingSeen is not { Count: > 0 } list)
            return;
        foreach (var seen in list)
            seen.Apply(_id);
        list.Clear();
    }

    public void FullFence()
    {
        JoinPending();
        ReleaseFence = Publish();
    }
}
