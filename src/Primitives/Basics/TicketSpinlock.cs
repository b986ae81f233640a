// Port of the generic ticket spinlock, include/asm-generic/spinlock.h (Linux v6.6).
//
// The lock is one 32-bit word as in the C: next in the high half, owner in the low half, so that
// arch_spin_lock() takes a ticket and reads the owner in one atomic_fetch_add() (the fast path's
// only ordering), and arch_spin_unlock()'s atomic_read() of the whole word conflicts with other
// CPUs' ticket increments. The unlock's smp_store_release() to the owner half-word is
// Kernel.SubwordStore (the memory models have no mixed-size accesses; see Qspinlock.cs).
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Basics;

public enum TicketSpinlockVariant
{
    Fixed,
    /// <summary>A careless port: the ticket is taken with READ_ONCE + WRITE_ONCE, not atomic_fetch_add().</summary>
    NonAtomicTicket,
}

[KernelPort("include/asm-generic/spinlock.h", "v6.6")]
public sealed class TicketSpinlock(string name, TicketSpinlockVariant variant = TicketSpinlockVariant.Fixed)
{
    private const int OwnerMask = 0xffff;
    private const int NextOne = 1 << 16;

    public static readonly BitLayout ValLayout = new BitLayout().Field("owner", OwnerMask).Field("next", ~OwnerMask);

    /// <summary>arch_spinlock_t: atomic_t val (next &lt;&lt; 16 | owner).</summary>
    public Atomic Val { get; } = new(name + ".val") { Layout = ValLayout };

    /// <summary>The owner half-word (the ticket now served).</summary>
    public int Owner => Val.Peek() & OwnerMask;

    /// <summary>The next ticket to hand out.</summary>
    public int Next => (Val.Peek() >> 16) & OwnerMask;

    private static int Ticket(int val) => (val >> 16) & OwnerMask;

    /// <summary>arch_spin_lock()</summary>
    public async ValueTask ArchSpinLock()
    {
        int val;
        if (variant == TicketSpinlockVariant.NonAtomicTicket)
        {
            val = await AtomicRead(Val);
            await AtomicSet(Val, val + NextOne);
        }
        else
        {
            val = await AtomicFetchAdd(NextOne, Val);
        }

        var ticket = Ticket(val);
        if (ticket == (val & OwnerMask))
            return;

        // atomic_cond_read_acquire() is RCpc; the C upgrades it with a full fence.
        await SmpCondLoadAcquire(Val, v => ticket == (v & OwnerMask));
        await SmpMb();
    }

    /// <summary>arch_spin_trylock(): only when no ticket is outstanding; the cmpxchg is fully ordered (RCsc).</summary>
    public async ValueTask<bool> ArchSpinTrylock()
    {
        var old = await AtomicRead(Val);
        if (Ticket(old) != (old & OwnerMask))
            return false;
        return await AtomicCmpxchg(Val, old, old + NextOne) == old;
    }

    /// <summary>arch_spin_unlock(): only the holder writes the owner half, so a load and a release store of that half suffice.</summary>
    public async ValueTask ArchSpinUnlock()
    {
        var val = await AtomicRead(Val);
        await SubwordStore(Val, "owner", OwnerMask, (val + 1) & OwnerMask, MemOrder.Release, "smp_store_release");
    }
}
