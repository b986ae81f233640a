using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// P1 ("bcachefs: Deadlock prevention for ei_pagecache_lock"): a dio write to A whose user buffer
/// is an mmap of B holds A's block side and faults on B (add side), while another task does the
/// mirror. Unconditional add_get in the fault handler is an ABBA deadlock; the fix orders by
/// mapping address and, out of order, trylocks, else drops its block lock, waits and retries.
/// </summary>
[Check]
public sealed class PagecacheTwoFileDeadlockCheck : Check
{
    public override string Name => "pagecache-two-file-deadlock";

    public override string Description => "dio write A from mmap of B vs dio write B from mmap of A: no ABBA deadlock";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("address-ordered add_tryget; drop block, wait, retake, retry the dio"),
        new("abba-no-trylock", "the fault handler always add_get()s the faulting file", Expectation.Bug(FailureKind.Hang)),
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var disk = new Disk("disk", 4);
        var pv = PagecacheVariants.Of(variant);
        var a = new AddressSpace(1, "A", [1], disk, pv);
        var b = new AddressSpace(2, "B", [1], disk, pv);
        ex.Spawn("dio-A-from-B", 0, async () => await a.DioWrite(0, 2, buf: b, bufIdx: 0));
        ex.Spawn("dio-B-from-A", 1, async () => await b.DioWrite(0, 3, buf: a, bufIdx: 0));
        ex.AtEnd("page caches consistent with disk", () =>
        {
            a.AssertConsistent();
            b.AssertConsistent();
        });
        ex.AtEnd("reservations", () => PagecacheVariants.AssertReservations(disk, a, b));
    });
}
