using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// fallocate(INSERT_RANGE) of a hole at page 0 of [v10, v20] against a buffered read of page 1:
/// without the add lock the read re-adds page 1 from the pre-shift block (v20) after the
/// shoot-down, the shift moves v10 under it, and the cache keeps the stale page.
/// </summary>
[Check]
public sealed class PagecacheFinsertCheck : Check
{
    public override string Name => "pagecache-finsert";

    public override string Description => "finsert vs buffered read: no stale page after the blocks shift up";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("finsert holds the block side; adding pages takes the add side"),
        PagecacheVariants.NoLock,
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var disk = new Disk("disk", 3);
        var a = new AddressSpace(1, "A", [10, 20, 0], disk, PagecacheVariants.Of(variant), isize: 2);
        ex.Spawn("finsert", 0, async () => await a.FallocateInsertRange(0));
        ex.Spawn("reader", 1, async () =>
        {
            var d = await a.BufferedRead(1);
            Assert(d is 20 or 10, $"buffered read of page 1 returned v{d}");
        });
        ex.AtEnd("page cache consistent with disk", () => a.AssertConsistent());
        ex.AtEnd("reservations", () => PagecacheVariants.AssertReservations(disk, a));
    });
}
