using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// Readahead of a page against a direct IO write of it. Readahead holds the page it added locked
/// while it takes the add side; the dio holds the block side while it shoots the page down,
/// which needs that page lock. A blocking get in readahead is an ABBA deadlock; the tryget hands
/// the page back instead. Without the lock, readahead re-adds the page from the old disk
/// contents after the shoot-down and the cache keeps stale data.
/// </summary>
[Check]
public sealed class PagecacheReadaheadDioCheck : Check
{
    public override string Name => "pagecache-readahead-dio";

    public override string Description => "readahead vs dio write of the same page: no deadlock, no stale page survives the dio";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public static readonly Variant ReadaheadBlockingGet = new("readahead-blocking-get",
        "readahead takes the add side with a blocking get, as the 2018 bch2_readpages() did, while holding the locked page it "
        + "added: the dio holds the block side and waits for that page lock in its shoot-down: ABBA deadlock",
        Expectation.Bug(FailureKind.Hang));

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("bch2_readahead(): add-side tryget, the pages handed back when a block holder has the lock"),
        ReadaheadBlockingGet,
        PagecacheVariants.NoLock,
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var disk = new Disk("disk", 4);
        var a = new AddressSpace(1, "A", [1], disk, PagecacheVariants.Of(variant));
        ex.Spawn("dio", 0, async () => await a.DioWrite(0, 2));
        ex.Spawn("readahead", 1, async () => await a.Readahead(0, 1));
        PagecacheVariants.AtEndConsistent(ex, disk, a);
    });
}
