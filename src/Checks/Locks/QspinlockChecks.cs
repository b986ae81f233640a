using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Qspinlock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Locks;

/// <summary>
/// N CPUs x k rounds of queued_spin_lock(); critical section on plain data; queued_spin_unlock():
/// at most one holder, every holder reads what the previous one wrote, every lock returns (a
/// spin nothing can end is a Hang), the lock word is 0 and no nesting count is left at the end.
/// </summary>
public abstract class QspinlockCheckBase : Check
{
    protected abstract int Cpus { get; }
    protected abstract int Rounds { get; }

    public override IReadOnlyList<Type> Primitives => [typeof(QspinlockPort), typeof(McsSpinlock)];

    public override IReadOnlyList<Variant> Variants { get; } = QspinlockVariants.All;

    public override Scenario Build(Variant variant) => new(Cpus, ex =>
    {
        var q = new QspinlockPort(Cpus, QspinlockVariants.Config(variant.Name));
        var lk = new QSpinlock("lock", q.Config);
        var tasks = LockTorture.Spawn(ex, Cpus, Rounds, _ => q.QueuedSpinLock(lk), _ => q.QueuedSpinUnlock(lk));
        // The CPUs run the same rounds and the lock word names a CPU only by encode_tail(): any
        // renaming of them is an execution too. The lock word is where they contend first.
        ex.Symmetric(tasks, lk.Val);
        QspinlockVariants.CheckQuiescent(ex, q, lk);
    });
}

public static class QspinlockVariants
{
    public static IReadOnlyList<Variant> All { get; } =
    [
        Variant.Fixed("mainline qspinlock, _Q_PENDING_BITS == 8 (NR_CPUS < 16K: x86, arm64): byte/half-word stores and xchg_relaxed() of the tail"),
        new("pending-bits-1",
            "mainline qspinlock, _Q_PENDING_BITS == 1 (NR_CPUS >= 16K): 32-bit atomics only, xchg_tail() as an atomic_try_cmpxchg_relaxed() loop, "
            + "clear_pending() as atomic_andnot(), clear_pending_set_locked() as atomic_add()",
            Expectation.Pass),
    ];

    public static QspinlockConfig Config(string variant) => variant switch
    {
        "fixed" => QspinlockConfig.PendingBits8,
        "pending-bits-1" => QspinlockConfig.PendingBits1,
        _ => throw new KmcInputException($"qspinlock: unknown variant '{variant}'"),
    };

    /// <summary>At the end: the lock word is 0 (unlocked, no pending, no tail) and every CPU's nesting count is back to 0.</summary>
    public static void CheckQuiescent(Execution ex, QspinlockPort q, params QSpinlock[] locks) => ex.AtEnd("qspinlock quiescent", () =>
    {
        foreach (var lk in locks)
            Assert(lk.Val.Peek() == 0, $"all tasks done but {lk.Val.Name} == 0x{lk.Val.Peek():x} (expected 0: unlocked, no pending, no tail)");
        for (var c = 0; c < q.Qnodes.Count; c++)
            Assert(q.Qnodes.PerCpuPtr(c)[0].Count == 0, $"all tasks done but CPU{c}'s qnodes[0].count == {q.Qnodes.PerCpuPtr(c)[0].Count}");
    });
}

[Check]
public sealed class QspinlockCheck : QspinlockCheckBase
{
    public override string Name => "qspinlock";
    public override string Description => "queued spinlock, 2 CPUs x 2 rounds: one holder, no stale read of the protected data, no hang, lock word 0 at the end";
    protected override int Cpus => 2;
    protected override int Rounds => 2;
}

[Check]
public sealed class Qspinlock3CpuCheck : QspinlockCheckBase
{
    public override string Name => "qspinlock-3cpu";
    public override string Description => "queued spinlock, 3 CPUs x 1 round: owner, pending and a queue head";
    protected override int Cpus => 3;
    protected override int Rounds => 1;
}

[Check]
public sealed class Qspinlock3Cpu2RoundCheck : QspinlockCheckBase
{
    public override string Name => "qspinlock-3cpu-2round";
    public override string Description => "queued spinlock, 3 CPUs x 2 rounds: queue heads with successors, node reuse";
    protected override int Cpus => 3;
    protected override int Rounds => 2;
}

[Check]
public sealed class Qspinlock4CpuCheck : QspinlockCheckBase
{
    public override string Name => "qspinlock-4cpu";
    public override string Description => "queued spinlock, 4 CPUs x 1 round: owner, pending, queue head and a successor (the MCS hand-off)";
    protected override int Cpus => 4;
    protected override int Rounds => 1;
}

/// <summary>
/// Slowpath nesting: an interrupt on CPU0 queues on lock B (CPU0's qnodes[1]) while CPU0's
/// process-context task is queued on lock A (qnodes[0]). Queueing needs a holder and a pending
/// waiter ahead, so: T1 takes A then B, T2 takes A, T3 takes B, T0 takes A and the interrupt
/// on CPU0 takes B. Both locks guard plain protected data.
/// The Models have no interrupts; the interrupt is a second task pinned to CPU0 that may
/// start at any step of the process-context task (which leaves preemption on: it stands for
/// "irqs on") and then runs to its end with preemption off, so the interrupted task cannot run
/// until it returns, as with a real handler. Not modelled: that the handler's accesses are
/// program-ordered after the interrupted code (each task has its own view under lkmm); the
/// nesting count, the only state they share, is CPU-local and outside the memory model.
/// </summary>
[Check]
public sealed class QspinlockNestedCheck : Check
{
    public override string Name => "qspinlock-nested";

    public override string Description => "queued spinlock, 4 CPUs: an interrupt on CPU0 queues on lock B (qnodes[1]) while CPU0's task is queued on lock A (qnodes[0])";

    public override IReadOnlyList<Type> Primitives => [typeof(QspinlockPort), typeof(McsSpinlock)];

    public override IReadOnlyList<Variant> Variants { get; } = QspinlockVariants.All;

    public override Scenario Build(Variant variant) => Scenario(QspinlockVariants.Config(variant.Name), null);

    /// <summary>The scenario; <paramref name="port"/> sees the port of each execution (for tests of what it reaches).</summary>
    public static Scenario Scenario(QspinlockConfig config, Action<QspinlockPort>? port) => new(4, ex =>
    {
        var q = new QspinlockPort(4, config);
        port?.Invoke(q);
        var a = new QSpinlock("A", config);
        var b = new QSpinlock("B", config);
        var dataA = new ProtectedData("A");
        var dataB = new ProtectedData("B");
        async ValueTask Locked(QSpinlock lk, ProtectedData data)
        {
            await q.QueuedSpinLock(lk);
            await data.CriticalSection();
            await q.QueuedSpinUnlock(lk);
        }

        // Process context with irqs on: the interrupt below may arrive at any step.
        ex.Spawn("T0", 0, () => Locked(a, dataA));
        ex.Spawn("irq0", 0, async () =>
        {
            // hardirq: runs to completion on CPU0, the interrupted task waits.
            PreemptDisable();
            await Locked(b, dataB);
            PreemptEnable();
        });
        ex.Spawn("T1", 1, async () =>
        {
            PreemptDisable();
            await Locked(a, dataA);
            await Locked(b, dataB);
            PreemptEnable();
        });
        ex.Spawn("T2", 2, async () =>
        {
            PreemptDisable();
            await Locked(a, dataA);
            PreemptEnable();
        });
        ex.Spawn("T3", 3, async () =>
        {
            PreemptDisable();
            await Locked(b, dataB);
            PreemptEnable();
        });
        ex.AtEnd("protected data", () =>
        {
            dataA.CheckTotal(3);
            dataB.CheckTotal(3);
        });
        QspinlockVariants.CheckQuiescent(ex, q, a, b);
    });
}

/// <summary>N CPUs x k rounds of mcs_spin_lock() / mcs_spin_unlock() with a per-CPU node, around plain protected data.</summary>
public abstract class McsSpinlockCheckBase : Check
{
    protected abstract int Cpus { get; }
    protected abstract int Rounds { get; }

    public override IReadOnlyList<Type> Primitives => [typeof(McsSpinlock)];

    private static readonly IReadOnlyList<Variant> AllVariants =
    [
        Variant.Fixed("mcs_spinlock.h: xchg() of the tail, cmpxchg_release() in unlock, smp_cond_load_acquire()/smp_store_release() hand-off"),
        new("unlock-no-wait-next",
            "careless port: when cmpxchg_release(lock, node, NULL) fails, mcs_spin_unlock() reads node->next once more instead of "
            + "waiting for it and returns if it is still NULL: the successor, between its tail xchg() and WRITE_ONCE(prev->next, node), "
            + "then writes into a node whose owner has left the queue (and is never handed the lock)",
            Expectation.Bug(FailureKind.UseAfterLeave))
        {
            PerMemoryModel = new Dictionary<string, Expectation>
            {
                // Under lkmm the unlock's second READ_ONCE(node->next) may read NULL although the
                // successor's store has already executed (it is not yet visible to this CPU): the
                // owner leaves after the store, which is checked when issued, so what shows is the
                // successor's Hang. The late store after the leave is found too (tests).
                ["lkmm"] = Expectation.BugOneOf(FailureKind.UseAfterLeave, FailureKind.Hang),
            },
        },
    ];

    /// <summary>
    /// With three CPUs the owner can re-enter its node before the successor's late
    /// WRITE_ONCE(prev->next, node) lands: that store then falls in the node's next use (ABA, which
    /// the use-after-leave check cannot tell from a legitimate link, see NodeLifetime) and races with
    /// the re-entry's plain "node->next = NULL" (DataRace); or the stranded successor hangs. Which the
    /// search meets first varies with the model and the schedule.
    /// </summary>
    public override IReadOnlyList<Variant> Variants => _variants ??= Cpus >= 3
        ? AllVariants.Select(v => v.Name == "unlock-no-wait-next"
            ? v with { Expected = Expectation.BugOneOf(FailureKind.UseAfterLeave, FailureKind.DataRace, FailureKind.Hang), PerMemoryModel = new Dictionary<string, Expectation>() }
            : v).ToList()
        : AllVariants;

    private IReadOnlyList<Variant>? _variants;

    private static McsVariant PortVariant(string name) => name switch
    {
        "fixed" => McsVariant.Fixed,
        "unlock-no-wait-next" => McsVariant.UnlockNoWaitNext,
        _ => throw new KmcInputException($"mcs-spinlock: unknown variant '{name}'"),
    };

    public override Scenario Build(Variant variant) => new(Cpus, ex =>
    {
        var v = PortVariant(variant.Name);
        var lk = new Loc<McsSpinlockNode?>("mcs_lock");
        var nodes = new PerCpu<McsSpinlockNode>(Cpus, c => new McsSpinlockNode($"mcs_node@CPU{c}"));
        var tasks = LockTorture.Spawn(ex, Cpus, Rounds, c => McsSpinlock.McsSpinLock(lk, nodes.PerCpuPtr(c)), c => McsSpinlock.McsSpinUnlock(lk, nodes.PerCpuPtr(c), v));
        // Each CPU queues its own node and the lock points at a node: any renaming of the CPUs is an execution too.
        ex.Symmetric(tasks, lk);
        ex.AtEnd("mcs quiescent", () => Assert(lk.Peek() == null, $"all tasks done but {lk.Name} == {Format.Value(lk.Peek())}"));
    });
}

[Check]
public sealed class McsSpinlockCheck : McsSpinlockCheckBase
{
    public override string Name => "mcs-spinlock";
    public override string Description => "MCS spinlock, 3 CPUs x 2 rounds: one holder, no stale read of the protected data, no hang, empty queue at the end";
    protected override int Cpus => 3;
    protected override int Rounds => 2;
}

[Check]
public sealed class McsSpinlock2CpuCheck : McsSpinlockCheckBase
{
    public override string Name => "mcs-spinlock-2cpu";
    public override string Description => "MCS spinlock, 2 CPUs x 2 rounds: for exhaustive search";
    protected override int Cpus => 2;
    protected override int Rounds => 2;
}
