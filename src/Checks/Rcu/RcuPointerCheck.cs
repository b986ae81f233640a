using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Rcu;

/// <summary>
/// The RCU-protected pointer of Documentation/RCU/whatisRCU.rst: an updater publishes a new
/// object with rcu_assign_pointer() and frees the one it replaced once a grace period has passed;
/// two readers look the pointer up inside rcu_read_lock() and read a field of what they found.
/// No reader may see an object before its initialisation, nor touch one after its kfree().
/// </summary>
[Check]
public sealed class RcuPointerCheck : Check
{
    public override string Name => "rcu";

    public override string Description =>
        "rcu_assign_pointer() + synchronize_rcu() + kfree() against 2 rcu_read_lock()/rcu_dereference() readers: no use-after-free, no uninitialised field";

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("rcu_assign_pointer(), synchronize_rcu(), kfree(old); readers use the object only inside rcu_read_lock()"),
        new("kfree-rcu", "kfree_rcu(old) instead of synchronize_rcu() + kfree(): the free runs from an RCU callback after a grace period", Expectation.Pass),
        new("no-synchronize-rcu", "kfree(old) right after publishing the new object: a reader may still hold old", Expectation.Bug(FailureKind.UseAfterFree)),
        new("read-outside-cs", "a reader reads p->value after its rcu_read_unlock(): the grace period no longer waits for it", Expectation.Bug(FailureKind.UseAfterFree)),
        // The plain initialisation races with the readers' READ_ONCE() under every model (the LKMM
        // flags the shape: tests/Kmc.Tests/RaceLitmus/publish-once-plain.litmus); under lkmm the
        // stale read of the uninitialised value may be found first.
        new("assign-plain", "publishes with WRITE_ONCE() instead of rcu_assign_pointer(): nothing orders the initialisation before the publication",
            Expectation.Bug(FailureKind.DataRace))
        {
            PerMemoryModel = new Dictionary<string, Expectation> { ["lkmm"] = Expectation.AnyBug },
        },
        new("sleep-in-cs", "a reader takes the object's mutex inside its read-side critical section", Expectation.Bug(FailureKind.Assertion)),
        new("synchronize-in-cs", "the updater looks the old object up under rcu_read_lock() and calls synchronize_rcu() before its rcu_read_unlock()", Expectation.Bug(FailureKind.Hang)),
    ];

    public sealed class Foo : KObject
    {
        public Loc<int> Value { get; } = new("foo->value");
        public MutexT Lock { get; } = new("foo->lock");
        public RcuHead Rcu { get; } = new("foo->rcu");
    }

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var v = variant.Name;
        var gp = new Loc<Foo?>("gp");
        var first = Kmalloc(() => new Foo(), "foo");
        first.Value.Init(1);
        gp.Init(first);

        ex.Spawn("updater", 0, async () =>
        {
            Foo old;
            if (v == "synchronize-in-cs")
            {
                RcuReadLock();
                old = (await RcuDereference(gp))!;
            }
            else
            {
                old = (await RcuDereferenceProtected(gp, true))!; // the only updater: nobody else changes gp
            }

            var nw = Kmalloc(() => new Foo(), "foo");
            await PlainWrite(nw.Value, 2);
            if (v == "assign-plain")
                await WriteOnce(gp, nw);
            else
                await RcuAssignPointer(gp, nw);

            switch (v)
            {
                case "no-synchronize-rcu":
                    await Kfree(old);
                    break;
                case "kfree-rcu":
                    await KfreeRcu(old, old.Rcu);
                    break;
                case "synchronize-in-cs":
                    await SynchronizeRcu();
                    RcuReadUnlock();
                    await Kfree(old);
                    break;
                default:
                    await SynchronizeRcu();
                    await Kfree(old);
                    break;
            }
        });

        for (var i = 0; i < 2; i++)
        {
            ex.Spawn($"reader{i}", 1 - i, async () =>
            {
                RcuReadLock();
                var p = (await RcuDereference(gp))!;
                int value;
                if (v == "sleep-in-cs")
                {
                    await MutexLock(p.Lock);
                    value = await PlainRead(p.Value);
                    await MutexUnlock(p.Lock);
                }
                else if (v == "read-outside-cs")
                {
                    RcuReadUnlock();
                    value = await ReadOnce(p.Value);
                }
                else
                {
                    value = await ReadOnce(p.Value);
                }

                Assert(value != 0, $"{Current.Name} sees {p.DisplayName}->value == 0: the object is visible before its initialisation");
                if (v != "read-outside-cs")
                    RcuReadUnlock();
            });
        }

        // Module exit, once every task is done: the object still published is the module's to free.
        ex.AtEnd("module exit frees the published object", () => Kfree(gp.Peek()).GetAwaiter().GetResult());
    });
}
