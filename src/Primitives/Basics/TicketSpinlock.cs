// Port of the generic ticket spinlock, include/asm-generic/spinlock.h (Linux v6.6).
//
// The C keeps both tickets in one 32-bit word (next in the high half, owner in the low half)
// so that arch_spin_lock() takes a ticket and reads the owner in one atomic_fetch_add(). The
// model has no sub-word accesses, so the two halves are two locations: the fast path's
// "ticket == (u16)val" becomes the first iteration of the owner spin, which orders the same way.
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
    public Atomic Next { get; } = new(name + ".next");
    public Atomic Owner { get; } = new(name + ".owner");

    /// <summary>arch_spin_lock()</summary>
    public async ValueTask ArchSpinLock()
    {
        int ticket;
        if (variant == TicketSpinlockVariant.NonAtomicTicket)
        {
            ticket = await AtomicRead(Next);
            await AtomicSet(Next, ticket + 1);
        }
        else
        {
            ticket = await AtomicFetchAdd(1, Next);
        }

        // atomic_cond_read_acquire(lock, ticket == (u16)VAL)
        await SmpCondLoadAcquire(Owner, owner => owner == ticket);
    }

    /// <summary>arch_spin_trylock()</summary>
    public async ValueTask<bool> ArchSpinTrylock()
    {
        var owner = await AtomicRead(Owner);
        return await AtomicCmpxchg(Next, owner, owner + 1) == owner;
    }

    /// <summary>arch_spin_unlock(): only the holder writes the owner half, so a load and a release store suffice.</summary>
    public async ValueTask ArchSpinUnlock()
    {
        var owner = await AtomicRead(Owner);
        await SmpStoreRelease(Owner, owner + 1);
    }
}
