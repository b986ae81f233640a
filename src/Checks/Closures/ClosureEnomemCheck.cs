using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Closures;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Closures;

/// <summary>
/// A closure user under allocation failure (the closure code itself never allocates): a
/// submitter kmallocs a parent op with an embedded closure and two child ops, started with
/// closure_call() (one on a workqueue, one inline), while the explorer fails any of these
/// kmallocs at will (fault query "class memory choose"). Error paths: no op, return -ENOMEM;
/// no child, record -ENOMEM in the op and still continue_at() so the op completes and frees
/// itself once the children that did start have put it. Properties: no use-after-free, no
/// leak (an op that never completes is never freed), the continuation runs at most once and reports the error.
/// </summary>
[Check]
public sealed class ClosureEnomemCheck : Check
{
    private const int ENOMEM = 12;

    public override string Name => "closure-enomem";

    public override string Description =>
        "heap parent + 2 child closures whose kmallocs may fail: the submitter's error paths return -ENOMEM with no UAF and no leak";

    public override string? Faults => "class memory choose";

    public override IReadOnlyList<Type> Primitives => [typeof(Closure)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("a failed child kmalloc sets op->error = -ENOMEM, and the submitter still continue_at()s the parent"),
        new("enomem-frees-op", "own mutation of the error path: when a child's kmalloc fails, the submitter kfree()s the op and "
            + "returns -ENOMEM, although a child already started holds a ref and will write op->result and put op->cl",
            Expectation.Bug(FailureKind.UseAfterFree)),
        new("enomem-returns-early", "own mutation of the error path: when a child's kmalloc fails, the submitter returns -ENOMEM "
            + "without continue_at(): its ref on op->cl is never put, so the op is never freed", Expectation.Bug(FailureKind.Leak)),
    ];

    private sealed class Op : KObject
    {
        public Op()
        {
            Cl = new Closure("op->cl");
            Result = [new Loc<int>("op->result[0]"), new Loc<int>("op->result[1]")];
            Error = new Loc<int>("op->error");
        }

        public Closure Cl { get; }
        public Loc<int>[] Result { get; }
        public Loc<int> Error { get; }
    }

    private sealed class Child : KObject
    {
        public Child(string name) => Cl = new Closure(name + "->cl");

        public Closure Cl { get; }
    }

    public override Scenario Build(Variant variant) => new(2, ex =>
    {
        var wq = new ClosureWorkqueue("wq");
        var opDoneRuns = new Ghost<int>();
        var opAllocated = new Ghost<bool>();
        var started = new[] { new Ghost<bool>(), new Ghost<bool>() };
        var reported = new Ghost<int>();

        ex.Spawn("submitter", 0, async () =>
        {
            var op = KmallocOrNull(() => new Op(), "op");
            if (op == null)
                return; // -ENOMEM: nothing to undo
            opAllocated.Value = true;
            await op.Cl.ClosureInit(null);

            var opFree = new ClosureFn("op_free", async _ => await Kfree(op));
            var opDone = new ClosureFn("op_done", async cl =>
            {
                opDoneRuns.Value++;
                for (var i = 0; i < 2; i++)
                {
                    var r = await ReadOnce(op.Result[i]);
                    Assert(r == (started[i].Value ? 1 : 0), $"op_done sees op->result[{i}] == {r}, but child {i} {(started[i].Value ? "ran" : "was never allocated")}");
                }

                reported.Value = await ReadOnce(op.Error);
                await cl.ClosureReturnWithDestructor(opFree);
            });

            for (var i = 0; i < 2; i++)
            {
                var idx = i;
                var child = KmallocOrNull(() => new Child($"child{idx}"), "child");
                if (child == null)
                {
                    if (variant.Name == "enomem-frees-op")
                    {
                        await Kfree(op);
                        return;
                    }

                    if (variant.Name == "enomem-returns-early")
                        return;
                    await WriteOnce(op.Error, -ENOMEM);
                    continue;
                }

                started[idx].Value = true;
                var childFree = new ClosureFn($"child{idx}_free", async _ => await Kfree(child));
                var childFn = new ClosureFn($"child{idx}_fn", async cl =>
                {
                    await WriteOnce(op.Result[idx], 1);
                    await cl.ClosureReturnWithDestructor(childFree);
                });
                await child.Cl.ClosureCall(childFn, idx == 0 ? wq : null, op.Cl);
            }

            await op.Cl.ContinueAt(opDone, null);
        });

        // An op that never completes is never freed: the leak check reports it.
        ex.AtEnd("the continuation ran at most once", () =>
            Assert(opDoneRuns.Value <= (opAllocated.Value ? 1 : 0), $"op_done ran {opDoneRuns.Value} times (op {(opAllocated.Value ? "allocated" : "never allocated")})"));
        ex.AtEnd("a failed child allocation is reported", () =>
        {
            if (opDoneRuns.Value == 1)
                Assert(reported.Value == (started.All(s => s.Value) ? 0 : -ENOMEM), $"op_done reported {reported.Value} with children started: {string.Join(", ", started.Select(s => s.Value))}");
        });
    });
}
