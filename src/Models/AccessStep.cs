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
/// port code a <see cref="ValueTask{T}"/> backed by this (pooled, reusable) source; when the
/// explorer resumes the task, the access runs and then resumes the port code directly. An async
/// method per access would put a second state machine, a pool rent and a return on every step.
/// Exceptions (a failure, an abort, the step bound) are rethrown at the port's await, as an async
/// method would. A step an aborted execution leaves parked is dropped, not returned to the pool.
/// </summary>
internal sealed class AccessStep<TAccess, T> : IValueTaskSource<T>, IValueTaskSource, IParkedAccess
    where TAccess : struct, IAccess<T>
{
    /// <summary>The async state machine box awaiting this access (the port's method), for call chains.</summary>
    object? IParkedAccess.Awaiter => _state;

    /// <summary>This instantiation's free list in an <see cref="AccessPool"/>.</summary>
    private static readonly int s_pool = AccessPool.NewKind();

    private readonly Action _run;
    private AccessStep<TAccess, T>? _nextFree;
    private Execution? _ex;
    private SimTask? _task;
    private TAccess _access;
    private T _result = default!;
    private ExceptionDispatchInfo? _error;
    private bool _completed;
    private short _version;
    private Action<object?>? _continuation;
    private object? _state;

    private AccessStep() => _run = Run;

    /// <summary>The access as the task's next step; its value once the explorer has run it.</summary>
    /// <param name="writes">the location the access writes (or may: a cmpxchg), for a declared <see cref="TaskSymmetry"/></param>
    public static ValueTask<T> At(Execution ex, SimTask t, in TAccess access, Loc? writes = null)
    {
        if (ex.SynchronousDriver)
        {
            ex.PointNow(t);
            return new ValueTask<T>(access.Run(ex, t));
        }

        var step = Park(ex, t, access, writes);
        return new ValueTask<T>(step, step._version);
    }

    /// <summary>As <see cref="At"/>, for an access the port awaits without a value.</summary>
    public static ValueTask AtVoid(Execution ex, SimTask t, in TAccess access, Loc? writes = null)
    {
        if (ex.SynchronousDriver)
        {
            ex.PointNow(t);
            access.Run(ex, t);
            return ValueTask.CompletedTask;
        }

        var step = Park(ex, t, access, writes);
        return new ValueTask(step, step._version);
    }

    private static AccessStep<TAccess, T> Park(Execution ex, SimTask t, in TAccess access, Loc? writes)
    {
        ex.Point(t, null, null);
        if (writes != null && ex.Symmetry is { } symmetry)
            symmetry.GuardFirstWrite(t, writes);
        ref var free = ref ex.StepPool.Head(s_pool);
        var step = Unsafe.As<AccessStep<TAccess, T>?>(free) ?? new AccessStep<TAccess, T>();
        free = step._nextFree;
        step._nextFree = null;
        step._ex = ex;
        step._task = t;
        step._access = access;
        t.Continuation = step._run;
        return step;
    }

    /// <summary>The task's continuation: the step itself, then the port code awaiting it.</summary>
    private void Run()
    {
        try
        {
            _ex!.Resumed(_task!);
            _result = _access.Run(_ex, _task!);
        }
        catch (Exception e)
        {
            _error = ExceptionDispatchInfo.Capture(e);
        }

        _completed = true;
        var continuation = _continuation;
        _continuation = null;
        continuation?.Invoke(_state);
    }

    public ValueTaskSourceStatus GetStatus(short token) =>
        !_completed ? ValueTaskSourceStatus.Pending : _error == null ? ValueTaskSourceStatus.Succeeded : ValueTaskSourceStatus.Faulted;

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        // The explorer runs with no synchronization context and resumes tasks inline: nothing to capture.
        _continuation = continuation;
        _state = state;
    }

    public T GetResult(short token)
    {
        if (token != _version || !_completed)
            throw new InvalidOperationException("an access's result was read twice or before it ran");
        var result = _result;
        var error = _error;
        Release();
        error?.Throw();
        return result;
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    /// <summary>
    /// Back to the pool. The access's arguments stay until the next use overwrites them (clearing
    /// a struct of references costs more than the step itself); the execution does not.
    /// </summary>
    private void Release()
    {
        ref var free = ref _ex!.StepPool.Head(s_pool);
        _nextFree = Unsafe.As<AccessStep<TAccess, T>?>(free);
        free = this;
        _ex = null;
        _task = null;
        _error = null;
        _completed = false;
        _state = null;
        _version++;
    }
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
