// Port of the pagecache add lock: struct pagecache_lock, __pagecache_lock_tryget(),
// pagecache_{add,block}_{get,put}() and __pagecache_block_{get,put}() from
// "mm: pagecache add lock" (Kent Overstreet, 2018 RFC series; the text followed is the 2019
// re-post of the same patch): mm/filemap.c, include/linux/fs.h, and the
// task_struct->pagecache_lock recursion field of include/linux/sched.h.
// Written from a reading of the patch; no code copied.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.PagecacheLock;

/// <summary>Which code the pagecache model runs: the series, or one of the broken alternatives.</summary>
public enum PagecacheVariant
{
    /// <summary>The 2018/2019 series with the recursion field and bcachefs's ordered-trylock fault protocol.</summary>
    Fixed,
    /// <summary>Mainline before the series: no lock at all, nothing keeps shot-down pages out.</summary>
    NoLock,
    /// <summary>The lock without task_struct->pagecache_lock: a dio write faulting on its own file self-deadlocks.</summary>
    NoRecursionHandling,
    /// <summary>Before "bcachefs: Deadlock prevention for ei_pagecache_lock": the fault handler always add_get()s.</summary>
    AbbaNoTrylock,
    /// <summary>Truncate does not take the block side and relies on the i_size checks of the add paths.</summary>
    TruncateIsizeOnly,
    /// <summary>
    /// Readahead takes the add side with a blocking get (the 2018 bch2_readpages()) while it holds
    /// the locked pages the readahead code added, instead of the tryget and hand-back of the
    /// current bch2_readahead(): it waits for a block holder that waits for one of those pages.
    /// </summary>
    ReadaheadBlockingGet,
}

/// <summary>struct pagecache_lock: a count (&gt;0 add holders, &lt;0 block holders) and a wait queue.</summary>
[KernelPort("mm/filemap.c", "2018 series")]
public sealed class PagecacheLock
{
    /// <summary>task_struct->pagecache_lock: the block lock the task holds, so its own faults can add pages.</summary>
    public static readonly TaskField<PagecacheLock?> CurrentPagecacheLock = new("task_struct->pagecache_lock");

    public PagecacheLock(string name, PagecacheVariant variant = PagecacheVariant.Fixed)
    {
        Name = name;
        Variant = variant;
        V = new AtomicLong(name + ".v");
        Wait = new WaitQueueHead(name + ".wait");
        Dep = new LockdepMap(name, "pagecache_lock");
    }

    public string Name { get; }
    public PagecacheVariant Variant { get; }

    /// <summary>atomic_long_t v</summary>
    public AtomicLong V { get; }

    /// <summary>wait_queue_head_t wait</summary>
    public WaitQueueHead Wait { get; }

    /// <summary>Report-only lockdep annotation (no memory access): who holds the lock, for hang reports.</summary>
    public LockdepMap Dep { get; }

    // Ghost state for the exclusion property (not kernel memory, never read by the port).
    public int GhostAdders { get; private set; }
    public int GhostBlockers { get; private set; }

    private bool Disabled => Variant == PagecacheVariant.NoLock;

    private void GhostTake(long i)
    {
        if (i > 0) GhostAdders++; else GhostBlockers++;
        Assert(!(GhostAdders > 0 && GhostBlockers > 0),
            $"{Name}: held in add state ({GhostAdders}) and block state ({GhostBlockers}) at once");
    }

    private void GhostDrop(long i)
    {
        if (i > 0) GhostAdders--; else GhostBlockers--;
    }

    /// <summary>__pagecache_lock_tryget(): i = +1 (add) or -1 (block).</summary>
    public async ValueTask<bool> PagecacheLockTryget(long i)
    {
        if (Disabled)
            return true;
        var v = await AtomicRead(V);
        for (;;)
        {
            if (i > 0 ? v < 0 : v > 0)
                return false;
            var old = await AtomicCmpxchgAcquire(V, v, v + i);
            if (old == v)
            {
                GhostTake(i);
                LockAcquired(Dep, i > 0 ? "add" : "block");
                return true;
            }

            v = old;
        }
    }

    /// <summary>__pagecache_lock_get(): wait_event(lock->wait, __pagecache_lock_tryget(lock, i)).</summary>
    public async ValueTask PagecacheLockGet(long i)
    {
        if (Disabled)
            return;
        LockContended(Dep);
        await WaitEvent(Wait, () => PagecacheLockTryget(i));
    }

    /// <summary>__pagecache_lock_put(): the put that brings the count to 0 wakes everybody.</summary>
    public async ValueTask PagecacheLockPut(long i)
    {
        if (Disabled)
            return;
        BugOn(await AtomicRead(V) == 0, "atomic_long_read(&lock->v) == 0");
        GhostDrop(i);
        LockRelease(Dep);
        if (await AtomicSubReturnRelease(i, V) == 0)
            await WakeUp(Wait);
    }

    /// <summary>pagecache_add_tryget() (bcachefs: bch2_pagecache_add_tryget)</summary>
    public ValueTask<bool> PagecacheAddTryget() => PagecacheLockTryget(1);

    /// <summary>pagecache_add_get()</summary>
    public ValueTask PagecacheAddGet() => PagecacheLockGet(1);

    /// <summary>pagecache_add_put()</summary>
    public ValueTask PagecacheAddPut() => PagecacheLockPut(1);

    /// <summary>__pagecache_block_get(): block state without recording it in current.</summary>
    public ValueTask UnrecordedPagecacheBlockGet() => PagecacheLockGet(-1);

    /// <summary>__pagecache_block_put()</summary>
    public ValueTask UnrecordedPagecacheBlockPut() => PagecacheLockPut(-1);

    /// <summary>pagecache_block_tryget() (try variant of the block side)</summary>
    public ValueTask<bool> PagecacheBlockTryget() => PagecacheLockTryget(-1);

    /// <summary>pagecache_block_get(): block state, recorded in current->pagecache_lock (one per task).</summary>
    public async ValueTask PagecacheBlockGet()
    {
        await PagecacheLockGet(-1);
        if (Variant == PagecacheVariant.NoRecursionHandling || Disabled)
            return; // the lock as first posted: no task_struct field
        BugOn(Current.GetField(CurrentPagecacheLock) != null, "current->pagecache_lock");
        Current.SetField(CurrentPagecacheLock, this);
    }

    /// <summary>pagecache_block_put()</summary>
    public async ValueTask PagecacheBlockPut()
    {
        if (Variant != PagecacheVariant.NoRecursionHandling && !Disabled)
        {
            BugOn(Current.GetField(CurrentPagecacheLock) != this, "current->pagecache_lock != lock");
            Current.SetField(CurrentPagecacheLock, null);
        }

        await PagecacheLockPut(-1);
    }

    /// <summary>The recursion rule of __add_to_page_cache_locked(): skip the add lock when current holds block on it.</summary>
    public bool HeldForBlockByCurrent() =>
        Variant != PagecacheVariant.NoRecursionHandling && Current.GetField(CurrentPagecacheLock) == this;
}
