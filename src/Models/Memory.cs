namespace Kmc.Models;

/// <summary>
/// The ordering an access was made with. Sequential consistency ignores it; the weak models
/// (and the reports) need every access to say which it was, so it is recorded from day one.
/// </summary>
public enum MemOrder : byte
{
    /// <summary>An unmarked C access (a data race if it conflicts).</summary>
    Plain,
    /// <summary>READ_ONCE / WRITE_ONCE.</summary>
    Once,
    /// <summary>The _relaxed atomic forms.</summary>
    Relaxed,
    Acquire,
    Release,
    /// <summary>Value-returning atomics and full barriers.</summary>
    Full,
}

public enum FenceKind : byte
{
    Barrier,
    Mb,
    Rmb,
    Wmb,
    MbBeforeAtomic,
    MbAfterAtomic,
    AcquireAfterCtrlDep,
}

/// <summary>A shared memory location. Model code never touches its value except through the kernel API.</summary>
public abstract class Loc
{
    protected Loc(string? name)
    {
        Name = name ?? "?";
        Key = Scheduling.Reduction.Footprints.NewKey();
        Owner = Allocation.Constructing;
        Owner?.Locations.Add(this);
        Scheduling.Reduction.Footprints.Created?.Add(this);
        Scheduling.StateCache.Created(Key, this);
    }

    public string Name { get; }

    /// <summary>This location in step footprints (its creation number in the execution).</summary>
    public long Key { get; }

    /// <summary>The kmalloc'd or on-stack object this location lives in, for use-after-free checks.</summary>
    public Allocation? Owner { get; internal set; }

    /// <summary>The static queue node this location is a field of, for use-after-leave checks (null: none).</summary>
    public NodeLifetime? Node { get; internal set; }

    /// <summary>While recording: the task whose store came last, for hang reports (null otherwise).</summary>
    internal SimTask? LastWriterTask;

    /// <summary>The recorded step of that store.</summary>
    internal int LastWriterStep;

    internal (string Name, int Step)? LastWriter => LastWriterTask is null ? null : (LastWriterTask.Name, LastWriterStep);

    /// <summary>The bit layout of a flags word, for reports (null: the value prints as it is).</summary>
    public BitLayout? Layout { get; set; }

    /// <summary>What the data-race detector knows of this location (null until a task accesses it).</summary>
    internal RaceCell? Race;

    /// <summary>Per-location state a weak memory model keeps (store history, views).</summary>
    public object? ModelState { get; set; }

    /// <summary>
    /// Counts the stores that reached this location in the model (under tso: memory, not a store
    /// buffer): a spin loop's blocked iteration waits for it to move (<see cref="SpinLoop"/>), and
    /// under sc it names the store a load read.
    /// </summary>
    internal int Version;

    public abstract string Show();

    /// <summary>The value, for the state cache's fingerprint.</summary>
    internal abstract void WriteValue(Scheduling.StateWriter w);

    public override string ToString() => Name;
}

public class Loc<T> : Loc
{
    internal T Value;

    public Loc(string? name = null, T initial = default!) : base(name) => Value = initial;

    /// <summary>Reads the value outside the model: for final invariants and wait predicates only.</summary>
    public T Peek()
    {
        Scheduling.Reduction.Footprints.Read(Key);
        return Value;
    }

    /// <summary>Sets the value outside the model: for initialisation before any task runs.</summary>
    public void Init(T value) => Value = value;

    public override string Show() => FormatValue(Value);

    internal override void WriteValue(Scheduling.StateWriter w) => w.Value(Value);

    /// <summary>A value of this location as reports print it: in its bit layout when it has one.</summary>
    public string FormatValue(T v) => Layout is null ? Format.Value(v) : Layout.FormatAny(v);
}

/// <summary>atomic_t</summary>
public sealed class Atomic : Loc<int>
{
    public Atomic(string? name = null, int initial = 0) : base(name, initial) { }
}

/// <summary>atomic_long_t</summary>
public sealed class AtomicLong : Loc<long>
{
    public AtomicLong(string? name = null, long initial = 0) : base(name, initial) { }
}

/// <summary>How values appear in traces and reports.</summary>
public static class Format
{
    public static string Value<T>(T v) => v switch
    {
        null => "NULL",
        bool b => b ? "true" : "false",
        INamed n => n.DisplayName,
        _ => v.ToString() ?? "?",
    };
}

/// <summary>An object that shows up in traces by name rather than by its C# type.</summary>
public interface INamed
{
    string DisplayName { get; }
}

/// <summary>What a spinning load could read that ends its wait (<see cref="MemoryModel.CanReadSatisfying{T}"/>).</summary>
public enum SpinExit : byte
{
    /// <summary>Nothing the task may read satisfies the condition: the spin waits.</summary>
    None,
    /// <summary>The newest store satisfies it (older ones may too).</summary>
    Newest,
    /// <summary>Only stores older than the newest do: the exit is a non-SC choice, within the stale bound.</summary>
    OnlyStale,
}

/// <summary>
/// Hooks a memory model implements. The kernel API calls them at the moment an access takes
/// effect (after its scheduling point), so they run one at a time under both drivers.
/// </summary>
public abstract class MemoryModel
{
    public abstract string Name { get; }

    /// <summary>
    /// What the store the last load read carries for the data-race detector: a model sets it in
    /// <see cref="Load{T}"/>/<see cref="LoadLatest{T}"/> from what it kept with that store.
    /// </summary>
    internal RaceStamp RaceRead;

    /// <summary>What the store being made carries for the data-race detector: a model keeps it with the store.</summary>
    internal RaceStamp RaceStore;

    /// <summary>
    /// Which store the last load read, where the location's <see cref="Loc.Version"/> does not
    /// say it: the lkmm history entry, the tso store-buffer entry (null: memory, named by the version).
    /// </summary>
    internal object? ReadEntry;

    /// <summary>
    /// For a load in a marked spin loop when the search skips stale repeats
    /// (<see cref="ExecutionOptions.SkipStaleSpinRepeats"/>): the other alternatives of the last
    /// load's choice that read a store of the same value which is not the newest (a bit each), and
    /// the choice's node; 0 otherwise.
    /// </summary>
    internal ulong ReadStaleTwins;

    internal int ReadChoiceNode;

    /// <summary>
    /// Whether a load that read (<paramref name="entry"/>, <paramref name="version"/>) of the
    /// location read its newest store: a spin loop blocked on a stale read is no hang, since a
    /// fair execution reads the newer store (explored as a sibling).
    /// </summary>
    internal virtual bool IsLatest(Loc loc, object? entry, int version) => version == loc.Version;

    public abstract T Load<T>(SimTask task, Loc<T> loc, MemOrder order, bool rmw);

    /// <summary>
    /// A non-RMW <see cref="Load{T}"/> records its location in the step's footprint itself, as a
    /// store-choosing read where it is one (<see cref="Scheduling.Reduction.Footprint.ChoiceRead"/>);
    /// a marked spin loop's head then decides from the stores its iteration read (<see cref="SpinLoop"/>).
    /// </summary>
    internal virtual bool FootprintsLoads => false;

    /// <summary>Stores made so far in the execution (the mark <see cref="Scheduling.Reduction.Footprint.NewStoresAfter"/> compares with).</summary>
    internal virtual long StoreCount => 0;

    public abstract void Store<T>(SimTask task, Loc<T> loc, T value, MemOrder order, bool rmw);

    public abstract void Fence(SimTask task, FenceKind kind);

    /// <summary>Called when a task is created, so a model can give it its view.</summary>
    public virtual void OnSpawn(SimTask parent, SimTask child) { }

    /// <summary>
    /// The load that ends a spin-wait (smp_cond_load_*): the spin's condition held on the newest
    /// value, and a spinning CPU keeps re-reading until it sees it, so the load reads that value.
    /// </summary>
    public virtual T LoadLatest<T>(SimTask task, Loc<T> loc, MemOrder order) => Load(task, loc, order, rmw: false);

    /// <summary>
    /// The enabling condition of a value-conditioned spin-wait on one location (smp_cond_load_*,
    /// atomic_cond_read_*): can the task's next read of <paramref name="loc"/> return a value
    /// that satisfies <paramref name="cond"/>, and only through a non-SC choice? Here (sc, tso:
    /// the task waits with its store buffer drained) a spinning load reads the newest value. It
    /// must read what it looks at through <see cref="Loc{T}.Peek"/> or
    /// <see cref="Scheduling.Reduction.Footprints.Read"/> (the blocked step's footprint is what
    /// this predicate reads), and may run on a thread that is no task's (Coyote's scheduler),
    /// so it must not use <see cref="Execution.Current"/>.
    /// </summary>
    public virtual SpinExit CanReadSatisfying<T>(SimTask task, Loc<T> loc, Func<T, bool> cond) =>
        cond(loc.Peek()) ? SpinExit.Newest : SpinExit.None;

    /// <summary>
    /// The read of a spin-wait whose <see cref="CanReadSatisfying{T}"/> held: Done with the value
    /// that ends it, or not Done when the read returned a value that does not satisfy the
    /// condition (the spin goes on; a model only does that where the read moved the task's view,
    /// so the spin cannot take the same step again). Here: the newest value, which satisfies.
    /// </summary>
    public virtual (bool Done, T Value) LoadSatisfying<T>(SimTask task, Loc<T> loc, MemOrder order, Func<T, bool> cond) =>
        (true, LoadLatest(task, loc, order));

    /// <summary>The task is about to wait (spin or sleep) on a condition: a model with store buffers drains them.</summary>
    public virtual void OnWait(SimTask task) { }

    /// <summary>
    /// Whether a task's waiting itself can make stores visible (<see cref="OnWait"/>, or a task's
    /// end that drains because another waits). A store that wakes a waiting task then need not
    /// be one the search can also run before the task's look, so woken spins run on
    /// (<see cref="ExecutionOptions.PruneWokenSpins"/>).
    /// </summary>
    internal virtual bool WaitingMakesStoresVisible => false;

    /// <summary>The task finished: a model with store buffers may drain its CPU's.</summary>
    public virtual void OnTaskEnd(SimTask task) { }

    /// <summary>Every task finished: pending stores become visible before the end-of-run invariants.</summary>
    public virtual void OnAllDone() { }

    /// <summary>What the last access did under this model (which store a load read, ...), for the recorded step.</summary>
    public virtual string? TakeNote() => null;

    /// <summary>
    /// What the task's last load depends on for later accesses through its value: an opaque
    /// token (the read store's message under lkmm), null where the model needs none.
    /// </summary>
    public virtual object? LastReadDependency(SimTask task) => null;

    /// <summary>
    /// The task's next load takes its address from values with these dependency tokens (an address
    /// dependency through an integer, a[i] with i from READ_ONCE()): it must not read a store older
    /// than what the stores those values came from had carried.
    /// </summary>
    public virtual void AddressDependsOn(SimTask task, IReadOnlyList<object> tokens) { }

    // Value promises (the operational litmus engine's load buffering under lkmm; see
    // Kmc.Checks.Litmus.Operational.OperationalThread): a model without them refuses loudly.

    /// <summary>
    /// The task's next store is a promise: other tasks may read it (and its message carries it
    /// on), but the task itself has not reached it, so its own later loads and stores of the
    /// location may still come before it in coherence order. Returns the promise's token.
    /// </summary>
    public virtual void PromiseNextStore(SimTask task) => throw new InvalidOperationException($"{Name} has no value promises");

    /// <summary>The token of the promise the task's last store made (see <see cref="PromiseNextStore"/>).</summary>
    public virtual object TakePromise(SimTask task) => throw new InvalidOperationException($"{Name} has no value promises");

    /// <summary>
    /// The task's next access of the promise's location (a load, or a store that does not fulfil
    /// it) comes before the promise in coherence order; with <paramref name="older"/>, a load
    /// reads only a store made before the promise was. False when there is no such store, or the
    /// task has already seen the promise or something after it (the access would break coherence).
    /// </summary>
    public virtual bool BeforePromise(SimTask task, object promise, bool older) => throw new InvalidOperationException($"{Name} has no value promises");

    /// <summary>The task reached its promised store: from now on it sees it as its own.</summary>
    public virtual void Fulfil(SimTask task, object promise) => throw new InvalidOperationException($"{Name} has no value promises");

    // ---- RCU: what a grace period orders, beyond the waiting the kernel API does ---------------

    /// <summary>The task's outermost rcu_read_lock(): a section that starts after a grace period started sees what preceded it.</summary>
    public virtual void OnRcuReadLock(SimTask task) { }

    /// <summary>The task's outermost rcu_read_unlock(). The result stands for the section, as a grace period that waited for it will need it.</summary>
    public virtual object? OnRcuReadUnlock(SimTask task) => null;

    /// <summary>synchronize_rcu() starts a grace period. The result is handed back to <see cref="OnGracePeriodEnd"/>.</summary>
    public virtual object? OnGracePeriodStart(SimTask updater) => null;

    /// <summary>
    /// The grace period ended: <paramref name="readers"/> are what <see cref="OnRcuReadUnlock"/>
    /// returned for each section it waited for, in the order they ended.
    /// </summary>
    public virtual void OnGracePeriodEnd(SimTask updater, object? start, IReadOnlyList<object?> readers) { }

    /// <summary>
    /// Writes the model's own state (store buffers, histories, views) for the state cache, given the
    /// execution's stateful objects in creation order; false when the model cannot, which turns the
    /// cache off.
    /// </summary>
    internal virtual bool WriteState(Scheduling.StateWriter w, List<(long Key, object Obj)> objects) => false;
}

/// <summary>Sequential consistency: every access acts on the one current value.</summary>
public sealed class ScMemory : MemoryModel
{
    public static readonly ScMemory Instance = new();

    public override string Name => "sc";

    public override T Load<T>(SimTask task, Loc<T> loc, MemOrder order, bool rmw) => loc.Value;

    public override void Store<T>(SimTask task, Loc<T> loc, T value, MemOrder order, bool rmw) => loc.Value = value;

    public override void Fence(SimTask task, FenceKind kind) { }
}
