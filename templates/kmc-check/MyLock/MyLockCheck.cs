using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace MyLock;

/// <summary>Two CPUs take the lock twice each: at most one holder at a time, and no increment of the protected counter is lost.</summary>
[Check]
public sealed class MyLockCheck : Check
{
    public override string Name => "mylock-check";

    public override string Description => "MyLock, 2 CPUs x 2 rounds: mutual exclusion, no lost update";

    /// <summary>The ports the scenario runs: their files join the trace's model hash.</summary>
    public override IReadOnlyList<Type> Primitives => [typeof(MyLock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("atomic_xchg_acquire() takes the lock"),
        new("test-then-set", "the lock is tested and set in two steps: two holders", Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var v = variant.Name == "test-then-set" ? MyLockVariant.TestThenSet : MyLockVariant.Fixed;
        var l = new MyLock("lock", v);
        var counter = new Loc<int>("counter");
        // Check-side state shared by tasks lives in a Ghost<T>: the exhaustive search's reduction
        // sees its accesses; a captured C# variable it would not.
        var holders = new Ghost<int>();
        for (var cpu = 0; cpu < 2; cpu++)
        {
            ex.Spawn($"T{cpu}", cpu, async () =>
            {
                for (var round = 0; round < 2; round++)
                {
                    await l.Lock();
                    holders.Value++;
                    Assert(holders.Value == 1, $"{Current.Name} holds the lock with {holders.Value - 1} other holder(s)");
                    await WriteOnce(counter, await ReadOnce(counter) + 1);
                    holders.Value--;
                    await l.Unlock();
                }
            });
        }

        // Checked once every task has finished (Peek reads memory without a scheduling point).
        ex.AtEnd("no lost update", () => Assert(counter.Peek() == 4, $"an increment under the lock was lost: counter = {counter.Peek()}"));
    });
}
