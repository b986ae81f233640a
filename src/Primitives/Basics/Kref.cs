// Port of include/linux/kref.h (Linux v6.6) over refcount_t (include/linux/refcount.h).
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Basics;

public enum KrefVariant
{
    Fixed,
    /// <summary>A careless port: kref_put() reads, decrements and writes back instead of refcount_dec_and_test().</summary>
    RacyPut,
}

/// <summary>struct kref</summary>
[KernelPort("include/linux/kref.h", "v6.6")]
public sealed class Kref(string name, KrefVariant variant = KrefVariant.Fixed)
{
    public Atomic Refcount { get; } = new(name + ".refcount", 1);

    /// <summary>kref_init()</summary>
    public void KrefInit() => Refcount.Init(1);

    /// <summary>kref_get(): refcount_inc() warns on a get from zero (a use after the last put).</summary>
    public async ValueTask KrefGet()
    {
        var old = await AtomicFetchAddRelaxed(1, Refcount);
        WarnOn(old == 0, "refcount_t: addition on 0; use-after-free");
    }

    /// <summary>kref_put(): drops a reference and calls release when it was the last one.</summary>
    public async ValueTask<bool> KrefPut(Func<ValueTask> release)
    {
        bool last;
        if (variant == KrefVariant.RacyPut)
        {
            var count = await AtomicRead(Refcount);
            await AtomicSet(Refcount, count - 1);
            last = count - 1 == 0;
        }
        else
        {
            // refcount_dec_and_test(): release ordering on the decrement, acquire when it hits zero.
            last = await AtomicDecAndTest(Refcount);
        }

        if (last)
        {
            await release();
            return true;
        }

        return false;
    }
}
