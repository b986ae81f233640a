using Kmc.Models;
using Kmc.Primitives.Closures;

namespace Kmc.Checks.Closures;

/// <summary>
/// A closure_waitlist's structural invariant, checked after every step that writes the list's
/// head, a listed closure's llist link or its remaining, and after every free: a closure on the
/// waitlist is live. closure_wait() takes a ref with CLOSURE_WAITING before llist_add() links
/// the closure, and __closure_wake_up() drops them (closure_sub(cl, CLOSURE_WAITING + 1)) only
/// after llist_del_all() has taken the closure off; so while a closure is reachable from the
/// head, its memory is not freed (an on-stack closure's frame has not returned), CLOSURE_WAITING
/// is set and the count holds at least that ref. A closure reached twice (linked while already
/// on the list) is a cycle. The list's own end-of-run property ("waitlist empty") sees only the
/// last state; this sees a put that drops the waitlist's ref while the closure is still linked,
/// or a closure freed while linked, at the step that does it.
/// Closures are allocated while the execution runs (closure_wait_event()'s on-stack closure):
/// the check watches each closure's remaining and link when it first finds it on the list, which
/// is the llist_add() step itself (it writes the watched head).
/// Holds under every memory model: the head and the links are written by fully ordered RMWs and
/// WRITE_ONCE()s ordered before them, and remaining only by RMWs, none of which lands late.
/// </summary>
public static class ClosureWaitlistInvariant
{
    public const string Name = "closures: a closure on a waitlist is live";

    /// <summary>Declares the invariant on <paramref name="list"/>, with the remaining bits of the 2018 or the upstream port.</summary>
    public static StepInvariant Declare(Execution ex, ClosureWaitlist list, bool upstream)
    {
        var (waiting, mask) = upstream
            ? (ClosureUpstream.ClosureWaiting, ClosureUpstream.ClosureRemainingMask)
            : (Closure.ClosureWaiting, Closure.ClosureRemainingMask);
        StepInvariant? inv = null;
        inv = ex.Invariant(Name, () => Violation(inv!, list, waiting, mask)).Watch(list.List.First);
        return inv;
    }

    private static string? Violation(StepInvariant inv, ClosureWaitlist list, int waiting, int mask)
    {
        var seen = new HashSet<LlistNode>();
        for (var node = list.List.First.Peek(); node != null; node = node.Next.Peek())
        {
            if (!seen.Add(node))
                return $"{node.DisplayName} is linked twice on {list.List.First.Name} (the list has a cycle)";
            if (node.Container is not IClosure cl)
                return $"{node.DisplayName} on {list.List.First.Name} is not a closure's list node";
            inv.Watch(node.Next).Watch(cl.Remaining);
            if (cl is KObject { Allocation: { Freed: true } a })
                return $"{cl.Name} is on {list.List.First.Name} but was freed ({a.Describe()}, at {a.FreeSite} by {a.FreedBy})";
            var r = cl.Remaining.Peek();
            if ((r & waiting) == 0)
                return $"{cl.Name} is on {list.List.First.Name} without CLOSURE_WAITING ({cl.Remaining.Name} = 0x{r:x})";
            if ((r & mask) == 0)
                return $"{cl.Name} is on {list.List.First.Name} with no ref left ({cl.Remaining.Name} = 0x{r:x}): the waitlist's ref was dropped while linked";
        }

        return null;
    }
}
