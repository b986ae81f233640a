// Port of the local/global locks, kernel/locking/lglock.c (the function-based version of
// Linux v4.x, as brought back by "locking: bring back lglocks", 2018).
//
// An lglock is one raw arch_spinlock_t per possible CPU. "Local" acquisitions (lg_local_lock,
// lg_local_lock_cpu, lg_double_lock) take one or two of them; the global lock takes all of
// them in ascending CPU order. lockdep sees the lglock as one rwlock-like class (local =
// shared, global = exclusive); the model has no lockdep, so those calls are only comments.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Lglock;

public enum LglockVariant
{
    Fixed,

    /// <summary>lg_global_lock() without preempt_disable() (and lg_global_unlock() without the matching preempt_enable()).</summary>
    GlobalNoPreemptDisable,

    /// <summary>lg_double_lock() without "if (cpu2 < cpu1) swap(cpu1, cpu2)": the two locks are taken in caller order.</summary>
    DoubleNoSwap,
}

/// <summary>struct lglock</summary>
[KernelPort("kernel/locking/lglock.c", "v4.7")]
public sealed class Lglock
{
    private readonly LglockVariant _variant;

    /// <summary>DEFINE_LGLOCK(name): the per-CPU arch spinlocks, all unlocked.</summary>
    public Lglock(string name, int cpus, LglockVariant variant = LglockVariant.Fixed)
    {
        _variant = variant;
        Name = name;
        Lock = new PerCpu<ArchSpinlock>(cpus, c => new ArchSpinlock($"{name}.lock[{c}]"));
    }

    public string Name { get; private set; }

    /// <summary>arch_spinlock_t __percpu *lock</summary>
    public PerCpu<ArchSpinlock> Lock { get; }

    /// <summary>lg_lock_init(lg, name): only sets up the lockdep map (LOCKDEP_INIT_MAP); here, the name.</summary>
    public void LgLockInit(string name) => Name = name;

    /// <summary>lg_local_lock()</summary>
    public async ValueTask LgLocalLock()
    {
        PreemptDisable();
        // lock_acquire_shared(&lg->lock_dep_map, 0, 0, NULL, _RET_IP_);
        await ArchSpinLock(Lock.ThisCpuPtr());
    }

    /// <summary>lg_local_unlock()</summary>
    public async ValueTask LgLocalUnlock()
    {
        // lock_release(&lg->lock_dep_map, 1, _RET_IP_);
        await ArchSpinUnlock(Lock.ThisCpuPtr());
        PreemptEnable();
    }

    /// <summary>lg_local_lock_cpu()</summary>
    public async ValueTask LgLocalLockCpu(int cpu)
    {
        PreemptDisable();
        // lock_acquire_shared(...)
        await ArchSpinLock(Lock.PerCpuPtr(cpu));
    }

    /// <summary>lg_local_unlock_cpu()</summary>
    public async ValueTask LgLocalUnlockCpu(int cpu)
    {
        // lock_release(...)
        await ArchSpinUnlock(Lock.PerCpuPtr(cpu));
        PreemptEnable();
    }

    /// <summary>lg_double_lock(): lock in cpu order, just like lg_global_lock().</summary>
    public async ValueTask LgDoubleLock(int cpu1, int cpu2)
    {
        BugOn(cpu1 == cpu2, "cpu1 == cpu2");

        if (_variant != LglockVariant.DoubleNoSwap && cpu2 < cpu1)
            (cpu1, cpu2) = (cpu2, cpu1);

        PreemptDisable();
        // lock_acquire_shared(...) -- once for both
        await ArchSpinLock(Lock.PerCpuPtr(cpu1));
        await ArchSpinLock(Lock.PerCpuPtr(cpu2));
    }

    /// <summary>lg_double_unlock()</summary>
    public async ValueTask LgDoubleUnlock(int cpu1, int cpu2)
    {
        // lock_release(...)
        await ArchSpinUnlock(Lock.PerCpuPtr(cpu1));
        await ArchSpinUnlock(Lock.PerCpuPtr(cpu2));
        PreemptEnable();
    }

    /// <summary>lg_global_lock(): every possible CPU's lock, in ascending order.</summary>
    public async ValueTask LgGlobalLock()
    {
        if (_variant != LglockVariant.GlobalNoPreemptDisable)
            PreemptDisable();
        // lock_acquire_exclusive(...)
        for (var i = 0; i < Lock.Count; i++)
            await ArchSpinLock(Lock.PerCpuPtr(i));
    }

    /// <summary>lg_global_unlock()</summary>
    public async ValueTask LgGlobalUnlock()
    {
        // lock_release(...)
        for (var i = 0; i < Lock.Count; i++)
            await ArchSpinUnlock(Lock.PerCpuPtr(i));
        if (_variant != LglockVariant.GlobalNoPreemptDisable)
            PreemptEnable();
    }
}
