using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Tests;

/// <summary>Small scenarios that exercise one property of the simulated kernel each.</summary>
public static class Scenarios
{
    public sealed class Buffer : KObject
    {
        public Loc<int> Data { get; } = new("buf->data");
    }

    /// <summary>A task waits for a flag that nobody ever sets.</summary>
    public static Scenario StuckWait() => new(2, ex =>
    {
        var flag = new Loc<int>("flag");
        ex.Spawn("waiter", 0, async () => await SpinUntil(() => flag.Peek() != 0, "flag != 0"));
        ex.Spawn("bystander", 1, async () => await WriteOnce(new Loc<int>("other"), 1));
    });

    /// <summary>One task frees a buffer, the other reads it afterwards (or before: then nothing fails).</summary>
    public static Scenario UseAfterFree() => new(2, ex =>
    {
        var buf = Kmalloc(() => new Buffer(), "buf");
        var freed = new Loc<int>("freed");
        ex.Spawn("freer", 0, async () =>
        {
            await Kfree(buf);
            await WriteOnce(freed, 1);
        });
        ex.Spawn("reader", 1, async () =>
        {
            await SpinUntil(() => freed.Peek() == 1, "freed == 1");
            await ReadOnce(buf.Data);
        });
    });

    public static Scenario DoubleFree() => new(2, ex =>
    {
        var buf = Kmalloc(() => new Buffer(), "buf");
        ex.Spawn("T0", 0, async () => await Kfree(buf));
        ex.Spawn("T1", 1, async () => await Kfree(buf));
    });

    public static Scenario Leak() => new(1, ex =>
    {
        ex.Spawn("T0", 0, async () =>
        {
            var b = Kmalloc(() => new Buffer(), "leaky");
            await WriteOnce(b.Data, 1);
        });
    });

    /// <summary>A spinlock-protected counter, 2 tasks x 2 increments.</summary>
    public static Scenario LockedCounter(int tasks = 2) => new(tasks, ex =>
    {
        var counter = new Loc<int>("counter");
        var l = new SpinlockT("lock");
        for (var i = 0; i < tasks; i++)
        {
            ex.Spawn($"T{i}", i, async () =>
            {
                for (var k = 0; k < 2; k++)
                {
                    await SpinLock(l);
                    var v = await ReadOnce(counter);
                    await WriteOnce(counter, v + 1);
                    await SpinUnlock(l);
                }
            });
        }

        ex.AtEnd("count", () => Assert(counter.Peek() == 2 * tasks, $"counter {counter.Peek()}"));
    });

    /// <summary>Two tasks on one CPU: the first holds a spinlock with preemption disabled, the second must wait for the CPU.</summary>
    public static Scenario SameCpuPreemption(bool disablePreemption) => new(1, ex =>
    {
        var inCs = new Loc<int>("in_cs");
        var l = new ArchSpinlock("lock");
        for (var i = 0; i < 2; i++)
        {
            ex.Spawn($"T{i}", 0, async () =>
            {
                if (disablePreemption)
                    PreemptDisable();
                await ArchSpinLock(l);
                await WriteOnce(inCs, 1);
                await WriteOnce(inCs, 0);
                await ArchSpinUnlock(l);
                if (disablePreemption)
                    PreemptEnable();
            });
        }
    });
}
