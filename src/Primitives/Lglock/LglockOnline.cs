// Port of kernel/lglock.c of Linux v3.5: the first function-based lglock (Andi Kleen's
// "brlocks/lglocks: turn into functions"), the last one with lg_global_lock_online(), which
// takes only the online CPUs' locks (br_write_lock() was this function). "lglock: remove
// online variants of lock" (Rusty Russell, v3.6) deleted it; Lglock.cs ports the later file.
//
// The online variant has to agree with CPU hotplug on which CPUs are online. Until v3.2 it
// did not: lg_global_lock_online() disabled preemption and walked cpu_online_mask, and
// lg_global_unlock_online() walked it again. preempt_disable() keeps CPUs from going down
// (stop_machine() waits for it) but not from coming up, so a CPU that came online in between
// was missed by the lock (a local locker on it runs alongside the "global" holder) and then
// unlocked by the unlock without having been locked (soft lockups in the VFS, lkml 2011/8/24).
// "VFS: Fix race between CPU hotplug and lglocks" (Srivatsa S. Bhat, v3.2-rc6) gave the lock
// its own mask of CPUs, changed only by a CPU hotplug notifier under a new spinlock cpu_lock,
// which the online global lock holds from lock to unlock. The fix was made in the macros of
// include/linux/lglock.h; v3.5 carries it over into functions unchanged, and the buggy variant
// below is the pre-fix code in the same shape.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Lglock;

public enum LglockOnlineVariant
{
    Fixed,

    /// <summary>
    /// Before "VFS: Fix race between CPU hotplug and lglocks": no cpu_lock, no cpus mask, no
    /// notifier; lg_global_lock_online() is preempt_disable() and for_each_online_cpu(), and
    /// lg_global_unlock_online() walks cpu_online_mask again, then preempt_enable().
    /// </summary>
    OnlineUnsynchronised,
}

/// <summary>struct lglock (v3.5): the per-CPU arch spinlocks, plus the CPUs the online global lock covers.</summary>
[KernelPort("kernel/lglock.c", "v3.5")]
public sealed class LglockOnline
{
    private readonly LglockOnlineVariant _variant;

    /// <summary>DEFINE_LGLOCK(name): the per-CPU locks, cpu_lock, an empty cpus mask and the notifier block.</summary>
    public LglockOnline(string name, int cpus, LglockOnlineVariant variant = LglockOnlineVariant.Fixed)
    {
        _variant = variant;
        Name = name;
        Lock = new PerCpu<ArchSpinlock>(cpus, c => new ArchSpinlock($"{name}.lock[{c}]"));
        if (variant != LglockOnlineVariant.OnlineUnsynchronised)
        {
            CpuLock = new SpinlockT($"{name}.cpu_lock");
            Cpus = new Cpumask($"{name}.cpus", cpus);
            CpuNotifier = new CpuNotifier($"{name}.cpu_notifier", LgCpuCallback);
        }
    }

    public string Name { get; }

    /// <summary>arch_spinlock_t __percpu *lock</summary>
    public PerCpu<ArchSpinlock> Lock { get; }

    /// <summary>spinlock_t cpu_lock: serialises the online global lock with the notifier (null in the buggy variant).</summary>
    public SpinlockT? CpuLock { get; }

    /// <summary>struct cpumask cpus: the CPUs lg_global_lock_online() covers (null in the buggy variant).</summary>
    public Cpumask? Cpus { get; }

    /// <summary>struct notifier_block cpu_notifier (null in the buggy variant).</summary>
    public CpuNotifier? CpuNotifier { get; }

    /// <summary>
    /// lg_lock_init(): registers the notifier, then marks the CPUs online now. The kernel brackets
    /// the marking with get_online_cpus(); kmc calls this from a scenario's setup, before any task
    /// (or hotplug) runs, where that has nothing to exclude.
    /// </summary>
    public void LgLockInit()
    {
        // LOCKDEP_INIT_MAP(&lg->lock_dep_map, name, &lg->lock_key, 0);
        if (_variant == LglockOnlineVariant.OnlineUnsynchronised)
            return;
        RegisterCpuNotifier(CpuNotifier!);
        foreach (var i in ForEachOnlineCpu())
            CpumaskSetCpu(i, Cpus!);
    }

    /// <summary>lg_local_lock()</summary>
    public async ValueTask LgLocalLock()
    {
        PreemptDisable();
        // rwlock_acquire_read(&lg->lock_dep_map, 0, 0, _RET_IP_);
        await ArchSpinLock(Lock.ThisCpuPtr());
    }

    /// <summary>lg_local_unlock()</summary>
    public async ValueTask LgLocalUnlock()
    {
        // rwlock_release(&lg->lock_dep_map, 1, _RET_IP_);
        await ArchSpinUnlock(Lock.ThisCpuPtr());
        PreemptEnable();
    }

    /// <summary>lg_global_lock_online(): the locks of the CPUs in lg->cpus (buggy: of the online CPUs).</summary>
    public async ValueTask LgGlobalLockOnline()
    {
        if (_variant == LglockOnlineVariant.OnlineUnsynchronised)
        {
            PreemptDisable();
            // rwlock_acquire(&name##_lock_dep_map, 0, 0, _RET_IP_);
            foreach (var i in ForEachOnlineCpu())
                await ArchSpinLock(Lock.PerCpuPtr(i));
            return;
        }

        await SpinLock(CpuLock!);
        // rwlock_acquire(&lg->lock_dep_map, 0, 0, _RET_IP_);
        foreach (var i in ForEachCpu(Cpus!))
            await ArchSpinLock(Lock.PerCpuPtr(i));
    }

    /// <summary>lg_global_unlock_online()</summary>
    public async ValueTask LgGlobalUnlockOnline()
    {
        // rwlock_release(&lg->lock_dep_map, 1, _RET_IP_);
        if (_variant == LglockOnlineVariant.OnlineUnsynchronised)
        {
            foreach (var i in ForEachOnlineCpu())
                await ArchSpinUnlock(Lock.PerCpuPtr(i));
            PreemptEnable();
            return;
        }

        foreach (var i in ForEachCpu(Cpus!))
            await ArchSpinUnlock(Lock.PerCpuPtr(i));
        await SpinUnlock(CpuLock!);
    }

    /// <summary>lg_cpu_callback(): a CPU joins lg->cpus before it comes up, and leaves once it is dead (or its bring-up failed).</summary>
    private async ValueTask LgCpuCallback(CpuAction action, int cpu)
    {
        switch (action)
        {
            case CpuAction.CpuUpPrepare:
                await SpinLock(CpuLock!);
                CpumaskSetCpu(cpu, Cpus!);
                await SpinUnlock(CpuLock!);
                break;
            // case CPU_UP_CANCELED: the model's bring-up cannot fail
            case CpuAction.CpuDead:
                await SpinLock(CpuLock!);
                CpumaskClearCpu(cpu, Cpus!);
                await SpinUnlock(CpuLock!);
                break;
        }
    }
}
