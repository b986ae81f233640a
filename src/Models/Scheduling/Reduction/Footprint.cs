using System.Runtime.CompilerServices;

namespace Kmc.Models.Scheduling.Reduction;

/// <summary>
/// What one step (a task's run from one scheduling point to the next) touched: the shared
/// objects it read and wrote, or "untracked" when it touched state the reduction cannot name
/// (wait queues, task state, the allocator, RCU grace periods, a fault injector, task creation).
/// Two steps of different tasks are dependent when one writes what the other reads or writes,
/// or when either is untracked. Keys are numbers, stable from one execution to the next (each
/// execution builds its objects anew, in the same order for the same schedule prefix): a
/// <see cref="Loc"/>'s or ghost's creation number, a CPU, or a memory model's global state.
/// </summary>
public sealed class Footprint
{
    // Per key: how the step touched it.
    private const byte Wrote = 1, ReadOther = 2, ReadByChoice = 4;

    private long[] _keys = new long[8];
    private byte[] _write = new byte[8];
    private int _count;

    public bool Untracked { get; private set; }

    /// <summary>
    /// The most loads that chose among a location's stores (<see cref="ChoiceRead"/>) the step
    /// made on one path (over the paths a union covers).
    /// </summary>
    public int ChoiceLoads { get; private set; }

    /// <summary>
    /// Set by the search before the step runs (see <see cref="ReadsFromSleep"/>): the step's first
    /// store-choosing load may read only stores made after this mark (the memory model's store
    /// count); -1: any store.
    /// </summary>
    public long NewStoresAfter { get; set; } = -1;

    /// <summary>The step's restricted load had no store to read: every trace it could start was explored.</summary>
    public bool NewStoresBlocked { get; set; }

    /// <summary>How many of the first keys were read by the spin-wait condition the step ended (see <see cref="DporPolicy"/>).</summary>
    public int WaitKeys { get; set; }

    /// <summary>
    /// Which store the step's one store-choosing load read, as the memory model numbers its
    /// stores (<see cref="MemoryModel.StoreCount"/> just after it was made; 0: a store made by no
    /// step, such as the initial value); -1: not known (no such load, several, or a union).
    /// </summary>
    public long ReadFrom { get; set; } = -1;

    /// <summary>The memory model's store count when the step started: its own stores are numbered after it.</summary>
    public long StoresBefore { get; set; }

    public int Count => _count;

    public void Clear()
    {
        _count = 0;
        WaitKeys = 0;
        Untracked = false;
        ChoiceLoads = 0;
        ReadFrom = -1;
        StoresBefore = 0;
        NewStoresAfter = -1;
        NewStoresBlocked = false;
    }

    public void MarkUntracked() => Untracked = true;

    public void Read(long key) => Add(key, ReadOther);

    public void Write(long key) => Add(key, Wrote);

    /// <summary>
    /// A load that chooses which of the location's stores in its task's window it reads (a
    /// recorded data choice: a plain, relaxed or acquire non-RMW load under lkmm) and changes
    /// nothing but its own task's state.
    /// </summary>
    public void ChoiceRead(long key)
    {
        Add(key, ReadByChoice);
        ChoiceLoads++;
    }

    private void Add(long key, byte write)
    {
        for (var i = 0; i < _count; i++)
        {
            if (_keys[i] == key)
            {
                _write[i] |= write;
                return;
            }
        }

        if (_count == _keys.Length)
        {
            Array.Resize(ref _keys, _count * 2);
            Array.Resize(ref _write, _count * 2);
        }

        _keys[_count] = key;
        _write[_count] = write;
        _count++;
    }

    public long KeyAt(int i) => _keys[i];

    public bool WritesAt(int i) => (_write[i] & Wrote) != 0;

    /// <summary>The step's only access to key <paramref name="i"/> was its one store-choosing load, and which store it read is known.</summary>
    public bool ReadsFromAt(int i) => _write[i] == ReadByChoice && ChoiceLoads == 1 && ReadFrom >= 0;

    /// <summary>Adds everything <paramref name="other"/> touched (a task's next step over several choice alternatives).</summary>
    public void UnionWith(Footprint other)
    {
        if (other.Untracked)
            Untracked = true;
        ChoiceLoads = Math.Max(ChoiceLoads, other.ChoiceLoads);
        ReadFrom = -1;
        for (var i = 0; i < other._count; i++)
            Add(other._keys[i], other._write[i]);
    }

    /// <summary>Could running these two steps in the other order change anything?</summary>
    public bool DependsOn(Footprint other)
    {
        if (Untracked || other.Untracked)
            return true;
        for (var i = 0; i < _count; i++)
        {
            var k = _keys[i];
            for (var j = 0; j < other._count; j++)
            {
                if (k == other._keys[j] && ((_write[i] | other._write[j]) & Wrote) != 0)
                    return true;
            }
        }

        return false;
    }

    /// <summary>
    /// This is a sleeping task's next step and <paramref name="step"/> one another task ran
    /// that it depends on: is every conflict a store <paramref name="step"/> added to a location
    /// this step only reads, by its one store-choosing load? Then reading any store that was
    /// there before commutes with <paramref name="step"/> (see <see cref="ReadsFromSleep"/>).
    /// </summary>
    public bool OnlyNewStoresConflict(Footprint step) => ChoiceLoads == 1 && EveryConflictIsChoiceRead(step, byStep: false);

    /// <summary>
    /// This is a sleeping task's next step and <paramref name="step"/> one another task ran that
    /// it depends on: is every conflict a location this step writes that <paramref name="step"/>
    /// only read, by its one store-choosing load? Then that load read a store that is still in its
    /// window after this step, which only adds a store: "step; this" is "this; step" with the
    /// load reading the same store (see <see cref="DporPolicy"/>, reads-from races).
    /// </summary>
    public bool OnlyChoiceReadConflict(Footprint step) => step.ChoiceLoads == 1 && EveryConflictIsChoiceRead(step, byStep: true);

    /// <summary>Is every key this step and <paramref name="step"/> conflict on one that only a store-choosing load touched, on the side named?</summary>
    private bool EveryConflictIsChoiceRead(Footprint step, bool byStep)
    {
        if (Untracked || step.Untracked)
            return false;
        for (var i = 0; i < _count; i++)
        {
            var k = _keys[i];
            for (var j = 0; j < step._count; j++)
            {
                if (k != step._keys[j] || ((_write[i] | step._write[j]) & Wrote) == 0)
                    continue;
                if ((byStep ? step._write[j] : _write[i]) != ReadByChoice)
                    return false;
            }
        }

        return true;
    }

    /// <summary>For debugging: "W 3, R 7", or "untracked".</summary>
    public override string ToString() =>
        Untracked ? "untracked" : string.Join(", ", Enumerable.Range(0, _count).Select(i => ((_write[i] & Wrote) != 0 ? "W " : _write[i] == ReadByChoice ? "RC " : "R ") + _keys[i]));
}

/// <summary>
/// Where the kernel API reports what the running step touches. Null unless a reducing search
/// is collecting footprints, so the other searches pay one thread-static read per access.
/// </summary>
public static class Footprints
{
    [ThreadStatic] private static Footprint? t_current;

    public static Footprint? Current
    {
        get => t_current;
        internal set => t_current = value;
    }

    [ThreadStatic] private static long t_serial;
    [ThreadStatic] private static List<Loc>? t_created;

    /// <summary>Where new locations are listed when an execution keeps them (final-state comparisons).</summary>
    internal static List<Loc>? Created
    {
        get => t_created;
        set => t_created = value;
    }

    /// <summary>Keys of the memory models' global state and of the CPUs (below every object's key).</summary>
    public const long TsoBuffersKey = -1, LkmmFenceKey = -2;

    /// <summary>cpu_online_mask and cpu_possible_mask (<see cref="Hotplug"/>).</summary>
    public const long CpuOnlineMaskKey = -3, CpuPossibleMaskKey = -4;

    public static long CpuKey(int cpu) => -100 - cpu;

    /// <summary>A key for shared state created now (a location, a ghost): numbered in creation order within the execution.</summary>
    public static long NewKey() => ++t_serial;

    /// <summary>Each execution numbers its objects from the start.</summary>
    internal static void ResetKeys() => t_serial = 0;

    /// <summary>
    /// A key for shared state a check keeps itself (see <see cref="IStateful"/>): the state cache
    /// fingerprints it, where a bare <see cref="NewKey()"/> would turn the cache off when touched.
    /// </summary>
    public static long NewKey(IStateful owner)
    {
        var key = NewKey();
        StateCache.Created(key, owner);
        return key;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Read(long key)
    {
        t_current?.Read(key);
        StateCache.Touch(key);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(long key)
    {
        t_current?.Write(key);
        StateCache.Touch(key);
        // Every access under tso touches the buffers' key; a buffer that drains says so itself.
        if (key != TsoBuffersKey)
            Execution.NoteSpinEffect();
    }

    /// <summary>A write that reads nothing (a ghost's setter): the state cache records no value in the task's history.</summary>
    internal static void WriteOnly(long key)
    {
        t_current?.Write(key);
        StateCache.Touch(key, read: false);
        Execution.NoteSpinEffect();
    }

    /// <summary>The step touched state the reduction cannot name: it is dependent with every other step (and the state cache turns off).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Untracked([CallerFilePath] string file = "", [CallerMemberName] string member = "")
    {
        t_current?.MarkUntracked();
        StateCache.Untracked(file, member);
        // State the reduction cannot name (wait queues, task state, the allocator, RCU, faults,
        // task creation) is state a spin iteration cannot be shown to leave as it was.
        Execution.NoteSpinEffect();
    }
}
