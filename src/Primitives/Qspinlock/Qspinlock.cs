// Port of the queued spinlock (native, paravirt left out): kernel/locking/qspinlock.c,
// kernel/locking/qspinlock.h (encode_tail, decode_tail, grab_mcs_node, clear_pending,
// clear_pending_set_locked, xchg_tail, queued_fetch_set_pending_acquire, set_locked) and
// include/asm-generic/qspinlock.h (queued_spin_lock, queued_spin_trylock, queued_spin_unlock),
// Linux v6.15; the queue is kernel/locking/mcs_spinlock.h (McsSpinlock.cs). Written from a
// reading of those files; no code copied.
// Algorithm: an MCS queue (Mellor-Crummey and Scott, ACM TOCS 1991) squeezed into one 32-bit
// word with a pending bit (Long and Zijlstra, "qspinlock", merged in v4.2).
//
// Modelling notes:
// * The lock word is one atomic_t, val. The C also accesses its parts: the locked byte, the
//   pending byte and the tail half-word (_Q_PENDING_BITS == 8), or the locked_pending
//   half-word. The memory models have no mixed-size accesses (nor has the LKMM), so a store
//   to a part is Kernel.SubwordStore: an atomic RMW of the whole word that changes only that
//   part, with the ordering of the C store (WRITE_ONCE: relaxed; smp_store_release: release;
//   xchg_relaxed on the tail: relaxed). Reading a part is reading the word and masking.
//   Exact for the values the word takes; stronger than a byte store only in that it cannot
//   land late in coherence order.
// * pv_enabled() is false and virt_spin_lock() returns false (bare metal): pv_* hooks are no-ops.
// * atomic_cond_read_acquire(&lock->val, c) and smp_cond_load_*(p, c) are blocked spins (the task runs
//   again once c holds on a value it may read: under lkmm also an older store). The pending hand-over wait
//   atomic_cond_read_relaxed(.., VAL != _Q_PENDING_VAL || !cnt--) with _Q_PENDING_LOOPS == 1 is
//   bounded (at most two reads), so it is written out as those reads.
// * The nesting count qnodes[0].mcs.count is CPU-local and outside the memory model (see
//   McsSpinlock.cs); the node an interrupt takes on the same CPU is qnodes[1].
// * A qnode's lifetime (NodeLifetime) runs from grab_mcs_node() to "release:" (the trylock
//   after init, the uncontended claim that clears the tail, or the hand-off to next): a store
//   by another CPU outside it is a use after leave.
// * prefetchw() is left out (it orders nothing); of the lockevent counters only lock_use_node2..4
//   is kept, as ghost state (LockUseNode), so that a test can tell a scenario nests.
using Kmc.Models;
using static Kmc.Models.Kernel;
using static Kmc.Primitives.Qspinlock.McsSpinlock;

namespace Kmc.Primitives.Qspinlock;

/// <summary>The lock word layout, chosen by CONFIG_NR_CPUS.</summary>
public enum QspinlockConfig
{
    /// <summary>_Q_PENDING_BITS == 8 (NR_CPUS &lt; 16K: x86, arm64): byte and half-word stores, xchg_relaxed() of the tail half-word.</summary>
    PendingBits8,

    /// <summary>_Q_PENDING_BITS == 1 (NR_CPUS &gt;= 16K): 32-bit atomics only; xchg_tail() is an atomic_try_cmpxchg_relaxed() loop.</summary>
    PendingBits1,
}

/// <summary>struct qspinlock: atomic_t val (locked byte, pending, tail).</summary>
public sealed class QSpinlock(string name, QspinlockConfig config = QspinlockConfig.PendingBits8)
{
    public string Name { get; } = name;

    public Atomic Val { get; } = new(name + ".val") { Layout = ValLayout(config) };

    /// <summary>The fields of val under <paramref name="config"/> (include/asm-generic/qspinlock_types.h), for reports.</summary>
    public static BitLayout ValLayout(QspinlockConfig config)
    {
        var pendingBits = config == QspinlockConfig.PendingBits8 ? 8 : 1;
        var tailIdx = QspinlockPort.QPendingOffset + pendingBits;
        return new BitLayout().Field("locked", QspinlockPort.QLockedMask)
            .Field("pending", ((1 << pendingBits) - 1) << QspinlockPort.QPendingOffset)
            .Field("tail_idx", 3 << tailIdx)
            .Field("tail_cpu+1", ~((1 << (tailIdx + 2)) - 1));
    }
}

[KernelPort("kernel/locking/qspinlock.c", "v6.15")]
public sealed class QspinlockPort
{
    /// <summary>_Q_MAX_NODES: task, softirq, hardirq, nmi.</summary>
    public const int QMaxNodes = 4;

    public const int QLockedOffset = 0;
    public const int QLockedMask = 0xff;
    public const int QLockedVal = 1 << QLockedOffset;
    public const int QPendingOffset = 8;

    private const int QTailIdxBits = 2;

    public QspinlockConfig Config { get; }

    public int QPendingMask { get; }
    public int QPendingVal => 1 << QPendingOffset;
    public int QLockedPendingMask => QLockedMask | QPendingMask;
    public int QTailOffset { get; }
    public int QTailIdxOffset => QTailOffset;
    public int QTailIdxMask => ((1 << QTailIdxBits) - 1) << QTailIdxOffset;
    public int QTailCpuOffset => QTailIdxOffset + QTailIdxBits;
    public int QTailMask => ~((1 << QTailOffset) - 1);

    /// <summary>lockevent lock_use_node2..4: how often qnodes[idx] was used, per idx (ghost state, not kernel memory).</summary>
    public int[] LockUseNode { get; } = new int[QMaxNodes];

    /// <summary>static DEFINE_PER_CPU_ALIGNED(struct qnode, qnodes[_Q_MAX_NODES])</summary>
    public PerCpu<McsSpinlockNode[]> Qnodes { get; }

    public QspinlockPort(int cpus, QspinlockConfig config = QspinlockConfig.PendingBits8)
    {
        Config = config;
        var pendingBits = config == QspinlockConfig.PendingBits8 ? 8 : 1;
        QPendingMask = ((1 << pendingBits) - 1) << QPendingOffset;
        QTailOffset = QPendingOffset + pendingBits;
        Qnodes = new PerCpu<McsSpinlockNode[]>(cpus,
            c => Enumerable.Range(0, QMaxNodes).Select(i => new McsSpinlockNode($"qnodes[{i}]@CPU{c}")).ToArray());
    }

    // ---- qspinlock.h ---------------------------------------------------------------------

    /// <summary>encode_tail(): cpu + 1, so that no tail and the tail at 0:0 differ.</summary>
    public int EncodeTail(int cpu, int idx) => ((cpu + 1) << QTailCpuOffset) | (idx << QTailIdxOffset);

    /// <summary>decode_tail()</summary>
    public McsSpinlockNode DecodeTail(int tail)
    {
        var cpu = (int)((uint)tail >> QTailCpuOffset) - 1;
        var idx = (tail & QTailIdxMask) >> QTailIdxOffset;
        return Qnodes.PerCpuPtr(cpu)[idx];
    }

    /// <summary>grab_mcs_node(base, idx): base is this CPU's qnodes[0].</summary>
    private McsSpinlockNode GrabMcsNode(int idx) => Qnodes.ThisCpuPtr()[idx];

    /// <summary>clear_pending(): *,1,* -> *,0,*</summary>
    private async ValueTask ClearPending(QSpinlock lk)
    {
        if (Config == QspinlockConfig.PendingBits8)
            await SubwordStore(lk.Val, "pending", QPendingMask, 0, MemOrder.Once, "WRITE_ONCE");
        else
            await AtomicAndnot(QPendingVal, lk.Val);
    }

    /// <summary>clear_pending_set_locked(): *,1,0 -> *,0,1 (with the byte store, lock stealing is not allowed)</summary>
    private async ValueTask ClearPendingSetLocked(QSpinlock lk)
    {
        if (Config == QspinlockConfig.PendingBits8)
            await SubwordStore(lk.Val, "locked_pending", QLockedPendingMask, QLockedVal, MemOrder.Once, "WRITE_ONCE");
        else
            await AtomicAdd(-QPendingVal + QLockedVal, lk.Val);
    }

    /// <summary>
    /// xchg_tail(): p,*,* -> n,*,*; returns the previous tail code word. Relaxed: the caller's
    /// smp_wmb() orders the node's initialisation before the tail is published.
    /// </summary>
    private async ValueTask<int> XchgTail(QSpinlock lk, int tail)
    {
        if (Config == QspinlockConfig.PendingBits8)
            return await SubwordStore(lk.Val, "tail", QTailMask, tail, MemOrder.Relaxed, "xchg_relaxed") & QTailMask;

        var old = await AtomicRead(lk.Val);
        for (;;)
        {
            var @new = (old & QLockedPendingMask) | tail;
            var (ok, found) = await AtomicTryCmpxchgRelaxed(lk.Val, old, @new);
            if (ok)
                return old;
            old = found;
        }
    }

    /// <summary>queued_fetch_set_pending_acquire(): *,*,* -> *,1,*; returns the previous lock value.</summary>
    private ValueTask<int> QueuedFetchSetPendingAcquire(QSpinlock lk) => AtomicFetchOrAcquire(QPendingVal, lk.Val);

    /// <summary>set_locked(): *,*,0 -> *,0,1</summary>
    private async ValueTask SetLocked(QSpinlock lk) =>
        await SubwordStore(lk.Val, "locked", QLockedMask, QLockedVal, MemOrder.Once, "WRITE_ONCE");

    // ---- asm-generic/qspinlock.h ---------------------------------------------------------

    /// <summary>queued_spin_trylock()</summary>
    public async ValueTask<bool> QueuedSpinTrylock(QSpinlock lk)
    {
        var val = await AtomicRead(lk.Val);
        if (val != 0)
            return false;
        return (await AtomicTryCmpxchgAcquire(lk.Val, val, QLockedVal)).Ok;
    }

    /// <summary>queued_spin_lock()</summary>
    public async ValueTask QueuedSpinLock(QSpinlock lk)
    {
        var (ok, val) = await AtomicTryCmpxchgAcquire(lk.Val, 0, QLockedVal);
        if (ok)
            return;
        await QueuedSpinLockSlowpath(lk, val);
    }

    /// <summary>queued_spin_unlock(): smp_store_release(&amp;lock-&gt;locked, 0)</summary>
    public async ValueTask QueuedSpinUnlock(QSpinlock lk) =>
        await SubwordStore(lk.Val, "locked", QLockedMask, 0, MemOrder.Release, "smp_store_release");

    // ---- qspinlock.c -----------------------------------------------------------------------

    /// <summary>
    /// queued_spin_lock_slowpath(): (queue tail, pending bit, lock value)
    /// <code>
    ///              fast     :    slow                                  :    unlock
    /// uncontended  (0,0,0) -:--> (0,0,1) ------------------------------:--> (*,*,0)
    /// pending               :    (0,1,1) +--> (0,1,0)                  :
    /// uncontended queue     :    (n,x,y) +--> (n,0,0) --> (0,0,1)      :
    /// contended queue       :    (*,x,y) +--> (*,0,0) ---> (*,0,1)     :
    /// </code>
    /// </summary>
    public async ValueTask QueuedSpinLockSlowpath(QSpinlock lk, int val)
    {
        if (!await TryPending(lk, val))
            await Queue(lk);
    }

    /// <summary>The pending-bit part of the slowpath: true when it took the lock, false for "goto queue".</summary>
    private async ValueTask<bool> TryPending(QSpinlock lk, int val)
    {
        // Wait for in-progress pending->locked hand-overs with a bounded number of spins
        // (_Q_PENDING_LOOPS == 1: atomic_cond_read_relaxed reads at most twice). 0,1,0 -> 0,0,1
        if (val == QPendingVal)
        {
            val = await AtomicRead(lk.Val);
            if (val == QPendingVal)
                val = await AtomicRead(lk.Val);
        }

        // If we observe any contention; queue.
        if ((val & ~QLockedMask) != 0)
            return false;

        // trylock || pending: 0,0,0 -> 0,0,1 ; 0,0,1 -> 0,1,1
        val = await QueuedFetchSetPendingAcquire(lk);

        // If we observe any contention; undo and queue.
        if ((val & ~QLockedMask) != 0)
        {
            // Undo PENDING if we set it.
            if ((val & QPendingMask) == 0)
                await ClearPending(lk);
            return false;
        }

        // We're pending, wait for the owner to go away: 0,1,1 -> 0,1,0. A load-acquire, to
        // match the store-release that clears the locked bit (lock sequentiality): not every
        // clear_pending_set_locked() implies a full barrier.
        if ((val & QLockedMask) != 0)
            await SmpCondLoadAcquire(lk.Val, v => (v & QLockedMask) == 0); // smp_cond_load_acquire(&lock->locked, !VAL)

        // take ownership and clear the pending bit: 0,1,0 -> 0,0,1
        await ClearPendingSetLocked(lk);
        return true;
    }

    /// <summary>The MCS queue part of the slowpath (from "queue:" to "release:").</summary>
    private async ValueTask Queue(QSpinlock lk)
    {
        var node0 = Qnodes.ThisCpuPtr()[0];
        var idx = node0.Count++;
        var tail = EncodeTail(SmpProcessorId(), idx);
        try
        {
            // More nesting than nodes (nested NMIs): spin on the lock word without a node.
            if (idx >= QMaxNodes)
            {
                while (!await QueuedSpinTrylock(lk))
                    await SpinUntil(() => lk.Val.Peek() == 0, $"{lk.Val.Name} == 0 (no MCS node left)");
                return;
            }

            var node = GrabMcsNode(idx);
            NodeEnter(node.Lifetime);
            LockUseNode[idx]++; // lockevent_cond_inc(lock_use_node2 + idx - 1, idx)

            // The count is incremented before the node is initialised: an IRQ must not overwrite
            // our assignments (a compiler barrier only).
            await Barrier();

            await PlainWrite(node.Locked, 0); // node->locked = 0
            await PlainWrite(node.Next, null); // node->next = NULL

            // We touched a (possibly) cold cacheline; attempt the trylock once more.
            if (await QueuedSpinTrylock(lk))
            {
                NodeLeave(node.Lifetime); // never published
                return;
            }

            // The node's initialisation is complete before xchg_tail() publishes the tail and
            // WRITE_ONCE(prev->next, node) links it.
            await SmpWmb();

            // Publish the updated tail: p,*,* -> n,*,*
            var old = await XchgTail(lk, tail);
            McsSpinlockNode? next = null;

            // If there was a previous node, link it and wait until reaching the head of the waitqueue.
            if ((old & QTailMask) != 0)
            {
                var prev = DependentPointer(DecodeTail(old));

                // Link @node into the waitqueue.
                await WriteOnce(prev.Next, node);

                await ArchMcsSpinLockContended(node.Locked);

                // The next pointer may have been set while we waited.
                next = await ReadOnce(node.Next);
            }

            // We're at the head of the waitqueue: wait for the owner and pending to go away,
            // *,x,y -> *,0,0. A load-acquire, to match the store-release that clears the locked
            // bit: set_locked() below is not a full barrier.
            var val = await SmpCondLoadAcquire(lk.Val, v => (v & QLockedPendingMask) == 0); // atomic_cond_read_acquire

            // claim the lock: n,0,0 -> 0,0,1 (uncontended: clear the tail too) or *,*,0 -> *,*,1.
            // Pending is 0 here, so a concurrent setting of PENDING makes the uncontended
            // transition fail.
            if ((val & QTailMask) == tail && (await AtomicTryCmpxchgRelaxed(lk.Val, val, QLockedVal)).Ok)
            {
                NodeLeave(node.Lifetime); // the tail no longer names it, and nobody linked behind it
                return; // No contention
            }

            // Either somebody is queued behind us or _Q_PENDING_VAL is set.
            await SetLocked(lk);

            // contended path; wait for next if not observed yet, release.
            next ??= await SmpCondLoadRelaxed(node.Next, n => n != null);
            await ArchMcsSpinUnlockContended(next!.Locked);
            NodeLeave(node.Lifetime);
        }
        finally
        {
            // release: the node (__this_cpu_dec(qnodes[0].mcs.count))
            node0.Count--;
        }
    }
}
