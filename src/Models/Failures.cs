namespace Kmc.Models;

/// <summary>What kind of property a failing execution broke.</summary>
public enum FailureKind
{
    /// <summary>An assertion, BUG_ON or invariant of the check.</summary>
    Assertion,
    /// <summary>No task can make progress: a deadlock, a lost wakeup or a spin that never ends.</summary>
    Hang,
    /// <summary>
    /// Livelock/starvation: a task that could run is kept off its CPU forever by a task that spins
    /// (with preemption off, or at a higher scheduling class) waiting for it, directly or not.
    /// </summary>
    Livelock,
    UseAfterFree,
    /// <summary>
    /// A NULL pointer dereference (an oops in the kernel) in port code: typically a pointer read
    /// stale or before it was published. The message names the last load that returned NULL.
    /// </summary>
    NullDereference,
    /// <summary>
    /// A data race as the LKMM defines it (KCSAN's report): two conflicting accesses from different
    /// tasks, at least one plain, not ordered by happens-before.
    /// </summary>
    DataRace,
    DoubleFree,
    Leak,
    /// <summary>Model code threw something that is not a kernel failure: a bug in kmc's own scenario code or in the port's C#.</summary>
    ModelCrash,
    /// <summary>
    /// A store or successful RMW to a field of a static queue node (per-CPU, never freed) by
    /// another task after the node's owner left the queue and before it entered again: the late
    /// store lands in the node's next use (<see cref="NodeLifetime"/>).
    /// </summary>
    UseAfterLeave,
}

/// <summary>A property violation found in one execution.</summary>
public sealed record Failure(FailureKind Kind, string Message, string? Location = null)
{
    public override string ToString() => Location is null ? $"{Kind}: {Message}" : $"{Kind}: {Message} at {Location}";
}

/// <summary>Thrown inside model code to end the execution with a failure.</summary>
public sealed class KernelFailureException : Exception
{
    public KernelFailureException(Failure failure) : base(failure.ToString()) => Failure = failure;

    public Failure Failure { get; }
}

/// <summary>Unwinds a task whose execution has already ended (failure found, or step bound hit).</summary>
internal sealed class ExecutionAbortedException : Exception
{
    public static readonly ExecutionAbortedException Instance = new();
}
