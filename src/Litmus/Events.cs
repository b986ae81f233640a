namespace Kmc.Checks.Litmus;

public enum EventKind
{
    Read,
    Write,
    Fence,
}

/// <summary>The annotations herd's linux-kernel.def puts on events (and lock.cat's lock event classes).</summary>
[Flags]
public enum EventTags
{
    None = 0,
    Once = 1,
    Acquire = 2,
    Release = 4,
    Noreturn = 8,
    Plain = 16,

    /// <summary>Part of an atomic read-modify-write instruction (the RMW set), even a failed cmpxchg.</summary>
    Rmw = 32,
    Init = 64,
    LockRead = 128,
    LockWrite = 256,
    Unlock = 512,
    LockFail = 1024,
    IsLockedTrue = 2048,
    IsLockedFalse = 4096,
}

public enum FenceKind
{
    /// <summary>A cancelled placeholder (the fence around an RMW that turned out to fail).</summary>
    None,
    Mb,
    Rmb,
    Wmb,
    BeforeAtomic,
    AfterAtomic,
    AfterSpinlock,
    AfterUnlockLock,
    AfterSrcuReadUnlock,
    Barrier,
    RcuLock,
    RcuUnlock,
    SyncRcu,
    SyncSrcu,
    SrcuLock,
    SrcuUnlock,

    /// <summary>smp_memb(): sys_membarrier(), expanded by the engine into an SRCU-like grace period.</summary>
    Memb,
}

/// <summary>One event of one thread's run; dependencies are masks over the thread's own events.</summary>
public sealed class ThreadEvent
{
    public required EventKind Kind { get; init; }
    public int Loc { get; init; } = -1;
    public long Value { get; set; }
    public EventTags Tags { get; set; }
    public FenceKind Fence { get; set; }
    public long Cookie { get; init; }
    public ulong AddrDeps { get; init; }
    public ulong DataDeps { get; init; }
    public ulong CtrlDeps { get; init; }

    /// <summary>For the write of a successful RMW: the local index of its read.</summary>
    public int RmwRead { get; init; } = -1;

    public bool Has(EventTags t) => (Tags & t) != 0;

    public override string ToString() => Kind switch
    {
        EventKind.Read => $"R{Tags}[{Loc}]={Value}",
        EventKind.Write => $"W{Tags}[{Loc}]={Value}",
        _ => $"F[{Fence}]",
    };
}

/// <summary>A thread's events for one choice of the values its loads return, and its final registers.</summary>
public sealed record ThreadRun(IReadOnlyList<ThreadEvent> Events, IReadOnlyDictionary<string, long> Registers, bool SyncInsideReader);
