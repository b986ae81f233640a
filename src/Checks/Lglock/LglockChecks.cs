using Kmc.Models.Scheduling.Reduction;
using Kmc.Checks.Framework;
using Kmc.Checks.Locks;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Lglock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Lglock;

/// <summary>
/// Ghost bookkeeping shared by the lglock checks: who holds which per-CPU lock, and whether a
/// global holder exists. Updated right after an acquisition returns and right before a
/// release, with no scheduling point in between, so the assertions see the lock state exactly.
/// </summary>
// Every method reads and writes the whole ghost: the partial-order reduction sees it as one location.
public sealed class LgGhost : IStateful
{
    private readonly int[] _local;

    /// <summary>
    /// Each CPU's protected data (plain accesses), written by whoever holds that CPU's lock: a
    /// local, cpu-targeted or double holder, or the global holder for every CPU. A lost acquire or
    /// release of a per-CPU lock shows as a stale read or a data race.
    /// </summary>
    private readonly ProtectedData[] _data;

    /// <summary>The critical section on the given CPUs' data.</summary>
    public async ValueTask Section(params int[] cpus)
    {
        foreach (var c in cpus)
            await _data[c].CriticalSection();
    }

    /// <summary>The global holder's critical section: every CPU's data.</summary>
    public ValueTask SectionAll() => Section([.. Enumerable.Range(0, _data.Length)]);

    /// <summary>The end check: each CPU's data holds every increment made under its lock.</summary>
    public void CheckData()
    {
        foreach (var d in _data)
            d.CheckTotal(d.CriticalSections);
    }
    private bool _global;
    private readonly long _key;

    public LgGhost(int cpus)
    {
        _local = new int[cpus];
        _data = [.. Enumerable.Range(0, cpus).Select(c => new ProtectedData($"lg.cpu{c}"))];
        _key = Footprints.NewKey(this);
    }

    void IStateful.WriteState(StateWriter w)
    {
        w.Ints(_local);
        w.Int(_global ? 1 : 0);
    }

    // Its methods only assert and count: a task keeps nothing of what it saw.
    bool IStateful.TasksReadIt => false;

    public void EnterLocal(params int[] cpus)
    {
        Footprints.Write(_key);
        foreach (var c in cpus)
        {
            Assert(!_global, $"{Current.Name} holds lglock CPU{c}'s lock while a global holder is inside");
            Assert(_local[c] == 0, $"{Current.Name} holds lglock CPU{c}'s lock while {_local[c]} other local holder(s) do");
            _local[c]++;
        }
    }

    public void ExitLocal(params int[] cpus)
    {
        Footprints.Write(_key);
        foreach (var c in cpus)
            _local[c]--;
    }

    public void EnterGlobal()
    {
        Footprints.Write(_key);
        Assert(!_global, $"{Current.Name} is a second global holder");
        for (var c = 0; c < _local.Length; c++)
            Assert(_local[c] == 0, $"{Current.Name} holds the lglock globally while CPU{c}'s lock has a local holder");
        _global = true;
    }

    public void ExitGlobal()
    {
        Footprints.Write(_key);
        _global = false;
    }
}

/// <summary>Locking patterns used by the scenarios, each with its ghost checks.</summary>
public static class LgOps
{
    /// <summary>
    /// The reduced exhaustive search, where it gives a complete verdict in well under a second
    /// (sc and lkmm); under tso every access touches the store buffers, so little is independent
    /// and the check samples with kmc's defaults.
    /// </summary>
    public static SettingsOverride? ExhaustiveUnlessTso(string memoryModel) =>
        memoryModel is "sc" or "lkmm" ? new SettingsOverride { Strategy = "dfs", PreemptionBound = -1 } : null;

    /// <summary>An initialised lglock over <paramref name="cpus"/> CPUs, its ghost, and the end check that every per-CPU lock was released.</summary>
    public static (Kmc.Primitives.Lglock.Lglock Lg, LgGhost Ghost) Setup(Execution ex, int cpus, Variant variant)
    {
        var lg = new Kmc.Primitives.Lglock.Lglock("lg", cpus, ToPortVariant(variant));
        lg.LgLockInit("lg");
        ex.AtEnd("lglock unlocked", () =>
        {
            for (var c = 0; c < cpus; c++)
                Assert(!lg.Lock.PerCpuPtr(c).IsLocked, $"all tasks done but {lg.Lock.PerCpuPtr(c).Name} is locked");
        });
        var g = new LgGhost(cpus);
        ex.AtEnd("lglock data", g.CheckData);
        return (lg, g);
    }

    public static async ValueTask Local(Kmc.Primitives.Lglock.Lglock lg, LgGhost g)
    {
        await lg.LgLocalLock();
        var cpu = SmpProcessorId();
        g.EnterLocal(cpu);
        await g.Section(cpu);
        g.ExitLocal(cpu);
        await lg.LgLocalUnlock();
    }

    public static async ValueTask LocalCpu(Kmc.Primitives.Lglock.Lglock lg, LgGhost g, int cpu)
    {
        await lg.LgLocalLockCpu(cpu);
        g.EnterLocal(cpu);
        await g.Section(cpu);
        g.ExitLocal(cpu);
        await lg.LgLocalUnlockCpu(cpu);
    }

    public static async ValueTask Double(Kmc.Primitives.Lglock.Lglock lg, LgGhost g, int cpu1, int cpu2)
    {
        await lg.LgDoubleLock(cpu1, cpu2);
        g.EnterLocal(cpu1, cpu2);
        await g.Section(cpu1, cpu2);
        g.ExitLocal(cpu1, cpu2);
        await lg.LgDoubleUnlock(cpu1, cpu2);
    }

    public static async ValueTask Global(Kmc.Primitives.Lglock.Lglock lg, LgGhost g)
    {
        await lg.LgGlobalLock();
        g.EnterGlobal();
        await g.SectionAll();
        g.ExitGlobal();
        await lg.LgGlobalUnlock();
    }

    private static readonly Dictionary<string, LglockVariant> s_byName = new()
    {
        ["fixed"] = LglockVariant.Fixed,
        ["global-no-preempt-disable"] = LglockVariant.GlobalNoPreemptDisable,
        ["double-no-swap"] = LglockVariant.DoubleNoSwap,
    };

    /// <summary>The port's variant: the Variant's <see cref="Variant.Port"/>, else by name.</summary>
    public static LglockVariant ToPortVariant(Variant variant) => variant.PortVariant(s_byName, "lglock");

    public static readonly Variant DoubleNoSwap = new("double-no-swap",
        "lg_double_lock() without its 'if (cpu2 < cpu1) swap(cpu1, cpu2)': two double lockers (or a double and the global "
        + "locker) take two CPUs' locks in opposite orders: ABBA deadlock",
        Expectation.Bug(FailureKind.Hang));

    public static readonly Variant GlobalNoPreemptDisable = new("global-no-preempt-disable",
        "lg_global_lock() without preempt_disable(): the global locker is preempted holding some CPUs' locks, and a task on "
        + "its CPU that takes one of them (preemption off) spins forever (Documentation/locking/lglock.txt): a livelock, the "
        + "spinner keeps the CPU from the preempted global locker it waits for",
        Expectation.Bug(FailureKind.Livelock));
}

/// <summary>2 CPUs: local, cpu-targeted, double (in both argument orders) and global locking.</summary>
[Check]
public sealed class LglockCheck : Check
{
    public override string Name => "lglock";

    public override SettingsOverride? Settings(string memoryModel) => LgOps.ExhaustiveUnlessTso(memoryModel);

    public override string Description => "lglock, 2 CPUs mixing lg_local_lock, lg_local_lock_cpu, lg_double_lock and lg_global_lock: exclusion, no deadlock";

    public override IReadOnlyList<Type> Primitives => [typeof(Kmc.Primitives.Lglock.Lglock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("lglock.c as restored in 2018: double and global lock in ascending CPU order, preemption off"),
        LgOps.DoubleNoSwap,
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var (lg, g) = LgOps.Setup(ex, 2, variant);
        ex.Spawn("T0", 0, async () =>
        {
            await LgOps.Local(lg, g);
            await LgOps.Double(lg, g, 0, 1);
        });
        ex.Spawn("T1", 1, async () =>
        {
            await LgOps.LocalCpu(lg, g, 0);
            await LgOps.Double(lg, g, 1, 0);
            await LgOps.Global(lg, g);
        });
    }, preemptive: true);
}

/// <summary>4 CPUs, every kind of acquisition at once.</summary>
[Check]
public sealed class Lglock4CpuCheck : Check
{
    public override string Name => "lglock-4cpu";

    public override string Description => "lglock, 4 CPUs: local, cpu-targeted, double and two global lockers at once: exclusion, no deadlock";

    public override IReadOnlyList<Type> Primitives => [typeof(Kmc.Primitives.Lglock.Lglock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("lglock.c as restored in 2018"),
        LgOps.DoubleNoSwap,
    ];

    public override Scenario Build(Variant variant) => new(4, ex =>
    {
        var (lg, g) = LgOps.Setup(ex, 4, variant);
        ex.Spawn("T0", 0, async () =>
        {
            await LgOps.Local(lg, g);
            await LgOps.Double(lg, g, 0, 3);
        });
        ex.Spawn("T1", 1, async () =>
        {
            await LgOps.Global(lg, g);
            await LgOps.LocalCpu(lg, g, 2);
        });
        ex.Spawn("T2", 2, async () =>
        {
            await LgOps.Double(lg, g, 2, 1);
            await LgOps.Global(lg, g);
        });
        ex.Spawn("T3", 3, async () =>
        {
            await LgOps.Double(lg, g, 3, 0);
            await LgOps.Local(lg, g);
        });
    }, preemptive: true);
}

/// <summary>
/// 3 CPUs x 2 rounds, each round a local then a global acquisition: the configuration SPIN
/// verifies exhaustively on the same lglock model, for the reduced exhaustive search.
/// </summary>
[Check]
public sealed class Lglock3Cpu2RoundCheck : Check
{
    public const int Rounds = 2;

    /// <summary>
    /// Under sc the state-cached exhaustive search verifies it in seconds (about 60k executions,
    /// 100k states, where source-DPOR does not finish in a minute); the weak models have no state
    /// fingerprint yet, so they sample with kmc's defaults.
    /// </summary>
    public override SettingsOverride? Settings(string memoryModel) =>
        memoryModel == "sc" ? new SettingsOverride { Strategy = "dfs", PreemptionBound = -1, StateCache = true } : null;

    public override string Name => "lglock-3cpu-2round";

    public override string Description => "lglock, 3 CPUs x 2 rounds of lg_local_lock then lg_global_lock (CPU1: lg_double_lock(2, 1)): exclusion, no deadlock";

    public override IReadOnlyList<Type> Primitives => [typeof(Kmc.Primitives.Lglock.Lglock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("lglock.c as restored in 2018"),
        LgOps.DoubleNoSwap,
    ];

    public override Scenario Build(Variant variant) => new(3, ex =>
    {
        var (lg, g) = LgOps.Setup(ex, 3, variant);
        for (var cpu = 0; cpu < 3; cpu++)
        {
            var c = cpu;
            ex.Spawn($"T{c}", c, async () =>
            {
                for (var round = 0; round < Rounds; round++)
                {
                    await LgOps.Local(lg, g);
                    if (c == 1)
                        await LgOps.Double(lg, g, 2, 1);
                    else
                        await LgOps.Global(lg, g);
                }
            });
        }
    }, preemptive: true);
}

/// <summary>
/// Two tasks on one CPU (the lglock.txt scenario): the global locker A and a cpu-targeted/local
/// locker B share CPU1, and C takes CPU0's local lock. If A can be preempted between its
/// per-CPU acquisitions, B spins (preemption off) on a lock A holds, and A never runs again.
/// </summary>
[Check]
public sealed class LglockPreemptCheck : Check
{
    public override string Name => "lglock-preempt";

    public override SettingsOverride? Settings(string memoryModel) => LgOps.ExhaustiveUnlessTso(memoryModel);

    public override string Description => "lglock, 2 CPUs, global locker and local locker on the same CPU with preemption: no self-deadlock";

    public override IReadOnlyList<Type> Primitives => [typeof(Kmc.Primitives.Lglock.Lglock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("lg_global_lock() disables preemption before taking the first CPU's lock"),
        LgOps.GlobalNoPreemptDisable,
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var (lg, g) = LgOps.Setup(ex, 2, variant);
        ex.Spawn("A", 1, async () => await LgOps.Global(lg, g));
        ex.Spawn("B", 1, async () =>
        {
            await LgOps.LocalCpu(lg, g, 0);
            await LgOps.Local(lg, g);
        });
        ex.Spawn("C", 0, async () => await LgOps.Local(lg, g));
    }, preemptive: true);
}
