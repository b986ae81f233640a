using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// A dio write to page 0 of A whose user buffer is an mmap of page 1 of A: get_user_pages()
/// faults on the file whose block side the task holds. task_struct->pagecache_lock lets the
/// task add pages to that mapping; without it, it waits for its own block lock forever.
/// A buffered reader of page 0 runs alongside.
/// </summary>
[Check]
public sealed class PagecacheRecursionCheck : Check
{
    public override string Name => "pagecache-recursion";

    public override string Description => "dio write whose buffer is an mmap of the same file: no self-deadlock, no stale page";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("pagecache_block_get() records the lock in current->pagecache_lock; adds skip it"),
        new("no-recursion-handling", "the lock without the task_struct field", Expectation.Bug(FailureKind.Hang)),
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var disk = new Disk("disk", 4);
        var a = new AddressSpace(1, "A", [1, 5], disk, PagecacheVariants.Of(variant));
        ex.Spawn("dio", 0, async () => await a.DioWrite(0, 2, buf: a, bufIdx: 1));
        ex.Spawn("reader", 1, async () => await a.BufferedRead(0));
        ex.AtEnd("page cache consistent with disk", () => a.AssertConsistent());
        ex.AtEnd("reservations", () => PagecacheVariants.AssertReservations(disk, a));
    });
}
