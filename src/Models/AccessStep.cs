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
/// An access that can tell whether a step's slot already holds exactly it (the same objects by
/// reference, the same values bit for bit), so that reusing the step stores no references: every
/// reference stored into the heap costs a GC write barrier, and the step loop pays for each.
/// </summary>
internal interface ISameAccess<TSelf>
{
    bool IsSame(in TSelf other);
}

/// <summary>The comparisons behind <see cref="ISameAccess{TSelf}.IsSame"/>: identity, never equality.</summary>
internal static class Same
{
    /// <summary>The same location at the same call site (compared by reference: caller-info strings are literals).</summary>
    public static bool Site(Loc x, string op, string fn, string file, Loc ox, string oop, string ofn, string ofile) =>
        ReferenceEquals(x, ox) && ReferenceEquals(op, oop) && ReferenceEquals(fn, ofn) && ReferenceEquals(file, ofile);

    /// <summary>
    /// The same value: the same bits for a value without references, the same object for a
    /// reference (a pointer's identity is what matters, not its Equals). Other structs never
    /// count as the same, so they are always stored.
    /// </summary>
    public static bool Value<T>(T a, T b)
    {
        if (!RuntimeHelpers.IsReferenceOrContainsReferences<T>())
        {
            if (Unsafe.SizeOf<T>() == sizeof(int))
                return Unsafe.As<T, int>(ref a) == Unsafe.As<T, int>(ref b);
            if (Unsafe.SizeOf<T>() == sizeof(long))
                return Unsafe.As<T, long>(ref a) == Unsafe.As<T, long>(ref b);
            if (Unsafe.SizeOf<T>() == sizeof(byte))
                return Unsafe.As<T, byte>(ref a) == Unsafe.As<T, byte>(ref b);
            return false;
        }

        return !typeof(T).IsValueType && ReferenceEquals(a, b);
    }
}

/// <summary>
/// A memory access as one scheduling point with no async state machine of its own. Under the
/// native explorer the access parks itself as the task's continuation and hands the awaiting
/// port code a <see cref="MemAccess{T}"/> backed by this (pooled, reusable) step; when the explorer
/// resumes the task, the access runs and then resumes the port code directly. An async method
/// per access would put a second state machine, a pool rent and a return on every step.
/// Exceptions (a failure, an abort, the step bound) are rethrown at the port's await, as an async
/// method would.
/// Each task keeps one step per instantiation (<see cref="SimTask.StepSlot"/>) and parks it again
/// and again: a task parks one access at a time, and its next access mostly repeats the last one's
/// call site and location, so reusing the step mostly stores no reference at all (a shared free
/// list stored three per step, and the access's fields four more, each with a GC write barrier).
/// A step an aborted execution leaves parked is freed when its task is reset (<see cref="Abandon"/>).
/// </summary>
internal sealed class AccessStep<TAccess, T> : ParkedStep<T>
    where TAccess : struct, IAccess<T>, ISameAccess<TAccess>
{
    /// <summary>This instantiation's slot number in every task's <see cref="SimTask.StepSlot"/>.</summary>
    private static readonly int s_kind = SimTask.NewStepKind();

    private readonly Action _run;
    private TAccess _access;

    private AccessStep() => _run = Run;

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
        ref var slot = ref t.StepSlot(s_kind);
        var step = Unsafe.As<AccessStep<TAccess, T>?>(slot);
        if (step == null || step.InUse)
        {
            // The first access of this kind, or a second one the port started before awaiting the first.
            step = new AccessStep<TAccess, T>();
            slot = step;
        }

        step.InUse = true;
        // Compared first: the step mostly comes back to the same (recycled) execution and task, for the same access.
        if (step.Ex != ex)
            step.Ex = ex;
        if (step.OnTask != t)
            step.OnTask = t;
        if (!step._access.IsSame(access))
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
internal abstract class ParkedStep<T> : IValueTaskSource<T>, IValueTaskSource, IParkedAccess
{
    protected Execution? Ex;
    protected SimTask? OnTask;
    protected T Result = default!;
    protected ExceptionDispatchInfo? Error;

    /// <summary>Parked, or run and not yet read: the task cannot park this step again.</summary>
    internal bool InUse;
    private bool _completed;
    internal short Version;

    /// <summary>
    /// The awaiting state machine's resume action. It stays after the resume (<see cref="_resumes"/>
    /// says whether it is current): the same port method awaiting its next access hands over the
    /// same action, which is then not stored again.
    /// </summary>
    private Action? _resume;
    private bool _resumes;
    private Action<object?>? _continuation;
    private object? _state;

    /// <summary>The async state machine box awaiting this access (the port's method), for call chains.</summary>
    object? IParkedAccess.Awaiter => _resumes ? _resume!.Target : _state;

    /// <summary>Marks the access done and resumes the code awaiting it.</summary>
    protected void Complete()
    {
        _completed = true;
        if (_resumes)
        {
            _resumes = false;
            _resume!();
            return;
        }

        var continuation = _continuation;
        _continuation = null;
        continuation?.Invoke(_state);
    }

    /// <summary>The awaiting state machine's resume action (a <see cref="MemAccess{T}"/> await).</summary>
    internal void OnCompleted(Action resume)
    {
        if (_resume != resume)
            _resume = resume;
        _resumes = true;
    }

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
    /// Free for the task's next access of this kind. The access's arguments, execution and task
    /// stay until the next use overwrites them (a search recycles its execution and tasks, so the
    /// next use mostly finds them there).
    /// </summary>
    private void Release()
    {
        InUse = false;
        Error = null;
        _completed = false;
        _state = null;
        Version++;
    }

    /// <summary>Frees a step an aborted execution left parked: its awaiting code is never resumed.</summary>
    void IParkedAccess.Abandon()
    {
        _resumes = false;
        _continuation = null;
        Release();
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

/// <summary>An access parked as a task's continuation: the port method awaiting it is behind it.</summary>
internal interface IParkedAccess
{
    object? Awaiter { get; }

    void Abandon();
}
