namespace Kmc.Models;

/// <summary>task_struct::__state, as far as sleeping and wakeups need it.</summary>
public enum TaskState { Running, Interruptible, Uninterruptible }

/// <summary>
/// The scheduling class of a task, as far as liveness needs it: a CPU's scheduler runs the
/// highest-class runnable task (SCHED_FIFO/RR above SCHED_NORMAL), and a normal task never
/// preempts an RT one, so it does not even set need_resched() for it.
/// </summary>
public enum SchedClass { Normal, Rt }

/// <summary>A simulated CPU: which task occupies it, and its interrupt state.</summary>
public sealed class Cpu
{
    internal Cpu(int id) => Id = id;

    public int Id { get; }

    /// <summary>The task currently on this CPU (null when it is idle or its task sleeps).</summary>
    public SimTask? Occupant { get; internal set; }

    public bool IrqsDisabled { get; internal set; }

    /// <summary>In cpu_online_mask: tasks bound to an offline CPU do not run (see <see cref="Hotplug"/>).</summary>
    public bool Online { get; internal set; } = true;

    /// <summary>Tasks created on this CPU so far.</summary>
    internal int TaskCount;

    public override string ToString() => $"CPU{Id}";

    /// <summary>Back to a new CPU's state, for the next execution (see <see cref="Execution.Reset"/>).</summary>
    internal void Reset()
    {
        Occupant = null;
        IrqsDisabled = false;
        Online = true;
        TaskCount = 0;
    }
}

/// <summary>A simulated kernel task, pinned to one CPU.</summary>
public sealed class SimTask : INamed
{
    internal SimTask(int id, string name, Cpu cpu)
    {
        Id = id;
        Name = name;
        Cpu = cpu;
    }

    public int Id { get; private set; }
    public string Name { get; private set; }
    public Cpu Cpu { get; private set; }
    public string DisplayName => Name;

    /// <summary>
    /// Makes this task of an earlier execution what <c>new SimTask(id, name, cpu)</c> would be,
    /// for the next execution (see <see cref="Execution.Reset"/>).
    /// </summary>
    internal SimTask Reset(int id, string name, Cpu cpu)
    {
        Id = id;
        Name = name;
        Cpu = cpu;
        PreemptCount = 0;
        SchedClass = SchedClass.Normal;
        _openProgress = null;
        PendingBody = null;
        State = TaskState.Running;
        Done = false;
        Sleeping = false;
        RcuReadLockNesting = 0;
        RcuLockedAt = null;
        Blocker = null;
        ClearWait();
        BlockedFor = null;
        Contending = null;
        QueuedOn = null;
        ResumedChain = null;
        // An aborted execution leaves its tasks parked: their steps are free again.
        if (Continuation?.Target is IParkedAccess parked)
            parked.Abandon();
        Continuation = null;
        LastNullLoad = null;
        ActiveLoop = null;
        SpinWait = null;
        WaitsAfterLook = false;
        Race = null;
        _fields = null;
        SymmetryIndex = -1;
        SymmetryFirstWrite = false;
        return this;
    }

    public int PreemptCount { get; internal set; }

    /// <summary>SCHED_NORMAL unless the scenario spawned the task real-time.</summary>
    public SchedClass SchedClass { get; internal set; } = SchedClass.Normal;

    /// <summary>Progress properties the task is inside (innermost last), named in liveness reports.</summary>
    internal List<string> OpenProgress => _openProgress ??= [];

    private List<string>? _openProgress;

    /// <summary>A task the setup spawned: its body, until the driver starts it.</summary>
    internal Func<ValueTask>? PendingBody;
    public TaskState State { get; internal set; } = TaskState.Running;
    public bool Done { get; internal set; }

    /// <summary>Set while the task sleeps: in schedule() waiting for a wakeup, on a mutex, or in a grace period.</summary>
    public bool Sleeping { get; internal set; }

    /// <summary>rcu_read_lock() nesting (current->rcu_read_lock_nesting); 0 outside any read-side critical section.</summary>
    public int RcuReadLockNesting { get; internal set; }

    /// <summary>Where the outermost rcu_read_lock() of the current section was taken, for failure messages.</summary>
    internal string? RcuLockedAt;

    /// <summary>When set, the task may only proceed once this holds (a spin-wait or a sleep).</summary>
    internal Func<bool>? Blocker;

    /// <summary>What the task waits for, in kernel terms, for hang reports.</summary>
    internal string? BlockedOn => BlockedOnText.ToString();

    internal string? BlockedAt => BlockedSite.ToString();

    private WaitText BlockedOnText;
    private WaitSite BlockedSite;

    /// <summary>Whether the task's last blocking point said what and where it waits (most points say nothing).</summary>
    private bool _waitSaid;

    internal void SetWait(in WaitText on, in WaitSite at)
    {
        BlockedOnText = on;
        BlockedSite = at;
        _waitSaid = true;
    }

    /// <summary>Forgets what the task waited for: a store of the words only when there were some, as at most steps there were none.</summary>
    /// <summary>The task's wait was named (<see cref="SetWait"/>) and not cleared since.</summary>
    internal bool WaitSaid => _waitSaid;

    internal void ClearWait()
    {
        if (!_waitSaid)
            return;
        BlockedOnText = default;
        BlockedSite = default;
        _waitSaid = false;
    }

    /// <summary>The lock, location or other holdable the current blocked point waits for (hang reports).</summary>
    internal object? BlockedFor;

    /// <summary>A port's own lock this task waits for, from lock_contended() until lock_acquired().</summary>
    internal LockdepMap? Contending;

    /// <summary>The wait queue this task's entry is on, between prepare_to_wait() and its removal.</summary>
    internal WaitQueueHead? QueuedOn;

    /// <summary>While recording: the awaiting chain of the method last resumed (see <see cref="CallChain"/>).</summary>
    internal CallChain.Frame[]? ResumedChain;

    /// <summary>Native explorer: where the coroutine resumes.</summary>
    internal Action? Continuation;

    private static int s_stepKinds;

    // A struct around each slot: a ref to an element of an object?[] costs a covariance check.
    private StepSlotEntry[] _steps = [];

    /// <summary>A slot number for a new kind of parked access (an <see cref="AccessStep{TAccess, T}"/> instantiation).</summary>
    internal static int NewStepKind() => Interlocked.Increment(ref s_stepKinds) - 1;

    /// <summary>The task's own step of kind <paramref name="kind"/>, reused by each access of that kind (null: none yet).</summary>
    internal ref object? StepSlot(int kind)
    {
        if (kind >= _steps.Length)
            Array.Resize(ref _steps, Math.Max(kind + 1, 2 * _steps.Length));
        return ref _steps[kind].Step;
    }

    private struct StepSlotEntry
    {
        public object? Step;
    }

    /// <summary>The task's last load that returned NULL (what a NULL dereference report names).</summary>
    internal NullLoad? LastNullLoad;

    /// <summary>The spin loop whose iteration this task is in, recording what it reads (null: none, or pruning is off).</summary>
    internal SpinLoop? ActiveLoop;

    /// <summary>While the task waits at a spin loop's head after a zero-effect iteration: that loop.</summary>
    internal SpinLoop? SpinWait;

    /// <summary>Waiting after a look at its spin's condition that had no effect (see <see cref="ExecutionOptions.PruneWokenSpins"/>).</summary>
    internal bool WaitsAfterLook;

    /// <summary>This task's place among tasks declared interchangeable (<see cref="TaskSymmetry"/>); -1: none.</summary>
    internal int SymmetryIndex = -1;

    /// <summary>The parked step is the task's first write to its symmetry's ordering location.</summary>
    internal bool SymmetryFirstWrite;

    /// <summary>The data-race detector's vector clocks for this task.</summary>
    internal RaceClocks? Race;

    /// <summary>Per-task fields that ports add to task_struct (e.g. the pagecache lock's recursion mark).</summary>
    private Dictionary<object, object?>? _fields;

    internal bool HasFields => _fields is { Count: > 0 };

    public T GetField<T>(TaskField<T> field) =>
        _fields != null && _fields.TryGetValue(field, out var v) ? (T)v! : field.Initial;

    public void SetField<T>(TaskField<T> field, T value)
    {
        ActiveLoop?.Effect();
        (_fields ??= new())[field] = value;
    }

    public override string ToString() => Name;
}

/// <summary>A field a port adds to task_struct.</summary>
public sealed class TaskField<T>(string name, T initial = default!)
{
    public string Name { get; } = name;
    public T Initial { get; } = initial;
}

/// <summary>A load that returned NULL: the likely source of a later NULL dereference.</summary>
internal readonly record struct NullLoad(string Op, string Target, string Function, string File, int Line, int Step);
