using Kmc.Models;

namespace Kmc.Primitives.Closures;

/// <summary>
/// What the closure checks use of struct closure, so one scenario runs against every ported
/// version (the 2018 series in Closure, the current form in ClosureUpstream). Only the API of
/// include/linux/closure.h; each version keeps its own internals and orderings.
/// </summary>
public interface IClosure
{
    string Name { get; }

    /// <summary>cl->remaining</summary>
    Atomic Remaining { get; }

    /// <summary>cl->fn (aliases cl->work.func)</summary>
    Loc<ClosureFn?> Fn { get; }

    /// <summary>WORK_STRUCT_PENDING_BIT of cl->work</summary>
    Loc<bool> WorkPending { get; }

    ValueTask<int> ClosureNrRemaining();
    ValueTask ClosureInit(IClosure? parent);
    ValueTask ClosureInitStack();
    ValueTask ClosureGet();
    ValueTask ClosurePut();
    ValueTask ClosureSync();
    ValueTask ContinueAt(ClosureFn? fn, ClosureWorkqueue? wq);
    ValueTask ClosureReturnWithDestructor(ClosureFn destructor);
    ValueTask ClosureCall(ClosureFn fn, ClosureWorkqueue? wq, IClosure? parent);

    /// <summary>closure_wait(list, cl): puts this closure on the waitlist with a ref held; false when it is on one already.</summary>
    ValueTask<bool> ClosureWait(ClosureWaitlist list);

    /// <summary>closure_wake_up(list) of this closure's version (the list, not this closure, is woken).</summary>
    ValueTask ClosureWakeUp(ClosureWaitlist list);
}
