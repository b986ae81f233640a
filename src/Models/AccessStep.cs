using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;

namespace Kmc.Models;

/// <summary>What a memory access does once its task is scheduled (after its scheduling point).</summary>
internal interface IAccess<out T>
{
    T Run(Execution ex, SimTask t);
}

/// <summary>
/// A memory access as one scheduling point with no async state machine of its own. Under the
/// native explorer the access parks itself as the task's continuation and hands the awaiting
/// port code a <see cref="MemAccess{T}"/> backed by this (pooled, reusable) step; when the explorer
/// resumes the task, the access runs and then resumes the port code directly. An async method
/// per access would put a second state machine, a pool rent and a return on every step.
/// Exceptions (a failure, an abort, the step bound) are rethrown at the port's await, as an async
/// method would. A step an aborted execution leaves parked is dropped, not returned to the pool.
/// </summary>
internal sealed class AccessStep<TAccess, T> : ParkedStep<T>
    where TAccess : struct, IAccess<T>
{
    /// <summary>This instantiation's free list in an <see cref="AccessPool"/>.</summary>
    private static readonly int s_pool = AccessPool.NewKind();

    private readonly Action _run;
    private TAccess _access;

    private AccessStep()
        : base(s_pool) => _run = Run;

    /// <summary>The access as the task's next step; its value once the explorer has run it.</summary>
    /// <param name="writes">the location the access writes (or may: a cmpxchg), for a declared <see cref="TaskSymmetry"/></param>
    public static MemAccess<T> At(Execution ex, SimTask t, in TAccess access, Loc? writes = null)
    {
        if (ex.SynchronousDriver)
        {
            ex.PointNow(t);
            return new MemAccess<T>(access.Run(ex, t));
        }

        var step = Park(ex, t, access, writes);
        return new MemAccess<T>(step, step.Version);
    }

    /// <summary>As <see cref="At"/>, for an access the port awaits without a value (its T is bool).</summary>
    public static MemAccess AtVoid(Execution ex, SimTask t, in TAccess access, Loc? writes = null)
    {
        if (ex.SynchronousDriver)
        {
            ex.PointNow(t);
            access.Run(ex, t);
            return default;
        }

        if (typeof(T) != typeof(bool))
            throw new InvalidOperationException("an access awaited without a value returns bool");
        var step = Park(ex, t, access, writes);
        return new MemAccess(Unsafe.As<ParkedStep<bool>>(step), step.Version);
    }

    private static AccessStep<TAccess, T> Park(Execution ex, SimTask t, in TAccess access, Loc? writes)
    {
        ex.AccessPoint(t);
        if (writes != null && ex.Symmetry is { } symmetry)
            symmetry.GuardFirstWrite(t, writes);
        ref var free = ref ex.StepPool.Head(s_pool);
        var step = Unsafe.As<AccessStep<TAccess, T>?>(free) ?? new AccessStep<TAccess, T>();
        free = step.NextFree;
        step.NextFree = null;
        // Compared first: a pooled step mostly comes back to the same (recycled) execution and task.
        if (step.Ex != ex)
            step.Ex = ex;
        if (step.OnTask != t)
            step.OnTask = t;
        step._access = access;
        t.Continuation = step._run;
        return step;
    }

    /// <summary>The task's continuation: the step itself, then the port code awaiting it.</summary>
    private void Run()
    {
        try
        {
            Ex!.Resumed(OnTask!);
            Result = _access.Run(Ex, OnTask!);
        }
        catch (Exception e)
        {
            Error = ExceptionDispatchInfo.Capture(e);
        }

        Complete();
    }
}

/// <summary>
/// The result side of a parked access, which the port's await sees: the value or exception, and
/// the code to resume. Awaited as a <see cref="MemAccess{T}"/> (the awaiter hands over the state
/// machine's resume action and reads the result directly); converted to a ValueTask, as an
/// <see cref="IValueTaskSource{T}"/>.
/// </summary>
internal abstract class ParkedStep<T>(int pool) : IValueTaskSource<T>, IValueTaskSource, IParkedAccess
{
    private readonly int _pool = pool;
    protected Execution? Ex;
    protected SimTask? OnTask;
    protected T Result = default!;
    protected ExceptionDispatchInfo? Error;
    internal ParkedStep<T>? NextFree;
    private bool _completed;
    internal short Version;
    private Action? _resume;
    private Action<object?>? _continuation;
    private object? _state;

    /// <summary>The async state machine box awaiting this access (the port's method), for call chains.</summary>
    object? IParkedAccess.Awaiter => _resume?.Target ?? _state;

    /// <summary>Marks the access done and resumes the code awaiting it.</summary>
    protected void Complete()
    {
        _completed = true;
        if (_resume is { } resume)
        {
            _resume = null;
            resume();
            return;
        }

        var continuation = _continuation;
        _continuation = null;
        continuation?.Invoke(_state);
    }

    /// <summary>The awaiting state machine's resume action (a <see cref="MemAccess{T}"/> await).</summary>
    internal void OnCompleted(Action resume) => _resume = resume;

    public ValueTaskSourceStatus GetStatus(short token) =>
        !_completed ? ValueTaskSourceStatus.Pending : Error == null ? ValueTaskSourceStatus.Succeeded : ValueTaskSourceStatus.Faulted;

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        // The explorer runs with no synchronization context and resumes tasks inline: nothing to capture.
        _continuation = continuation;
        _state = state;
    }

    public T GetResult(short token)
    {
        if (token != Version || !_completed)
            throw new InvalidOperationException("an access's result was read twice or before it ran");
        var result = Result;
        var error = Error;
        Release();
        error?.Throw();
        return result;
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    /// <summary>
    /// Back to the pool. The access's arguments, execution and task stay until the next use
    /// overwrites them (a search recycles its execution and tasks, so the next use mostly finds
    /// them there); the pool belongs to the thread, which runs one search at a time.
    /// </summary>
    private void Release()
    {
        ref var free = ref Ex!.StepPool.Head(_pool);
        NextFree = Unsafe.As<ParkedStep<T>?>(free);
        free = this;
        Error = null;
        _completed = false;
        _state = null;
        Version++;
    }
}

/// <summary>
/// What a kernel memory access returns: awaited in port code like the ValueTask it converts to,
/// but resumed without the ValueTask machinery (no interface calls between the explorer and the
/// port's state machine; the explorer's step loop pays for every one of them).
/// </summary>
public readonly struct MemAccess<T> : ICriticalNotifyCompletion
{
    private readonly T _value;

    internal MemAccess(T value)
    {
        Step = null;
        _value = value;
        Version = 0;
    }

    internal MemAccess(ParkedStep<T> step, short version)
    {
        Step = step;
        _value = default!;
        Version = version;
    }

    /// <summary>The parked step behind the access (null: it already ran), and the use of it this access is.</summary>
    internal ParkedStep<T>? Step { get; }

    internal short Version { get; }

    public MemAccess<T> GetAwaiter() => this;

    public bool IsCompleted => Step == null;

    public T GetResult() => Step == null ? _value : Step.GetResult(Version);

    public void OnCompleted(Action continuation) => Step!.OnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation) => Step!.OnCompleted(continuation);

    /// <summary>The access as a ValueTask, for code that stores, passes or returns one.</summary>
    public ValueTask<T> AsValueTask() => Step == null ? new ValueTask<T>(_value) : new ValueTask<T>(Step, Version);

    public static implicit operator ValueTask<T>(MemAccess<T> access) => access.AsValueTask();
}

/// <summary>A <see cref="MemAccess{T}"/> awaited without a value (a store, whose step returns true).</summary>
public readonly struct MemAccess : ICriticalNotifyCompletion
{
    private readonly MemAccess<bool> _access;

    internal MemAccess(ParkedStep<bool> step, short version) => _access = new MemAccess<bool>(step, version);

    public MemAccess GetAwaiter() => this;

    public bool IsCompleted => _access.IsCompleted;

    public void GetResult() => _access.GetResult();

    public void OnCompleted(Action continuation) => _access.OnCompleted(continuation);

    public void UnsafeOnCompleted(Action continuation) => _access.UnsafeOnCompleted(continuation);

    /// <summary>The access as a ValueTask, for code that stores, passes or returns one.</summary>
    public ValueTask AsValueTask() => _access.Step is { } step ? new ValueTask(step, _access.Version) : ValueTask.CompletedTask;

    public static implicit operator ValueTask(MemAccess access) => access.AsValueTask();
}

/// <summary>
/// The free lists of parked accesses, one per <see cref="AccessStep{TAccess, T}"/> instantiation,
/// for the executions of one thread. The execution holds it, so that a step reaches its list
/// through a field rather than a thread-static per instantiation (two lookups of the runtime's
/// TLS per step). A step goes back to the list of the execution it ran in, on the thread that runs it.
/// </summary>
internal sealed class AccessPool
{
    [ThreadStatic] private static AccessPool? t_pool;

    private static int s_kinds;

    // A struct around each head: a ref to an element of an object?[] costs a covariance check.
    private FreeList[] _heads = new FreeList[32];

    /// <summary>This thread's pool.</summary>
    public static AccessPool ForThisThread => t_pool ??= new AccessPool();

    /// <summary>A free list number for a new instantiation.</summary>
    public static int NewKind() => Interlocked.Increment(ref s_kinds) - 1;

    /// <summary>The head of free list <paramref name="kind"/> (a step of that instantiation, or null).</summary>
    public ref object? Head(int kind)
    {
        if (kind >= _heads.Length)
            Array.Resize(ref _heads, Math.Max(kind + 1, _heads.Length * 2));
        return ref _heads[kind].First;
    }

    private struct FreeList
    {
        public object? First;
    }
}

/// <summary>An access parked as a task's continuation: the port method awaiting it is behind it.</summary>
internal interface IParkedAccess
{
    object? Awaiter { get; }
}
