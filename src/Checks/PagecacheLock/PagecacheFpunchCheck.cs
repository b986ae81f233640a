using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.PagecacheLock;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.PagecacheLock;

/// <summary>
/// fpunch of page 1 against readahead of pages 0-1 and a read fault on page 1. The punch drops the
/// cached page and frees the block; an adder that gets in between reads the old block and leaves
/// a page holding data the file no longer has (a read returns it instead of zeroes).
/// </summary>
[Check]
public sealed class PagecacheFpunchCheck : Check
{
    public override string Name => "pagecache-fpunch";

    /// <summary>
    /// PCT: random search needs 335 executions under tso for the no-lock race (seed 1), above
    /// --quick's 200; kmc ci's lost-power probe found PCT depth 3 at execution 7.
    /// </summary>
    public override SettingsOverride? Settings(string memoryModel) => new() { Strategy = "pct" };

    public override string Description => "fpunch vs readahead and a read fault in the hole: no page of punched data survives";

    public override IReadOnlyList<Type> Primitives => [typeof(Primitives.PagecacheLock.PagecacheLock), typeof(AddressSpace)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("fpunch holds the block side; readahead and faults take the add side"),
        PagecacheVariants.NoLock,
    ];

    public override Scenario Build(Variant variant) => new(3, ex =>
    {
        var disk = new Disk("disk", 3);
        var a = new AddressSpace(1, "A", [10, 20], disk, PagecacheVariants.Of(variant));
        ex.Spawn("fpunch", 0, async () => await a.FallocatePunchHole(1, 2));
        ex.Spawn("readahead", 1, async () => await a.Readahead(0, 2));
        ex.Spawn("fault", 2, async () =>
        {
            var r = await a.PageFault(1, write: false);
            Assert(r == FaultResult.Ok, $"read fault inside i_size got {r}");
        });
        PagecacheVariants.AtEndConsistent(ex, disk, a);
        ex.AtEnd("hole punched", () => Assert(a.Blocks[1].Peek() == 0, $"disk[1] is v{a.Blocks[1].Peek()} after fpunch"));
    });
}
