using Kmc.Models;
using Kmc.Primitives.Osq;

namespace Kmc.Checks.Osq;

/// <summary>
/// The OSQ's structural invariant, checked after every step that writes the tail, a node's
/// next/prev/locked or the port's queue ghosts: a node that has left the queue (its osq_lock()
/// gave up, or its osq_unlock() returned; a CPU outside the OSQ) is named by neither the tail,
/// nor a queued node's next, nor the prev of a queued node still waiting in osq_lock(). A node
/// handed the OSQ (node->locked set) no longer reads its prev, which may name the previous owner
/// that has gone: that prev is stale by design and not checked. The holder's node stays queued
/// until osq_unlock() (the tail may name it).
/// Declared under sequential consistency only: the queue ghosts change at once, while under tso
/// or lkmm the store that hands the OSQ over (next->locked = 1) may still sit in a store buffer,
/// so the check would see the handed-over node's stale prev as a live link (a false alarm tso's
/// random search finds in 5 executions). A weak-model version needs the ghosts to follow the
/// stores' visibility; under tso/lkmm the OSQ checks keep their end-of-operation properties only.
/// </summary>
public static class OsqQueueInvariant
{
    public const string Name = "osq: no reference to a node that left the queue";

    public static StepInvariant? Declare(Execution ex, OsqLockPort osq, OptimisticSpinQueue lk, int cpus)
    {
        if (ex.Memory is not ScMemory)
            return null;
        var nodes = Enumerable.Range(0, cpus).Select(osq.OsqNodes.PerCpuPtr).ToArray();
        var inv = ex.Invariant(Name, () => Violation(osq, lk, nodes)).Watch(lk.Tail);
        foreach (var n in nodes)
            inv.Watch(n.Next).Watch(n.Prev).Watch(n.Locked).Watch(n.Queued).Watch(n.Waiting);
        return inv;
    }

    private static string? Violation(OsqLockPort osq, OptimisticSpinQueue lk, OsqNode[] nodes)
    {
        var tail = lk.Tail.Peek();
        if (tail != OsqLockPort.OsqUnlockedVal && !osq.DecodeCpu(tail).Queued.Value)
            return $"{lk.Tail.Name} == {tail} names {osq.DecodeCpu(tail).DisplayName}, which has left the queue";
        foreach (var n in nodes)
        {
            if (!n.Queued.Value)
                continue;
            if (n.Next.Peek() is { } next && !next.Queued.Value)
                return $"queued {n.Next.Name} == {next.DisplayName}, which has left the queue";
            if (n.Waiting.Value && n.Locked.Peek() == 0 && n.Prev.Peek() is { } prev && !prev.Queued.Value)
                return $"waiting {n.Prev.Name} == {prev.DisplayName}, which has left the queue";
        }

        return null;
    }
}
