using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>
/// The word of a spinlock. Its own type so that a weak memory model can tell lock operations
/// from other acquire RMWs and release stores: the LKMM orders an unlock followed by a lock
/// more strongly than a release followed by an acquire (lock.cat's po-unlock-lock-po).
/// </summary>
internal sealed class LockWord(string name) : Loc<int>(name);

/// <summary>arch_spinlock_t: the bare lock word, with the holder kept for reports.</summary>
public sealed class ArchSpinlock : IHoldable
{
    public ArchSpinlock(string name)
    {
        Name = name;
        Locked = new LockWord(name);
        Execution.CurrentOrNull?.RegisterLock(this);
    }

    /// <summary>The holder's acquisition, for hang reports.</summary>
    private Hold _hold;

    public IEnumerable<Hold> Holds => Holder is null ? [] : [_hold];

    string IHoldable.Describe() => "spinlock " + Name;

    internal void Take(Execution ex, SimTask t, string fn, string file, int line)
    {
        Holder = t;
        _hold = new Hold(t, ex.NextStepIndex, fn, file, line);
    }

    public string Name { get; }

    internal LockWord Locked { get; }

    /// <summary>What a contended arch_spin_lock() waits for, made once per lock rather than at each call.</summary>
    internal Func<bool> Free => _free ??= () => Locked.Peek() == 0;

    private Func<bool>? _free;

    public SimTask? Holder { get; internal set; }

    public bool IsLocked => Locked.Peek() != 0;

    internal string Describe() => Holder is null ? Name : $"{Name} (held by {Holder.Name})";
}

/// <summary>spinlock_t: an arch lock taken with preemption (and optionally interrupts) off.</summary>
public sealed class SpinlockT
{
    public SpinlockT(string name) => Raw = new ArchSpinlock(name);

    public ArchSpinlock Raw { get; }

    public string Name => Raw.Name;

    public SimTask? Holder => Raw.Holder;

    public bool IsLocked => Raw.IsLocked;
}

public static partial class Kernel
{
    // ---- arch_spinlock_t -------------------------------------------------------------------

    /// <summary>arch_spin_lock(): spins (as a blocked task) until the word is free, then takes it with acquire ordering.</summary>
    public static async ValueTask ArchSpinLock(ArchSpinlock l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, l.Free, new WaitText("spinlock ", l.Name), new WaitSite(fn, file, line), l);
        if (l.Locked.Value != 0)
        {
            // Only reachable when a blocked spin was resumed without its condition: a driver bug.
            throw new InvalidOperationException($"{t.Name} resumed while {l.Describe()}");
        }

        Allocator.CheckLive(l.Locked, "arch_spin_lock", file, line, t);
        ex.Load(t, l.Locked, MemOrder.Acquire, rmw: true);
        NodeLifetime.CheckWrite(l.Locked, "1", "arch_spin_lock", file, line, t);
        ex.Store(t, l.Locked, 1, MemOrder.Acquire, rmw: true);
        l.Take(ex, t, fn, file, line);
        if (ex.Recording)
            ex.Record(t, "arch_spin_lock", l.Name, "acquired", fn, file, line, memory: ex.MemoryNote);
    }

    public static async ValueTask<bool> ArchSpinTrylock(ArchSpinlock l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, null, null);
        Allocator.CheckLive(l.Locked, "arch_spin_trylock", file, line, t);
        var old = ex.Load(t, l.Locked, MemOrder.Acquire, rmw: true);
        var ok = old == 0;
        if (ok)
        {
            NodeLifetime.CheckWrite(l.Locked, "1", "arch_spin_trylock", file, line, t);
            ex.Store(t, l.Locked, 1, MemOrder.Acquire, rmw: true);
            l.Take(ex, t, fn, file, line);
        }

        if (ex.Recording)
            ex.Record(t, "arch_spin_trylock", l.Name, ok ? "acquired" : $"busy ({l.Describe()})", fn, file, line, memory: ex.MemoryNote);
        return ok;
    }

    public static async ValueTask ArchSpinUnlock(ArchSpinlock l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        await ex.Point(t, null, null);
        if (l.Holder != t)
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"{t.Name} unlocks {l.Name}, which {(l.Holder is null ? "is not locked" : "is held by " + l.Holder.Name)}", $"{file}:{line}"));
        }

        Allocator.CheckLive(l.Locked, "arch_spin_unlock", file, line, t);
        NodeLifetime.CheckWrite(l.Locked, "0", "arch_spin_unlock", file, line, t);
        l.Holder = null;
        ex.Store(t, l.Locked, 0, MemOrder.Release, rmw: false);
        if (ex.Recording)
            ex.Record(t, "arch_spin_unlock", l.Name, "released", fn, file, line, memory: ex.MemoryNote);
    }

    // ---- spinlock_t ------------------------------------------------------------------------

    public static ValueTask SpinLock(SpinlockT l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        PreemptDisable(fn, file, line);
        return ArchSpinLock(l.Raw, fn, file, line);
    }

    public static async ValueTask SpinUnlock(SpinlockT l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        await ArchSpinUnlock(l.Raw, fn, file, line);
        PreemptEnable(fn, file, line);
    }

    public static async ValueTask<bool> SpinTrylock(SpinlockT l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        PreemptDisable(fn, file, line);
        if (await ArchSpinTrylock(l.Raw, fn, file, line))
            return true;
        PreemptEnable(fn, file, line);
        return false;
    }

    public static ValueTask SpinLockIrq(SpinlockT l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        LocalIrqDisable(fn, file, line);
        return SpinLock(l, fn, file, line);
    }

    public static async ValueTask SpinUnlockIrq(SpinlockT l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        await SpinUnlock(l, fn, file, line);
        LocalIrqEnable(fn, file, line);
    }

    /// <summary>spin_lock_irqsave(): returns the saved flags.</summary>
    public static async ValueTask<bool> SpinLockIrqsave(SpinlockT l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var flags = LocalIrqSave(fn, file, line);
        await SpinLock(l, fn, file, line);
        return flags;
    }

    public static async ValueTask SpinUnlockIrqrestore(SpinlockT l, bool flags, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        await SpinUnlock(l, fn, file, line);
        LocalIrqRestore(flags, fn, file, line);
    }

    /// <summary>spin_is_locked(): a racy peek, as in the kernel.</summary>
    public static async ValueTask<bool> SpinIsLocked(SpinlockT l, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => await Load(l.Raw.Locked, MemOrder.Once, "spin_is_locked", fn, file, line) != 0;
}
