// Port of <the kernel file you follow> (Linux <version>): replace this test-and-set spinlock with
// your primitive, line by line, keeping the kernel's names in C# casing.
//
// Each historical bug (or careless port) is a variant that differs from the fixed code only
// where the real fix did.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace MyLock;

public enum MyLockVariant
{
    Fixed,

    /// <summary>The lock word is tested with atomic_read() and set with atomic_set(): two CPUs both see it free.</summary>
    TestThenSet,
}

[KernelPort("include/asm-generic/spinlock.h (a test-and-set lock, for the template)", "v6.6")]
public sealed class MyLock(string name, MyLockVariant variant = MyLockVariant.Fixed)
{
    public Atomic Locked { get; } = new(name + ".locked");

    /// <summary>arch_spin_lock()</summary>
    public async ValueTask Lock()
    {
        // A spin-wait is written as smp_cond_load_*() (or SpinUntil): the model blocks the task
        // until the condition holds, so an exhaustive search does not unroll the spin forever.
        if (variant == MyLockVariant.TestThenSet)
        {
            await SmpCondLoadAcquire(Locked, v => v == 0);
            await AtomicSet(Locked, 1);
            return;
        }

        // while (atomic_xchg_acquire(&lock->locked, 1)) atomic_cond_read_relaxed(&lock->locked, !VAL);
        while (await XchgAcquire(Locked, 1) != 0)
            await SmpCondLoadRelaxed(Locked, v => v == 0);
    }

    /// <summary>arch_spin_unlock(): smp_store_release(&amp;lock->locked, 0)</summary>
    public ValueTask Unlock() => SmpStoreRelease(Locked, 0);
}
