// Port of the MCS lock, kernel/locking/mcs_spinlock.h (Linux v6.15): struct mcs_spinlock,
// mcs_spin_lock(), mcs_spin_unlock() and the generic arch_mcs_spin_lock_contended() /
// arch_mcs_spin_unlock_contended() that qspinlock's queue also uses.
// The algorithm is Mellor-Crummey and Scott, "Algorithms for scalable synchronization on
// shared-memory multiprocessors", ACM TOCS 9(1), 1991. Written from a reading of the kernel
// file; no code copied.
//
// Modelling notes:
// * smp_cond_load_acquire(l, VAL) in arch_mcs_spin_lock_contended() is a blocked spin (the
//   task runs again only once it may read *l != 0), as every spin-wait in the models.
// * The unlock's `while (!(next = READ_ONCE(node->next))) cpu_relax();` is a blocked spin that
//   ends on the newest node->next, as smp_cond_load_relaxed(&node->next, VAL) would.
// * mcs_spinlock::count (qspinlock's nesting count) is touched only by its own CPU with
//   __this_cpu_inc/dec, never by another CPU: it is kept outside the memory model (a plain C#
//   field), because the model gives an interrupt-like task on the same CPU its own view and so
//   could let it read a stale count, which real same-CPU program order never does.
// * A node's lifetime (NodeLifetime) runs from mcs_spin_lock() taking it until
//   mcs_spin_unlock() has released the lock or handed it down: a store by another CPU outside
//   it (a successor linking itself into a node that has gone) is a use after leave.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Qspinlock;

public enum McsVariant
{
    Fixed,

    /// <summary>
    /// Careless port: when cmpxchg_release(lock, node, NULL) fails, mcs_spin_unlock() looks at
    /// node->next once more instead of waiting for it, and returns when it is still NULL. A
    /// successor that has swapped the tail but not yet linked itself then writes prev->next into a
    /// node whose owner has left, and is never handed the lock.
    /// </summary>
    UnlockNoWaitNext,
}

/// <summary>struct mcs_spinlock</summary>
public sealed class McsSpinlockNode : INamed
{
    public McsSpinlockNode(string name)
    {
        DisplayName = name;
        Next = new Loc<McsSpinlockNode?>(name + ".next");
        Locked = new Loc<int>(name + ".locked");
        Lifetime = new NodeLifetime(name, Next, Locked);
    }

    public string DisplayName { get; }

    public Loc<McsSpinlockNode?> Next { get; }

    /// <summary>1 if lock acquired</summary>
    public Loc<int> Locked { get; }

    /// <summary>nesting count, see qspinlock.c (CPU-local: outside the memory model, see the file header)</summary>
    public int Count { get; set; }

    /// <summary>Not a kernel field: while the node is in a queue (see the file header).</summary>
    public NodeLifetime Lifetime { get; }
}

[KernelPort("kernel/locking/mcs_spinlock.h", "v6.15")]
public static class McsSpinlock
{
    /// <summary>arch_mcs_spin_lock_contended(l): smp_cond_load_acquire(l, VAL)</summary>
    public static async ValueTask ArchMcsSpinLockContended(Loc<int> l) =>
        await SmpCondLoadAcquire(l, v => v != 0);

    /// <summary>arch_mcs_spin_unlock_contended(l): smp_store_release((l), 1)</summary>
    public static ValueTask ArchMcsSpinUnlockContended(Loc<int> l) => SmpStoreRelease(l, 1);

    /// <summary>mcs_spin_lock(): the caller's node goes at the tail; spin on it until the holder passes the lock down.</summary>
    public static async ValueTask McsSpinLock(Loc<McsSpinlockNode?> lk, McsSpinlockNode node)
    {
        NodeEnter(node.Lifetime);

        // Init node
        await PlainWrite(node.Locked, 0);
        await PlainWrite(node.Next, null);

        // The full barrier of xchg() orders the init stores above before any observation of
        // node, and is the ACQUIRE of the lock when there was no predecessor.
        var prev = await Xchg(lk, node);
        if (prev == null)
        {
            // Lock acquired; node->locked is not set, nobody reads it.
            return;
        }

        await WriteOnce(prev.Next, node);

        // Wait until the lock holder passes the lock down.
        await ArchMcsSpinLockContended(node.Locked);
    }

    /// <summary>mcs_spin_unlock(): the caller passes the node it locked with.</summary>
    public static async ValueTask McsSpinUnlock(Loc<McsSpinlockNode?> lk, McsSpinlockNode node, McsVariant variant = McsVariant.Fixed)
    {
        var next = await ReadOnce(node.Next);
        if (next == null)
        {
            // Release the lock by setting it to NULL
            if (await CmpxchgRelease(lk, node, null) == node)
            {
                NodeLeave(node.Lifetime);
                return;
            }

            if (variant == McsVariant.UnlockNoWaitNext)
            {
                next = await ReadOnce(node.Next);
                if (next == null)
                {
                    NodeLeave(node.Lifetime);
                    return;
                }
            }
            else
            {
                // Wait until the next pointer is set: while (!(next = READ_ONCE(node->next))) cpu_relax();
                next = (await SmpCondLoadRelaxed(node.Next, n => n != null))!;
            }
        }

        // Pass lock to next waiter.
        await ArchMcsSpinUnlockContended(next.Locked);
        NodeLeave(node.Lifetime);
    }
}
