using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Basics;

/// <summary>
/// Two CPUs each add to a shared counter with a read-modify-write of plain accesses. Under a
/// spinlock no increment is lost; without one, the classic lost update is found.
/// </summary>
[Check]
public sealed class CounterCheck : Check
{
    public const int Rounds = 2;

    public override string Name => "counter";

    public override string Description => "a shared counter incremented by 2 CPUs: no increment is lost";

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        new("spinlock", "each increment under spin_lock()", Expectation.Pass),
        new("no-lock", "increments race: READ_ONCE then WRITE_ONCE", Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var lockUsed = variant.Name == "spinlock";
        var counter = new Loc<int>("counter");
        var l = new SpinlockT("counter_lock");
        for (var cpu = 0; cpu < 2; cpu++)
        {
            ex.Spawn($"T{cpu}", cpu, async () =>
            {
                for (var i = 0; i < Rounds; i++)
                {
                    if (lockUsed)
                        await SpinLock(l);
                    var v = await ReadOnce(counter);
                    await WriteOnce(counter, v + 1);
                    if (lockUsed)
                        await SpinUnlock(l);
                }
            });
        }

        ex.AtEnd("no lost update", () =>
            Assert(counter.Peek() == 2 * Rounds, $"counter is {counter.Peek()}, expected {2 * Rounds}: an increment was lost"));
    });
}
