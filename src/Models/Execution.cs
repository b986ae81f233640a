using System.Runtime.CompilerServices;
using System.Text;

namespace Kmc.Models;

/// <summary>
/// What a driver does at a scheduling point. The Coyote driver blocks the task's thread until
/// Coyote schedules it (synchronous); the native explorer suspends the coroutine instead.
/// </summary>
public interface IExecutionDriver
{
    /// <summary>True when awaits complete synchronously after the scheduling point (one thread per task).</summary>
    bool Synchronous { get; }

    /// <summary>Synchronous drivers: give the scheduler a chance to run another task, then return when this one may run.</summary>
    void SchedulingPoint(Execution ex, SimTask task);

    /// <summary>A recorded nondeterministic choice in [0, n).</summary>
    int Choose(Execution ex, SimTask? task, int n);

    /// <summary>
    /// A recorded choice in [0, n) made by a weak memory model, where <paramref name="sc"/> is the
    /// alternative sequential consistency would take and every other value is a weak behaviour.
    /// It is recorded like any other choice (a replay gives back the value, whatever the bound);
    /// the kind only lets a systematic search bound how many weak behaviours one execution takes.
    /// </summary>
    int ChooseWeak(Execution ex, SimTask? task, int n, int sc) => Choose(ex, task, n);

    /// <summary>Whether a weak-memory choice made now may take a non-SC alternative (see <see cref="Scheduling.ISchedulePolicy.StaleAllowed"/>).</summary>
    bool StaleAllowed(Execution ex) => true;

    /// <summary>The node of the last choice made, if the search can skip its alternatives (-1: not).</summary>
    int LastChoiceNode(Execution ex) => -1;

    /// <summary>
    /// Records <paramref name="value"/> in the schedule as the choice just made (replacing the last
    /// decision) or as one made with no alternative left to the search (appended): the search chose
    /// among fewer alternatives than a replay, which has no sleep sets, is offered.
    /// </summary>
    void RecordChoice(Execution ex, int value, bool replacesLast) { }

    /// <summary>Tells the search which untried alternatives of a choice end at once with no outcome (see <see cref="Scheduling.ISchedulePolicy.SkipAlternatives"/>); returns how many it had not been told of.</summary>
    int SkipAlternatives(Execution ex, int node, ulong alternatives) => 0;

    /// <summary>A task created while the execution runs (a workqueue worker, say).</summary>
    void OnSpawn(Execution ex, SimTask task, Func<ValueTask> body);
}

/// <summary>Settings of one execution of a scenario.</summary>
public sealed record ExecutionOptions
{
    public int Cpus { get; init; } = 2;

    /// <summary>CONFIG_PREEMPT: a task with preempt_count 0 and irqs on may lose its CPU at any point.</summary>
    public bool Preemptive { get; init; } = true;

    public int MaxSteps { get; init; } = 10_000;

    public bool Record { get; init; }

    public MemoryModel? Memory { get; init; }

    /// <summary>
    /// Report data races (<see cref="FailureKind.DataRace"/>), a property every check has. Off only
    /// for runs that measure what it costs, and for the litmus engine, which flags races itself.
    /// </summary>
    public bool DetectRaces { get; init; } = true;

    /// <summary>
    /// With <see cref="DetectRaces"/>: a race is noted in <see cref="Execution.FirstRace"/> and the
    /// execution goes on, instead of ending it as a failure (the litmus race cross-check, which
    /// needs the execution's final state to apply the test's filter).
    /// </summary>
    public bool RacesOnlyNoted { get; init; }

    /// <summary>
    /// Report stores into a static queue node after its owner left (<see cref="FailureKind.UseAfterLeave"/>),
    /// a property every port that marks its nodes has. Off only in tests that look behind it at a
    /// later symptom of the same bug (a structural invariant, say).
    /// </summary>
    public bool DetectUseAfterLeave { get; init; } = true;

    /// <summary>Keep every location created (for final-state comparisons).</summary>
    public bool TrackLocations { get; init; }

    /// <summary>
    /// A spin loop marked with <see cref="Kernel.SpinLoop"/> blocks a task whose iteration had no
    /// effect and read the same stores as the one before, until one of those locations is
    /// stored to (SAVer's zero-net-effect iterations). Off: the loop just runs on.
    /// </summary>
    public bool SpinPruning { get; init; } = true;

    /// <summary>
    /// <para>
    /// A task that looked at its spin's condition, found it false and waited (a marked spin loop's
    /// iteration without effect, <see cref="SpinLoop"/>; the first look of
    /// <see cref="Kernel.SpinUntilOrGiveUp"/>) ends the execution as soon as it is woken (right
    /// after the step that made its condition true), instead of running on: the await rule of GenMC's spin-assume (Kokologiannakis, Ren, Vafeiadis, FMCAD
    /// 2021), where a failed await iteration blocks its execution and a later store to what it
    /// read is a revisit.
    /// </para>
    /// <para>
    /// Why nothing is lost: the look changed nothing but the task's own view (an iteration without
    /// effect), and the store s that woke the task came after it and wrote a location it read, so
    /// the look and s race, and the exhaustive search also runs s before the look. There the look
    /// sees what the woken task would see now, from a view no larger, so every continuation of
    /// this execution is a continuation of that one. That holds from the wake on, not only from
    /// when the task next runs: woken, it sits at its spin as if it had not looked yet, so what
    /// the other tasks do meanwhile is what they do there while it has not reached its look, and
    /// the execution ends at the wake (the others' steps left are tried earlier, as for a
    /// failure: see <see cref="Scheduling.Reduction.DporPolicy"/>). A task never woken is still a hang.
    /// Not under a model where waiting itself makes stores visible (tso's drains,
    /// <see cref="MemoryModel.WaitingMakesStoresVisible"/>): there the store that wakes the task may
    /// exist only because it waits, and no execution has it before the look. Only
    /// for a search that explores every order of such a pair: the exhaustive search with no
    /// preemption bound (a bounded search may not afford s before the look) and no stale bound.
    /// </para>
    /// </summary>
    public bool PruneWokenSpins { get; init; }

    /// <summary>
    /// <para>
    /// Skip the siblings of a spin loop's last load that only repeat its iteration on a stale
    /// store (see <see cref="SpinLoop"/>): when an iteration without effect ends at the head in
    /// the step of its last load, every untried alternative of that load that reads a store of
    /// the same value which was not the newest is an execution that runs the same code to the
    /// same head in the same step and is dropped there as a repeat on a stale read. The search
    /// skips those alternatives instead of running them (lkmm, whose loads choose their store).
    /// </para>
    /// <para>
    /// Why nothing is lost: the sibling differs from this execution only in which store of that
    /// value the load read, so the task computes the same values and reaches the head in the same
    /// step, with no other task in between, and with no access after the load the data-race
    /// detector could judge from the older store's clock; there it is a no-op iteration with a
    /// read that is not the newest, which ends the execution with no outcome
    /// (<see cref="Execution.SpinPruned"/>). Only for the search that would run those
    /// alternatives as they are: the exhaustive search with no stale bound (a bound ranks the
    /// alternatives differently).
    /// </para>
    /// </summary>
    public bool SkipStaleSpinRepeats { get; init; }

    /// <summary>
    /// Honour a scenario's <see cref="Execution.Symmetric"/> declaration (only the reduced
    /// exhaustive search sets it: see <see cref="TaskSymmetry"/>).
    /// </summary>
    public bool Symmetry { get; init; }
}

/// <summary>
/// One execution of a scenario: the simulated machine (CPUs, tasks, memory, allocator) and the
/// bookkeeping both drivers share.
/// </summary>
public sealed class Execution
{
    /// <summary>
    /// The execution and task this thread runs, in one object: the kernel API reads both at every
    /// access, and each thread-static read is a call into the runtime's TLS (__tls_get_addr on
    /// Linux), so one lookup instead of two, and the step loop keeps the object at hand.
    /// </summary>
    internal sealed class Ambient
    {
        public Execution? Ex;
        public SimTask? Task;
    }

    [ThreadStatic] private static Ambient? t_ambient;

    /// <summary>This thread's <see cref="Ambient"/>.</summary>
    internal static Ambient Here => t_ambient ??= new Ambient();

    private readonly List<SimTask> _tasks = new();
    private List<(string Name, Action Check)>? _finalChecks;

    public Execution(ExecutionOptions options, IExecutionDriver driver)
    {
        Driver = driver;
        SynchronousDriver = driver.Synchronous;
        Begin(options);
    }

    /// <summary>
    /// Makes this execution what <c>new Execution(options, Driver)</c> would be, keeping its CPU,
    /// task and race-detector objects to be handed out again (a search runs millions of
    /// executions, and allocating these afresh was most of what one of them allocated). Only the
    /// search that owns the execution calls it, once the previous run's results are read: no
    /// reference into the old run survives it (RecyclingTests compares a reset execution with a
    /// new one, field by field, and searches with and without recycling).
    /// </summary>
    internal void Reset(ExecutionOptions options)
    {
        // The tasks go back to the spares in id order, so the next run's task i is this run's.
        _spareTasks ??= [];
        for (var i = 0; i < _tasks.Count; i++)
        {
            if (i < _spareTasks.Count)
                _spareTasks[i] = _tasks[i];
            else
                _spareTasks.Add(_tasks[i]);
        }

        _tasks.Clear();
        _finalChecks = null;
        _locks = null;
        FirstRace = null;
        _allocator = null;
        Locations = null;
        Orderings = null;
        _rcu = null;
        Failure = null;
        StepBoundHit = false;
        StepCount = 0;
        Aborted = false;
        Diverged = null;
        LastRun = null;
        Invariants = null;
        Redundant = false;
        SpinPruned = false;
        SpinWoken = false;
        StaleRepeatsSkipped = 0;
        SymmetryCovered = false;
        Symmetry = null;
        DeclaredSymmetric = null;
        _anyRt = false;
        NeedReschedFromRunqueues = false;
        StepFootprint = null;
        StateCache = null;
        _hotplug = null;
        // A scenario attaches its fault injector in each run's setup (or not at all).
        FaultInjector.Detach(this);
        Begin(options);
    }

    /// <summary>The state that depends on the options (the rest starts empty).</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(Options), nameof(Memory))]
    private void Begin(ExecutionOptions options)
    {
        Options = options;
        _maxSteps = options.MaxSteps;
        if (_cpus?.Length == options.Cpus)
        {
            foreach (var c in _cpus)
                c.Reset();
        }
        else
        {
            _cpus = new Cpu[options.Cpus];
            for (var i = 0; i < _cpus.Length; i++)
                _cpus[i] = new Cpu(i);
        }

        Memory = options.Memory ?? ScMemory.Instance;
        IsSc = Memory is ScMemory;
        EndsWokenSpins = options.PruneWokenSpins && !Memory.WaitingMakesStoresVisible;
        if (options.DetectRaces)
            (Races ??= new RaceDetector()).Reset();
        else
            Races = null;
        Recorder = options.Record ? new Recorder() : null;
        // A state cache fingerprints the masks from the setup on (in creation order), so it gets
        // them now; elsewhere nothing sees a hotplug state no one has touched.
        if (Scheduling.StateCache.Active != null)
            _hotplug = new Hotplug(options.Cpus);
    }

    /// <summary>The tasks of earlier runs, reused by id (see <see cref="Reset"/>).</summary>
    private List<SimTask>? _spareTasks;

    /// <summary>The CPU masks, the hotplug notifiers and the hotplug lock (created on first use: most scenarios never touch them).</summary>
    public Hotplug Hotplug => _hotplug ??= new Hotplug(Cpus.Count);

    private Hotplug? _hotplug;

    /// <summary>
    /// Setup only: the CPU is possible but not online when the tasks start (booted with
    /// maxcpus=, or taken down earlier). Its tasks wait until a task brings it up with cpu_up().
    /// </summary>
    public void BootCpuOffline(int cpu)
    {
        if (t_ambient?.Task != null)
            throw new InvalidOperationException("BootCpuOffline is for a scenario's setup; a task takes a CPU down with cpu_down()");
        if (cpu < 0 || cpu >= Cpus.Count)
            throw new ArgumentOutOfRangeException(nameof(cpu), $"CPU {cpu} does not exist (this scenario has {Cpus.Count})");
        if (Cpus.Count(c => c.Online && c.Id != cpu) == 0)
            throw new InvalidOperationException($"CPU{cpu} is the last online CPU: at least one must boot");
        Cpus[cpu].Online = false;
        Hotplug.Online.Set(cpu, false);
    }

    public static Execution Current => t_ambient?.Ex ?? throw OutsideExecution();

    /// <summary>The execution being set up or run on this thread, if any.</summary>
    internal static Execution? CurrentOrNull => t_ambient?.Ex;

    /// <summary><see cref="Current"/> and <see cref="CurrentTask"/> from one thread-local lookup (the kernel API's every access).</summary>
    internal static (Execution, SimTask) CurrentWithTask()
    {
        var here = t_ambient;
        var ex = here?.Ex ?? throw OutsideExecution();
        return (ex, here!.Task ?? throw OutsideTask());
    }

    private static InvalidOperationException OutsideExecution() => new("kernel API used outside an execution");

    private static InvalidOperationException OutsideTask() => new("kernel API used outside a task");

    /// <summary>Every lock created in this execution, for the held-locks list of hang reports.</summary>
    internal IReadOnlyList<IHoldable> Locks => _locks ?? [];

    private List<IHoldable>? _locks;

    internal void RegisterLock(IHoldable l) => (_locks ??= []).Add(l);

    public static SimTask CurrentTask => t_ambient?.Task ?? throw OutsideTask();

    internal static bool InTask => t_ambient?.Task != null;

    public ExecutionOptions Options { get; private set; }
    public IExecutionDriver Driver { get; }
    public IReadOnlyList<Cpu> Cpus => _cpus;

    private Cpu[] _cpus = null!;
    public IReadOnlyList<SimTask> Tasks => _tasks;

    /// <summary>The tasks as their list, for loops that run every step (no interface enumerator).</summary>
    internal List<SimTask> TaskList => _tasks;
    public MemoryModel Memory { get; private set; }

    /// <summary>The driver's <see cref="IExecutionDriver.Synchronous"/>, read at every scheduling point.</summary>
    internal readonly bool SynchronousDriver;

    private int _maxSteps;

    /// <summary>Sequential consistency: accesses skip the (generic virtual) memory-model calls.</summary>
    internal bool IsSc;

    /// <summary>
    /// The running step's footprint while a reducing search collects them (the same object as
    /// <see cref="Scheduling.Reduction.Footprints.Current"/>, kept here so the access path reads
    /// a field rather than thread-local storage).
    /// </summary>
    internal Scheduling.Reduction.Footprint? StepFootprint;

    /// <summary>The data-race detector (null when <see cref="ExecutionOptions.DetectRaces"/> is off).</summary>
    internal RaceDetector? Races;

    /// <summary>The state cache of the search running this execution (null: none), told every value a load returns.</summary>
    internal Scheduling.StateCache? StateCache;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal T Load<T>(SimTask t, Loc<T> x, MemOrder order, bool rmw)
    {
        var v = LoadCore(t, x, order, rmw);
        StateCache?.Loaded(x.Key, v);
        if (t.ActiveLoop is { } loop)
            loop.Read(x, IsSc ? null : Memory.ReadEntry, Memory.ReadStaleTwins, Memory.ReadChoiceNode, StepCount);
        return v;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private T LoadCore<T>(SimTask t, Loc<T> x, MemOrder order, bool rmw)
    {
        // Only a reducing search has a footprint: the other searches skip the model's question.
        if (StepFootprint is { } fp && (IsSc || rmw || !Memory.FootprintsLoads))
            fp.Read(x.Key);
        if (Races is null)
            return IsSc ? x.Value : Memory.Load(t, x, order, rmw);
        T v;
        RaceStamp read;
        if (IsSc)
        {
            v = x.Value;
            read = x.Race?.Current ?? default;
        }
        else
        {
            Memory.RaceRead = default;
            v = Memory.Load(t, x, order, rmw);
            read = Memory.RaceRead;
        }

        Races.OnLoad(t, x, order, rmw, IsPointer<T>(), read, RefOf(v));
        return v;
    }

    /// <summary>A load of the newest value (what a spin-wait ends on under sc and tso, see <see cref="LoadSatisfying{T}"/>).</summary>
    internal T LoadLatest<T>(SimTask t, Loc<T> x, MemOrder order)
    {
        var v = LoadLatestCore(t, x, order);
        StateCache?.Loaded(x.Key, v);
        if (t.ActiveLoop is { } loop)
            loop.Read(x, IsSc ? null : Memory.ReadEntry, Memory.ReadStaleTwins, Memory.ReadChoiceNode, StepCount);
        return v;
    }

    private T LoadLatestCore<T>(SimTask t, Loc<T> x, MemOrder order)
    {
        StepFootprint?.Read(x.Key);
        if (IsSc)
        {
            Races?.OnLoad(t, x, order, rmw: false, IsPointer<T>(), x.Race?.Current ?? default, RefOf(x.Value));
            return x.Value;
        }

        Memory.RaceRead = default;
        var v = Memory.LoadLatest(t, x, order);
        Races?.OnLoad(t, x, order, rmw: false, IsPointer<T>(), Memory.RaceRead, RefOf(v));
        return v;
    }

    /// <summary>
    /// The enabling condition of a spin-wait on one location's value (smp_cond_load_*): under
    /// lkmm it also holds when only an older store satisfies <paramref name="cond"/>, while the
    /// stale bound allows that non-SC read (see <see cref="MemoryModel.CanReadSatisfying{T}"/>).
    /// </summary>
    internal bool SpinCanEnd<T>(SimTask t, Loc<T> x, Func<T, bool> cond)
    {
        if (IsSc)
            return cond(x.Peek());
        return Memory.CanReadSatisfying(t, x, cond) switch
        {
            SpinExit.Newest => true,
            SpinExit.OnlyStale => Driver.StaleAllowed(this),
            _ => false,
        };
    }

    /// <summary>The read of a spin-wait whose <see cref="SpinCanEnd{T}"/> held: Done when it ends the wait.</summary>
    internal (bool Done, T Value) LoadSatisfying<T>(SimTask t, Loc<T> x, MemOrder order, Func<T, bool> cond)
    {
        if (IsSc)
            return (true, LoadLatest(t, x, order));
        StepFootprint?.Read(x.Key);
        Memory.RaceRead = default;
        var r = Memory.LoadSatisfying(t, x, order, cond);
        Races?.OnLoad(t, x, order, rmw: false, IsPointer<T>(), Memory.RaceRead, RefOf(r.Value));
        StateCache?.Loaded(x.Key, r.Value);
        return r;
    }

    /// <summary>The object a load or store of a reference type moves (no boxing: null for value types), for data dependencies.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static object? RefOf<T>(T v) => typeof(T).IsValueType ? null : v;

    /// <summary>A load of an object reference: later accesses through it are dependency-ordered (as in the weak models).</summary>
    private static bool IsPointer<T>() =>
        typeof(T) != typeof(string) && RuntimeHelpers.IsReferenceOrContainsReferences<T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Store<T>(SimTask t, Loc<T> x, T v, MemOrder order, bool rmw)
    {
        StepFootprint?.Write(x.Key);
        Invariants?.Wrote(x.Key, StepFootprint);
        if (Recorder != null)
        {
            x.LastWriterTask = t;
            x.LastWriterStep = Recorder.Steps.Count + 1;
        }

        if (Races != null)
        {
            var stamp = Races.OnStore(t, order, rmw, RefOf(v));
            if (IsSc)
                (x.Race ?? Races.CellFor(x)).Current = stamp;
            else
                Memory.RaceStore = stamp;
        }

        if (t.ActiveLoop is { } loop)
            loop.Effect();
        if (IsSc)
        {
            x.Value = v;
            x.Version++;
        }
        else
        {
            Memory.Store(t, x, v, order, rmw);
        }
    }

    /// <summary>A barrier took effect (under sc only the race detector needs it).</summary>
    internal void Fence(SimTask t, FenceKind kind)
    {
        // A full barrier joins and publishes views other tasks move (the global fence order, the
        // race detector's clocks): not idempotent from one spin iteration to the next.
        if (t.ActiveLoop is { } loop && kind is FenceKind.Mb or FenceKind.MbBeforeAtomic or FenceKind.MbAfterAtomic)
            loop.Effect();
        if (!IsSc)
            Memory.Fence(t, kind);
        Races?.OnFence(t, kind);
    }

    /// <summary>Checks an access for a data race (after the memory model made it and the trace recorded it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void RaceCheck<T>(SimTask t, Loc x, bool write, MemOrder order, string op, string fn, string file, int line, T value)
    {
        if (Races?.Access(this, t, x, write, order != MemOrder.Plain, op, fn, file, line, Recording ? Format.Value(value) : null) is { } race)
        {
            if (!Options.RacesOnlyNoted)
                throw new KernelFailureException(race);
            FirstRace ??= race;
        }
    }

    /// <summary>With <see cref="ExecutionOptions.RacesOnlyNoted"/>: the first data race of the execution.</summary>
    public Failure? FirstRace { get; private set; }

    /// <summary>Created on first use: most executions of a lock allocate nothing.</summary>
    public Allocator Allocator => _allocator ??= new();

    private Allocator? _allocator;

    /// <summary>The allocator if any task or the setup used it (for the state cache, which must not create it).</summary>
    internal Allocator? AllocatorIfUsed => _allocator;

    /// <summary>With <see cref="ExecutionOptions.TrackLocations"/>: every location created in this execution.</summary>
    public List<Loc>? Locations { get; private set; }

    internal void TrackLocations() => Locations = new List<Loc>();

    /// <summary>
    /// Sees (and may weaken) every ordered call of the kernel API; set by a scenario's setup
    /// before any task runs. Null: every call orders as written.
    /// </summary>
    public IOrderingHook? Orderings { get; set; }

    /// <summary>Grace periods in progress and call_rcu() callbacks.</summary>
    internal RcuState Rcu => _rcu ??= new();

    private RcuState? _rcu;

    internal RcuState? RcuIfUsed => _rcu;

    public Recorder? Recorder { get; private set; }
    public Failure? Failure { get; private set; }
    public bool StepBoundHit { get; private set; }
    public int StepCount { get; private set; }
    internal bool Aborted { get; private set; }

    /// <summary>Set when a replay ran out of (or off) its schedule at a choice inside a task.</summary>
    internal Exception? Diverged { get; private set; }

    /// <summary>The task whose step ran last; the explorers count a switch away from it as a preemption.</summary>
    public SimTask? LastRun { get; internal set; }

    /// <summary>The tasks the setup spawned, in id order, each with its body (handed over once).</summary>
    internal List<(SimTask Task, Func<ValueTask> Body)> TakePendingStarts()
    {
        var starts = new List<(SimTask, Func<ValueTask>)>();
        foreach (var t in _tasks)
        {
            if (TakePendingBody(t) is { } body)
                starts.Add((t, body));
        }

        return starts;
    }

    /// <summary>The body of a task the setup spawned and no driver has started yet (then null).</summary>
    internal static Func<ValueTask>? TakePendingBody(SimTask t)
    {
        var body = t.PendingBody;
        t.PendingBody = null;
        return body;
    }

    internal static void Enter(Execution ex, SimTask? task)
    {
        var here = Here;
        here.Ex = ex;
        here.Task = task;
    }

    internal static void Leave()
    {
        if (t_ambient is { } here)
        {
            here.Ex = null;
            here.Task = null;
        }
    }

    /// <summary>Creates a task pinned to a CPU. Before the run, the driver starts it; during the run, at once.</summary>
    public SimTask Spawn(string name, int cpu, Func<ValueTask> body) => Spawn(name, cpu, SchedClass.Normal, body);

    /// <summary>Creates a task of the given scheduling class (SCHED_FIFO for <see cref="SchedClass.Rt"/>) pinned to a CPU.</summary>
    public SimTask Spawn(string name, int cpu, SchedClass schedClass, Func<ValueTask> body)
    {
        if (cpu < 0 || cpu >= Cpus.Count)
            throw new ArgumentOutOfRangeException(nameof(cpu), $"task {name}: CPU {cpu} does not exist (this scenario has {Cpus.Count})");
        Scheduling.Reduction.Footprints.Untracked();
        var id = _tasks.Count;
        var task = _spareTasks != null && id < _spareTasks.Count ? _spareTasks[id].Reset(id, name, _cpus[cpu]) : new SimTask(id, name, _cpus[cpu]);
        task.SchedClass = schedClass;
        Cpus[cpu].TaskCount++;
        _anyRt |= schedClass != SchedClass.Normal;
        _tasks.Add(task);
        var parent = t_ambient?.Task;
        Races?.OnSpawn(parent, task);
        if (parent != null)
        {
            Memory.OnSpawn(parent, task);
            Driver.OnSpawn(this, task, body);
        }
        else
        {
            task.PendingBody = body;
        }

        return task;
    }

    /// <summary>
    /// Declares <paramref name="tasks"/> interchangeable: the same code on their own CPUs, using
    /// CPU numbers only as names, from a state that is the same under any renaming of them (see
    /// <see cref="TaskSymmetry"/> for the exact promise). The exhaustive search then explores only
    /// the executions in which they make their first write to <paramref name="orderedBy"/> in
    /// this order (every other execution is one of those with the tasks renamed). Other searches,
    /// and a search run with <c>--no-symmetry</c>, ignore it. Call it in the setup, after spawning.
    /// </summary>
    public void Symmetric(IReadOnlyList<SimTask> tasks, Loc orderedBy)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        ArgumentNullException.ThrowIfNull(orderedBy);
        if (t_ambient?.Task != null)
            throw new InvalidOperationException("Symmetric() belongs in the scenario's setup, not in a task");
        if (tasks.Count < 2 || tasks.Distinct().Count() != tasks.Count || tasks.Any(t => !_tasks.Contains(t)))
            throw new ArgumentException("Symmetric() needs two or more distinct tasks of this execution", nameof(tasks));
        if (tasks.Select(t => t.Cpu).Distinct().Count() != tasks.Count)
            throw new ArgumentException("Symmetric() needs each task on a CPU of its own (tasks sharing a CPU are not interchangeable with one that does not)", nameof(tasks));
        if (DeclaredSymmetric != null)
            throw new InvalidOperationException("Symmetric() may be declared once per scenario");
        DeclaredSymmetric = tasks.ToArray();
        if (Options.Symmetry)
            Symmetry = new TaskSymmetry(tasks, orderedBy);
    }

    /// <summary>The tasks declared interchangeable, whether or not the search uses it (see <see cref="Scheduling.SymmetryProbe"/>).</summary>
    internal IReadOnlyList<SimTask>? DeclaredSymmetric { get; private set; }

    /// <summary>The declared symmetry, when the search uses it (<see cref="ExecutionOptions.Symmetry"/>).</summary>
    public TaskSymmetry? Symmetry { get; private set; }

    /// <summary>
    /// No task could move while one waited for another's first write under the declared symmetry:
    /// the execution is abandoned, as a renaming of it is explored (neither a pass nor a hang).
    /// </summary>
    public bool SymmetryCovered { get; private set; }

    internal void AbortSymmetryCovered()
    {
        SymmetryCovered = true;
        Redundant = true;
        Aborted = true;
    }

    /// <summary>An invariant checked once every task has finished (before the leak check).</summary>
    public void AtEnd(string name, Action check) => (_finalChecks ??= new()).Add((name, check));

    /// <summary>The step invariants (null while none is declared, so that stores pay one null test).</summary>
    internal InvariantSet? Invariants;

    /// <summary>
    /// A structural invariant checked after every step that writes what it watches (see
    /// <see cref="StepInvariant"/>): <paramref name="check"/> returns what is wrong, or null.
    /// </summary>
    public StepInvariant Invariant(string name, Func<string?> check, [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => (Invariants ??= new InvariantSet()).Add(name, check, file, line);

    /// <summary>
    /// The end of the running task's step: the invariants its writes made due are checked. Under a
    /// weak model a store may reach memory in a later step (a store buffer draining), so every
    /// invariant is checked after every step there.
    /// </summary>
    private void CheckInvariants(SimTask task)
    {
        if (Invariants is { } set && (set.Due || !IsSc))
            set.CheckDue(this, task, all: !IsSc);
    }

    /// <summary>
    /// The body every driver runs for a task: a start point, the task, and failure capture.
    /// Pooled: the native explorer hands a finished task's state machine back for the next execution.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask RunTask(SimTask task, Func<ValueTask> body)
    {
        try
        {
            await Point(task, null, null);
            await body();
            CheckInvariants(task);
            if (task.RcuReadLockNesting > 0)
            {
                // Every later grace period would wait for this task forever.
                throw new KernelFailureException(new Failure(FailureKind.Assertion,
                    $"{task.Name} ends inside an RCU read-side critical section (rcu_read_lock() at {Path.GetFileName(task.RcuLockedAt)}, nesting {task.RcuReadLockNesting})",
                    task.RcuLockedAt));
            }
        }
        catch (KernelFailureException e)
        {
            Fail(e.Failure);
        }
        catch (ExecutionAbortedException)
        {
        }
        catch (Scheduling.ReplayDivergedException e)
        {
            // A recorded choice made inside a task (a fault, need_resched()) left the replayed
            // schedule: that is the schedule not fitting this code, not a crash of the model.
            Diverged ??= e;
            Aborted = true;
        }
        catch (Exception e) when (IsDriverInterrupt(e))
        {
            // The driver ended the execution (a deadlock it detected, say): leave the task's
            // state as it was, so the hang report can say what it was waiting for.
            return;
        }
        catch (NullReferenceException e) when (PortFrame(e) is { } frame)
        {
            Fail(NullDereference(task, frame));
        }
        catch (Exception e)
        {
            Fail(new Failure(FailureKind.ModelCrash, $"{e.GetType().Name}: {e.Message}", FirstModelFrame(e)));
        }

        task.Done = true;
        if (!IsSc)
            Memory.OnTaskEnd(task);
        task.Blocker = null;
        if (task.Cpu.Occupant == task)
            task.Cpu.Occupant = null;
    }

    /// <summary>Coyote ends an iteration by interrupting the threads it controls; that is not a model failure.</summary>
    private bool IsDriverInterrupt(Exception e) =>
        e is ThreadInterruptedException or OperationCanceledException
        || (e.GetType().Namespace?.StartsWith("Microsoft.Coyote", StringComparison.Ordinal) ?? false);

    /// <summary>
    /// The innermost frame of a port (a class marked [KernelPort], or a method of one) that the
    /// exception went through: a NULL dereference there is the kernel's oops, while one in kmc's
    /// own scenario code stays a ModelCrash.
    /// </summary>
    private static System.Diagnostics.StackFrame? PortFrame(Exception e)
    {
        var frames = new System.Diagnostics.StackTrace(e, true).GetFrames();
        foreach (var f in frames)
        {
            for (var type = f.GetMethod()?.DeclaringType; type != null; type = type.DeclaringType)
            {
                if (type.IsDefined(typeof(KernelPortAttribute), inherit: false))
                    return f;
            }

            if (f.GetFileName() != null)
                return null;
        }

        return null;
    }

    /// <summary>BUG: kernel NULL pointer dereference, with the load that gave the task its NULL.</summary>
    private Failure NullDereference(SimTask task, System.Diagnostics.StackFrame frame)
    {
        var where = frame.GetFileName() is { } file ? $"{file}:{frame.GetFileLineNumber()}" : null;
        var sb = new StringBuilder("BUG: kernel NULL pointer dereference in ").Append(task.Name);
        if (frame.GetFileName() != null)
            sb.Append(" at ").Append(Path.GetFileName(frame.GetFileName())).Append(':').Append(frame.GetFileLineNumber());
        if (task.LastNullLoad is { } n)
        {
            sb.Append("; the pointer came from ").Append(n.Op).Append('(').Append(n.Target).Append(") = NULL in ").Append(n.Function)
                .Append(" (").Append(Path.GetFileName(n.File)).Append(':').Append(n.Line).Append(')');
            if (n.Step > 0 && Recorder is { } rec && n.Step <= rec.Steps.Count)
            {
                sb.Append(", step ").Append(n.Step);
                if (rec.Steps[n.Step - 1].Memory is { } memory)
                    sb.Append(": ").Append(memory);
            }
        }
        else
        {
            sb.Append("; no load of this task returned NULL: the pointer was never set");
        }

        return new Failure(FailureKind.NullDereference, sb.ToString(), where);
    }

    private static string? FirstModelFrame(Exception e)
    {
        var frame = new System.Diagnostics.StackTrace(e, true).GetFrames()
            .FirstOrDefault(f => f.GetFileName() != null);
        return frame is null ? null : $"{frame.GetFileName()}:{frame.GetFileLineNumber()}";
    }

    /// <summary>Ends the execution with a failure (the first one wins).</summary>
    public void Fail(Failure failure)
    {
        if (Failure != null || Aborted)
            return;
        Failure = failure;
        Aborted = true;
    }

    /// <summary>A reducing search abandons an execution whose trace it has already explored.</summary>
    internal void AbortRedundant()
    {
        Redundant = true;
        Aborted = true;
    }

    /// <summary>Abandoned by a reducing search as already explored (neither a pass nor a failure).</summary>
    public bool Redundant { get; private set; }

    /// <summary>
    /// No task could move, and a task waited in a spin loop whose repeated iteration read a stale
    /// store (<see cref="SpinLoop"/>): a fair execution reads the newer store, which a sibling
    /// execution explores, so this one is abandoned (neither a pass nor a failure).
    /// </summary>
    public bool SpinPruned { get; private set; }

    /// <summary>Untried alternatives of spin loads this execution told the search to skip (<see cref="ExecutionOptions.SkipStaleSpinRepeats"/>).</summary>
    public int StaleRepeatsSkipped { get; internal set; }

    /// <summary>Ends the execution as <see cref="SpinPruned"/>.</summary>
    internal void AbortSpinPruned()
    {
        SpinPruned = true;
        Aborted = true;
    }

    /// <summary>Spin loops block a repeated zero-effect iteration (<see cref="ExecutionOptions.SpinPruning"/>).</summary>
    internal bool SpinPruning => Options.SpinPruning;

    /// <summary>
    /// A task that had seen its spin's condition false and waited was woken (see
    /// <see cref="ExecutionOptions.PruneWokenSpins"/>): the execution in which the store that woke
    /// it came before that look is explored as a race reversed, so this one is abandoned (neither
    /// a pass nor a failure).
    /// </summary>
    public bool SpinWoken { get; private set; }

    /// <summary>
    /// A task woken from a wait after a look without effect ends the execution
    /// (<see cref="ExecutionOptions.PruneWokenSpins"/>, unless this memory model's waits make
    /// stores visible themselves: <see cref="MemoryModel.WaitingMakesStoresVisible"/>).
    /// </summary>
    internal bool EndsWokenSpins { get; private set; }

    /// <summary>
    /// A task waiting after a look without effect can run again (see
    /// <see cref="ExecutionOptions.PruneWokenSpins"/>): ends the execution as <see cref="SpinWoken"/>.
    /// </summary>
    internal void EndWokenSpin()
    {
        SpinWoken = true;
        Aborted = true;
    }

    /// <summary>
    /// The running task (if any) did something a spin iteration must not do to be a no-op: see
    /// <see cref="SpinLoop"/>. Called where state outside the loads a loop records changes.
    /// </summary>
    internal static void NoteSpinEffect()
    {
        if (t_ambient?.Task?.ActiveLoop is { } loop)
            loop.Effect();
    }

    /// <summary>A recorded nondeterministic choice of the running task (an effect for spin loops).</summary>
    internal int Choose(SimTask? t, int n)
    {
        if (t?.ActiveLoop is { } loop)
            loop.Effect();
        return Driver.Choose(this, t, n);
    }

    /// <summary>
    /// No task can move: true when one of them waits in a spin loop whose repeated iteration
    /// read a store that is no longer the newest (see <see cref="SpinPruned"/>).
    /// </summary>
    internal bool StaleSpinWait()
    {
        foreach (var t in _tasks)
        {
            if (!t.Done && t.SpinWait is { } loop && loop.ReadStale(this))
                return true;
        }

        return false;
    }

    internal void AbortForStepBound()
    {
        StepBoundHit = true;
        Aborted = true;
    }

    /// <summary>Runs the end-of-execution invariants and the leak check.</summary>
    internal void RunFinalChecks()
    {
        if (Failure != null || Aborted)
            return;
        if (!IsSc)
            Memory.OnAllDone();
        try
        {
            if (_finalChecks != null)
            {
                foreach (var (_, check) in _finalChecks)
                    check();
            }
        }
        catch (KernelFailureException e)
        {
            Fail(e.Failure);
            return;
        }

        if (_allocator == null)
            return;
        var leaked = _allocator.Live().ToList();
        if (leaked.Count > 0)
        {
            var first = leaked[0];
            Fail(new Failure(FailureKind.Leak,
                $"{leaked.Count} object(s) never freed: " + string.Join("; ", leaked.Select(a => a.Describe())),
                first.AllocSite));
        }
    }

    // ---- scheduling -------------------------------------------------------------------------

    /// <summary>A scheduling point; with a blocker, the task proceeds only once it holds.</summary>
    internal SchedAwaitable Point(SimTask task, Func<bool>? blocker, WaitText blockedOn, WaitSite at = default, object? blockedFor = null)
    {
        if (Aborted)
            throw ExecutionAbortedException.Instance;
        CheckInvariants(task);
        if (blocker != null && !IsSc)
            Memory.OnWait(task);
        task.Blocker = blocker;
        if (blockedOn.IsSet || at.IsSet)
            task.SetWait(blockedOn, at);
        else
            task.ClearWait();
        task.BlockedFor = blockedFor;
        return new SchedAwaitable(this, task);
    }

    /// <summary>
    /// <see cref="Point"/> for a memory access: no blocker and no wait to name, which the task's
    /// last step (<see cref="Resumed"/>) mostly cleared already, so nothing is stored again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void AccessPoint(SimTask task)
    {
        if (Aborted)
            throw ExecutionAbortedException.Instance;
        CheckInvariants(task);
        if (task.Blocker != null)
            task.Blocker = null;
        task.ClearWait();
        if (task.BlockedFor != null)
            task.BlockedFor = null;
    }

    /// <summary>A scheduling point of a synchronous driver: returns once the task may take its step.</summary>
    internal void PointNow(SimTask task)
    {
        Point(task, null, null);
        Driver.SchedulingPoint(this, task);
        Resumed(task);
    }

    /// <summary>May this task take its next step now?</summary>
    public bool CanRun(SimTask t)
    {
        if (t.Done || !t.Cpu.Online)
            return false;
        var occupant = t.Cpu.Occupant;
        if (occupant != null && occupant != t && !Preemptible(occupant))
            return false;
        if (_anyRt && HigherClassOnCpu(t) != null)
            return false;
        return t.Blocker == null || t.Blocker();
    }

    /// <summary>
    /// A task of a higher scheduling class that wants t's CPU (runnable or spinning: a busy-wait
    /// keeps the CPU), which the CPU's scheduler runs instead of t; null when there is none.
    /// </summary>
    internal SimTask? HigherClassOnCpu(SimTask t)
    {
        if (!_anyRt)
            return null;
        foreach (var u in _tasks)
        {
            if (u != t && u.Cpu == t.Cpu && u.SchedClass > t.SchedClass && !u.Done && !u.Sleeping)
                return u;
        }

        return null;
    }

    /// <summary>Set once a real-time task is spawned, so that scenarios without priorities pay nothing.</summary>
    private bool _anyRt;

    /// <summary>
    /// need_resched() from the runqueues instead of a recorded choice (a scenario that models the
    /// tasks competing for a CPU sets it): true when another task on the CPU is runnable at the
    /// same or a higher class.
    /// </summary>
    public bool NeedReschedFromRunqueues { get; set; }

    internal bool RunqueueNeedsResched(SimTask t)
    {
        foreach (var u in _tasks)
        {
            if (u != t && u.Cpu == t.Cpu && u.SchedClass >= t.SchedClass && !u.Done && !u.Sleeping)
                return true;
        }

        return false;
    }

    private bool Preemptible(SimTask occupant) =>
        occupant.Done || occupant.Sleeping
        || (Options.Preemptive && occupant.PreemptCount == 0 && !occupant.Cpu.IrqsDisabled);

    internal void Resumed(SimTask task)
    {
        if (Aborted)
            throw ExecutionAbortedException.Instance;
        if (task.SymmetryFirstWrite)
        {
            task.SymmetryFirstWrite = false;
            Symmetry!.FirstWrite(task);
        }

        task.Blocker = null;
        task.ClearWait();
        task.BlockedFor = null;
        // Compared first: a task going on with its CPU (most steps) then stores no reference.
        if (!task.Sleeping && task.Cpu.Occupant != task)
            task.Cpu.Occupant = task;
        if (LastRun != task)
            LastRun = task;
        if (++StepCount > _maxSteps)
        {
            AbortForStepBound();
            throw ExecutionAbortedException.Instance;
        }
    }

    /// <summary>
    /// The report of an execution in which no task can move: a livelock when a spinner keeps a
    /// runnable task off its CPU (<see cref="Liveness"/>), else a hang naming every unfinished task
    /// and why it cannot move.
    /// </summary>
    public Failure DescribeHang() => Liveness.Starvation(this) ?? DescribeStuck();

    private Failure DescribeStuck()
    {
        var sb = new StringBuilder("no task can make progress:");
        string? where = null;
        foreach (var t in _tasks.Where(t => !t.Done))
        {
            sb.Append("\n  ").Append(t.Name).Append(" on CPU").Append(t.Cpu.Id).Append(": ");
            var occupant = t.Cpu.Occupant;
            if (!t.Cpu.Online)
            {
                sb.Append("bound to CPU").Append(t.Cpu.Id).Append(", which is offline (no task brings it back up)");
            }
            else if (t.Blocker != null && !t.Blocker())
            {
                var verb = t.Sleeping ? "sleeping in" : "spinning on";
                sb.Append(verb).Append(' ').Append(t.BlockedOn ?? "a condition");
                if (t.BlockedAt != null)
                    sb.Append(" at ").Append(t.BlockedAt);
                where ??= t.BlockedAt;
                if (!t.Sleeping)
                    sb.Append(t.PreemptCount > 0 || t.Cpu.IrqsDisabled ? " (preemption off: holds CPU" + t.Cpu.Id + ")" : "");
                if (HoldersReport.WaitsFor(this, t) is { } waits)
                    sb.Append("\n    ").Append(waits);
            }
            else if (occupant != null && occupant != t)
            {
                sb.Append("runnable, but CPU").Append(t.Cpu.Id).Append(" is held by ").Append(occupant.Name)
                    .Append(" (preempt_count=").Append(occupant.PreemptCount).Append(')');
            }
            else
            {
                sb.Append("runnable");
            }
        }

        HoldersReport.HeldLocks(this, _tasks.Where(t => !t.Done), sb);
        foreach (var t in _tasks.Where(t => !t.Done && t.OpenProgress.Count > 0))
            sb.Append("\n  progress property violated: ").Append(t.OpenProgress[^1]).Append(" (").Append(t.Name).Append(" never gets there)");
        return new Failure(FailureKind.Hang, sb.ToString(), where);
    }

    // ---- recording --------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Record(SimTask task, string op, string? target, string? value, string function, string file, int line,
        string? wakes = null, string? memory = null)
        => Recorder?.Add(task, op, target, value, function, file, line, wakes, memory);

    public bool Recording => Recorder != null;

    /// <summary>The weak model's note on the access just made (null under sc).</summary>
    internal string? MemoryNote => IsSc ? null : Memory.TakeNote();

    /// <summary>The step number the next recorded step will get (0 when not recording).</summary>
    internal int NextStepIndex => Recorder is null ? 0 : Recorder.Steps.Count + 1;
}

/// <summary>The awaitable behind every scheduling point.</summary>
public readonly struct SchedAwaitable : ICriticalNotifyCompletion
{
    private readonly Execution _ex;
    private readonly SimTask _task;

    internal SchedAwaitable(Execution ex, SimTask task)
    {
        _ex = ex;
        _task = task;
    }

    public SchedAwaitable GetAwaiter() => this;

    public bool IsCompleted
    {
        get
        {
            if (!_ex.SynchronousDriver)
                return false;
            _ex.Driver.SchedulingPoint(_ex, _task);
            return true;
        }
    }

    public void GetResult() => _ex.Resumed(_task);

    public void OnCompleted(Action continuation) => _task.Continuation = continuation;

    public void UnsafeOnCompleted(Action continuation) => _task.Continuation = continuation;
}
