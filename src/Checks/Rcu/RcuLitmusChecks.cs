using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Rcu;

/// <summary>
/// The RCU grace-period guarantee on the shapes of the kernel's litmus tests
/// (tools/memory-model/litmus-tests/RCU+sync+*.litmus and kmc's own RCU-gp): one reader inside
/// rcu_read_lock(), one updater around synchronize_rcu(), and the outcome the LKMM forbids as an
/// end-of-run assertion. Each has a variant with the synchronize_rcu() removed.
/// </summary>
public abstract class RcuLitmusCheck : Check
{
    protected abstract string NoGpDescription { get; }

    /// <summary>Under which models the outcome is reachable without the grace period (none: all of them).</summary>
    protected virtual IReadOnlyDictionary<string, Expectation> NoGpPerModel => new Dictionary<string, Expectation>();

    protected virtual Expectation NoGpExpected => Expectation.Bug(FailureKind.Assertion);

    private IReadOnlyList<Variant>? _variants;

    public override IReadOnlyList<Variant> Variants => _variants ??=
    [
        Variant.Fixed("with synchronize_rcu(): the forbidden outcome never happens"),
        new("no-synchronize-rcu", NoGpDescription, NoGpExpected) { PerMemoryModel = NoGpPerModel },
    ];

    /// <summary>The updater's grace period, or nothing in the broken variant.</summary>
    protected static ValueTask GracePeriod(Variant v) => v.Name == "fixed" ? SynchronizeRcu() : ValueTask.CompletedTask;
}

/// <summary>
/// RCU+sync+read: a section's two stores, and an updater that reads the first before its grace
/// period and the second after. Having seen the first, the section had begun, so it must have
/// ended before the grace period did.
/// </summary>
[Check]
public sealed class RcuSyncReadCheck : RcuLitmusCheck
{
    public override string Name => "rcu.sync-read";

    public override string Description => "RCU+sync+read: the updater sees, after synchronize_rcu(), every store of a section it saw begin";

    protected override string NoGpDescription => "no grace period: the updater may see the section's first store and not its second";

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var x = new Loc<int>("x");
        var y = new Loc<int>("y");
        int r0 = -1, r1 = -1;
        ex.Spawn("P0", 0, async () =>
        {
            RcuReadLock();
            await WriteOnce(x, 1);
            await WriteOnce(y, 1);
            RcuReadUnlock();
        });
        ex.Spawn("P1", 1, async () =>
        {
            r0 = await ReadOnce(x);
            await GracePeriod(variant);
            r1 = await ReadOnce(y);
        });
        ex.AtEnd("exists (1:r0=1 /\\ 1:r1=0) is forbidden", () =>
            Assert(!(r0 == 1 && r1 == 0), "P1 saw x == 1 before its grace period and y == 0 after it: the section spans the grace period"));
    });
}

/// <summary>
/// RCU+sync+free: the reader dereferences y, which pointed at x until the updater moved it to z;
/// after its grace period the updater poisons x. A reader that found x must still see it intact.
/// </summary>
[Check]
public sealed class RcuSyncFreeCheck : RcuLitmusCheck
{
    public override string Name => "rcu.sync-free";

    public override string Description => "RCU+sync+free: a reader that found the old object never sees it poisoned after the grace period";

    protected override string NoGpDescription => "no grace period: the updater poisons x while the reader may still be reading it";

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var x = new Loc<int>("x", 1);
        var z = new Loc<int>("z", 1);
        var y = new Loc<Loc<int>?>("y", x);
        Loc<int>? r0 = null;
        var r1 = -1;
        ex.Spawn("P0", 0, async () =>
        {
            RcuReadLock();
            r0 = await RcuDereference(y);
            r1 = await ReadOnce(r0!);
            RcuReadUnlock();
        });
        ex.Spawn("P1", 1, async () =>
        {
            await RcuAssignPointer(y, z);
            await GracePeriod(variant);
            await WriteOnce(x, 0);
        });
        ex.AtEnd("exists (0:r0=x /\\ 0:r1=0) is forbidden", () =>
            Assert(!(r0 == x && r1 == 0), "P0 found x through y and read it after P1 poisoned it: the grace period did not wait for P0"));
    });
}

/// <summary>
/// kmc's RCU-gp (tests/Kmc.Tests/Litmus): the updater stores a, waits for a grace period, stores
/// b; the reader loads b, then a, in one section. Seeing b means the section did not end before
/// the grace period began, so it began after, and sees a. Without the grace period only the LKMM
/// lets the loads (or the stores) reorder: sequential consistency and TSO keep both orders.
/// </summary>
[Check]
public sealed class RcuMpCheck : RcuLitmusCheck
{
    public override string Name => "rcu.mp";

    public override string Description => "MP across a grace period: a section that sees the store after synchronize_rcu() sees the one before it";

    protected override string NoGpDescription => "no grace period: a weakly ordered reader may see b == 1 and then a == 0";

    protected override Expectation NoGpExpected => Expectation.Pass;

    protected override IReadOnlyDictionary<string, Expectation> NoGpPerModel =>
        new Dictionary<string, Expectation> { ["lkmm"] = Expectation.Bug(FailureKind.Assertion) };

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var a = new Loc<int>("a");
        var b = new Loc<int>("b");
        int r1 = -1, r2 = -1;
        ex.Spawn("P0", 0, async () =>
        {
            RcuReadLock();
            r1 = await ReadOnce(b);
            r2 = await ReadOnce(a);
            RcuReadUnlock();
        });
        ex.Spawn("P1", 1, async () =>
        {
            await WriteOnce(a, 1);
            await GracePeriod(variant);
            await WriteOnce(b, 1);
        });
        ex.AtEnd("exists (0:r1=1 /\\ 0:r2=0) is forbidden", () =>
            Assert(!(r1 == 1 && r2 == 0), "P0 saw b == 1 and then a == 0: the section saw the store after the grace period but not the one before it"));
    });
}
