using System.Diagnostics;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Litmus;

/// <summary>What the model allows for one test: how many allowed executions satisfy the condition.</summary>
public sealed record LitmusObservation
{
    public required long Candidates { get; init; }
    public required long Allowed { get; init; }
    public required long Positive { get; init; }
    public required bool DataRace { get; init; }
    public required bool TimedOut { get; init; }

    /// <summary>A thread calls synchronize_rcu() inside its own read-side critical section.</summary>
    public required bool SelfDeadlock { get; init; }

    /// <summary>herd's Never/Sometimes/Always for the condition; DEADLOCK when no execution completes.</summary>
    public string Verdict =>
        SelfDeadlock || Allowed == 0 ? "DEADLOCK"
        : Positive == 0 ? "Never"
        : Positive == Allowed ? "Always"
        : "Sometimes";
}

/// <summary>
/// Enumerates the candidate executions of a litmus test and keeps those the model allows.
/// Each load may return any value some store can write to its location (the set is grown to a
/// fixpoint by running the threads); each thread then runs deterministically for each choice
/// of its loads' values. A candidate is a choice of a run per thread, a write for every read
/// to read from (with the value the read returned), and a coherence order per location. All
/// three kinds of choice are the decisions of kmc's exhaustive DFS policy, so the candidates are
/// the leaves of one DFS tree.
/// </summary>
public static class LitmusEngine
{
    private const int MaxDomain = 16;

    public static LitmusObservation Run(LitmusTest test, ILitmusModel model, TimeSpan? timeout)
    {
        var watch = Stopwatch.StartNew();
        var domains = ValueDomains(test);
        var runs = test.Threads.Select(t => AllRuns(test, t, domains)).ToList();
        var syncInReader = runs.Any(rs => rs.Any(r => r.SyncInsideReader));
        if (Environment.GetEnvironmentVariable("KMC_LITMUS_DEBUG") == "1")
        {
            for (var l = 0; l < domains.Length; l++)
                Console.Error.WriteLine($"domain {test.Locations[l].Name}: {string.Join(", ", domains[l].Select(test.FormatValue))}");
            for (var t = 0; t < runs.Count; t++)
            {
                foreach (var r in runs[t])
                    Console.Error.WriteLine($"P{t}: {string.Join(" ", r.Events)} | {string.Join(" ", r.Registers.Select(kv => $"{kv.Key}={test.FormatValue(kv.Value)}"))}");
            }
        }

        long candidates = 0, allowed = 0, positive = 0;
        var race = false;
        var timedOut = false;
        if (runs.Any(r => r.Count == 0))
            return new LitmusObservation { Candidates = 0, Allowed = 0, Positive = 0, DataRace = false, TimedOut = false, SelfDeadlock = syncInReader };

        var dfs = new DfsPolicy(-1);
        var cache = new Dictionary<string, CandidateExecution>(StringComparer.Ordinal);
        do
        {
            if (timeout is { } t && (candidates & 63) == 0 && watch.Elapsed > t)
            {
                timedOut = true;
                break;
            }

            dfs.BeginExecution();
            var pick = new ThreadRun[runs.Count];
            var key = new System.Text.StringBuilder();
            for (var i = 0; i < runs.Count; i++)
            {
                var k = dfs.PickChoice(runs[i].Count);
                pick[i] = runs[i][k];
                key.Append(k).Append(',');
            }

            if (!ValuesFeasible(test, pick))
                continue;
            if (!cache.TryGetValue(key.ToString(), out var x))
            {
                if (cache.Count > 4096)
                    cache.Clear();
                x = new CandidateExecution(test, pick);
                cache[key.ToString()] = x;
            }

            if (!ChooseRf(x, dfs) || !ChooseCo(x, dfs))
                continue;
            candidates++;
            x.Complete();
            if (!model.Allows(x, out var r))
                continue;
            if (test.Filter != null && !Eval(test.Filter, test, x, pick))
                continue;
            allowed++;
            race |= r;
            if (Eval(test.Condition, test, x, pick))
                positive++;
        }
        while (dfs.Advance());

        return new LitmusObservation
        {
            Candidates = candidates, Allowed = allowed, Positive = positive, DataRace = race, TimedOut = timedOut, SelfDeadlock = syncInReader,
        };
    }

    /// <summary>Every value a read returned is stored to its location by some chosen run or initially.</summary>
    private static bool ValuesFeasible(LitmusTest test, ThreadRun[] runs)
    {
        var stored = new HashSet<(int, long)>();
        foreach (var l in test.Locations)
            stored.Add((l.Index, test.InitialValues.TryGetValue(l.Index, out var v) ? v : 0));
        foreach (var r in runs)
        {
            foreach (var e in r.Events)
            {
                if (e.Kind == EventKind.Write)
                    stored.Add((e.Loc, e.Value));
            }
        }

        foreach (var r in runs)
        {
            foreach (var e in r.Events)
            {
                if (e.Kind == EventKind.Read && !stored.Contains((e.Loc, e.Value)))
                    return false;
            }
        }

        return true;
    }

    /// <summary>Each read picks a write to its location with the value it returned (never one of its own thread's later writes).</summary>
    private static bool ChooseRf(CandidateExecution x, DfsPolicy dfs)
    {
        var options = new List<int>();
        foreach (var r in x.Events)
        {
            if (r.Kind != EventKind.Read)
            {
                x.RfOf[r.Id] = -1;
                continue;
            }

            options.Clear();
            foreach (var w in x.Events)
            {
                if (w.Kind == EventKind.Write && w.Loc == r.Loc && w.E.Value == r.E.Value && !(w.Thread == r.Thread && w.Local > r.Local))
                    options.Add(w.Id);
            }

            if (options.Count == 0)
                return false;
            x.RfOf[r.Id] = options[dfs.PickChoice(options.Count)];
        }

        return true;
    }

    /// <summary>
    /// Per location a total order of its writes after the initial one. Only the orders coherence
    /// and atomicity allow are enumerated: linear extensions of the order that program order
    /// and the chosen reads-from force (CoWW, CoWR, CoRW, CoRR), with the write of each RMW right
    /// after the write its read reads from.
    /// </summary>
    private static bool ChooseCo(CandidateExecution x, DfsPolicy dfs)
    {
        var ev = x.Events;
        for (var loc = 0; loc < x.CoOrder.Length; loc++)
        {
            var writes = new List<int>();
            var reads = new List<int>();
            foreach (var e in ev)
            {
                if (e.Loc != loc || e.Thread < 0)
                    continue;
                if (e.Kind == EventKind.Write)
                    writes.Add(e.Id);
                else if (e.Kind == EventKind.Read)
                    reads.Add(e.Id);
            }

            var order = new List<int> { loc };
            x.CoOrder[loc] = order;
            if (writes.Count == 0)
                continue;

            // before[w] holds the writes that must precede w; the initial write (id loc) precedes all.
            var before = writes.ToDictionary(w => w, _ => new HashSet<int>());
            var next = new Dictionary<int, int>();
            bool Require(int a, int b)
            {
                if (a == b)
                    return true;
                if (b == loc)
                    return false;
                if (a != loc)
                    before[b].Add(a);
                return true;
            }

            bool PoBefore(int a, int b) => ev[a].Thread >= 0 && ev[a].Thread == ev[b].Thread && ev[a].Local < ev[b].Local;
            foreach (var w1 in writes)
            {
                foreach (var w2 in writes)
                {
                    if (PoBefore(w1, w2))
                        before[w2].Add(w1);
                }

                if (ev[w1].E.RmwRead >= 0)
                {
                    var r = w1 - ev[w1].Local + ev[w1].E.RmwRead;
                    var src = x.RfOf[r];
                    if (!Require(src, w1) || next.ContainsKey(src))
                        return false;
                    next[src] = w1;
                }
            }

            foreach (var r in reads)
            {
                var s = x.RfOf[r];
                foreach (var w in writes)
                {
                    if (PoBefore(w, r) && w != s && !Require(w, s))
                        return false;
                    if (PoBefore(r, w) && !Require(s, w))
                        return false;
                }

                foreach (var r2 in reads)
                {
                    if (PoBefore(r, r2) && x.RfOf[r2] != s && !Require(s, x.RfOf[r2]))
                        return false;
                }
            }

            var mustFollow = new HashSet<int>(next.Values);
            var pending = new List<int>(writes);
            var ready = new List<int>();
            while (pending.Count > 0)
            {
                ready.Clear();
                var last = order[^1];
                if (next.TryGetValue(last, out var forced))
                {
                    if (!pending.Contains(forced) || before[forced].Any(pending.Contains))
                        return false;
                    ready.Add(forced);
                }
                else
                {
                    foreach (var w in pending)
                    {
                        if (!mustFollow.Contains(w) && !before[w].Any(pending.Contains))
                            ready.Add(w);
                    }
                }

                if (ready.Count == 0)
                    return false;
                var pick = ready[dfs.PickChoice(ready.Count)];
                order.Add(pick);
                pending.Remove(pick);
            }
        }

        return true;
    }

    /// <summary>
    /// The values each location can hold: its initial value plus whatever the threads can store
    /// when their loads return values already in the sets, grown until nothing new appears.
    /// </summary>
    private static List<long>[] ValueDomains(LitmusTest test)
    {
        var domains = test.Locations.Select(l => new List<long> { test.InitialValues.TryGetValue(l.Index, out var v) ? v : 0 }).ToArray();

        // herd solves for values symbolically, so a load may return a constant that is only
        // stored on a path the load itself enables (self-justifying, as in LB without
        // dependencies). Seeding with the constants the threads store covers that.
        var seeds = test.Threads.SelectMany(t => StoredConstants(t.Body)).Distinct().ToList();
        if (SeedConstants && seeds.Count <= 4)
        {
            foreach (var d in domains)
            {
                foreach (var c in seeds)
                {
                    if (!d.Contains(c))
                        d.Add(c);
                }
            }
        }

        for (var round = 0; round < 8; round++)
        {
            var changed = false;
            foreach (var t in test.Threads)
            {
                foreach (var events in AllRuns(test, t, domains, partial: true).Select(r => r.Events).ToList())
                {
                    foreach (var e in events)
                    {
                        if (e.Kind == EventKind.Write && !domains[e.Loc].Contains(e.Value))
                        {
                            if (domains[e.Loc].Count >= MaxDomain)
                                throw new LitmusUnsupportedException($"more than {MaxDomain} values stored to {test.Locations[e.Loc].Name}");
                            domains[e.Loc].Add(e.Value);
                            changed = true;
                        }
                    }
                }
            }

            if (!changed)
                break;
        }

        foreach (var d in domains)
            d.Sort();
        return domains;
    }

    public static bool SeedConstants = Environment.GetEnvironmentVariable("KMC_LITMUS_NOSEED") != "1";

    /// <summary>Constants a thread may store: the literal values of assignments and store arguments.</summary>
    private static IEnumerable<long> StoredConstants(IEnumerable<Stmt> body)
    {
        foreach (var s in body)
        {
            switch (s)
            {
                case BlockStmt b:
                    foreach (var c in StoredConstants(b.Body))
                        yield return c;
                    break;
                case IfStmt i:
                    foreach (var c in StoredConstants(new[] { i.Then }.Concat(i.Else != null ? new[] { i.Else } : [])))
                        yield return c;
                    break;
                case AssignStmt { Value: ConstExpr k }:
                    yield return k.Value;
                    break;
                case ExprStmt { Expr: CallExpr { Name: "WRITE_ONCE" or "smp_store_release" or "atomic_set" or "rcu_assign_pointer", Args: [_, ConstExpr k] } }:
                    yield return k.Value;
                    break;
            }
        }
    }

    /// <summary>Every run of a thread, one per choice of the values its loads return (a DFS of its own).</summary>
    /// <param name="partial">also the events before a run turned out infeasible (their stores still feed the value sets)</param>
    private static List<ThreadRun> AllRuns(LitmusTest test, ThreadCode t, List<long>[] domains, bool partial = false)
    {
        var runs = new List<ThreadRun>();
        var dfs = new DfsPolicy(-1);
        do
        {
            dfs.BeginExecution();
            var interpreter = new ThreadInterpreter(test, t, loc => domains[loc][dfs.PickChoice(domains[loc].Count)]);
            try
            {
                runs.Add(interpreter.Run());
            }
            catch (InfeasibleRunException)
            {
                if (partial)
                    runs.Add(new ThreadRun(interpreter.EventsSoFar, new Dictionary<string, long>(), false));
            }

            if (runs.Count > 100_000)
                throw new LitmusUnsupportedException($"more than 100000 runs of P{t.Index}");
        }
        while (dfs.Advance());

        return runs;
    }

    private static bool Eval(Prop p, LitmusTest test, CandidateExecution x, ThreadRun[] runs) => p switch
    {
        TrueProp t => t.Value,
        NotProp n => !Eval(n.Inner, test, x, runs),
        AndProp a => Eval(a.Left, test, x, runs) && Eval(a.Right, test, x, runs),
        OrProp o => Eval(o.Left, test, x, runs) || Eval(o.Right, test, x, runs),
        EqProp e => (Value(e.Thread, e.Name, test, x, runs) == (e.Other is { } o ? Value(o.Thread, o.Name, test, x, runs) : e.Value)) != e.Negated,
        _ => throw new LitmusUnsupportedException(p.GetType().Name),
    };

    private static long Value(int thread, string name, LitmusTest test, CandidateExecution x, ThreadRun[] runs)
    {
        if (thread < 0)
            return x.FinalValue(test.LocationIndex(name));
        if (thread >= runs.Length)
            throw new LitmusParseException($"the condition names thread {thread}, which does not exist");
        return runs[thread].Registers.TryGetValue(name, out var v) ? v : 0;
    }
}
