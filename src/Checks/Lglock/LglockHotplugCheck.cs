using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Lglock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Lglock;

/// <summary>
/// lg_global_lock_online() racing CPU hotplug (v3.5 lglock.c, <see cref="LglockOnline"/>): on 3
/// CPUs, H (CPU2) takes CPU1 down and brings it back up while G (CPU0) holds the lock globally
/// over the online CPUs and L (pinned to CPU1) takes CPU1's lock locally. The global holder
/// must exclude every local holder, and must release exactly the locks it took.
/// </summary>
[Check]
public sealed class LglockHotplugCheck : Check
{
    public override string Name => "lglock-hotplug";

    /// <summary>sc and lkmm: 409 executions (with the per-CPU protected data), complete; tso: random finds the bug (kmc's defaults).</summary>
    public override SettingsOverride? Settings(string memoryModel) => LgOps.ExhaustiveUnlessTso(memoryModel);

    public override string Description =>
        "lglock (v3.5) lg_global_lock_online() while CPU1 goes down and comes back up under a local locker pinned to it: exclusion, locks released by their taker";

    public override IReadOnlyList<Type> Primitives => [typeof(LglockOnline)];

    public static readonly Variant OnlineUnsynchronised = new("online-unsynchronised",
        "lg_global_lock_online() before \"VFS: Fix race between CPU hotplug and lglocks\" (v3.2): preempt_disable() keeps CPUs "
        + "from going down but not from coming up, so a CPU that comes up while the global lock is held is missed by the lock "
        + "(its local locker runs inside the global section) and unlocked by the unlock without having been locked",
        Expectation.Bug(FailureKind.Assertion));

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("lglock.c v3.5: the online global lock walks its own CPU mask under cpu_lock, kept by a CPU hotplug notifier"),
        OnlineUnsynchronised,
    ];

    private static readonly Dictionary<string, LglockOnlineVariant> s_byName = new()
    {
        ["fixed"] = LglockOnlineVariant.Fixed,
        ["online-unsynchronised"] = LglockOnlineVariant.OnlineUnsynchronised,
    };

    public override Scenario Build(Variant variant) => new(3, ex =>
    {
        var lg = new LglockOnline("lg", 3, variant.PortVariant(s_byName, "lglock (v3.5)"));
        lg.LgLockInit();
        var g = new LgGhost(3);
        ex.AtEnd("lglock data", g.CheckData);
        ex.AtEnd("lglock unlocked", () =>
        {
            for (var c = 0; c < 3; c++)
                Assert(!lg.Lock.PerCpuPtr(c).IsLocked, $"all tasks done but {lg.Lock.PerCpuPtr(c).Name} is locked");
        });
        ex.Spawn("G", 0, async () =>
        {
            await lg.LgGlobalLockOnline();
            g.EnterGlobal();
            // Only the CPUs the online global lock took: an offline CPU's data is ordered by the
            // CPU going down, which the model's hotplug does not carry as happens-before.
            await g.Section(Enumerable.Range(0, 3).Where(c => lg.Lock.PerCpuPtr(c).Holder == Current).ToArray());
            g.ExitGlobal();
            await lg.LgGlobalUnlockOnline();
        });
        ex.Spawn("L", 1, async () =>
        {
            await lg.LgLocalLock();
            var cpu = SmpProcessorId();
            g.EnterLocal(cpu);
            await g.Section(cpu);
            g.ExitLocal(cpu);
            await lg.LgLocalUnlock();
        });
        ex.Spawn("H", 2, async () =>
        {
            Assert(await CpuDown(1) == 0, "cpu_down(1) failed");
            Assert(await CpuUp(1) == 0, "cpu_up(1) failed");
        });
    }, preemptive: true);
}
