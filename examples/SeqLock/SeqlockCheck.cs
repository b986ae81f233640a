using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;

namespace SeqLockExample;

/// <summary>
/// Two writers update a pair (a, b) that must stay equal; a reader takes a snapshot under the
/// seqlock and, when read_seqretry() says the snapshot is good, asserts a == b.
/// </summary>
[Check]
public sealed class SeqlockCheck : Check
{
    public override string Name => "example.seqlock";

    public override string Description => "seqlock_t, 2 writers and 1 reader: a snapshot read_seqretry() accepts is consistent";

    public override IReadOnlyList<Type> Primitives => [typeof(Seqcount), typeof(Seqlock)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("read_seqbegin() waits for an even count"),
        new("raw-read-begin", "the reader samples the count with raw_read_seqcount(): a snapshot taken during a write passes the retry check", Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) => new(3, ex =>
    {
        var v = variant.Name == "raw-read-begin" ? SeqcountVariant.RawReadBegin : SeqcountVariant.Fixed;
        var sl = new Seqlock("sl", v);
        var a = new Loc<int>("a");
        var b = new Loc<int>("b");
        for (var w = 1; w <= 2; w++)
        {
            var value = w;
            ex.Spawn($"writer{w}", w, async () =>
            {
                await sl.WriteSeqlock();
                await WriteOnce(a, value);
                await WriteOnce(b, value);
                await sl.WriteSequnlock();
            });
        }

        ex.Spawn("reader", 0, async () =>
        {
            int seq, ra, rb;
            do
            {
                seq = await sl.ReadSeqbegin();
                ra = await ReadOnce(a);
                rb = await ReadOnce(b);
            }
            while (await sl.ReadSeqretry(seq));
            Assert(ra == rb, $"read_seqretry() accepted a torn snapshot: a = {ra}, b = {rb}");
        });
    });
}
