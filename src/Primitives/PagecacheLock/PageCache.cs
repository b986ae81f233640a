// A small page-cache model: the generic code the pagecache add lock series changes
// (mm/filemap.c: __add_to_page_cache_locked, filemap_fault, readahead, invalidation,
// truncate_pagecache) and the bcachefs users of the lock (fs/bcachefs/fs-io.c of the 2018 series,
// and bch2_page_fault's "Deadlock prevention for ei_pagecache_lock" protocol, bcachefs 2020-11).
// Readahead follows the later readahead_control form (mm/readahead.c read_pages() calling
// ->readahead() with the pages already added and locked, bch2_readahead()), where the add lock
// has to be a tryget: the 2018 blocking get is the ReadaheadBlockingGet variant. The commit that
// turned the get into a tryget is not identified here. fpunch is bch2_fpunch() of the per-inode
// version (block side, truncate_pagecache_range(), the extents punched to a hole).
// Written from a reading of those sources; no code copied. One page slot stands for one page index.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.PagecacheLock;

/// <summary>One page-cache slot of an address_space.</summary>
public sealed class PageSlot(string name)
{
    public string Name { get; } = name;
    public Loc<int> Present { get; } = new(name + ".present");
    /// <summary>PG_locked (insertion takes it first, so it also serialises insertion of this index).</summary>
    public Loc<int> Locked { get; } = new(name + ".locked");
    public Loc<int> Uptodate { get; } = new(name + ".uptodate");
    public Loc<int> Dirty { get; } = new(name + ".dirty");
    /// <summary>The version of the data the page holds.</summary>
    public Loc<int> Data { get; } = new(name + ".data");
    /// <summary>bch_page_state: the block under the page was allocated when it was read, so dirtying it needs no new space.</summary>
    public Loc<int> Allocated { get; } = new(name + ".allocated");
    /// <summary>bch_page_state: the page holds one block's disk reservation.</summary>
    public Loc<int> Reserved { get; } = new(name + ".reserved");
    /// <summary>Report-only lockdep annotation of PG_locked: who holds the page lock, for hang reports.</summary>
    public LockdepMap Dep { get; } = new(name, "page lock");
}

/// <summary>
/// The filesystem's free space and its disk-reservation count. As in bcachefs's page state, a dirty
/// page holds a reservation only when the block it was read from was a hole: overwriting an
/// allocated block needs no new space. Writeback that allocates a block the page holds no
/// reservation for is the "disk usage increased more than reserved" accounting error.
/// </summary>
public sealed class Disk(string name, int capacity)
{
    public int Capacity { get; } = capacity;
    public Loc<int> Reserved { get; } = new Loc<int>(name + ".reserved");

    /// <summary>bch2_disk_reservation_get() for one page.</summary>
    public async ValueTask ReservationGet()
    {
        var r = await AtomicAddReturn(1, Reserved);
        Assert(r <= Capacity, $"disk reservation oversubscribed: {r} reserved of {Capacity}");
    }

    /// <summary>bch2_disk_reservation_put() for one page.</summary>
    public async ValueTask ReservationPut()
    {
        var r = await AtomicSubReturn(1, Reserved);
        Assert(r >= 0, $"disk reservation count went negative ({r})");
    }
}

public enum FaultResult { Ok, Sigbus, Retry }

/// <summary>struct address_space of one file + its inode's i_size and on-disk blocks.</summary>
[KernelPort("mm/filemap.c + fs/bcachefs/fs-io.c", "2018 series")]
public sealed class AddressSpace
{
    /// <summary>task_struct->faults_disabled_mapping (bcachefs 2020, mainline 6.7).</summary>
    public static readonly TaskField<AddressSpace?> FaultsDisabledMapping = new("task_struct->faults_disabled_mapping");

    /// <summary>Bit 0 of faults_disabled_mapping: the fault handler dropped the dio's block lock.</summary>
    public static readonly TaskField<bool> FaultsDisabledLocksDropped = new("faults_disabled_mapping & 1");

    public AddressSpace(int id, string name, int[] blocks, Disk disk, PagecacheVariant variant, int? isize = null)
    {
        Id = id;
        Name = name;
        Disk = disk;
        Variant = variant;
        AddLock = new PagecacheLock(name + ".add_lock", variant);
        Pages = Enumerable.Range(0, blocks.Length).Select(i => new PageSlot($"{name}.page[{i}]")).ToArray();
        Blocks = blocks.Select((b, i) => new Loc<int>($"{name}.disk[{i}]", b)).ToArray();
        ISize = new Loc<int>(name + ".i_size", isize ?? blocks.Length);
    }

    /// <summary>Stands for the mapping's address (the fault protocol orders locks by it).</summary>
    public int Id { get; }
    public string Name { get; }
    public Disk Disk { get; }
    public PagecacheVariant Variant { get; }
    public PagecacheLock AddLock { get; }
    public PageSlot[] Pages { get; }
    public Loc<int>[] Blocks { get; }
    /// <summary>i_size, in pages.</summary>
    public Loc<int> ISize { get; }
    public int NrPages => Pages.Length;

    // ---- page lock -------------------------------------------------------------------------

    /// <summary>lock_page(): a sleeping bit lock, modelled as a cmpxchg plus a wait for the bit to clear.</summary>
    public static async ValueTask LockPage(PageSlot p)
    {
        while (await CmpxchgAcquire(p.Locked, 0, 1) != 0)
        {
            LockContended(p.Dep);
            await SpinUntil(() => p.Locked.Peek() == 0, $"lock_page({p.Name})");
        }

        LockAcquired(p.Dep);
    }

    /// <summary>unlock_page()</summary>
    public static ValueTask UnlockPage(PageSlot p)
    {
        LockRelease(p.Dep);
        return SmpStoreRelease(p.Locked, 0);
    }

    // ---- adding pages ----------------------------------------------------------------------

    /// <summary>
    /// add_to_page_cache_locked(): inserts a locked, !uptodate page at idx. Takes the add side unless
    /// current holds the block side of this mapping (the series' recursion rule). False: EEXIST.
    /// </summary>
    public async ValueTask<bool> AddToPageCacheLocked(int idx)
    {
        var recursive = AddLock.HeldForBlockByCurrent();
        if (!recursive)
            await AddLock.PagecacheAddGet();
        var p = Pages[idx];
        await LockPage(p);
        var inserted = await ReadOnce(p.Present) == 0;
        if (inserted)
        {
            await WriteOnce(p.Uptodate, 0);
            await WriteOnce(p.Allocated, 0);
            await WriteOnce(p.Present, 1);
        }
        else
        {
            await UnlockPage(p);
        }

        if (!recursive)
            await AddLock.PagecacheAddPut();
        return inserted;
    }

    /// <summary>->readpage(): fills a locked page from disk, marks it uptodate and unlocks it.</summary>
    public async ValueTask ReadPage(int idx)
    {
        var p = Pages[idx];
        var d = await ReadOnce(Blocks[idx]);
        await WriteOnce(p.Data, d);
        await WriteOnce(p.Allocated, d != 0 ? 1 : 0);
        await WriteOnce(p.Uptodate, 1);
        await UnlockPage(p);
    }

    /// <summary>Find the page at idx or add and read it; returns with the page locked and uptodate.</summary>
    private async ValueTask FindOrCreateLocked(int idx)
    {
        var p = Pages[idx];
        for (;;)
        {
            if (await AddToPageCacheLocked(idx))
                await ReadPage(idx);
            await LockPage(p);
            if (await ReadOnce(p.Present) != 0 && await ReadOnce(p.Uptodate) != 0)
                return;
            await UnlockPage(p); // invalidated under us: retry
        }
    }

    /// <summary>Buffered read of one page (generic_file_buffered_read). Returns the data, or -1 at EOF.</summary>
    public async ValueTask<int> BufferedRead(int idx)
    {
        if (idx >= await ReadOnce(ISize))
            return -1;
        var p = Pages[idx];
        await FindOrCreateLocked(idx);
        var d = await ReadOnce(p.Data);
        await UnlockPage(p);
        return d;
    }

    /// <summary>
    /// Readahead of [start, start + nr) below i_size, in the readahead_control form:
    /// page_cache_ra_unbounded() reads i_size and adds the missing pages, locked and !uptodate,
    /// then read_pages() calls ->readahead() = bch2_readahead() with them still locked.
    /// bch2_readahead() takes the add side with a tryget and, when a block holder has it, hands the
    /// pages back (read_pages() removes them from the cache and unlocks them) instead of waiting:
    /// the block holder may be waiting for one of those page locks.
    /// <see cref="PagecacheVariant.ReadaheadBlockingGet"/> waits.
    /// </summary>
    /// <remarks>
    /// The adding runs under the add side, as mainline's page_cache_ra_unbounded() runs under
    /// invalidate_lock since 5.15: otherwise an i_size read before a truncate or fcollapse would
    /// add pages past the new end of file after the shoot-down. The lock is dropped before
    /// ->readahead(), as there, which is where the deadlock of the blocking get lives.
    /// </remarks>
    public async ValueTask Readahead(int start, int nr)
    {
        var recursive = AddLock.HeldForBlockByCurrent();
        if (!recursive)
            await AddLock.PagecacheAddGet();
        var isize = await ReadOnce(ISize);
        var pages = new List<int>();
        for (var idx = start; idx < start + nr && idx < isize; idx++)
        {
            if (await AddToPageCacheLocked(idx))
                pages.Add(idx);
        }

        if (!recursive)
            await AddLock.PagecacheAddPut();
        if (pages.Count == 0)
            return; // nothing added: read_pages() is not called
        if (!recursive)
        {
            if (Variant == PagecacheVariant.ReadaheadBlockingGet)
            {
                await AddLock.PagecacheAddGet();
            }
            else if (!await AddLock.PagecacheAddTryget())
            {
                foreach (var idx in pages)
                    await RemoveLockedPage(idx);
                return;
            }
        }

        foreach (var idx in pages)
            await ReadPage(idx);
        if (!recursive)
            await AddLock.PagecacheAddPut();
    }

    /// <summary>filemap_remove_folio() + folio_unlock() of a locked page nobody read (read_pages()' clean-up).</summary>
    public async ValueTask RemoveLockedPage(int idx)
    {
        var p = Pages[idx];
        await WriteOnce(p.Present, 0);
        await WriteOnce(p.Uptodate, 0);
        await UnlockPage(p);
    }

    /// <summary>Buffered write of one page: dirties it, taking a disk reservation for a clean page.</summary>
    public async ValueTask BufferedWrite(int idx, int version)
    {
        await AddLock.PagecacheAddGet();
        if (idx < await ReadOnce(ISize))
        {
            var p = Pages[idx];
            await FindOrCreateLocked(idx);
            await SetPageDirty(p);
            await WriteOnce(p.Data, version);
            await UnlockPage(p);
        }

        await AddLock.PagecacheAddPut();
    }

    // ---- page faults -----------------------------------------------------------------------

    /// <summary>
    /// The lock part of bch2_page_fault(): recursion rule, then the address-ordered trylock protocol
    /// against the mapping the task's dio holds block on. Returns whether the add side was taken.
    /// </summary>
    private async ValueTask<(FaultResult Result, bool Locked)> FaultLock()
    {
        if (AddLock.HeldForBlockByCurrent())
            return (FaultResult.Ok, false);
        var fdm = Current.GetField(FaultsDisabledMapping);
        if (fdm != null && fdm != this && Variant != PagecacheVariant.AbbaNoTrylock && Variant != PagecacheVariant.NoLock)
        {
            if (fdm.Id > Id && !await AddLock.PagecacheAddTryget())
            {
                // Out of order and contended: drop our block lock, wait for this add lock, retake, tell dio to retry.
                await fdm.AddLock.PagecacheBlockPut();
                await AddLock.PagecacheAddGet();
                await AddLock.PagecacheAddPut();
                await fdm.AddLock.PagecacheBlockGet();
                Current.SetField(FaultsDisabledLocksDropped, true);
                return (FaultResult.Retry, false);
            }

            if (fdm.Id > Id)
                return (FaultResult.Ok, true); // the tryget succeeded
        }

        await AddLock.PagecacheAddGet();
        return (FaultResult.Ok, true);
    }

    /// <summary>bch2_page_fault()/bch2_page_mkwrite() around filemap_fault() on an mmap of this file.</summary>
    public async ValueTask<FaultResult> PageFault(int idx, bool write)
    {
        var (res, locked) = await FaultLock();
        if (res != FaultResult.Ok)
            return res;
        var result = FaultResult.Ok;
        if (idx >= await ReadOnce(ISize))
        {
            result = FaultResult.Sigbus;
        }
        else
        {
            var p = Pages[idx];
            await FindOrCreateLocked(idx);
            // filemap_fault() re-checks i_size with the page locked.
            if (idx >= await ReadOnce(ISize))
            {
                result = FaultResult.Sigbus;
            }
            else if (write)
            {
                await SetPageDirty(p);
            }

            await UnlockPage(p);
        }

        if (locked)
            await AddLock.PagecacheAddPut();
        return result;
    }

    // ---- dirty pages and their reservations --------------------------------------------------

    /// <summary>bch2_set_page_dirty() with bch2_page_reservation_get(): reserve unless the page's block is allocated. Page locked.</summary>
    private async ValueTask SetPageDirty(PageSlot p)
    {
        if (await ReadOnce(p.Dirty) != 0)
            return;
        if (await ReadOnce(p.Allocated) == 0 && await ReadOnce(p.Reserved) == 0)
        {
            await Disk.ReservationGet();
            await WriteOnce(p.Reserved, 1);
        }

        await WriteOnce(p.Dirty, 1);
    }

    /// <summary>
    /// Writeback of a locked dirty page: the write allocates the block if it is a hole, and the
    /// fs-usage update checks that the page brought a reservation for it.
    /// </summary>
    private async ValueTask WritebackPage(int idx)
    {
        var p = Pages[idx];
        var hole = await ReadOnce(Blocks[idx]) == 0;
        var reserved = await ReadOnce(p.Reserved) != 0;
        Assert(!hole || reserved,
            $"disk usage increased by 1 block more than the 0 reserved: {p.Name} was dirtied as an overwrite, but disk[{idx}] is a hole now");
        await WriteOnce(Blocks[idx], await ReadOnce(p.Data));
        await WriteOnce(p.Allocated, 1);
        await WriteOnce(p.Dirty, 0);
        await ReleaseReservation(p);
    }

    private async ValueTask ReleaseReservation(PageSlot p)
    {
        if (await ReadOnce(p.Reserved) == 0)
            return;
        await WriteOnce(p.Reserved, 0);
        await Disk.ReservationPut();
    }

    // ---- removing pages --------------------------------------------------------------------

    /// <summary>
    /// filemap_write_and_wait_range() + invalidate_inode_pages2_range() when writeback is true
    /// (dio, fallocate); truncate_inode_pages_range() (dirty pages dropped) when it is false.
    /// </summary>
    public async ValueTask InvalidateRange(int from, int to, bool writeback)
    {
        for (var idx = from; idx < to; idx++)
        {
            var p = Pages[idx];
            await LockPage(p);
            if (await ReadOnce(p.Present) != 0)
            {
                if (await ReadOnce(p.Dirty) != 0)
                {
                    if (writeback)
                    {
                        await WritebackPage(idx);
                    }
                    else
                    {
                        await WriteOnce(p.Dirty, 0);
                        await ReleaseReservation(p);
                    }
                }

                await WriteOnce(p.Present, 0);
                await WriteOnce(p.Uptodate, 0);
            }

            await UnlockPage(p);
        }
    }

    /// <summary>Direct IO read: flush the range, then read the disk (takes no pagecache lock).</summary>
    public async ValueTask<int> DioRead(int idx)
    {
        var p = Pages[idx];
        await LockPage(p);
        if (await ReadOnce(p.Present) != 0 && await ReadOnce(p.Dirty) != 0)
            await WritebackPage(idx);

        await UnlockPage(p);
        return await ReadOnce(Blocks[idx]);
    }

    /// <summary>
    /// bch2_dio_write_loop(): block side, shoot down the range, get_user_pages() on the user buffer
    /// (a fault on <paramref name="buf"/> when it is an mmap), write the disk.
    /// </summary>
    public async ValueTask DioWrite(int idx, int version, AddressSpace? buf = null, int bufIdx = 0)
    {
        await AddLock.PagecacheBlockGet();
        Current.SetField(FaultsDisabledMapping, this);
        for (;;)
        {
            await InvalidateRange(idx, idx + 1, writeback: true);
            if (buf == null)
                break;
            var r = await buf.PageFault(bufIdx, write: false);
            if (r == FaultResult.Retry || Current.GetField(FaultsDisabledLocksDropped))
            {
                Note("fault dropped the block lock: re-shoot down the range and retry");
                Current.SetField(FaultsDisabledLocksDropped, false);
                continue;
            }

            break;
        }

        Current.SetField(FaultsDisabledMapping, null);
        await WriteOnce(Blocks[idx], version);
        await AddLock.PagecacheBlockPut();
    }

    /// <summary>bch2_truncate() to newSize pages: i_size, drop the pages past it, free their blocks.</summary>
    public async ValueTask Truncate(int newSize)
    {
        var block = Variant != PagecacheVariant.TruncateIsizeOnly;
        if (block)
            await AddLock.PagecacheBlockGet();
        var old = await ReadOnce(ISize);
        await WriteOnce(ISize, newSize);
        if (newSize < old)
        {
            await InvalidateRange(newSize, NrPages, writeback: false);
            for (var i = newSize; i < old; i++)
                await WriteOnce(Blocks[i], 0); // freed: reads back as a hole
        }

        if (block)
            await AddLock.PagecacheBlockPut();
    }

    /// <summary>
    /// bch2_fpunch() of pages [from, to): block side, truncate_pagecache_range() (cached pages in
    /// the hole are dropped, dirty ones too: their data is being punched), then the extents are
    /// punched, so the blocks read back as holes.
    /// </summary>
    public async ValueTask FallocatePunchHole(int from, int to)
    {
        await AddLock.PagecacheBlockGet();
        await InvalidateRange(from, to, writeback: false);
        for (var i = from; i < to; i++)
            await WriteOnce(Blocks[i], 0);
        await AddLock.PagecacheBlockPut();
    }

    /// <summary>bch2_fcollapse() of one page at offset: flush + drop from offset on, shift the blocks down.</summary>
    public async ValueTask FallocateCollapseRange(int offset)
    {
        await AddLock.PagecacheBlockGet();
        await InvalidateRange(offset, NrPages, writeback: true);
        var size = await ReadOnce(ISize);
        for (var i = offset; i + 1 < size; i++)
            await WriteOnce(Blocks[i], await ReadOnce(Blocks[i + 1]));
        await WriteOnce(Blocks[size - 1], 0);
        await WriteOnce(ISize, size - 1);
        await AddLock.PagecacheBlockPut();
    }

    /// <summary>bch2_finsert() of one page (hole) at offset; the last page must be a hole past i_size.</summary>
    public async ValueTask FallocateInsertRange(int offset)
    {
        await AddLock.PagecacheBlockGet();
        await InvalidateRange(offset, NrPages, writeback: true);
        var size = await ReadOnce(ISize);
        BugOn(size >= NrPages, "insert range past the model's pages");
        for (var i = size; i > offset; i--)
            await WriteOnce(Blocks[i], await ReadOnce(Blocks[i - 1]));
        await WriteOnce(Blocks[offset], 0);
        await WriteOnce(ISize, size + 1);
        await AddLock.PagecacheBlockPut();
    }

    // ---- properties (AtEnd only: Peek) -----------------------------------------------------

    /// <summary>Cache consistency: what a buffered read would return now equals the disk, for every clean page.</summary>
    public void AssertConsistent()
    {
        var isize = ISize.Peek();
        var dirty = 0;
        for (var i = 0; i < NrPages; i++)
        {
            var p = Pages[i];
            if (p.Present.Peek() == 0)
                continue;
            Assert(i < isize, $"{p.Name} still in the page cache past i_size ({isize} pages), holding data v{p.Data.Peek()}");
            if (p.Dirty.Peek() != 0)
            {
                dirty++;
                continue;
            }

            Assert(p.Uptodate.Peek() != 0, $"{p.Name} left !uptodate");
            Assert(p.Data.Peek() == Blocks[i].Peek(),
                $"stale page: {p.Name} holds v{p.Data.Peek()} but disk[{i}] is v{Blocks[i].Peek()}: a buffered read returns stale data");
        }

        Assert(AddLock.V.Peek() == 0, $"{AddLock.Name} still held: {AddLock.V.Peek()}");
    }

    public int ReservedPages() => Pages.Count(p => p.Present.Peek() != 0 && p.Reserved.Peek() != 0);
}
