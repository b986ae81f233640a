using System.Numerics;

namespace Kmc.Checks.Litmus;

/// <summary>A set of events of one candidate execution, as a bit set.</summary>
public sealed class EventSet
{
    public readonly int N;
    public readonly ulong[] Bits;

    public EventSet(int n)
    {
        N = n;
        Bits = new ulong[(n + 63) >> 6];
    }

    public static EventSet Of(int n, Func<int, bool> pred)
    {
        var s = new EventSet(n);
        for (var i = 0; i < n; i++)
        {
            if (pred(i))
                s.Add(i);
        }

        return s;
    }

    public bool Has(int i) => (Bits[i >> 6] & (1UL << (i & 63))) != 0;

    public void Add(int i) => Bits[i >> 6] |= 1UL << (i & 63);

    public EventSet Or(EventSet o) => Map(o, (a, b) => a | b);

    public EventSet And(EventSet o) => Map(o, (a, b) => a & b);

    public EventSet Minus(EventSet o) => Map(o, (a, b) => a & ~b);

    public EventSet Not()
    {
        var all = Of(N, _ => true);
        return all.Minus(this);
    }

    private EventSet Map(EventSet o, Func<ulong, ulong, ulong> f)
    {
        var s = new EventSet(N);
        for (var i = 0; i < Bits.Length; i++)
            s.Bits[i] = f(Bits[i], o.Bits[i]);
        return s;
    }
}

/// <summary>
/// A binary relation over the events of one candidate execution, as a bit matrix: the relation
/// algebra the cat models are written in (union, intersection, difference, sequence, inverse,
/// closures, acyclicity).
/// </summary>
public sealed class Rel
{
    public readonly int N;
    private readonly int _w;
    private readonly ulong[] _m;

    public Rel(int n)
    {
        N = n;
        _w = (n + 63) >> 6;
        _m = new ulong[n * _w];
    }

    public bool Has(int a, int b) => (_m[a * _w + (b >> 6)] & (1UL << (b & 63))) != 0;

    public void Add(int a, int b) => _m[a * _w + (b >> 6)] |= 1UL << (b & 63);

    public bool IsEmpty
    {
        get
        {
            foreach (var x in _m)
            {
                if (x != 0)
                    return false;
            }

            return true;
        }
    }

    public static Rel Id(EventSet s)
    {
        var r = new Rel(s.N);
        for (var i = 0; i < s.N; i++)
        {
            if (s.Has(i))
                r.Add(i, i);
        }

        return r;
    }

    public static Rel Cross(EventSet a, EventSet b)
    {
        var r = new Rel(a.N);
        for (var i = 0; i < a.N; i++)
        {
            if (!a.Has(i))
                continue;
            Array.Copy(b.Bits, 0, r._m, i * r._w, r._w);
        }

        return r;
    }

    public static Rel Where(int n, Func<int, int, bool> pred)
    {
        var r = new Rel(n);
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                if (pred(i, j))
                    r.Add(i, j);
            }
        }

        return r;
    }

    public static Rel operator |(Rel a, Rel b) => a.Zip(b, (x, y) => x | y);

    public static Rel operator &(Rel a, Rel b) => a.Zip(b, (x, y) => x & y);

    public static Rel operator -(Rel a, Rel b) => a.Zip(b, (x, y) => x & ~y);

    private Rel Zip(Rel b, Func<ulong, ulong, ulong> f)
    {
        var r = new Rel(N);
        for (var i = 0; i < _m.Length; i++)
            r._m[i] = f(_m[i], b._m[i]);
        return r;
    }

    /// <summary>Sequential composition a ; b.</summary>
    public static Rel operator *(Rel a, Rel b)
    {
        var r = new Rel(a.N);
        var w = a._w;
        for (var i = 0; i < a.N; i++)
        {
            for (var k = 0; k < w; k++)
            {
                var word = a._m[i * w + k];
                while (word != 0)
                {
                    var j = (k << 6) + BitOperations.TrailingZeroCount(word);
                    word &= word - 1;
                    for (var x = 0; x < w; x++)
                        r._m[i * w + x] |= b._m[j * w + x];
                }
            }
        }

        return r;
    }

    /// <summary>[S] ; this.</summary>
    public Rel From(EventSet s)
    {
        var r = new Rel(N);
        for (var i = 0; i < N; i++)
        {
            if (s.Has(i))
                Array.Copy(_m, i * _w, r._m, i * _w, _w);
        }

        return r;
    }

    /// <summary>this ; [S].</summary>
    public Rel To(EventSet s)
    {
        var r = new Rel(N);
        for (var i = 0; i < N; i++)
        {
            for (var k = 0; k < _w; k++)
                r._m[i * _w + k] = _m[i * _w + k] & s.Bits[k];
        }

        return r;
    }

    public Rel Between(EventSet a, EventSet b) => From(a).To(b);

    public Rel Inverse()
    {
        var r = new Rel(N);
        for (var i = 0; i < N; i++)
        {
            for (var j = 0; j < N; j++)
            {
                if (Has(i, j))
                    r.Add(j, i);
            }
        }

        return r;
    }

    /// <summary>r+: for each row, a search that ORs in the rows of newly reached events (cheap on sparse relations).</summary>
    public Rel Plus()
    {
        var r = new Rel(N);
        var reach = new ulong[_w];
        var frontier = new ulong[_w];
        for (var i = 0; i < N; i++)
        {
            Array.Copy(_m, i * _w, reach, 0, _w);
            Array.Copy(_m, i * _w, frontier, 0, _w);
            while (true)
            {
                var j = -1;
                for (var k = 0; k < _w; k++)
                {
                    if (frontier[k] != 0)
                    {
                        j = (k << 6) + BitOperations.TrailingZeroCount(frontier[k]);
                        frontier[k] &= frontier[k] - 1;
                        break;
                    }
                }

                if (j < 0)
                    break;
                for (var x = 0; x < _w; x++)
                {
                    var add = _m[j * _w + x] & ~reach[x];
                    reach[x] |= add;
                    frontier[x] |= add;
                }
            }

            Array.Copy(reach, 0, r._m, i * _w, _w);
        }

        return r;
    }

    /// <summary>r* over all events.</summary>
    public Rel Star() => Plus() | Id(EventSet.Of(N, _ => true));

    /// <summary>r? over all events.</summary>
    public Rel Opt() => this | Id(EventSet.Of(N, _ => true));

    public bool Irreflexive()
    {
        for (var i = 0; i < N; i++)
        {
            if (Has(i, i))
                return false;
        }

        return true;
    }

    /// <summary>No cycle: peel off events with no incoming edge from the remaining ones until none is left.</summary>
    public bool Acyclic()
    {
        var remaining = new ulong[_w];
        for (var i = 0; i < N; i++)
            remaining[i >> 6] |= 1UL << (i & 63);
        var incoming = new ulong[_w];
        while (true)
        {
            Array.Clear(incoming);
            var any = false;
            for (var k = 0; k < _w; k++)
            {
                var word = remaining[k];
                while (word != 0)
                {
                    var i = (k << 6) + BitOperations.TrailingZeroCount(word);
                    word &= word - 1;
                    any = true;
                    for (var x = 0; x < _w; x++)
                        incoming[x] |= _m[i * _w + x];
                }
            }

            if (!any)
                return true;
            var removed = false;
            for (var x = 0; x < _w; x++)
            {
                var sources = remaining[x] & ~incoming[x];
                if (sources != 0)
                {
                    remaining[x] &= ~sources;
                    removed = true;
                }
            }

            if (!removed)
                return false;
        }
    }

    public EventSet Domain()
    {
        var s = new EventSet(N);
        for (var i = 0; i < N; i++)
        {
            for (var k = 0; k < _w; k++)
            {
                if (_m[i * _w + k] != 0)
                {
                    s.Add(i);
                    break;
                }
            }
        }

        return s;
    }

    public EventSet Range()
    {
        var s = new EventSet(N);
        for (var i = 0; i < N; i++)
        {
            for (var k = 0; k < _w; k++)
                s.Bits[k] |= _m[i * _w + k];
        }

        return s;
    }

    public bool SameAs(Rel o) => _m.AsSpan().SequenceEqual(o._m);

    public Rel Copy()
    {
        var r = new Rel(N);
        Array.Copy(_m, r._m, _m.Length);
        return r;
    }
}
