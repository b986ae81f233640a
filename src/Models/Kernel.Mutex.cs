using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>struct mutex: a sleeping lock, with its owner kept for reports.</summary>
public sealed class MutexT : IHoldable
{
    public MutexT(string name)
    {
        Name = name;
        Locked = new Loc<int>(name + ".owner");
        Execution.CurrentOrNull?.RegisterLock(this);
    }

    private Hold _hold;

    public IEnumerable<Hold> Holds => Owner is null ? [] : [_hold];

    string IHoldable.Describe() => "mutex " + Name;

    internal void Take(Execution ex, SimTask t, string fn, string file, int line)
    {
        Owner = t;
        _hold = new Hold(t, ex.NextStepIndex, fn, file, line);
    }

    public string Name { get; }

    /// <summary>Stands for the owner word: nonzero while held.</summary>
    internal Loc<int> Locked { get; }

    /// <summary>What a sleeping mutex_lock() waits for, made once per mutex rather than at each call.</summary>
    internal Func<bool> Free => _free ??= () => Locked.Peek() == 0;

    private Func<bool>? _free;

    public SimTask? Owner { get; internal set; }

    public bool IsLocked => Locked.Peek() != 0;
}

public static partial class Kernel
{
    /// <summary>
    /// mutex_lock(): might_sleep(), then take the lock with acquire ordering, sleeping while it is
    /// held: the waiter gives up its CPU and the scheduler sees it blocked until the owner unlocks.
    /// </summary>
    public static async ValueTask MutexLock(MutexT m, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        CheckMaySleep(t, $"mutex_lock({m.Name})", file, line);
        await ex.Point(t, null, null);
        Allocator.CheckLive(m.Locked, "mutex_lock", file, line, t);
        if (m.Locked.Value != 0)
        {
            if (ex.Recording)
                ex.Record(t, "mutex_lock", m.Name, $"sleeps: held by {m.Owner?.Name}", fn, file, line);
            t.Sleeping = true;
            Scheduling.Reduction.Footprints.Untracked();
            if (t.Cpu.Occupant == t)
                t.Cpu.Occupant = null;
            await ex.Point(t, m.Free, new WaitText("mutex ", m.Name), new WaitSite(fn, file, line), m);
            t.Sleeping = false;
            t.Cpu.Occupant = t;
            Allocator.CheckLive(m.Locked, "mutex_lock", file, line, t);
        }

        NodeLifetime.CheckWrite(m.Locked, "1", "mutex_lock", file, line, t);
        ex.Load(t, m.Locked, MemOrder.Acquire, rmw: true);
        ex.Store(t, m.Locked, 1, MemOrder.Acquire, rmw: true);
        m.Take(ex, t, fn, file, line);
        if (ex.Recording)
            ex.Record(t, "mutex_lock", m.Name, "acquired", fn, file, line, memory: ex.MemoryNote);
    }

    /// <summary>mutex_unlock(): a release cmpxchg of the owner word; only the owner may call it.</summary>
    public static async ValueTask MutexUnlock(MutexT m, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, null, null);
        if (m.Owner != t)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"DEBUG_LOCKS_WARN_ON(owner != current): {t.Name} unlocks mutex {m.Name}, which {(m.Owner is null ? "is not locked" : "is held by " + m.Owner.Name)}",
                $"{file}:{line}"));
        }

        Allocator.CheckLive(m.Locked, "mutex_unlock", file, line, t);
        NodeLifetime.CheckWrite(m.Locked, "0", "mutex_unlock", file, line, t);
        m.Owner = null;
        ex.Load(t, m.Locked, MemOrder.Release, rmw: true);
        ex.Store(t, m.Locked, 0, MemOrder.Release, rmw: true);
        if (ex.Recording)
            ex.Record(t, "mutex_unlock", m.Name, "released", fn, file, line, memory: ex.MemoryNote);
    }
}
