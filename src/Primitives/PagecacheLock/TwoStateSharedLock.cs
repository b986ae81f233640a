// Port of bcachefs's two-state shared lock, the pagecache add lock factored out of fs.c for the
// inode pagecache lock and the per-bucket locks of the in-place write path:
// fs/bcachefs/two_state_shared_lock.h (two_state_lock_init, bch2_two_state_unlock,
// bch2_two_state_trylock, bch2_two_state_lock) and fs/bcachefs/two_state_shared_lock.c
// (__bch2_two_state_lock), as merged in v6.7 (the 2022-11 inline form; the 2024-05 try_cmpxchg
// rewrite of the trylock loop changes no semantics).
// Written from a reading of those files; no code copied.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.PagecacheLock;

/// <summary>The two-state lock as written, or a mutation that shows the exclusion check can fail.</summary>
public enum TwoStateVariant
{
    Fixed,
    /// <summary>Own mutation: the trylock tests the state, then atomic_long_add()s: a blocker and an adder both get in.</summary>
    TrylockNoCmpxchg,
}

/// <summary>two_state_lock_t: v &gt; 0 held by v adders (s = 1), v &lt; 0 by -v blockers (s = 0).</summary>
[KernelPort("fs/bcachefs/two_state_shared_lock.h", "v6.7")]
public sealed class TwoStateLock(string name, TwoStateVariant variant = TwoStateVariant.Fixed)
{
    public string Name { get; } = name;

    /// <summary>atomic_long_t v</summary>
    public AtomicLong V { get; } = new(name + ".v");

    /// <summary>wait_queue_head_t wait</summary>
    public WaitQueueHead Wait { get; } = new(name + ".wait");

    // Ghost state for the exclusion property (never read by the port).
    private int _ghostAdders;
    private int _ghostBlockers;

    private void GhostTake(int s)
    {
        if (s != 0) _ghostAdders++; else _ghostBlockers++;
        Assert(!(_ghostAdders > 0 && _ghostBlockers > 0),
            $"{Name}: held for add by {_ghostAdders} and for block by {_ghostBlockers} at once");
    }

    /// <summary>bch2_two_state_unlock(): the put that brings v to 0 wakes every waiter.</summary>
    public async ValueTask Bch2TwoStateUnlock(int s)
    {
        long i = s != 0 ? 1 : -1;
        BugOn(await AtomicRead(V) == 0, "EBUG_ON(atomic_long_read(&lock->v) == 0)");
        if (s != 0) _ghostAdders--; else _ghostBlockers--;
        if (await AtomicSubReturnRelease(i, V) == 0)
            await WakeUp(Wait); // wake_up_all: nobody waits exclusively
    }

    /// <summary>bch2_two_state_trylock(): cmpxchg_acquire v -&gt; v + i unless the other state holds it.</summary>
    public async ValueTask<bool> Bch2TwoStateTrylock(int s)
    {
        long i = s != 0 ? 1 : -1;
        var v = await AtomicRead(V);
        if (variant == TwoStateVariant.TrylockNoCmpxchg)
        {
            if (i > 0 ? v < 0 : v > 0)
                return false;
            await AtomicAdd(i, V);
            GhostTake(s);
            return true;
        }

        long old;
        do
        {
            old = v;
            if (i > 0 ? v < 0 : v > 0)
                return false;
        } while ((v = await AtomicCmpxchgAcquire(V, old, old + i)) != old);

        GhostTake(s);
        return true;
    }

    /// <summary>__bch2_two_state_lock(): __wait_event(), i.e. without wait_event()'s first unqueued test.</summary>
    private async ValueTask SlowLock(int s)
    {
        var wait = DefineWait();
        for (;;)
        {
            await PrepareToWait(Wait, wait, TaskState.Uninterruptible);
            if (await Bch2TwoStateTrylock(s))
                break;
            await Schedule();
        }

        await FinishWait(Wait, wait);
    }

    /// <summary>bch2_two_state_lock(): inline trylock fast path, out-of-line sleeping slow path.</summary>
    public async ValueTask Bch2TwoStateLock(int s)
    {
        if (!await Bch2TwoStateTrylock(s))
            await SlowLock(s);
    }
}
