using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// Truncate down to 1 page and back up to 3, against a read fault on page 2. Relying on i_size
/// alone (filemap_fault re-checks it with the page locked) is not enough: the fault can insert
/// page 2 after truncate's shoot-down and read the block before truncate frees it; the re-check
/// then SIGBUSes but leaves the page in the cache, and after the file is extended again a read
/// returns the old data instead of the hole.
/// </summary>
[Check]
public sealed class PagecacheTruncateCheck : Check
{
    public override string Name => "pagecache-truncate";

    public override string Description => "truncate down and up vs a read fault past the new EOF: no stale page resurfaces";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("truncate holds the block side"),
        new("truncate-isize-only", "truncate takes no lock and relies on i_size checks in the fault path",
            Expectation.Bug(FailureKind.Assertion)),
        PagecacheVariants.NoLock,
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var disk = new Disk("disk", 3);
        var a = new AddressSpace(1, "A", [10, 20, 30], disk, PagecacheVariants.Of(variant));
        ex.Spawn("truncate", 0, async () =>
        {
            await a.Truncate(1);
            await a.Truncate(3);
        });
        ex.Spawn("fault", 1, async () => await a.PageFault(2, write: false));
        ex.AtEnd("page cache consistent with disk", () => a.AssertConsistent());
        ex.AtEnd("reservations", () => PagecacheVariants.AssertReservations(disk, a));
    });
}
