using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// The seed's accounting assertion. fcollapse of page 1 of [v10, v20, hole] against a buffered
/// write of page 1 followed by an O_DIRECT read of it (whose flush writes the page back). Without
/// the add lock the write re-adds page 1 after the shoot-down and reads v20, an allocated block,
/// so dirtying it takes no disk reservation; the collapse then shifts the hole under it, and the
/// writeback allocates a block nobody reserved: "disk usage increased more than reserved".
/// </summary>
[Check]
public sealed class PagecacheReservationCheck : Check
{
    public override string Name => "pagecache-reservation";

    public override string Description => "fcollapse vs buffered write + dio read: writeback never allocates an unreserved block, the count balances";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("fcollapse holds the block side; the buffered write holds the add side"),
        PagecacheVariants.NoLock,
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var disk = new Disk("disk", 3);
        var a = new AddressSpace(1, "A", [10, 20, 0], disk, PagecacheVariants.Of(variant));
        ex.Spawn("fcollapse", 0, async () => await a.FallocateCollapseRange(1));
        ex.Spawn("writer", 1, async () =>
        {
            await a.BufferedWrite(1, 7);
            var d = await a.DioRead(1);
            Assert(d is 7 or 0, $"dio read after the write returned v{d}");
        });
        ex.AtEnd("reservations", () => PagecacheVariants.AssertReservations(disk, a));
    });
}
