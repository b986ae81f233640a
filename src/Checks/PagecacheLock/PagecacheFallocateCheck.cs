using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// fallocate(COLLAPSE_RANGE) of page 1 of a 3-page file against readahead of pages 1-2 and a
/// write fault (mkwrite) on page 2: readahead re-adds page 1 from the pre-shift block (stale),
/// the write fault dirties page 2 (taking a disk reservation) after it was shot down, so a dirty,
/// reserved page ends up past the new i_size.
/// </summary>
[Check]
public sealed class PagecacheFallocateCheck : Check
{
    public override string Name => "pagecache-fallocate";

    public override string Description => "fcollapse vs readahead and mkwrite: no stale page, no page past EOF, reservations balance";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("fcollapse holds the block side; readahead add_tryget, faults add_get"),
        PagecacheVariants.NoLock,
    ];

    public override Scenario Build(Variant variant) => new(3, ex =>
    {
        var disk = new Disk("disk", 3);
        var a = new AddressSpace(1, "A", [10, 20, 30], disk, PagecacheVariants.Of(variant));
        ex.Spawn("fcollapse", 0, async () => await a.FallocateCollapseRange(1));
        ex.Spawn("readahead", 1, async () => await a.Readahead(1, 2));
        ex.Spawn("mkwrite", 2, async () => await a.PageFault(2, write: true));
        ex.AtEnd("reservations", () => PagecacheVariants.AssertReservations(disk, a));
        ex.AtEnd("page cache consistent with disk", () => a.AssertConsistent());
    });
}
