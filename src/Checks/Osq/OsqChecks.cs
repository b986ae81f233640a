using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Osq;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Osq;

/// <summary>
/// N CPUs each run k rounds of preempt_disable(); if (osq_lock()) { ... osq_unlock(); } preempt_enable(),
/// where every spin may give up (need_resched()/vcpu_is_preempted()) and take the unqueue path.
/// Properties: at most one owner; a cancelled osq_lock() was not handed the OSQ; the tail never
/// names a CPU that has left the OSQ (checked as each operation returns); every call
/// returns (progress property "every osq_lock() returns or gives up": a spin nothing can end is a
/// Hang, or a Livelock when it keeps a runnable task off its CPU); when quiescent the tail is OSQ_UNLOCKED_VAL and
/// no node links to another.
/// </summary>
public abstract class OsqCheckBase : Check
{
    protected abstract int Cpus { get; }
    protected abstract int Rounds { get; }

    /// <summary>
    /// Whether the step invariant (<see cref="OsqQueueInvariant"/>) is declared. It makes every
    /// store to the tail and to a node's next/prev/locked dependent on every other (the partial-order
    /// reduction's rule for what an invariant observes), which costs source-DPOR about 16x on
    /// osq-1round; the 3- and 4-CPU one-round checks are the exhaustive-search benchmarks and
    /// keep the per-operation properties only.
    /// </summary>
    protected virtual bool QueueInvariant => true;

    public override IReadOnlyList<Type> Primitives => [typeof(OsqLockPort)];

    private IReadOnlyList<Variant>? _variants;

    public override IReadOnlyList<Variant> Variants => _variants ??= Rounds >= 2 ? WithNodeReinitRace(AllVariants) : AllVariants;

    /// <summary>
    /// A data race in the kernel's own osq_lock.c, found once a CPU re-enters osq_lock() (two
    /// rounds): osq_lock() reinitialises its per-CPU node with plain stores ("node->locked = 0;
    /// node->next = NULL;" at its top, kernel/locking/osq_lock.c), and nothing orders another
    /// CPU's marked access to those fields of the node in the previous round before them:
    /// <list type="bullet">
    /// <item>node->locked: the previous owner's hand-off WRITE_ONCE(next->locked, 1) in
    /// osq_unlock() is read by this CPU's relaxed smp_cond_load_relaxed(&amp;node->locked, ...);
    /// if its own osq_unlock() then takes the fast path (atomic_try_cmpxchg_release(), which
    /// orders only what precedes it), no barrier, acquire or address dependency follows that
    /// relaxed load before the next "node->locked = 0" (tests/Kmc.Tests/RaceLitmus/
    /// osq-reinit-locked.litmus; with the slow path's fully ordered xchg(&amp;node->next, NULL) in
    /// between there is no race: osq-reinit-locked-mb.litmus);</item>
    /// <item>node->next: a successor unqueueing in Step A whose cmpxchg(&amp;prev->next, node, NULL)
    /// fails because this CPU's osq_unlock() took node->next with xchg() and handed over: the
    /// failed cmpxchg is a relaxed marked read that can run as late as this CPU's next
    /// "node->next = NULL" (osq-reinit-next.litmus; when the successor's cmpxchg wins, the
    /// unlock's xchg reads it and orders it: osq-unqueue-next.litmus).</item>
    /// </list>
    /// kmc's axiomatic LKMM flags both litmus shapes with a data race (not run with herd7). The
    /// race is benign in effect (the cmpxchg fails either way, as the code expects; the spin has
    /// already seen locked == 1). KCSAN stays quiet about it: with its default
    /// CONFIG_KCSAN_ASSUME_PLAIN_WRITES_ATOMIC=y, a plain aligned store of at most word size is
    /// taken as atomic, and a race whose only plain access is such a store is not reported. The
    /// port keeps the kernel's plain stores; the fixed code and the variants that share them
    /// declare the race under every model (the careless ports may show it before their own
    /// bug; the one-round checks, with no re-entry, keep their specific failures).
    /// </summary>
    private IReadOnlyList<Variant> WithNodeReinitRace(IReadOnlyList<Variant> all) => all.Select(v => v.Name switch
    {
        "fixed" or "arm64-monitor-wait" => v with { Expected = Expectation.Bug(FailureKind.DataRace), PerMemoryModel = new Dictionary<string, Expectation>() },
        "acquire-only-tail-xchg" => v with
        {
            Expected = Expectation.Bug(FailureKind.DataRace),
            PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
        },
        "step-a-plain-store" or "wait-next-nonatomic-next" => v with { Expected = Expectation.AnyBug, PerMemoryModel = new Dictionary<string, Expectation>() },
        _ => v,
    }).ToList();

    private static readonly IReadOnlyList<Variant> AllVariants =
    [
        Variant.Fixed("mainline osq_lock.c: full atomic_xchg() on the tail, cmpxchg() in Step A, xchg() in osq_wait_next()"),
        new("acquire-only-tail-xchg",
            "before \"locking/osq: Fix ordering of node initialisation in osq_lock\": atomic_xchg_acquire() on the tail lets the node's "
            + "init stores land after the tail update (a late node->next = NULL erases the successor's link: both spin forever). "
            + "Needs store->RMW reordering: not reachable under sequential consistency",
            Expectation.Pass)
        {
            PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.Bug(FailureKind.Hang) },
        },
        new("arm64-monitor-wait",
            "arm64 WFE-style spin: the exit condition is re-evaluated only when node->locked is written, so need_resched()/"
            + "vcpu_is_preempted() are never seen and the spinner never unqueues. In this scenario the OSQ holder needs nothing "
            + "from the spinner's CPU and always hands over, so every spin ends: Pass here. The livelock it causes when the "
            + "holder waits for a task on the spinner's CPU is found by osq-owner-starved (why arm64 defines vcpu_is_preempted() as false)",
            Expectation.Pass),
        new("step-a-plain-store",
            "careless port: Step A undoes prev->next with READ_ONCE + WRITE_ONCE(NULL) instead of cmpxchg(); an unlock that "
            + "took prev->next in between hands the OSQ to a node that then reports 'cancelled': the hand-off is lost. "
            + "When that unlock has already returned, the WRITE_ONCE(prev->next, NULL) lands in prev's node after it left the "
            + "queue (UseAfterLeave, at the store); otherwise the lost hand-off is seen when the cancelled node finds locked == 1",
            Expectation.BugOneOf(FailureKind.Assertion, FailureKind.UseAfterLeave))
        {
            // Under lkmm the same lost hand-off can also end as a hang (a stale read of node->locked
            // sends the task on, and its late init store then erases the hand-off).
            PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
        },
        new("wait-next-nonatomic-next",
            "careless port: osq_wait_next() takes node->next with READ_ONCE + WRITE_ONCE(NULL) instead of xchg(); a successor "
            + "unqueueing in between completes Step A and leaves, yet is still handed the OSQ (or relinked into the queue): "
            + "the hand-off WRITE_ONCE(next->locked, 1) (or the relink) lands in a node that left the queue (UseAfterLeave, at the "
            + "store) or, when it comes first, the cancelled node finds locked == 1 (Assertion)",
            Expectation.BugOneOf(FailureKind.Assertion, FailureKind.UseAfterLeave))
        {
            // Under lkmm the same lost hand-off can also end as a hang (a stale read of node->locked
            // sends the task on, and its late init store then erases the hand-off).
            PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
        },
    ];

    public static OsqVariant ToPortVariant(string name) => name switch
    {
        "fixed" => OsqVariant.Fixed,
        "acquire-only-tail-xchg" => OsqVariant.AcquireOnlyTailXchg,
        "arm64-monitor-wait" => OsqVariant.Arm64MonitorWait,
        "step-a-plain-store" => OsqVariant.StepAPlainStore,
        "wait-next-nonatomic-next" => OsqVariant.WaitNextNonAtomicNext,
        _ => throw new KmcInputException($"osq: unknown variant '{name}'"),
    };

    public override Scenario Build(Variant variant) => new(Cpus, ex =>
    {
        var osq = new OsqLockPort(Cpus, ToPortVariant(variant.Name));
        var lk = new OptimisticSpinQueue("osq");
        if (QueueInvariant)
            OsqQueueInvariant.Declare(ex, osq, lk, Cpus);
        // Ghost state (not kernel memory): who returned true from osq_lock() and has not unlocked yet.
        var owners = new Ghost<int>();
        // Ghost: which CPUs are inside osq_lock() .. osq_unlock() (or a cancelled osq_lock()).
        var inOsq = Enumerable.Range(0, Cpus).Select(_ => new Ghost<bool>()).ToArray();
        // Checked whenever a task leaves an OSQ operation: the tail names no CPU or one that is
        // still in the OSQ (an unqueue moves it back only to a prev that waits in the queue).
        void CheckTail(string after)
        {
            var tail = lk.Tail.Peek();
            Assert(tail == OsqLockPort.OsqUnlockedVal || inOsq[tail - 1].Value,
                $"after {Current.Name}'s {after}, {lk.Tail.Name} == {tail} names CPU{tail - 1}, which is not in the OSQ: the queue is corrupt");
        }

        var tasks = new SimTask[Cpus];
        for (var cpu = 0; cpu < Cpus; cpu++)
        {
            var c = cpu;
            tasks[c] = ex.Spawn($"T{c}", c, async () =>
            {
                var node = osq.OsqNodes.PerCpuPtr(c);
                for (var round = 0; round < Rounds; round++)
                {
                    // The OSQ's users (mutex/rwsem optimistic spinning) hold preemption off around it.
                    PreemptDisable();
                    inOsq[c].Value = true;
                    ProgressBegin("every osq_lock() returns or gives up");
                    var owns = await osq.OsqLock(lk);
                    ProgressEnd();
                    if (owns)
                    {
                        CheckTail("osq_lock() = true");
                        owners.Value++;
                        Assert(owners.Value == 1, $"{Current.Name} owns the OSQ while {owners.Value - 1} other owner(s) do");
                        Note("owns the OSQ");
                        await CpuRelax();
                        owners.Value--;
                        await osq.OsqUnlock(lk);
                        inOsq[c].Value = false;
                        CheckTail("osq_unlock()");
                    }
                    else
                    {
                        // Cancelled: nobody may have handed us the OSQ (it would be lost forever).
                        inOsq[c].Value = false;
                        CheckTail("osq_lock() = false");
                        var locked = await ReadOnce(node.Locked);
                        Assert(locked == 0, $"{Current.Name}'s osq_lock() gave up, but {node.Locked.Name} == 1: the hand-off to it is lost");
                    }

                    PreemptEnable();
                }
            });
        }

        // The CPUs run the same rounds and the OSQ names a CPU only by encode_cpu(): any renaming
        // of them is an execution too. The first xchg() on the tail is where they contend first.
        ex.Symmetric(tasks, lk.Tail);

        ex.AtEnd("osq quiescent", () =>
        {
            Assert(lk.Tail.Peek() == OsqLockPort.OsqUnlockedVal,
                $"all tasks done but {lk.Tail.Name} == {lk.Tail.Peek()} (expected OSQ_UNLOCKED_VAL)");
            for (var c = 0; c < Cpus; c++)
            {
                var n = osq.OsqNodes.PerCpuPtr(c);
                Assert(n.Next.Peek() == null, $"all tasks done but {n.Next.Name} == {Format.Value(n.Next.Peek())}");
            }
        });
    }, preemptive: true);
}

[Check]
public sealed class OsqCheck : OsqCheckBase
{
    public override string Name => "osq";
    public override string Description => "OSQ lock, 2 CPUs x 2 rounds of osq_lock/osq_unlock with cancellation: one owner, no lost hand-off, no hang, empty queue at the end";
    protected override int Cpus => 2;
    protected override int Rounds => 2;
}

[Check]
public sealed class Osq3CpuCheck : OsqCheckBase
{
    public override string Name => "osq-3cpu";
    public override string Description => "OSQ lock, 3 CPUs x 2 rounds with cancellation (unqueue of a middle node: Step C)";
    protected override int Cpus => 3;
    protected override int Rounds => 2;
}

[Check]
public sealed class OsqSmallCheck : OsqCheckBase
{
    public override string Name => "osq-1round";
    public override string Description => "OSQ lock, 2 CPUs x 1 round with cancellation: small enough for exhaustive search";
    protected override int Cpus => 2;
    protected override int Rounds => 1;
}

[Check]
public sealed class Osq3CpuSmallCheck : OsqCheckBase
{
    public override string Name => "osq-3cpu-1round";
    public override string Description => "OSQ lock, 3 CPUs x 1 round with cancellation: for exhaustive search";
    protected override int Cpus => 3;
    protected override int Rounds => 1;
    protected override bool QueueInvariant => false;
}

[Check]
public sealed class Osq4CpuSmallCheck : OsqCheckBase
{
    public override string Name => "osq-4cpu-1round";
    public override string Description => "OSQ lock, 4 CPUs x 1 round with cancellation: two middle nodes can unqueue at once; for the reduced exhaustive search";
    protected override int Cpus => 4;
    protected override int Rounds => 1;
    protected override bool QueueInvariant => false;
}
