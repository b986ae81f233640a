using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Closures;

/// <summary>
/// A heap parent closure with two heap children: one started with closure_call() on a
/// workqueue (a kworker task), one inline (wq == NULL). The children write results and
/// closure_return_with_destructor() (kfree); the parent's continuation runs exactly once,
/// after both children put it, sees both results, and frees the parent. The continuation may
/// sleep (might_sleep(): it is ordinary process-context code), so whoever runs it inline must
/// not be in an atomic or RCU read-side section.
/// </summary>
public abstract class ClosureRefcountCheckBase : Check
{
    protected abstract bool Upstream { get; }

    private sealed class Op : KObject
    {
        public Op(ClosureFlavor f)
        {
            Cl = f.New("op->cl");
            Result = [new Loc<int>("op->result[0]"), new Loc<int>("op->result[1]")];
        }

        public IClosure Cl { get; }
        public Loc<int>[] Result { get; }
    }

    private sealed class Child : KObject
    {
        public Child(string name, ClosureFlavor f) => Cl = f.New(name + "->cl");

        public IClosure Cl { get; }
    }

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var cv = new ClosureFlavor(Upstream, variant);
        var wq = new ClosureWorkqueue("wq");
        var opDoneRuns = new Loc<int>("op_done runs");
        var opFreed = new Loc<int>("op freed");
        var childReturned = new[] { new Loc<int>("child[0] returned"), new Loc<int>("child[1] returned") };

        ex.Spawn("submitter", 0, async () =>
        {
            var op = Kmalloc(() => new Op(cv), "op");
            await op.Cl.ClosureInit(null);

            var opFree = new ClosureFn("op_free", async cl =>
            {
                await WriteOnce(opFreed, await ReadOnce(opFreed) + 1);
                await Kfree(op);
            });
            var opDone = new ClosureFn("op_done", async cl =>
            {
                await WriteOnce(opDoneRuns, await ReadOnce(opDoneRuns) + 1);
                await Schedule(); // might_sleep(): a continuation may block (GFP_KERNEL, a mutex)
                for (var i = 0; i < 2; i++)
                {
                    Assert(await ReadOnce(childReturned[i]) == 1, $"op_done runs before child[{i}] dropped its ref to the parent");
                    var r = await ReadOnce(op.Result[i]);
                    Assert(r == 1, $"op_done sees op->result[{i}] == {r}: the child's write before its put is not visible");
                }

                await cl.ClosureReturnWithDestructor(opFree);
            });

            for (var i = 0; i < 2; i++)
            {
                var idx = i;
                var child = Kmalloc(() => new Child($"child{idx}", cv), $"child{idx}");
                var childFree = new ClosureFn($"child{idx}_free", async cl => await Kfree(child));
                var childFn = new ClosureFn($"child{idx}_fn", async cl =>
                {
                    await WriteOnce(op.Result[idx], 1);
                    await WriteOnce(childReturned[idx], 1);
                    await cl.ClosureReturnWithDestructor(childFree);
                });
                // child 0 runs on the workqueue, child 1 inline (continue_at_nobarrier with wq == NULL).
                await child.Cl.ClosureCall(childFn, idx == 0 ? wq : null, op.Cl);
            }

            await op.Cl.ContinueAt(opDone, null);
            // continue_at: the caller must return now; op may already be freed.
        });

        ex.AtEnd("continuation ran exactly once", () =>
            Assert(opDoneRuns.Peek() == 1, $"op_done ran {opDoneRuns.Peek()} times"));
        ex.AtEnd("parent destructor ran exactly once", () =>
            Assert(opFreed.Peek() == 1, $"op_free ran {opFreed.Peek()} times"));
    });
}

[Check]
public sealed class ClosureRefcountCheck : ClosureRefcountCheckBase
{
    protected override bool Upstream => false;

    public override string Name => "closure-refcount";

    public override string Description =>
        "parent + 2 child heap closures (closure_call on a workqueue and inline): guard bits never trip, continuation once after every put, parent put once, no UAF/leak";

    public override IReadOnlyList<Type> Primitives => [typeof(Closure)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        ClosureVariants.Fixed,
        ClosureVariants.BarriersRelaxed,
    ];
}

[Check]
public sealed class ClosureRefcountUpstreamCheck : ClosureRefcountCheckBase
{
    protected override bool Upstream => true;

    public override string Name => "closure-refcount@upstream";

    public override string Description =>
        "closure-refcount on the current upstream closures: no WARN, continuation once after every put, never run inline inside closure_sub()'s RCU section";

    public override IReadOnlyList<Type> Primitives => [typeof(ClosureUpstream)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        ClosureVariants.UpstreamFixedRefcount,
        ClosureVariants.UpstreamQueueUnderRcu,
        ClosureVariants.UpstreamAcquireFixes,
    ];
}
