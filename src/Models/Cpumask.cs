namespace Kmc.Models;

/// <summary>
/// struct cpumask: one bit per possible CPU.
/// </summary>
/// <remarks>
/// The bits are plain C# state read and written sequentially consistently: the model does not
/// weaken them under tso or lkmm. The kernel writes its masks under a lock (a port's own mask
/// under its spinlock, cpu_online_mask in the hotplug state machine under stop_machine or the
/// hotplug lock), and a reader that races with a writer is the bug these models look for, which
/// an SC mask shows as well. For the partial-order reduction every mask is one location (its
/// <see cref="Key"/>): a test or an iteration reads it, a set or clear writes it.
/// </remarks>
public sealed class Cpumask : Scheduling.IStateful
{
    private readonly bool[] _bits;

    public Cpumask(string name, int nrCpuIds)
    {
        Name = name;
        _bits = new bool[nrCpuIds];
        Key = Scheduling.Reduction.Footprints.NewKey();
        Scheduling.StateCache.Created(Key, this);
    }

    internal Cpumask(string name, int nrCpuIds, long key)
    {
        Name = name;
        _bits = new bool[nrCpuIds];
        Key = key;
        Scheduling.StateCache.Created(Key, this);
    }

    void Scheduling.IStateful.WriteState(Scheduling.StateWriter w)
    {
        foreach (var b in _bits)
            w.Int(b ? 1 : 0);
    }

    public string Name { get; }

    /// <summary>The mask's key for the partial-order reduction.</summary>
    public long Key { get; }

    public int NrCpuIds => _bits.Length;

    internal bool Test(int cpu) => _bits[Check(cpu)];

    internal void Set(int cpu, bool value) => _bits[Check(cpu)] = value;

    /// <summary>The set bits in ascending order (no footprint: the callers record it).</summary>
    internal int[] Bits()
    {
        var list = new List<int>(_bits.Length);
        for (var i = 0; i < _bits.Length; i++)
        {
            if (_bits[i])
                list.Add(i);
        }

        return list.ToArray();
    }

    private int Check(int cpu) =>
        cpu >= 0 && cpu < _bits.Length ? cpu
        : throw new KernelFailureException(new Failure(FailureKind.Assertion, $"cpumask {Name}: CPU {cpu} is not below nr_cpu_ids ({_bits.Length})", null));

    public override string ToString() => $"{Name} {{{string.Join(",", Bits())}}}";
}
