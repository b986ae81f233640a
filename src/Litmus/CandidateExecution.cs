namespace Kmc.Checks.Litmus;

/// <summary>One event of a candidate execution: an initial write (Thread -1) or a thread's event.</summary>
public sealed record Ev(int Id, int Thread, int Local, ThreadEvent E)
{
    public EventKind Kind => E.Kind;
    public int Loc => E.Loc;
    public bool IsMem => E.Kind != EventKind.Fence;
}

/// <summary>
/// The events of one choice of thread runs with their program order and dependencies; a
/// candidate execution adds reads-from and coherence order (<see cref="Rf"/>, <see cref="Co"/>).
/// </summary>
public sealed class CandidateExecution
{
    public readonly int N;
    public readonly Ev[] Events;
    public readonly Rel Po;
    public readonly Rel Addr;
    public readonly Rel Data;
    public readonly Rel Ctrl;
    public readonly Rel Rmw;
    public readonly Rel Loc;
    public readonly Rel Int;
    public readonly EventSet R;
    public readonly EventSet W;
    public readonly EventSet M;
    public readonly EventSet F;
    public readonly EventSet IW;

    /// <summary>Per read (event id): the write it reads from; -1 for non-reads.</summary>
    public readonly int[] RfOf;

    /// <summary>Per location: the writes in coherence order, the initial write first.</summary>
    public readonly List<int>[] CoOrder;

    /// <summary>A model's relations that depend only on the events (not on rf and co), kept across candidates.</summary>
    public object? ModelCache;

    /// <summary>The engine's per-location plan for choosing rf and co, kept across candidates.</summary>
    public object? EngineCache;

    public Rel Rf { get; private set; } = null!;
    public Rel Co { get; private set; } = null!;

    public CandidateExecution(LitmusTest test, IReadOnlyList<ThreadRun> runs)
    {
        var list = new List<Ev>();
        foreach (var l in test.Locations)
        {
            var v = test.InitialValues.TryGetValue(l.Index, out var iv) ? iv : 0;
            list.Add(new Ev(list.Count, -1, 0, new ThreadEvent { Kind = EventKind.Write, Loc = l.Index, Value = v, Tags = EventTags.Init }));
        }

        var firstOf = new int[runs.Count];
        for (var t = 0; t < runs.Count; t++)
        {
            firstOf[t] = list.Count;
            for (var k = 0; k < runs[t].Events.Count; k++)
                list.Add(new Ev(list.Count, t, k, runs[t].Events[k]));
        }

        Events = list.ToArray();
        N = Events.Length;
        R = EventSet.Of(N, i => Events[i].Kind == EventKind.Read);
        W = EventSet.Of(N, i => Events[i].Kind == EventKind.Write);
        M = R.Or(W);
        F = EventSet.Of(N, i => Events[i].Kind == EventKind.Fence);
        IW = EventSet.Of(N, i => Events[i].Thread < 0);
        Po = Rel.Where(N, (a, b) => Events[a].Thread >= 0 && Events[a].Thread == Events[b].Thread && Events[a].Local < Events[b].Local);
        Int = Rel.Where(N, (a, b) => Events[a].Thread == Events[b].Thread);
        Loc = Rel.Where(N, (a, b) => Events[a].Loc != -1 && Events[a].Loc == Events[b].Loc);
        Addr = new Rel(N);
        Data = new Rel(N);
        Ctrl = new Rel(N);
        Rmw = new Rel(N);
        foreach (var ev in Events)
        {
            if (ev.Thread < 0)
                continue;
            var b = firstOf[ev.Thread];
            AddMask(Addr, b, ev.E.AddrDeps, ev.Id);
            AddMask(Data, b, ev.E.DataDeps, ev.Id);
            AddMask(Ctrl, b, ev.E.CtrlDeps, ev.Id);
            if (ev.E.RmwRead >= 0)
                Rmw.Add(b + ev.E.RmwRead, ev.Id);
        }

        RfOf = new int[N];
        CoOrder = new List<int>[test.Locations.Count];
    }

    private static void AddMask(Rel r, int first, ulong mask, int to)
    {
        while (mask != 0)
        {
            var k = System.Numerics.BitOperations.TrailingZeroCount(mask);
            mask &= mask - 1;
            r.Add(first + k, to);
        }
    }

    /// <summary>Fixes rf and co from <see cref="RfOf"/> and <see cref="CoOrder"/>.</summary>
    public void Complete()
    {
        CompleteRf();
        CompleteCo();
    }

    public void CompleteRf()
    {
        Rf = new Rel(N);
        for (var i = 0; i < N; i++)
        {
            if (Events[i].Kind == EventKind.Read)
                Rf.Add(RfOf[i], i);
        }
    }

    public void CompleteCo()
    {
        Co = new Rel(N);
        foreach (var order in CoOrder)
        {
            for (var a = 0; a < order.Count; a++)
            {
                for (var b = a + 1; b < order.Count; b++)
                    Co.Add(order[a], order[b]);
            }
        }
    }

    public long FinalValue(int loc) => Events[CoOrder[loc][^1]].E.Value;
}
