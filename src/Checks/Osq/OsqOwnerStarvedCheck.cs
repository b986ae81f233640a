using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Osq;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Osq;

/// <summary>
/// Liveness of the OSQ spin when the task it waits for needs the spinner's CPU: the scenario of the
/// Qualcomm msm-3.18 comment on its rt_task() bail-out (msfjarvis/oneplus3 @014e62f6,
/// kernel/locking/osq_lock.c): "If a task spins on owner on a CPU after acquiring osq_lock while a
/// RT task spins on another CPU to acquire osq_lock, it will starve the owner from completing if
/// owner is to be scheduled on the same CPU. It will be a live lock."
///
/// M (CPU1) holds a mutex. H (CPU0) takes the OSQ and, with preemption off, spins on the owner as
/// mutex_spin_on_owner() does; the scenario assumes what the comment does, that M counts as on a
/// CPU (it is about to be scheduled on CPU1), so H waits for M's unlock. S then queues on CPU1 with
/// preemption off. Only leaving its spin lets M run: S must see need_resched(), which the
/// runqueues derive here (M wants CPU1), or rt_task(). After giving up, S takes the slow path and
/// sleeps in mutex_lock(). Progress property: every osq_lock() returns or gives up, and H's spin
/// on the owner ends.
/// </summary>
[Check]
public sealed class OsqOwnerStarvedCheck : Check
{
    public override string Name => "osq-owner-starved";

    public override string Description =>
        "OSQ spin vs a mutex owner on the spinner's CPU: H holds the OSQ and waits for M, S queues on M's CPU; S must give up (need_resched(), rt_task()) or M starves";

    public override IReadOnlyList<Type> Primitives => [typeof(OsqLockPort)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("mainline osq_lock.c, S at SCHED_NORMAL: the spin polls need_resched(), which M's wanting CPU1 sets"),
        new("arm64-monitor-wait",
            "arm64 WFE-style spin (f5bfdc8e3947 without its exit conditions re-read): smp_cond_load_relaxed() re-evaluates "
            + "need_resched() only when node->locked is written, so S never sees that M wants CPU1 and keeps it with preemption "
            + "off while H waits for M: a livelock (why arm64 must keep vcpu_is_preempted() false)",
            Expectation.Bug(FailureKind.Livelock)),
        new("rt-spinner",
            "S is SCHED_FIFO and the spin is mainline's (need_resched() || vcpu_is_preempted()): a SCHED_NORMAL M never sets "
            + "need_resched() for it, so S spins on CPU1 forever while M, which H waits for, never runs (the livelock the "
            + "msm-3.18 vendor tree fixed with rt_task(); mainline's mutex code bails out of the owner spin earlier)",
            Expectation.Bug(FailureKind.Livelock)),
        new("rt-task-bailout",
            "the msm-3.18 vendor fix: S is SCHED_FIFO and the spin also gives up on rt_task(current), so S unqueues, sleeps "
            + "in mutex_lock() and M runs",
            Expectation.Pass),
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        ex.NeedReschedFromRunqueues = true;
        var port = new OsqLockPort(2, variant.Name switch
        {
            "fixed" or "rt-spinner" => OsqVariant.Fixed,
            "arm64-monitor-wait" => OsqVariant.Arm64MonitorWait,
            "rt-task-bailout" => OsqVariant.RtTaskBailout,
            _ => throw new KmcInputException($"osq-owner-starved: unknown variant '{variant.Name}'"),
        });
        var spinnerClass = variant.Name is "rt-spinner" or "rt-task-bailout" ? SchedClass.Rt : SchedClass.Normal;
        var lk = new OptimisticSpinQueue("osq");
        var mutex = new MutexT("m");
        // Ghost: M has taken the mutex (it stays true after M's unlock).
        var ownerTookMutex = new Ghost<bool>();

        async ValueTask Spinner()
        {
            PreemptDisable();
            ProgressBegin("every osq_lock() returns or gives up");
            var queued = await port.OsqLock(lk);
            ProgressEnd();
            if (queued)
            {
                // mutex_spin_on_owner() would stop at once: the owner is not on a CPU while S holds CPU1.
                await port.OsqUnlock(lk);
            }

            PreemptEnable();
            // The slow path: sleep until the owner unlocks.
            await MutexLock(mutex);
            await MutexUnlock(mutex);
        }

        ex.Spawn("M", 1, async () =>
        {
            await MutexLock(mutex);
            ownerTookMutex.Value = true;
            Note("owns the mutex");
            await CpuRelax();
            await MutexUnlock(mutex);
        });

        ex.Spawn("H", 0, async () =>
        {
            await SpinUntil(() => ownerTookMutex.Value, "M owns the mutex (scenario set-up)");
            PreemptDisable();
            var owns = await port.OsqLock(lk);
            Assert(owns, "H found the OSQ taken, though it queues first");
            // S queues only now, behind H: spawned on M's CPU.
            ex.Spawn("S", 1, spinnerClass, Spinner);
            ProgressBegin("H's spin on the mutex owner ends");
            await SpinUntil(() => !mutex.IsLocked, "mutex m released by its owner (mutex_spin_on_owner)");
            ProgressEnd();
            await port.OsqUnlock(lk);
            PreemptEnable();
        });
    }, preemptive: true);
}
