using System.Text;

namespace Kmc.Models.WeakMemory;

/// <summary>
/// <para>
/// "lkmm": an operational approximation of the Linux kernel memory model
/// (tools/memory-model), in the style of the view-based C11 models behind Loom and CDSChecker
/// and of the Promising semantics (Kang et al., POPL'17) without promises (the litmus engine
/// adds deferred loads and value promises on top, see Limits).
/// </para>
/// <para>
/// State. Each location keeps its coherence order: the list of every store to it, oldest
/// first (<see cref="History{T}"/>). Each task keeps a view (per location, the newest store it
/// is known to have seen), a "release-fence view" (its view at its last smp_wmb/smp_mb, which
/// its later relaxed stores carry) and a "pending acquire" view (what the stores it read since
/// its last read barrier carried). Each store carries a message view. One global view stands for
/// the total order of full barriers.
/// </para>
/// <para>
/// Loads. A load may read any store of the location not older than the task's view of it
/// (coherence: CoRR, CoWR), as a recorded choice; choice 0 is the newest. Reading a store raises
/// the view to it. An acquire load (smp_load_acquire, the acquire RMWs, spin_lock,
/// smp_cond_load_acquire) also joins the store's message view: a release/acquire pair orders
/// everything the releaser had seen before the consumer's later accesses (MP+rel+acq, and
/// A-cumulativity through the views, WRC). A relaxed load (READ_ONCE, plain) only adds the
/// message to the pending-acquire view, which smp_rmb() and smp_acquire__after_ctrl_dep() join
/// (MP+wmb+rmb).
/// </para>
/// <para>
/// Stores. A store goes into the location's coherence order at any place after the task's
/// view of that location (again a recorded choice; choice 0 is the end), never between an RMW
/// and the store it read. A store placed before stores the task has not seen is a store that
/// became visible late: this is how store-&gt;store and store-&gt;load reordering show up
/// (2+2W, and the OSQ bug where an init store <c>node-&gt;next = NULL</c> lands after another
/// CPU's later store to the same field). The pending-acquire view bounds the place too: a
/// store that a release or barrier ordered before a store this task read had reached its CPU
/// before that read. The store carries the task's release-fence view (relaxed), or its whole
/// current view (smp_store_release, spin_unlock, the _release and fully ordered RMWs), and in
/// both cases what the stores the task read had made visible to all CPUs with smp_mb()
/// (<see cref="StoreEntry.Strong"/>: a strong fence's propagation reaches everything that
/// executes after a read of a later store, the LKMM's pb).
/// </para>
/// <para>
/// RMWs read the coherence-latest store and put theirs right after it (atomicity). Their
/// message also carries the message of the store they read (rmw-sequences, as the LKMM has
/// since v6.5: a chain of _release puts then an acquire at zero sees every putter). Value-
/// returning RMWs without suffix are fully ordered (an smp_mb() before and after); the
/// _relaxed/_acquire/_release forms order only what their name says; a failed cmpxchg is a
/// relaxed load. atomic_add() and friends (no return value) are relaxed.
/// </para>
/// <para>
/// Barriers. smp_mb() joins the pending-acquire view and the global fence view into the task's
/// view, publishes the result as the new global fence view, and becomes the release-fence view:
/// full barriers are totally ordered, so in SB+mbs whichever runs second sees the other's store.
/// smp_wmb() sets the release-fence view; smp_rmb() and smp_acquire__after_ctrl_dep() join the
/// pending-acquire view; smp_mb__before_atomic()/smp_mb__after_atomic() are taken as smp_mb()
/// (stronger than the LKMM, which orders only around the atomic); barrier() does nothing.
/// Spawning a task hands it the parent's view.
/// </para>
/// <para>
/// Locks. spin_lock() is an acquire RMW and spin_unlock() a release store of the lock word, and
/// a lock taken after an unlock (the task's own, of any lock, or the unlock the lock reads)
/// also acts as smp_wmb() for the unlock's view and, after the task's own unlock, as smp_rmb():
/// lock.cat's po-unlock-lock-po, which orders what precedes the unlock before what follows
/// the lock for every CPU, where a plain release/acquire pair would not.
/// </para>
/// <para>
/// RCU. rcu_dereference() is READ_ONCE() of a pointer (so dependency-ordered, see Limits) and
/// rcu_assign_pointer() is smp_store_release(). The kernel API makes synchronize_rcu() wait for
/// the read-side critical sections open when its grace period starts; this model adds what the
/// grace period orders, after the LKMM's law (for each section and grace period, either the
/// section ends before the grace period ends, or it starts after the grace period starts), and
/// the interleaving picks the side: a section open at the start is on the first, one whose
/// outermost rcu_read_lock() comes later is on the second. synchronize_rcu() opens with a full
/// barrier and publishes the updater's view as a grace-period start view, which every later
/// outermost rcu_read_lock() joins (the section sees everything before that synchronize_rcu()).
/// Each outermost rcu_read_unlock() records the reader's view, pending-acquire part included (a
/// grace period is A-cumulative like a strong fence: the stores the section read from are
/// ordered too); the grace period's end joins the views of the sections it waited for and of
/// every section that had ended before it started, then closes with a full barrier (a grace
/// period is at least an smp_mb(), as in the LKMM's strong-fence). Stronger than the LKMM, per
/// interleaving: a section that ended before the start is put on the first side even when it also
/// saw the code before the grace period (the LKMM would let its accesses be missed after it), a
/// section that starts later is put on the second even when the updater observes nothing of it,
/// and the start view carries the global full-barrier view, as every smp_mb() here does. As both
/// placements of a section are explored, this seldom removes an outcome: on the shapes tested
/// (RcuTests, cross-checked with kmc litmus) the outcomes are the LKMM's. Only rcu_read_lock()
/// sections are readers: preempt- and irq-disabled regions (which synchronize_rcu() also waits
/// for since v4.20) are not, and SRCU is not modelled.
/// </para>
/// <para>
/// Limits. No load buffering here (a load reads a store that already executed), hence no LB and no
/// out-of-thin-air for ports: their loads return at once, so load-&gt;store order is always kept
/// and address/control dependencies to stores are honoured for free, which also means a port
/// that drops such a dependency is not caught (<see cref="NoLoadBufferingForPorts"/>, printed by
/// kmc run and kmc list). The litmus engine's operational threads add LB on top of this model by
/// deferring loads and by value promises certified against the LKMM's dependencies
/// (OperationalThread and Promises.cs in src/Checks/Litmus/Operational), which need the program
/// text; a port's C# cannot be re-run to certify a promise and its values' dependencies are not
/// tracked, so no sound scheme fits ports.
/// An address dependency through an integer is honoured when the caller names it
/// (<see cref="AddressDependsOn"/>: the dependent load reads nothing older than what the stores
/// behind the index carried); the litmus engine does, from the registers' syntactic
/// dependencies. An address dependency between
/// two loads is approximated: a load whose value holds an object reference (a pointer: what
/// READ_ONCE/rcu_dereference of a pointer, a failed cmpxchg on a pointer and the plain
/// child-pointer walks of lockless trees dereference next) acts as an acquire. That is stronger
/// than the LKMM, which orders only the loads through that pointer, so it may miss a bug whose
/// stale read is not through the pointer; it never reports a pointer-chasing reader stale where
/// the kernel's dependency ordering holds. A port's dependency through an integer is not seen
/// (a port's C# does not say which load a[i]'s index came from): a load from <c>a[i]</c> with
/// <c>i</c> read by READ_ONCE may return a value older than the LKMM allows (MP+wmb+addr through
/// an index), so a port that relies on such a dependency needs smp_load_acquire() or a
/// pointer-typed location here.
/// Each location has one coherence order, but a load may return any store its view allows, so
/// two readers may still disagree on the order of two independent stores (IRIW without
/// barriers is allowed, as in the LKMM; with smp_mb() between the reads it is not, as in the
/// LKMM). RMWs always read the newest store.
/// A value-conditioned spin-wait on one location (smp_cond_load_*, atomic_cond_read_*) may end
/// on any store its view allows that satisfies its condition (<see cref="CanReadSatisfying{T}"/>);
/// a spin on a condition over several locations (<see cref="Kernel.SpinUntil"/>) and the lock
/// words of spin_lock()/mutex_lock() wait for the newest values only. wmb/rmb are
/// modelled as release/acquire fences, so they also order loads before later stores and loads
/// before later stores, which the LKMM does not promise (but no LB makes that moot). Writes
/// that bypass the kernel API (initialisation, private lists) are treated as globally visible:
/// the location's history restarts at that value.
/// </para>
/// </summary>
public sealed class LkmmMemory(bool rmwSequences = true) : MemoryModel
{
    /// <summary>
    /// The Limits paragraph's first point, for the command line: a port's loads return at once,
    /// so no load buffering is explored, and no scheme fits (a promise must be certified by
    /// running the thread on alone, and a port's C# cannot be re-run from the middle of an
    /// execution; the dependencies of its C# values are not tracked).
    /// </summary>
    public const string NoLoadBufferingForPorts =
        "lkmm for ports omits load buffering: a load only reads stores that have already executed, so no outcome that needs "
        + "a load to read a store not yet made (LB) is explored, and a port that drops a control, address or data dependency "
        + "the kernel relies on to forbid LB still passes; check such a pattern as a litmus test (kmc litmus), whose threads have LB";

    private readonly List<TaskState> _tasks = new();
    private readonly View _global = new();
    private StoreEntry? _rmwRead;

    /// <summary>Stores made so far (<see cref="StoreEntry.Born"/>).</summary>
    private long _born;
    private StringBuilder? _note;

    /// <summary>
    /// "lkmm", or "lkmm-v6.4" without rmw-sequences: the LKMM before v6.5 ("tools/memory-model:
    /// Add rmw-sequences to the LKMM"), under which an acquire that reads from a relaxed RMW
    /// does not see the release store that RMW read from. Kept to reproduce results published
    /// against that model (qspinlock, see README).
    /// </summary>
    public override string Name => rmwSequences ? "lkmm" : "lkmm-v6.4";

    internal override bool FootprintsLoads => true;

    internal override long StoreCount => _born;

    private sealed class TaskState
    {
        public View Cur = new();
        public View? ReleaseFence;
        public View? PendingAcquire;

        /// <summary>The task's view at its last spin_unlock(), for a later spin_lock() (po-unlock-lock-po).</summary>
        public View? LastUnlock;

        /// <summary>The task's view at its last full barrier: visible to every CPU since.</summary>
        public View? LastMb;

        /// <summary>The <see cref="StoreEntry.Strong"/> views of the stores the task has read (never published as is).</summary>
        public View? StrongRead;

        /// <summary>The message of the store the task's last load read (its address-dependency token).</summary>
        public View? LastReadMessage;

        /// <summary>The messages an address dependency orders the task's next load after (consumed by it).</summary>
        public View? AddressDependency;

        /// <summary>The task's outstanding promises (stores made early, see <see cref="PromiseNextStore"/>), each with its location.</summary>
        public List<(Loc Loc, StoreEntry Entry)>? Promised;

        /// <summary>The next store is a promise; then the promise it made, until taken.</summary>
        public bool PromiseNext;
        public StoreEntry? LastPromise;

        /// <summary>The next access of the location goes before this promise in coherence order (a load: to a store made before it, with BeforeOlder).</summary>
        public StoreEntry? Before;
        public bool BeforeOlder;

        /// <summary>A published copy of <see cref="Cur"/>, reused until the view changes.</summary>
        private View? _snapshot;

        /// <summary>
        /// What the task publishes: its view, and its outstanding promises (a promise made before
        /// a store travels with it, as the promising semantics' view of a later message includes
        /// an earlier promise's timestamp), which its own view leaves out.
        /// </summary>
        public View Snapshot()
        {
            if (_snapshot == null)
            {
                _snapshot = new View(Cur);
                foreach (var (loc, e) in Promised ?? [])
                    _snapshot.Raise(loc, e);
            }

            return _snapshot;
        }

        public void Changed() => _snapshot = null;

        public void Raise(Loc loc, StoreEntry e)
        {
            if (Cur.Raise(loc, e))
                _snapshot = null;
        }

        public void Join(View? v)
        {
            if (Cur.Join(v))
                _snapshot = null;
        }

        /// <summary>
        /// What a release store (or the end of an RCU reader) makes visible: the task's view and
        /// what the stores it read relaxed had carried. The LKMM's release is A-cumulative
        /// (rfe? ; po-rel): a store this task read, and everything ordered before that store,
        /// propagates before the release does, even though this task's own later loads are not
        /// ordered after it (ISA2 with a READ_ONCE() in the middle thread).
        /// </summary>
        public View ReleaseView() =>
            PendingAcquire is { IsEmpty: false } pending ? JoinOf(Snapshot(), pending) : Snapshot();

        public void AddPending(View? v)
        {
            if (v is null || v.IsEmpty)
                return;
            (PendingAcquire ??= new View()).Join(v);
        }
    }

    private TaskState State(SimTask t)
    {
        while (_tasks.Count <= t.Id)
            _tasks.Add(new TaskState());
        return _tasks[t.Id];
    }

    private static History<T> HistoryOf<T>(Loc<T> loc)
    {
        if (loc.ModelState is History<T> h)
        {
            if (EqualityComparer<T>.Default.Equals(h.Last.Value, loc.Value))
                return h;
            // Written outside the kernel API (setup, a private list): visible to all from now on.
            foreach (var e in h.Entries)
                e.Index = -1;
        }

        h = new History<T>();
        h.Entries.Add(new StoreEntry<T>(loc.Value) { Index = 0 });
        loc.ModelState = h;
        return h;
    }

    private StringBuilder? Note(bool reset)
    {
        var ex = Execution.Current;
        if (!ex.Recording)
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

    /// <summary>
    /// Both of this model's choices (which store a load reads, where a store lands in coherence
    /// order) put the SC behaviour at 0: the newest store, the end of the order.
    /// </summary>
    private int Choose(SimTask t, int n) => n <= 1 ? 0 : Execution.Current.Driver.ChooseWeak(Execution.Current, t, n, sc: 0);

    public override T Load<T>(SimTask task, Loc<T> loc, MemOrder order, bool rmw)
    {
        var h = HistoryOf(loc);
        var ts = State(task);
        var note = Note(reset: true);
        ReadStaleTwins = 0;
        if (rmw)
        {
            // An RMW reads the newest store; its ordering is applied when (if) it stores.
            var last = h.Last;
            _rmwRead = last;
            RaceRead = last.Race;
            ReadEntry = last;
            Read(ts, loc, last, acquire: CarriesAddressDependency<T>());
            note?.Append("reads ").Append(last.Describe());
            return last.Value;
        }

        var lo = ts.Cur.FloorIndex(loc);
        if (ts.AddressDependency is { } dep)
        {
            // addr: this load is ordered after the loads its address came from, so it sees at
            // least what the stores they read had carried (MP+wmb+addr through an index).
            lo = Math.Max(lo, dep.FloorIndex(loc));
            ts.AddressDependency = null;
        }

        // A load inside a marked spin loop is a choice like any other: what the loop decides
        // at its head from what it read depends only on which stores it read, and the step that
        // decides reads the locations itself (SpinLoop.DecidesOnStores).
        var fp = Execution.Current.StepFootprint;
        var newAfter = -1L;
        if (fp != null)
        {
            fp.ChoiceRead(loc.Key);
            newAfter = fp.NewStoresAfter;
            fp.NewStoresAfter = -1;
        }

        // A load of a location the task has promised reads a store older than the promise.
        var end = h.Entries.Count;
        StoreEntry<T> e;
        int pick;
        var before = ts.Before;
        if (before != null || newAfter >= 0)
        {
            ts.Before = null;
            var candidates = before != null ? Older(h.Entries, lo, before, ts.BeforeOlder) : Window(h.Entries, lo);
            List<StoreEntry>? offered = null;
            if (newAfter >= 0)
            {
                // Reading a store made before the mark was explored from the state where the
                // task fell asleep (DporPolicy.ReadsFromSleep): keep only the stores made since.
                offered = new List<StoreEntry>(candidates);
                candidates.RemoveAll(c => c.Born <= newAfter);
                if (candidates.Count == 0)
                {
                    fp!.NewStoresBlocked = true;
                    Execution.Current.AbortRedundant();
                    candidates.Add(h.Last);
                }
            }

            pick = Choose(task, candidates.Count);
            e = (StoreEntry<T>)candidates[pick];
            if (offered is { Count: > 1 })
            {
                // The schedule names the store among all those a replay (which has no sleep sets)
                // offers the load, so that the trace of a failure found here replays.
                var ex = Execution.Current;
                ex.Driver.RecordChoice(ex, offered.IndexOf(e), replacesLast: candidates.Count > 1);
            }

            NoteStaleTwins(task, h, pick, candidates.Count, candidates, end);
        }
        else
        {
            pick = Choose(task, end - lo);
            e = h.Entries[end - 1 - pick];
            NoteStaleTwins(task, h, pick, end - lo, null, end);
        }

        if (fp != null)
            fp.ReadFrom = e.Born;
        RaceRead = e.Race;
        ReadEntry = e;
        Read(ts, loc, e, acquire: order is MemOrder.Acquire or MemOrder.Full || CarriesAddressDependency<T>());
        if (note != null)
        {
            note.Append("reads ").Append(e.Describe());
            if (pick > 0)
                note.Append(": stale, the newest is ").Append(h.Last.Describe().Replace("#", "step "));
        }

        return e.Value;
    }

    /// <summary>
    /// The alternatives of the choice just made that read a store of the same value as the one
    /// picked and are not the newest (<see cref="MemoryModel.ReadStaleTwins"/>): if the spin
    /// iteration this load ends has no effect, each of them repeats it on a stale read.
    /// </summary>
    /// <param name="candidates">the filtered alternatives, or null: the newest <paramref name="count"/> stores before <paramref name="end"/>, newest first</param>
    private void NoteStaleTwins<T>(SimTask task, History<T> h, int pick, int count, List<StoreEntry>? candidates, int end)
    {
        if (task.ActiveLoop == null || count < 2)
            return;
        var ex = Execution.Current;
        if (!ex.Options.SkipStaleSpinRepeats)
            return;
        var node = ex.Driver.LastChoiceNode(ex);
        if (node < 0)
            return;
        var value = Candidate(pick).Value;
        ulong twins = 0;
        for (var i = 0; i < count && i < 64; i++)
        {
            var c = Candidate(i);
            if (i != pick && !ReferenceEquals(c, h.Last) && EqualityComparer<T>.Default.Equals(c.Value, value))
                twins |= 1UL << i;
        }

        ReadStaleTwins = twins;
        ReadChoiceNode = node;

        StoreEntry<T> Candidate(int i) => candidates != null ? (StoreEntry<T>)candidates[i] : h.Entries[end - 1 - i];
    }

    /// <summary>The newest store of a location is the last of its coherence order (every load may read it).</summary>
    internal override bool IsLatest(Loc loc, object? entry, int version) =>
        loc.ModelState is IHistory h && h.Stores.Count > 0 && ReferenceEquals(h.Stores[^1], entry);

    public override T LoadLatest<T>(SimTask task, Loc<T> loc, MemOrder order)
    {
        var h = HistoryOf(loc);
        var e = h.Last;
        RaceRead = e.Race;
        ReadEntry = e;
        ReadStaleTwins = 0;
        Read(State(task), loc, e, acquire: order is MemOrder.Acquire or MemOrder.Full);
        Note(reset: true)?.Append("reads ").Append(e.Describe());
        return e.Value;
    }

    /// <summary>
    /// A spin-wait may end on any store its view still allows that satisfies the condition, not
    /// only the newest: each iteration is a READ_ONCE() that may return an older store (as
    /// <see cref="Load{T}"/>), so the loop can see a value that was overwritten meanwhile (a
    /// flag that went 0, 1, 0 ends a wait for 1). Ending on an older store is a non-SC choice,
    /// so it is offered only while the stale bound allows one; with the bound spent only the
    /// newest value counts, as before.
    /// </summary>
    public override SpinExit CanReadSatisfying<T>(SimTask task, Loc<T> loc, Func<T, bool> cond)
    {
        Scheduling.Reduction.Footprints.Read(loc.Key);
        var h = HistoryOf(loc);
        if (cond(h.Last.Value))
            return SpinExit.Newest;
        return CountSatisfying(h, SpinFloor(State(task), loc, consume: false), cond) == 0 ? SpinExit.None : SpinExit.OnlyStale;
    }

    /// <summary>
    /// The read of a spin-wait that may end: a recorded choice among the satisfying stores in the
    /// task's window, newest first (the SC choice). When the newest does not satisfy, the SC
    /// choice is to read it and spin on: the loop's READ_ONCE() caught up with the newest store,
    /// so the older satisfying ones are out of its window from then on (coherence), and the spin
    /// waits for a new store. That keeps a hang that needs the spinner to miss the stale value
    /// reachable, and the stale exit costs one unit of the stale bound. The loop is one step, as
    /// an await loop whose failed iterations have no effect (Lahav, Namakonov, Oberhauser,
    /// Podkopaev, Vafeiadis, "Making Weak Memory Models Fair", OOPSLA 2021): only the read that
    /// ends it, or the read of the newest that leaves it blocked, matters.
    /// </summary>
    public override (bool Done, T Value) LoadSatisfying<T>(SimTask task, Loc<T> loc, MemOrder order, Func<T, bool> cond)
    {
        var h = HistoryOf(loc);
        var ts = State(task);
        var note = Note(reset: true);
        var lo = SpinFloor(ts, loc, consume: true);
        var newestOk = cond(h.Last.Value);
        var satisfying = CountSatisfying(h, lo, cond);
        var pick = Choose(task, newestOk ? satisfying : satisfying + 1);
        if (!newestOk && pick-- == 0)
        {
            // The loop's relaxed re-read of the newest store: the spin goes on from there.
            var last = h.Last;
            RaceRead = last.Race;
            Read(ts, loc, last, acquire: CarriesAddressDependency<T>());
            note?.Append("reads ").Append(last.Describe()).Append(", the newest, which does not end the wait: spins on");
            return (false, last.Value);
        }

        StoreEntry<T> e = h.Last;
        for (var i = h.Entries.Count - 1; i >= lo; i--)
        {
            if (cond(h.Entries[i].Value) && pick-- == 0)
            {
                e = h.Entries[i];
                break;
            }
        }

        RaceRead = e.Race;
        Read(ts, loc, e, acquire: order is MemOrder.Acquire or MemOrder.Full || CarriesAddressDependency<T>());
        if (note != null)
        {
            note.Append("reads ").Append(e.Describe());
            if (!ReferenceEquals(e, h.Last))
                note.Append(": stale, the newest is ").Append(h.Last.Describe().Replace("#", "step "));
        }

        return (true, e.Value);
    }

    /// <summary>The oldest store a spinning load of the task may read (its view, and an address dependency).</summary>
    private static int SpinFloor(TaskState ts, Loc loc, bool consume)
    {
        var lo = ts.Cur.FloorIndex(loc);
        if (ts.AddressDependency is { } dep)
        {
            lo = Math.Max(lo, dep.FloorIndex(loc));
            if (consume)
                ts.AddressDependency = null;
        }

        return lo;
    }

    private static int CountSatisfying<T>(History<T> h, int lo, Func<T, bool> cond)
    {
        var n = 0;
        for (var i = lo; i < h.Entries.Count; i++)
        {
            if (cond(h.Entries[i].Value))
                n++;
        }

        return n;
    }

    /// <summary>A pointer-valued load: later loads through it are dependency-ordered (see Limits).</summary>
    private static bool CarriesAddressDependency<T>() =>
        typeof(T) != typeof(string) && System.Runtime.CompilerServices.RuntimeHelpers.IsReferenceOrContainsReferences<T>();

    public override object? LastReadDependency(SimTask task) => State(task).LastReadMessage;

    public override void AddressDependsOn(SimTask task, IReadOnlyList<object> tokens)
    {
        var ts = State(task);
        foreach (var t in tokens)
        {
            if (t is View { IsEmpty: false } v)
                (ts.AddressDependency ??= new View()).Join(v);
        }
    }

    private static void Read(TaskState ts, Loc loc, StoreEntry e, bool acquire)
    {
        ts.LastReadMessage = e.Message;
        ts.Raise(loc, e);
        if (acquire)
            ts.Join(e.Message);
        else
            ts.AddPending(e.Message);
        if (e.Strong is { IsEmpty: false } strong)
            (ts.StrongRead ??= new View()).Join(strong);
    }

    /// <summary>
    /// A store's message also carries what the stores its task read had made visible to all
    /// CPUs with smp_mb(). Loads are never reordered after later stores here, so everything the
    /// task stores happens after those reads (the LKMM's hb, through a dependency or a release),
    /// and a strong fence's propagation holds for anything hb-after it (pb): a CPU that acquires
    /// from this store, or reads it and then smp_rmb()s, must not see older (strong-vis).
    /// Only the strong part travels this way: what smp_wmb() or a release ordered is not
    /// cumulative along such chains, and the LKMM allows those outcomes.
    /// </summary>
    private static View? WithStrongRead(View? message, TaskState ts) =>
        ts.StrongRead is not { IsEmpty: false } sr ? message : message is null ? new View(sr) : JoinOf(message, sr);

    /// <summary>What must be visible to anything that executes after reading this task's next store.</summary>
    private static View? StrongOf(TaskState ts) =>
        ts.StrongRead is not { IsEmpty: false } sr ? ts.LastMb : ts.LastMb is null ? new View(sr) : JoinOf(ts.LastMb, sr);

    public override void Store<T>(SimTask task, Loc<T> loc, T value, MemOrder order, bool rmw)
    {
        var ex = Execution.Current;
        var h = HistoryOf(loc);
        var ts = State(task);
        var entry = new StoreEntry<T>(value) { Writer = task, Step = ex.NextStepIndex, Rmw = rmw, Race = RaceStore, Born = ++_born };
        RaceStore = default;
        loc.Version++;
        if (rmw)
        {
            var read = _rmwRead;
            _rmwRead = null;
            if (order == MemOrder.Full)
                FullFence(ts);
            entry.Index = h.Entries.Count;
            h.Entries.Add(entry);
            ts.Raise(loc, entry);
            var message = order is MemOrder.Release or MemOrder.Full ? ts.ReleaseView() : ts.ReleaseFence;
            if (rmwSequences && read?.Message is { IsEmpty: false } carried)
            {
                // rmw-sequences: a release store followed by RMWs still releases to whoever reads the last one.
                message = message is null ? carried : JoinOf(message, carried);
            }

            entry.Message = WithStrongRead(message, ts);
            entry.Strong = StrongOf(ts);
            if (order is MemOrder.Acquire or MemOrder.Full && read != null)
                ts.Join(read.Message);
            if (loc is LockWord)
                AfterLock(ts, read);
            if (order == MemOrder.Full)
                FullFence(ts);
            loc.Value = value;
            return;
        }

        // Where in coherence order the store lands: any gap after what this task has seen,
        // except right before an RMW (that would split it from the store it read). What it has
        // only heard of (the pending-acquire view: stores a release, smp_wmb() or smp_mb()
        // ordered before a store it read) counts too: such a store had reached this CPU before
        // the read, and this store executes after the read (ncw-once: the LKMM's coherence
        // with prop, x=2 after a read of y=1 published behind x=1 cannot come first).
        var lo = Math.Max(ts.Cur.FloorIndex(loc), ts.PendingAcquire?.FloorIndex(loc) ?? 0);

        // A store before the task's own promise of the location lands before it (the promise is
        // the gap "at the end", and a gap right before the promise is always there).
        var end = h.Entries.Count;
        if (ts.Before is { } before)
        {
            end = before.Index;
            ts.Before = null;
        }

        var gaps = end == h.Entries.Count ? 1 : 0;
        for (var i = lo + 1; i <= Math.Min(end, h.Entries.Count - 1); i++)
        {
            if (!h.Entries[i].Rmw)
                gaps++;
        }

        var pick = Choose(task, gaps) + (end == h.Entries.Count ? 0 : 1);
        var at = h.Entries.Count;
        if (pick > 0)
        {
            // pick 1 = the latest allowed gap before the end, and so on backwards.
            var seen = 0;
            for (var i = Math.Min(end, h.Entries.Count - 1); i > lo; i--)
            {
                if (h.Entries[i].Rmw)
                    continue;
                if (++seen == pick)
                {
                    at = i;
                    break;
                }
            }
        }

        h.Entries.Insert(at, entry);
        h.Renumber(at);
        if (ts.PromiseNext)
        {
            ts.PromiseNext = false;
            ts.LastPromise = entry;
            (ts.Promised ??= []).Add((loc, entry));
            ts.Changed();
        }
        else
        {
            ts.Raise(loc, entry);
        }

        entry.Message = WithStrongRead(order is MemOrder.Release or MemOrder.Full ? ts.ReleaseView() : ts.ReleaseFence, ts);
        entry.Strong = StrongOf(ts);
        if (loc is LockWord && order == MemOrder.Release)
            ts.LastUnlock = entry.Message;
        if (at == h.Entries.Count - 1)
        {
            loc.Value = value;
        }
        else
        {
            Note(reset: true)?.Append("lands late: before step ").Append(h.Entries[at + 1].Step)
                .Append(" in ").Append(loc.Name).Append("'s coherence order, which still reads ").Append(h.Last.ShowValue());
        }
    }

    /// <summary>
    /// A lock acquired after an unlock, the task's own (of any lock) or the one this lock read,
    /// orders everything before that unlock before everything after the lock, for every
    /// observer (lock.cat's po-unlock-lock-po, in cumul-fence and ppo): stronger than release
    /// then acquire. Later stores carry the unlock's view, as after smp_wmb(), and after the
    /// task's own unlock later loads join what earlier loads read, as after smp_rmb()
    /// (MP+unlocklockonceonce+fencermbonceonce, ISA2+pooncelock+pooncelock+pombonce).
    /// </summary>
    private static void AfterLock(TaskState ts, StoreEntry? read)
    {
        var fence = ts.ReleaseFence;
        if (ts.LastUnlock != null)
        {
            ts.Join(ts.PendingAcquire);
            ts.PendingAcquire = null;
            fence = fence is null ? ts.LastUnlock : JoinOf(fence, ts.LastUnlock);
        }

        if (read?.Message is { IsEmpty: false } unlocker)
            fence = fence is null ? unlocker : JoinOf(fence, unlocker);
        ts.ReleaseFence = fence;
    }

    private static View JoinOf(View a, View b)
    {
        var v = new View(a);
        v.Join(b);
        return v;
    }

    private void FullFence(TaskState ts)
    {
        // Full barriers are totally ordered through the global fence view (a footprint key of its own).
        Scheduling.Reduction.Footprints.Write(Scheduling.Reduction.Footprints.LkmmFenceKey);
        ts.Join(ts.PendingAcquire);
        ts.PendingAcquire = null;
        ts.Join(_global);
        _global.Join(ts.Cur);
        ts.ReleaseFence = ts.Snapshot();
        ts.LastMb = ts.ReleaseFence;
    }

    public override void PromiseNextStore(SimTask task) => State(task).PromiseNext = true;

    public override object TakePromise(SimTask task)
    {
        var ts = State(task);
        var e = ts.LastPromise ?? throw new InvalidOperationException("no promise was made");
        ts.LastPromise = null;
        return e;
    }

    public override bool BeforePromise(SimTask task, object promise, bool older)
    {
        var ts = State(task);
        var e = (StoreEntry)promise;
        var (loc, _) = ts.Promised!.Find(p => p.Entry == e);
        var lo = Math.Max(ts.Cur.FloorIndex(loc), ts.AddressDependency?.FloorIndex(loc) ?? 0);
        if (lo >= e.Index || older && Older(((IHistory)loc.ModelState!).Stores, lo, e, older: true).Count == 0)
            return false;
        ts.Before = e;
        ts.BeforeOlder = older;
        return true;
    }

    /// <summary>The stores from <paramref name="lo"/> on, newest first (the order of <see cref="Load{T}"/>'s choice).</summary>
    private static List<StoreEntry> Window<T>(List<StoreEntry<T>> entries, int lo)
    {
        var list = new List<StoreEntry>(entries.Count - lo);
        for (var i = entries.Count - 1; i >= lo; i--)
            list.Add(entries[i]);
        return list;
    }

    /// <summary>The stores a load of the promise's location may read: from the floor up to the promise, newest first; with <paramref name="older"/>, only those made before it.</summary>
    private static List<StoreEntry> Older(IReadOnlyList<StoreEntry> entries, int lo, StoreEntry promise, bool older)
    {
        var list = new List<StoreEntry>();
        for (var i = promise.Index - 1; i >= lo; i--)
        {
            if (!older || entries[i].Born < promise.Born)
                list.Add(entries[i]);
        }

        return list;
    }

    public override void Fulfil(SimTask task, object promise)
    {
        var ts = State(task);
        var i = ts.Promised!.FindIndex(p => p.Entry == promise);
        var (loc, e) = ts.Promised[i];
        ts.Promised.RemoveAt(i);
        ts.Raise(loc, e);
        ts.Changed();
    }

    public override void Fence(SimTask task, FenceKind kind)
    {
        var ts = State(task);
        Note(reset: true);
        switch (kind)
        {
            case FenceKind.Mb:
            case FenceKind.MbBeforeAtomic:
            case FenceKind.MbAfterAtomic:
                FullFence(ts);
                break;
            case FenceKind.Wmb:
                ts.ReleaseFence = ts.Snapshot();
                break;
            case FenceKind.Rmb:
            case FenceKind.AcquireAfterCtrlDep:
                ts.Join(ts.PendingAcquire);
                ts.PendingAcquire = null;
                break;
            case FenceKind.Barrier:
                break;
        }
    }

    public override void OnSpawn(SimTask parent, SimTask child)
    {
        var p = State(parent);
        var c = State(child);
        c.Join(p.Cur);
    }

    // ---- RCU (see the class comment) ----------------------------------------------------------

    /// <summary>Every grace period's start view so far: what a section that starts now must see.</summary>
    private readonly View _rcuGpStarts = new();

    /// <summary>Every ended section's view at its rcu_read_unlock(): what a grace period starting now must order before its end.</summary>
    private readonly View _rcuEnded = new();

    public override void OnRcuReadLock(SimTask task)
    {
        var ts = State(task);
        var note = Note(reset: true);
        if (ts.Cur.Join(_rcuGpStarts))
        {
            ts.Changed();
            note?.Append("starts after a grace period started: sees everything before that synchronize_rcu()");
        }
    }

    public override object? OnRcuReadUnlock(SimTask task)
    {
        var ts = State(task);
        Note(reset: true);
        var view = ts.ReleaseView();
        _rcuEnded.Join(view);
        return view;
    }

    public override object? OnGracePeriodStart(SimTask updater)
    {
        var ts = State(updater);
        Note(reset: true);
        FullFence(ts);
        _rcuGpStarts.Join(ts.Cur);
        return new View(_rcuEnded);
    }

    public override void OnGracePeriodEnd(SimTask updater, object? start, IReadOnlyList<object?> readers)
    {
        var ts = State(updater);
        Note(reset: true);
        ts.Join(start as View);
        foreach (var r in readers)
            ts.Join(r as View);
        FullFence(ts);
    }
}
