// Port of the optimistic spin queue, kernel/locking/osq_lock.c (Linux mainline shape, v6.8+:
// osq_wait_next() takes the encoded CPU to move the tail back to, smp_wmb() between the
// node->prev and prev->next stores, atomic_try_cmpxchg_release() in the unlock fast path).
//
// Modelling notes:
// * Nodes are static per-CPU storage (PerCpu<OsqNode>), as in the C; that is what makes the
//   Step-A cmpxchg on a predecessor's node safe. Their lifetime (NodeLifetime) runs from
//   this_cpu_ptr(&osq_node) in osq_lock() to its "return false" or the end of osq_unlock():
//   a store by another CPU outside it is reported as a use after leave.
// * The hand-off spin `smp_cond_load_relaxed(&node->locked, VAL || need_resched() ||
//   vcpu_is_preempted(...))` is SpinUntilOrGiveUp: need_resched()/vcpu_is_preempted() are one
//   recorded choice to give up, which sends the task down the unqueue path; in a scenario that
//   derives need_resched() from the runqueues (osq-owner-starved), the spin gives up once
//   another task wants the CPU. vcpu_is_preempted() has no host model there: it stays false.
// * The cpu_relax() loops of Step A and osq_wait_next() are SpinLoops: an iteration without
//   effect makes the task wait until a location it read is stored to (one that re-read a
//   stale store is dropped), so a loop that can never end is a Hang rather than a run cut at
//   the step bound. Where that rule does not run (the Coyote driver, the state cache), their
//   cpu_relax() is a blocked wait for what can make the next iteration differ (SpinLoop.Relax).
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Osq;

public enum OsqVariant
{
    Fixed,

    /// <summary>
    /// Before "locking/osq: Fix ordering of node initialisation in osq_lock": the tail xchg is
    /// acquire-only, so the node's init stores may be published after the tail update. Needs a
    /// weak memory model; identical to the fixed code under sequential consistency.
    /// </summary>
    AcquireOnlyTailXchg,

    /// <summary>
    /// arm64 WFE-style spin (smp_cond_load_relaxed with a monitor): the exit condition is only
    /// re-evaluated when node->locked is written, so need_resched()/vcpu_is_preempted() are
    /// never seen. The spin waits for locked only.
    /// </summary>
    Arm64MonitorWait,

    /// <summary>Careless port: Step A undoes prev->next with READ_ONCE + WRITE_ONCE instead of cmpxchg().</summary>
    StepAPlainStore,

    /// <summary>Careless port: osq_wait_next() takes node->next with READ_ONCE + WRITE_ONCE(NULL) instead of xchg().</summary>
    WaitNextNonAtomicNext,

    /// <summary>
    /// The Qualcomm msm-3.18 vendor fix (msfjarvis/oneplus3 @014e62f6, kernel/locking/osq_lock.c):
    /// the spin also gives up on rt_task(current), because "a RT task spins on another CPU to
    /// acquire osq_lock, it will starve the owner from completing if owner is to be scheduled on
    /// the same CPU. It will be a live lock." An RT spinner never sees need_resched() for a
    /// SCHED_NORMAL task, so without it the spin keeps the CPU from the task it waits for.
    /// </summary>
    RtTaskBailout,
}

/// <summary>struct optimistic_spin_node</summary>
public sealed class OsqNode : INamed
{
    public OsqNode(int cpu)
    {
        Id = cpu;
        Next = new Loc<OsqNode?>($"osq_node[{cpu}].next");
        Prev = new Loc<OsqNode?>($"osq_node[{cpu}].prev");
        Locked = new Loc<int>($"osq_node[{cpu}].locked");
        Cpu = new Loc<int>($"osq_node[{cpu}].cpu");
        Lifetime = new NodeLifetime(DisplayName, Next, Prev, Locked, Cpu);
    }

    /// <summary>The CPU this node belongs to (not a kernel field: for names and checks).</summary>
    public int Id { get; }

    public Loc<OsqNode?> Next { get; }
    public Loc<OsqNode?> Prev { get; }
    public Loc<int> Locked { get; }

    /// <summary>Encoded CPU number (cpu + 1); 0 means "no CPU".</summary>
    public Loc<int> Cpu { get; }

    /// <summary>
    /// Ghost (not a kernel field, no behaviour): the node is in the queue, from the tail xchg that
    /// queues it until osq_lock() gives up or osq_unlock() returns. For the structural invariant.
    /// </summary>
    public Ghost<bool> Queued { get; } = new();

    /// <summary>Ghost: the owner waits in osq_lock() with node->prev set for this round (so prev means something).</summary>
    public Ghost<bool> Waiting { get; } = new();

    /// <summary>
    /// Not a kernel field: from osq_lock() taking the node until it gives up or osq_unlock()
    /// returns, other CPUs may write the node; outside it a store by another CPU is a use after leave.
    /// </summary>
    public NodeLifetime Lifetime { get; }

    public string DisplayName => $"osq_node[{Id}]";
}

/// <summary>struct optimistic_spin_queue</summary>
public sealed class OptimisticSpinQueue(string name)
{
    public Atomic Tail { get; } = new(name + ".tail", OsqLockPort.OsqUnlockedVal);
}

[KernelPort("kernel/locking/osq_lock.c", "v6.8")]
public sealed class OsqLockPort
{
    public const int OsqUnlockedVal = 0;

    private readonly OsqVariant _variant;

    /// <summary>DEFINE_PER_CPU_SHARED_ALIGNED(struct optimistic_spin_node, osq_node)</summary>
    public PerCpu<OsqNode> OsqNodes { get; }

    public OsqLockPort(int cpus, OsqVariant variant = OsqVariant.Fixed)
    {
        _variant = variant;
        OsqNodes = new PerCpu<OsqNode>(cpus, c => new OsqNode(c));
    }

    public static int EncodeCpu(int cpuNr) => cpuNr + 1;

    public static int NodeCpu(OsqNode node) => node.Cpu.Peek() - 1;

    public OsqNode DecodeCpu(int encodedCpuVal) => OsqNodes.PerCpuPtr(encodedCpuVal - 1);

    /// <summary>
    /// osq_wait_next(): get a stable node->next for unlock or unqueue, or NULL when we were the
    /// last queued and moved the tail back to <paramref name="oldCpu"/>.
    /// </summary>
    public async ValueTask<OsqNode?> OsqWaitNext(OptimisticSpinQueue lk, OsqNode node, int oldCpu)
    {
        var curr = EncodeCpu(SmpProcessorId());
        var loop = SpinLoop("osq_wait_next() loop");
        while (true)
        {
            // Nothing is carried from one iteration to the next.
            await loop.Head(0);
            if (await AtomicRead(lk.Tail) == curr &&
                await AtomicCmpxchgAcquire(lk.Tail, curr, oldCpu) == curr)
            {
                // We were the last queued and moved the tail back: prev will observe it.
                return null;
            }

            // node->next must be taken with xchg(): a successor unqueueing concurrently must
            // not complete its Step A believing we are still its prev.
            if (await ReadOnce(node.Next) != null)
            {
                OsqNode? next;
                if (_variant == OsqVariant.WaitNextNonAtomicNext)
                {
                    next = await ReadOnce(node.Next);
                    await WriteOnce(node.Next, null);
                }
                else
                {
                    next = await Xchg(node.Next, null);
                }

                if (next != null)
                    return next;
            }

            // cpu_relax(): nothing changes until the tail or node->next does.
            await loop.Relax(() => lk.Tail.Peek() == curr || node.Next.Peek() != null,
                $"osq_wait_next: {lk.Tail.Name} == {curr} || {node.Next.Name} != NULL");
        }
    }

    /// <summary>osq_lock(): true when we own the OSQ, false when we gave up (unqueued).</summary>
    public async ValueTask<bool> OsqLock(OptimisticSpinQueue lk)
    {
        var node = OsqNodes.ThisCpuPtr();
        var curr = EncodeCpu(SmpProcessorId());

        // The node is ours from here (preemption is off): the init stores below are the owner's.
        NodeEnter(node.Lifetime);
        await PlainWrite(node.Locked, 0);    // node->locked = 0
        await PlainWrite(node.Next, null);   // node->next = NULL
        await PlainWrite(node.Cpu, curr);    // node->cpu = curr

        // Both ACQUIRE (pairs with the RELEASE of an uncontended unlock) and RELEASE (publishes
        // the node fields just initialised) are needed here.
        var old = _variant == OsqVariant.AcquireOnlyTailXchg
            ? await AtomicXchgAcquire(lk.Tail, curr)
            : await AtomicXchg(lk.Tail, curr);
        node.Queued.Value = true;
        if (old == OsqUnlockedVal)
            return true;

        var prev = DependentPointer(DecodeCpu(old));
        await PlainWrite(node.Prev, prev);   // node->prev = prev
        node.Waiting.Value = true;
        await SmpWmb();
        await WriteOnce(prev.Next, node);

        // Spin on node->locked; need_resched() or vcpu_is_preempted(node_cpu(node->prev))
        // makes us give up and unqueue.
        if (_variant == OsqVariant.Arm64MonitorWait)
        {
            await SmpCondLoadRelaxed(node.Locked, v => v != 0);
            return Acquired(node);
        }

        var me = Current;
        if (await SpinUntilOrGiveUp(() => node.Locked.Peek() != 0, $"{node.Locked.Name} != 0",
                _variant == OsqVariant.RtTaskBailout ? "need_resched() || rt_task(current)" : $"need_resched() || vcpu_is_preempted({NodeCpu(prev)})",
                _variant == OsqVariant.RtTaskBailout ? () => me.SchedClass == SchedClass.Rt : null))
        {
            await SmpCondLoadRelaxed(node.Locked, v => v != 0);
            return Acquired(node);
        }

        // ---- unqueue ----
        // Step A -- stabilize prev: undo our prev->next assignment, so prev's unlock()/unqueue()
        // waits for a next pointer since the tail points to us (or later).
        var stepA = SpinLoop("osq unqueue step A loop");
        while (true)
        {
            // Carried: prev (re-read at the end of each iteration).
            await stepA.Head(prev.Id);
            if (_variant == OsqVariant.StepAPlainStore)
            {
                if (await ReadOnce(prev.Next) == node)
                {
                    await WriteOnce(prev.Next, null);
                    break;
                }
            }
            else if (await DataRace(prev.Next) == node &&     // data_race(prev->next) == node
                     await Cmpxchg(prev.Next, node, null) == node)
            {
                break;
            }

            // We can only fail the cmpxchg() racing with an unlock(), in which case we
            // should observe node->locked becoming true.
            if (await SmpLoadAcquire(node.Locked) != 0)
                return Acquired(node);

            // cpu_relax(); prev = READ_ONCE(node->prev): nothing new until prev->next, our
            // locked or our prev changes.
            var p = prev;
            await stepA.Relax(() => p.Next.Peek() == node || node.Locked.Peek() != 0 || node.Prev.Peek() != p,
                $"osq unqueue step A: {p.Next.Name} == {node.DisplayName} || {node.Locked.Name} || {node.Prev.Name} changes");
            prev = (await ReadOnce(node.Prev))!;
        }

        // Step B -- stabilize next: wait for node->next or move the tail from us back to prev.
        var prevCpu = await PlainRead(prev.Cpu);  // prev->cpu
        var nextNode = await OsqWaitNext(lk, node, prevCpu);
        if (nextNode == null)
        {
            // The tail is back at prev and our node->next was never set: nobody can reach us.
            NodeLeave(node.Lifetime);
            return Unqueued(node);
        }

        // Step C -- unlink: prev is stable (it waits for a new prev->next), next is stable
        // (our node->next is NULL, so it waits in Step A).
        await WriteOnce(nextNode.Prev, prev);
        await WriteOnce(prev.Next, nextNode);

        // Our neighbours now point at each other; next may still read our node (its Step A
        // cmpxchg(&prev->next, node, NULL) on a stale prev fails), but nothing writes it.
        NodeLeave(node.Lifetime);
        return Unqueued(node);
    }

    /// <summary>Ghosts only: osq_lock() returns true; the node stays queued until osq_unlock().</summary>
    private static bool Acquired(OsqNode node)
    {
        node.Waiting.Value = false;
        return true;
    }

    /// <summary>Ghosts only: osq_lock() gave up and the node has left the queue.</summary>
    private static bool Unqueued(OsqNode node)
    {
        node.Waiting.Value = false;
        node.Queued.Value = false;
        return false;
    }

    /// <summary>osq_unlock()</summary>
    public async ValueTask OsqUnlock(OptimisticSpinQueue lk)
    {
        var curr = EncodeCpu(SmpProcessorId());

        var node = OsqNodes.ThisCpuPtr();

        // Fast path for the uncontended case.
        if (await AtomicCmpxchgRelease(lk.Tail, curr, OsqUnlockedVal) == curr)
        {
            node.Queued.Value = false;   // ghost
            NodeLeave(node.Lifetime);
            return;
        }

        // Second most likely case.
        var next = await Xchg(node.Next, null);
        if (next != null)
        {
            await WriteOnce(next.Locked, 1);
            node.Queued.Value = false;   // ghost
            NodeLeave(node.Lifetime);
            return;
        }

        next = await OsqWaitNext(lk, node, OsqUnlockedVal);
        if (next != null)
            await WriteOnce(next.Locked, 1);
        node.Queued.Value = false;   // ghost
        NodeLeave(node.Lifetime);
    }
}
