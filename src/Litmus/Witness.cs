using System.Text;

namespace Kmc.Checks.Litmus;

/// <summary>One candidate execution in words, for a reader checking a verdict by hand.</summary>
public static class Witness
{
    /// <summary>
    /// When po, rf, co and fr leave no cycle the execution is an interleaving, and it is printed
    /// as one (each thread runs as far as it can before the next takes over); otherwise each
    /// thread's accesses in program order, with the thread each read took its value from. The
    /// values the condition names close the line.
    /// </summary>
    public static string Describe(LitmusTest test, CandidateExecution x, IReadOnlyList<ThreadRun> runs)
    {
        var fr = x.Rf.Inverse() * x.Co;
        var order = Interleaving(x, x.Po | x.Rf | x.Co | fr);
        var sb = new StringBuilder();
        if (order != null)
        {
            sb.Append("interleaving: ");
            sb.AppendJoin("; ", order.Select(i => Label(test, x, i, source: false)).Where(s => s != null).Select(s => s!));
        }
        else
        {
            sb.Append("per thread: ");
            sb.AppendJoin(" | ", x.Events.Where(e => e.Thread >= 0).GroupBy(e => e.Thread)
                .Select(g => $"P{g.Key}: " + string.Join("; ", g.Select(e => Label(test, x, e.Id, source: true)).Where(s => s != null))));
        }

        var values = Atoms(test.Condition).Distinct().Select(a => a.Thread < 0
            ? $"{a.Name}={test.FormatValue(x.FinalValue(test.LocationIndex(a.Name)))}"
            : $"{a.Thread}:{a.Name}={(a.Thread < runs.Count && runs[a.Thread].Registers.TryGetValue(a.Name, out var v) ? test.FormatValue(v) : "0")}");
        sb.Append(" => ").AppendJoin(", ", values);
        return sb.ToString();
    }

    /// <summary>
    /// A topological order of <paramref name="rel"/>, null on a cycle. The thread that ran last
    /// goes on while it can, then the lowest-numbered ready one: few switches read easiest.
    /// </summary>
    private static List<int>? Interleaving(CandidateExecution x, Rel rel)
    {
        var n = x.N;
        var indegree = new int[n];
        for (var a = 0; a < n; a++)
        {
            for (var b = 0; b < n; b++)
            {
                if (a != b && rel.Has(a, b))
                    indegree[b]++;
            }
        }

        var done = new bool[n];
        var order = new List<int>(n);
        var last = -1;
        while (order.Count < n)
        {
            var next = -1;
            for (var i = 0; i < n; i++)
            {
                if (done[i] || indegree[i] != 0)
                    continue;
                if (next < 0 || Rank(i) < Rank(next))
                    next = i;
            }

            int Rank(int i) => x.Events[i].Thread == last ? int.MinValue : x.Events[i].Thread;

            if (next < 0)
                return null;
            done[next] = true;
            order.Add(next);
            last = x.Events[next].Thread;
            for (var b = 0; b < n; b++)
            {
                if (b != next && rel.Has(next, b))
                    indegree[b]--;
            }
        }

        return order;
    }

    /// <summary>An access or an RCU/SRCU event as "P1:R x=0"; null for events that do not matter to a reader (initial writes, plain fences).</summary>
    private static string? Label(LitmusTest test, CandidateExecution x, int id, bool source)
    {
        var e = x.Events[id];
        if (e.Thread < 0)
            return null;
        string Loc(int l) => l >= 0 && l < test.Locations.Count ? test.Locations[l].Name : "?";
        var ev = e.E;
        string? what = ev.Kind switch
        {
            EventKind.Read when ev.Has(EventTags.LockRead) => $"spin_lock({Loc(ev.Loc)})",
            EventKind.Write when ev.Has(EventTags.LockWrite) => null,
            EventKind.Write when ev.Has(EventTags.Unlock) => $"spin_unlock({Loc(ev.Loc)})",
            EventKind.Read => $"R {Loc(ev.Loc)}={test.FormatValue(ev.Value)}",
            EventKind.Write => $"W {Loc(ev.Loc)}={test.FormatValue(ev.Value)}",
            _ => ev.Fence switch
            {
                FenceKind.RcuLock => "rcu_read_lock",
                FenceKind.RcuUnlock => "rcu_read_unlock",
                FenceKind.SyncRcu => "synchronize_rcu",
                FenceKind.SyncSrcu => ev.Loc >= 0 ? $"synchronize_srcu({Loc(ev.Loc)})" : "membarrier",
                FenceKind.SrcuLock when ev.Loc >= 0 => $"srcu_read_lock({Loc(ev.Loc)})",
                FenceKind.SrcuUnlock when ev.Loc >= 0 => $"srcu_read_unlock({Loc(ev.Loc)})",
                _ => null,
            },
        };
        if (what == null)
            return null;
        if (source && ev.Kind == EventKind.Read && !ev.Has(EventTags.LockRead))
        {
            var w = x.RfOf[id];
            what += w >= 0 && x.Events[w].Thread >= 0 ? $" (from P{x.Events[w].Thread})" : " (initial)";
        }

        return source ? what : $"P{e.Thread}:{what}";
    }

    private static IEnumerable<(int Thread, string Name)> Atoms(Prop p) => p switch
    {
        NotProp n => Atoms(n.Inner),
        AndProp a => Atoms(a.Left).Concat(Atoms(a.Right)),
        OrProp o => Atoms(o.Left).Concat(Atoms(o.Right)),
        EqProp e => e.Other is { } o ? [(e.Thread, e.Name), o] : [(e.Thread, e.Name)],
        _ => [],
    };
}
