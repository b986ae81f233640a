using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Primitives.PagecacheLock;

namespace Kmc.Checks.PagecacheLock;

/// <summary>The variants the pagecache checks share, and their mapping onto the port's enum.</summary>
public static class PagecacheVariants
{
    public static readonly Variant NoLock = new("no-lock",
        "mainline before the series: nothing keeps shot-down pages out of the cache", Expectation.Bug(FailureKind.Assertion));

    private static readonly Dictionary<string, PagecacheVariant> s_byName = new()
    {
        ["fixed"] = PagecacheVariant.Fixed,
        ["no-lock"] = PagecacheVariant.NoLock,
        ["no-recursion-handling"] = PagecacheVariant.NoRecursionHandling,
        ["abba-no-trylock"] = PagecacheVariant.AbbaNoTrylock,
        ["truncate-isize-only"] = PagecacheVariant.TruncateIsizeOnly,
        ["readahead-blocking-get"] = PagecacheVariant.ReadaheadBlockingGet,
    };

    /// <summary>The port's variant: the Variant's <see cref="Variant.Port"/>, else by name.</summary>
    public static PagecacheVariant Of(Variant v) => v.PortVariant(s_byName, "pagecache");

    /// <summary>The end-of-execution properties most scenarios state: the cache agrees with the disk, and the reservations add up.</summary>
    public static void AtEndConsistent(Kmc.Models.Execution ex, Disk disk, AddressSpace a)
    {
        ex.AtEnd("page cache consistent with disk", () => a.AssertConsistent());
        ex.AtEnd("reservations", () => AssertReservations(disk, a));
    }

    /// <summary>Disk-reservation accounting at the end: the count equals the reservations the cached pages hold.</summary>
    public static void AssertReservations(Disk disk, params AddressSpace[] files)
    {
        var held = files.Sum(f => f.ReservedPages());
        var reserved = disk.Reserved.Peek();
        Kmc.Models.Kernel.Assert(reserved == held, $"disk reservations out of sync: {reserved} reserved, {held} held by pages");
        foreach (var f in files)
        {
            var isize = f.ISize.Peek();
            for (var i = isize; i < f.NrPages; i++)
            {
                var p = f.Pages[i];
                Kmc.Models.Kernel.Assert(!(p.Present.Peek() != 0 && p.Dirty.Peek() != 0),
                    $"{p.Name} is dirty past i_size ({isize} pages): its data and accounting are for a block that no longer exists");
            }
        }
    }
}
