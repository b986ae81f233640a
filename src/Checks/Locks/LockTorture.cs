using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Locks;

/// <summary>
/// The critical section every spinlock check runs: protected data written with plain
/// accesses under the lock, checked by the next holder. A lock whose acquire does not see the
/// previous holder's release shows here as a stale read (the value read is older than the last
/// one written under the lock), not only as two holders at once.
/// </summary>
public sealed class ProtectedData(string name)
{
    /// <summary>The protected counter (plain C accesses).</summary>
    public Loc<int> Data { get; } = new(name + ".data");

    /// <summary>Ghost state (not kernel memory): the holders inside, and the last value written under the lock.</summary>
    private readonly Ghost<int> _holders = new();
    private readonly Ghost<int> _lastWritten = new();

    public int CriticalSections => _lastWritten.Value;

    /// <summary>The body of the critical section: read the data, check it, write it back incremented.</summary>
    public async ValueTask CriticalSection()
    {
        _holders.Value++;
        Assert(_holders.Value == 1, $"{Current.Name} holds {Data.Name}'s lock while {_holders.Value - 1} other holder(s) do");
        var v = await PlainRead(Data);
        Assert(v == _lastWritten.Value,
            $"{Current.Name} read {Data.Name} == {v} under the lock, but the previous holder wrote {_lastWritten.Value}: a stale read (the lock's acquire did not see the previous holder's release)");
        await PlainWrite(Data, v + 1);
        _lastWritten.Value = v + 1;
        _holders.Value--;
    }

    /// <summary>
    /// A read of the data by a task that does not write it (a holder of a shared state, while
    /// the writers are excluded): it must see the last value written under the lock.
    /// </summary>
    public async ValueTask Observe()
    {
        var v = await PlainRead(Data);
        Assert(v == _lastWritten.Value,
            $"{Current.Name} read {Data.Name} == {v} under the lock, but its last writer wrote {_lastWritten.Value}: a stale read (the lock's acquire did not see that writer's release)");
    }

    /// <summary>The end-of-run invariant: every critical section's increment is there.</summary>
    public void CheckTotal(int expected) =>
        Assert(Data.Peek() == expected && _lastWritten.Value == expected,
            $"all tasks done but {Data.Name} == {Data.Peek()} after {_lastWritten.Value} of {expected} critical sections");
}

/// <summary>
/// N CPUs, k rounds each of lock(); critical section; unlock(): the scenario the qspinlock, MCS
/// and ticket spinlock checks share. <paramref name="lockOn"/> and <paramref name="unlockOn"/>
/// get the CPU number (for per-CPU nodes). The tasks, in CPU order, are returned: a lock that
/// names a CPU only through per-CPU data and encoded CPU numbers makes them interchangeable
/// (<see cref="Execution.Symmetric"/>).
/// </summary>
public static class LockTorture
{
    public static SimTask[] Spawn(Execution ex, int cpus, int rounds, Func<int, ValueTask> lockOn, Func<int, ValueTask> unlockOn, string lockName = "lock")
    {
        var data = new ProtectedData(lockName);
        var tasks = new SimTask[cpus];
        for (var cpu = 0; cpu < cpus; cpu++)
        {
            var c = cpu;
            tasks[c] = ex.Spawn($"T{c}", c, async () =>
            {
                for (var round = 0; round < rounds; round++)
                {
                    // spin_lock() holds preemption off around the arch lock.
                    PreemptDisable();
                    await lockOn(c);
                    await data.CriticalSection();
                    await unlockOn(c);
                    PreemptEnable();
                }
            });
        }

        ex.AtEnd($"{lockName} data", () => data.CheckTotal(cpus * rounds));
        return tasks;
    }
}
