// Port of the seqcount/seqlock read and write sides, include/linux/seqlock.h (Linux v6.6),
// reduced to the plain seqcount_t and seqlock_t (no lockdep, no PREEMPT_RT, no latch).
//
// This file is an example of a user's own port, built outside kmc's source tree against kmc's
// packages (or assemblies); see docs/guide.md.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace SeqLockExample;

public enum SeqcountVariant
{
    Fixed,

    /// <summary>
    /// The reader samples the sequence with raw_read_seqcount(), which does not wait for an even
    /// (writer-free) count, where read_seqcount_begin() is needed: a reader that starts inside
    /// a write section sees an odd count that its retry check finds unchanged.
    /// </summary>
    RawReadBegin,
}

[KernelPort("include/linux/seqlock.h", "v6.6")]
public sealed class Seqcount(string name, SeqcountVariant variant = SeqcountVariant.Fixed)
{
    public Loc<int> Sequence { get; } = new(name + ".sequence");

    /// <summary>read_seqcount_begin(): wait for an even count, then order the reads after it.</summary>
    public async ValueTask<int> ReadSeqcountBegin()
    {
        int seq;
        if (variant == SeqcountVariant.RawReadBegin)
        {
            // raw_read_seqcount(): READ_ONCE + smp_rmb(), no wait for a writer to finish.
            seq = await ReadOnce(Sequence);
        }
        else
        {
            // __read_seqcount_begin(): while ((__seq = READ_ONCE(s->sequence)) & 1) cpu_relax();
            // A plain spin-wait is a blocked task in the model (smp_cond_load_relaxed): the
            // explorers resume it once the count is even, so an exhaustive search stays finite.
            seq = await SmpCondLoadRelaxed(Sequence, s => (s & 1) == 0);
        }

        await SmpRmb();
        return seq;
    }

    /// <summary>read_seqcount_retry(): order the reads before the re-read of the count.</summary>
    public async ValueTask<bool> ReadSeqcountRetry(int start)
    {
        await SmpRmb();
        return await ReadOnce(Sequence) != start;
    }

    /// <summary>write_seqcount_begin(): the count goes odd before the data is written.</summary>
    public async ValueTask WriteSeqcountBegin()
    {
        await WriteOnce(Sequence, await ReadOnce(Sequence) + 1);
        await SmpWmb();
    }

    /// <summary>write_seqcount_end(): the data is written before the count goes even.</summary>
    public async ValueTask WriteSeqcountEnd()
    {
        await SmpWmb();
        await WriteOnce(Sequence, await ReadOnce(Sequence) + 1);
    }
}

/// <summary>seqlock_t: a seqcount whose writers are serialised by a spinlock.</summary>
[KernelPort("include/linux/seqlock.h", "v6.6")]
public sealed class Seqlock(string name, SeqcountVariant variant = SeqcountVariant.Fixed)
{
    public Seqcount Seqcount { get; } = new(name + ".seqcount", variant);
    public SpinlockT Lock { get; } = new(name + ".lock");

    /// <summary>read_seqbegin()</summary>
    public ValueTask<int> ReadSeqbegin() => Seqcount.ReadSeqcountBegin();

    /// <summary>read_seqretry()</summary>
    public ValueTask<bool> ReadSeqretry(int start) => Seqcount.ReadSeqcountRetry(start);

    /// <summary>write_seqlock()</summary>
    public async ValueTask WriteSeqlock()
    {
        await SpinLock(Lock);
        await Seqcount.WriteSeqcountBegin();
    }

    /// <summary>write_sequnlock()</summary>
    public async ValueTask WriteSequnlock()
    {
        await Seqcount.WriteSeqcountEnd();
        await SpinUnlock(Lock);
    }
}
