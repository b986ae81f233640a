using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// Direct IO write against a buffered read of the same page: the dio shoots the page down and
/// writes the disk; without the add lock the reader re-adds the page from the old disk contents
/// in between, and the cache keeps stale data. The smallest configuration (2 tasks, 1 page).
/// </summary>
[Check]
public sealed class PagecacheDioCheck : Check
{
    public override string Name => "pagecache-dio";

    public override string Description => "dio write vs buffered read of the same page: no stale page survives the dio";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("dio write holds the block side; adding pages takes the add side"),
        PagecacheVariants.NoLock,
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var disk = new Disk("disk", 4);
        var a = new AddressSpace(1, "A", [1], disk, PagecacheVariants.Of(variant));
        ex.Spawn("dio", 0, async () => await a.DioWrite(0, 2));
        ex.Spawn("reader", 1, async () =>
        {
            var d = await a.BufferedRead(0);
            Assert(d is 1 or 2, $"buffered read returned v{d}");
        });
        ex.AtEnd("page cache consistent with disk", () => a.AssertConsistent());
        ex.AtEnd("reservations", () => PagecacheVariants.AssertReservations(disk, a));
    });
}
