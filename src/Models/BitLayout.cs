using System.Globalization;
using System.Text;

namespace Kmc.Models;

/// <summary>
/// How the bits of a flags word are laid out, so that reports print it as the kernel developer
/// reads it: <c>0x50000002 (CLOSURE_RUNNING|CLOSURE_WAITING|remaining=2)</c> rather than
/// <c>1342177282</c>. A port declares it on the location (<see cref="Loc.Layout"/>): single-bit
/// flags by name, multi-bit fields as name=value; set bits nothing names are shown in hex.
/// </summary>
public sealed class BitLayout
{
    private readonly List<(string Name, ulong Mask, bool Field)> _parts = [];

    /// <param name="bits">The word's width (32 for atomic_t), for how negative values print.</param>
    public BitLayout(int bits = 32)
    {
        if (bits is < 1 or > 64)
            throw new ArgumentOutOfRangeException(nameof(bits), "a flags word has 1 to 64 bits");
        Bits = bits;
    }

    public int Bits { get; }

    /// <summary>A flag: printed by name when all of <paramref name="mask"/>'s bits are set.</summary>
    public BitLayout Flag(string name, long mask) => Add(name, mask, field: false);

    /// <summary>A field: printed as name=value (shifted down) when nonzero.</summary>
    public BitLayout Field(string name, long mask) => Add(name, mask, field: true);

    private BitLayout Add(string name, long mask, bool field)
    {
        if (mask == 0)
            throw new ArgumentException($"bit layout part {name} has an empty mask", nameof(mask));
        _parts.Add((name, (ulong)mask & WordMask, field));
        return this;
    }

    private ulong WordMask => Bits == 64 ? ulong.MaxValue : (1UL << Bits) - 1;

    public string Format(long value)
    {
        var v = (ulong)value & WordMask;
        if (v == 0)
            return "0";
        var names = new List<string>();
        var rest = v;
        foreach (var (name, mask, field) in _parts)
        {
            if (field)
            {
                var x = (v & mask) >> System.Numerics.BitOperations.TrailingZeroCount(mask);
                if (x != 0)
                    names.Add($"{name}={x.ToString(CultureInfo.InvariantCulture)}");
                rest &= ~mask;
            }
            else if ((v & mask) == mask)
            {
                names.Add(name);
                rest &= ~mask;
            }
        }

        if (rest != 0)
            names.Add($"0x{rest:x}");
        return new StringBuilder("0x").Append(v.ToString("x", CultureInfo.InvariantCulture))
            .Append(" (").Append(string.Join('|', names)).Append(')').ToString();
    }

    /// <summary>The value in this layout when it is an integer, else as reports print any value.</summary>
    internal string FormatAny<T>(T value) => value switch
    {
        int i => Format(i),
        long l => Format(l),
        uint u => Format(u),
        ulong ul => Format((long)ul),
        short s => Format(s),
        ushort us => Format(us),
        byte b => Format(b),
        _ => Models.Format.Value(value),
    };
}
