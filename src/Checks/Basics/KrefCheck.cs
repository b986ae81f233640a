using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Basics;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Basics;

/// <summary>An object shared by two tasks through a kref: it is freed exactly once, and never used after.</summary>
[Check]
public sealed class KrefCheck : Check
{
    public override string Name => "kref";

    public override string Description => "kref-counted object shared by 2 tasks: freed once, no use after free, no leak";

    public override IReadOnlyList<Type> Primitives => [typeof(Kref)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("refcount_dec_and_test()"),
        new("racy-put", "kref_put() decrements with a plain read and write: double free or leak", Expectation.AnyBug),
        new("use-after-put", "a task reads the object after dropping its reference", Expectation.Bug(FailureKind.UseAfterFree)),
    ];

    private sealed class Obj : KObject
    {
        public Obj(KrefVariant v)
        {
            Ref = new Kref("obj->ref", v);
            Data = new Loc<int>("obj->data", 42);
        }

        public Kref Ref { get; }
        public Loc<int> Data { get; }
    }

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var kv = variant.Name == "racy-put" ? KrefVariant.RacyPut : KrefVariant.Fixed;
        var obj = Kmalloc(() => new Obj(kv), "obj");
        obj.Ref.Refcount.Init(2); // one reference per task, taken before they start
        for (var cpu = 0; cpu < 2; cpu++)
        {
            var readsAfterPut = variant.Name == "use-after-put" && cpu == 1;
            ex.Spawn($"T{cpu}", cpu, async () =>
            {
                var v = await ReadOnce(obj.Data);
                Assert(v == 42, $"obj->data is {v}");
                await obj.Ref.KrefPut(() => Kfree(obj));
                if (readsAfterPut)
                    await ReadOnce(obj.Data);
            });
        }
    });
}
