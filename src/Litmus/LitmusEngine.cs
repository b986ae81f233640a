using System.Diagnostics;
using System.Numerics;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Litmus;

/// <summary>What the model allows for one test: whether allowed executions satisfy the condition, and how many were examined.</summary>
public sealed record LitmusObservation
{
    /// <summary>Candidate executions (coherent ones) the model was asked about.</summary>
    public required long Candidates { get; init; }

    /// <summary>Those the model allowed (and the filter kept).</summary>
    public required long Allowed { get; init; }
    public required bool SomeSatisfy { get; init; }
    public required bool SomeFail { get; init; }
    public required bool DataRace { get; init; }
    public required bool TimedOut { get; init; }

    /// <summary>A thread calls synchronize_rcu() inside its own read-side critical section.</summary>
    public required bool SelfDeadlock { get; init; }

    /// <summary>The first allowed execution found that satisfies the condition, described for a reader (<see cref="Witness.Describe"/>).</summary>
    public string? SatisfyingWitness { get; init; }

    /// <summary>The first allowed execution found that does not satisfy the condition.</summary>
    public string? FailingWitness { get; init; }

    /// <summary>The first allowed execution found with a data race.</summary>
    public string? RaceWitness { get; init; }

    /// <summary>herd's Never/Sometimes/Always for the condition; DEADLOCK when no execution completes.</summary>
    public string Verdict =>
        SelfDeadlock || (!SomeSatisfy && !SomeFail) ? "DEADLOCK"
        : !SomeSatisfy ? "Never"
        : !SomeFail ? "Always"
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
    private const int MaxDomain = 32;

    /// <param name="everyExecution">visit every candidate (full counts) instead of stopping once the verdict is known</param>
    /// <param name="onAllowed">called with every allowed execution the filter keeps, and the thread runs it is made of (implies every execution)</param>
    public static LitmusObservation Run(LitmusTest test, ILitmusModel model, TimeSpan? timeout, bool everyExecution = false,
        Action<CandidateExecution, IReadOnlyList<ThreadRun>>? onAllowed = null)
    {
        var watch = Stopwatch.StartNew();
        var domains = ValueDomains(test);
        var runs = test.Threads.Select(t => AllRuns(test, t, domains)).ToList();
        var syncInReader = runs.Any(rs => rs.Any(r => r.SyncInsideReader));
        var deadline = timeout is { } t ? watch.Elapsed + t : (TimeSpan?)null;

        // Without plain accesses there is no race to flag, so the verdict only needs one allowed
        // execution that satisfies the condition and one that does not: each is searched for
        // among the thread runs whose registers leave that answer possible, and the search stops
        // at the first. With plain accesses every allowed execution is visited for races.
        var plain = runs.Any(rs => rs.Any(r => r.Events.Any(e => e.Has(EventTags.Plain))));
        if (plain || everyExecution || onAllowed != null)
        {
            var all = Explore(test, model, runs, watch, deadline, stopOn: null, onAllowed);
            return new LitmusObservation
            {
                Candidates = all.Candidates, Allowed = all.Allowed, SomeSatisfy = all.Positive > 0, SomeFail = all.Allowed > all.Positive,
                DataRace = all.Race, TimedOut = all.TimedOut, SelfDeadlock = syncInReader,
                SatisfyingWitness = all.PositiveWitness, FailingWitness = all.NegativeWitness, RaceWitness = all.RaceWitness,
            };
        }

        var pos = Explore(test, model, Restrict(test, runs, wanted: true), watch, deadline, stopOn: true);
        var neg = pos.TimedOut ? pos : Explore(test, model, Restrict(test, runs, wanted: false), watch, deadline, stopOn: false);
        return new LitmusObservation
        {
            Candidates = pos.Candidates + (neg == pos ? 0 : neg.Candidates), Allowed = pos.Allowed + (neg == pos ? 0 : neg.Allowed),
            SomeSatisfy = pos.Positive > 0, SomeFail = neg.Allowed > neg.Positive,
            DataRace = false, TimedOut = pos.TimedOut || neg.TimedOut, SelfDeadlock = syncInReader,
            SatisfyingWitness = pos.PositiveWitness, FailingWitness = neg.NegativeWitness,
        };
    }

    /// <summary>Each thread's runs whose own registers do not already decide the condition against <paramref name="wanted"/> (or fail the filter).</summary>
    private static List<List<ThreadRun>> Restrict(LitmusTest test, List<List<ThreadRun>> runs, bool wanted) =>
        runs.Select((rs, t) => rs.Where(r =>
            Eval3(test.Condition, t, r) != !wanted && (test.Filter == null || Eval3(test.Filter, t, r) != false)).ToList()).ToList();

    /// <summary>The condition as far as one thread's registers decide it: true, false, or null (depends on the rest).</summary>
    private static bool? Eval3(Prop p, int thread, ThreadRun run)
    {
        switch (p)
        {
            case TrueProp t:
                return t.Value;
            case NotProp n:
                return !Eval3(n.Inner, thread, run);
            case AndProp a:
            {
                var l = Eval3(a.Left, thread, run);
                var r = Eval3(a.Right, thread, run);
                return l == false || r == false ? false : l == true && r == true ? true : null;
            }

            case OrProp o:
            {
                var l = Eval3(o.Left, thread, run);
                var r = Eval3(o.Right, thread, run);
                return l == true || r == true ? true : l == false && r == false ? false : null;
            }

            case EqProp e when e.Thread == thread && (e.Other == null || e.Other.Value.Thread == thread):
            {
                var v = run.Registers.TryGetValue(e.Name, out var x) ? x : 0;
                var w = e.Other is { } o2 ? (run.Registers.TryGetValue(o2.Name, out var y) ? y : 0) : e.Value;
                return (v == w) != e.Negated;
            }

            default:
                return null;
        }
    }

    private sealed record SearchResult(
        long Candidates, long Allowed, long Positive, bool Race, bool TimedOut,
        string? PositiveWitness = null, string? NegativeWitness = null, string? RaceWitness = null);

    /// <summary>
    /// The DFS over candidates of the given runs. With <paramref name="stopOn"/> set, it ends at
    /// the first allowed execution whose condition has that value.
    /// </summary>
    private static SearchResult Explore(LitmusTest test, ILitmusModel model, List<List<ThreadRun>> runs, Stopwatch watch, TimeSpan? deadline, bool? stopOn,
        Action<CandidateExecution, IReadOnlyList<ThreadRun>>? onAllowed = null)
    {
        long candidates = 0, allowed = 0, positive = 0;
        var race = false;
        string? positiveWitness = null, negativeWitness = null, raceWitness = null;
        if (runs.Any(r => r.Count == 0))
            return new SearchResult(0, 0, 0, false, false);

        var dfs = new DfsPolicy(-1);
        var cache = new Dictionary<long, CandidateExecution?>();
        var pick = new ThreadRun[runs.Count];
        long leaves = 0;
        do
        {
            if (deadline is { } d && (++leaves & 63) == 0 && watch.Elapsed > d)
                return new SearchResult(candidates, allowed, positive, race, true, positiveWitness, negativeWitness, raceWitness);

            dfs.BeginExecution();
            long key = 0;
            for (var i = 0; i < runs.Count; i++)
            {
                var k = dfs.PickChoice(runs[i].Count);
                pick[i] = runs[i][k];
                key = key * runs[i].Count + k;
            }

            if (pick.Any(r => r.Events.Any(e => e.Fence == FenceKind.Memb)))
                key = Membarriers(pick, dfs, key);

            if (!cache.TryGetValue(key, out var x))
            {
                if (cache.Count > 4096)
                    cache.Clear();
                x = ValuesFeasible(test, pick) ? new CandidateExecution(test, pick) : null;
                cache[key] = x;
            }

            if (x == null)
                continue;
            if (!ChooseRf(x, dfs))
                continue;
            x.CompleteRf();
            if (!model.MayAllowRf(x) || !ChooseCo(x, dfs))
                continue;
            candidates++;
            x.CompleteCo();
            if (!model.Allows(x, out var r))
                continue;
            if (test.Filter != null && !Eval(test.Filter, test, x, pick))
                continue;
            allowed++;
            race |= r;
            onAllowed?.Invoke(x, pick);
            var sat = Eval(test.Condition, test, x, pick);
            if (sat)
                positive++;
            if (sat ? positiveWitness == null : negativeWitness == null)
            {
                var w = Witness.Describe(test, x, pick);
                if (sat)
                    positiveWitness = w;
                else
                    negativeWitness = w;
            }

            if (r && raceWitness == null)
                raceWitness = Witness.Describe(test, x, pick);

            if (stopOn == sat)
                break;
        }
        while (dfs.Advance());

        return new SearchResult(candidates, allowed, positive, race, false, positiveWitness, negativeWitness, raceWitness);
    }

    /// <summary>
    /// sys_membarrier() as a grace period of its own SRCU-like domain: it interrupts every other
    /// thread once, at a point the search chooses, with smp_mb(), and the thread's code before
    /// and after that point are two read-side critical sections of the domain.
    /// </summary>
    private static long Membarriers(ThreadRun[] pick, DfsPolicy dfs, long key)
    {
        var domain = -2;
        for (var t = 0; t < pick.Length; t++)
        {
            for (var i = 0; i < pick[t].Events.Count; i++)
            {
                if (pick[t].Events[i].Fence != FenceKind.Memb)
                    continue;
                var loc = domain--;
                pick[t] = Inject(pick[t], [(i, new ThreadEvent { Kind = EventKind.Fence, Fence = FenceKind.SyncSrcu, Loc = loc })], replace: i);
                for (var u = 0; u < pick.Length; u++)
                {
                    if (u == t)
                        continue;
                    // Only how many of the thread's accesses come before the interruption matters.
                    var n = pick[u].Events.Count;
                    var points = Enumerable.Range(0, n + 1).Where(p => p == 0 || pick[u].Events[p - 1].Kind != EventKind.Fence).ToList();
                    var choice = dfs.PickChoice(points.Count);
                    var at = points[choice];
                    key = key * (n + 1) + choice;
                    long c1 = Values.CookieBase + 900_000 + loc * 2, c2 = c1 + 1;
                    ThreadEvent F(FenceKind k, long cookie = 0) => new() { Kind = EventKind.Fence, Fence = k, Loc = k == FenceKind.Mb ? -1 : loc, Cookie = cookie };
                    pick[u] = Inject(pick[u],
                    [
                        (0, F(FenceKind.SrcuLock, c1)), (at, F(FenceKind.SrcuUnlock, c1)), (at, F(FenceKind.Mb)),
                        (at, F(FenceKind.SrcuLock, c2)), (n, F(FenceKind.SrcuUnlock, c2)),
                    ], replace: -1);
                }
            }
        }

        return key;
    }

    /// <summary>Inserts events before the given positions (or in place of one), renumbering the dependency masks.</summary>
    private static ThreadRun Inject(ThreadRun run, List<(int At, ThreadEvent Ev)> inserts, int replace)
    {
        var map = new int[run.Events.Count];
        var events = new List<ThreadEvent>();
        for (var i = 0; i <= run.Events.Count; i++)
        {
            foreach (var (at, ev) in inserts)
            {
                if (at == i && i != replace)
                    events.Add(ev);
            }

            if (i == run.Events.Count)
                break;
            map[i] = events.Count;
            events.Add(i == replace ? inserts[0].Ev : run.Events[i]);
        }

        if (events.Count > 64)
            throw new LitmusUnsupportedException("more than 64 events in one thread");
        ulong Remap(ulong m)
        {
            ulong r = 0;
            while (m != 0)
            {
                var b = BitOperations.TrailingZeroCount(m);
                m &= m - 1;
                r |= 1UL << map[b];
            }

            return r;
        }

        var remapped = events.Select(e => run.Events.Contains(e)
            ? new ThreadEvent
            {
                Kind = e.Kind, Loc = e.Loc, Value = e.Value, Tags = e.Tags, Fence = e.Fence, Cookie = e.Cookie,
                AddrDeps = Remap(e.AddrDeps), DataDeps = Remap(e.DataDeps), CtrlDeps = Remap(e.CtrlDeps),
                RmwRead = e.RmwRead >= 0 ? map[e.RmwRead] : -1,
            }
            : e).ToList();
        return run with { Events = remapped };
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

    /// <summary>Per location: its writes and reads and their program-order relations, as bit masks over the writes.</summary>
    private sealed class LocPlan
    {
        public required int[] Writes;
        public required int[] Reads;
        public required ulong[] WritePoBefore;   // per write: writes po-before it
        public required ulong[] ReadWritesBefore; // per read: writes po-before it
        public required ulong[] ReadWritesAfter;  // per read: writes po-after it
        public required int[][] ReadReadsAfter;   // per read: indices of reads po-after it
        public required int[] RmwReadOf;          // per write: the event id of its RMW read, or -1
    }

    private sealed class Plan
    {
        public required int[][] RfOptions;
        public required LocPlan[] Locs;
        public required int[] WriteIndex; // event id -> index among its location's writes (-1 for init)
    }

    private static Plan PlanOf(CandidateExecution x)
    {
        if (x.EngineCache is Plan p)
            return p;
        var ev = x.Events;
        bool PoBefore(int a, int b) => ev[a].Thread >= 0 && ev[a].Thread == ev[b].Thread && ev[a].Local < ev[b].Local;
        var rfOptions = new int[x.N][];
        foreach (var r in ev)
        {
            if (r.Kind != EventKind.Read)
                continue;
            rfOptions[r.Id] = ev.Where(w => w.Kind == EventKind.Write && w.Loc == r.Loc && w.E.Value == r.E.Value && !PoBefore(r.Id, w.Id))
                .Select(w => w.Id).ToArray();
        }

        var writeIndex = Enumerable.Repeat(-1, x.N).ToArray();
        var locs = new LocPlan[x.CoOrder.Length];
        for (var loc = 0; loc < locs.Length; loc++)
        {
            var writes = ev.Where(e => e.Loc == loc && e.Thread >= 0 && e.Kind == EventKind.Write).Select(e => e.Id).ToArray();
            var reads = ev.Where(e => e.Loc == loc && e.Thread >= 0 && e.Kind == EventKind.Read).Select(e => e.Id).ToArray();
            if (writes.Length > 64)
                throw new LitmusUnsupportedException("more than 64 writes to one location");
            for (var k = 0; k < writes.Length; k++)
                writeIndex[writes[k]] = k;
            ulong Mask(Func<int, bool> pred)
            {
                ulong m = 0;
                for (var k = 0; k < writes.Length; k++)
                {
                    if (pred(writes[k]))
                        m |= 1UL << k;
                }

                return m;
            }

            locs[loc] = new LocPlan
            {
                Writes = writes,
                Reads = reads,
                WritePoBefore = writes.Select(w => Mask(o => PoBefore(o, w))).ToArray(),
                ReadWritesBefore = reads.Select(r => Mask(w => PoBefore(w, r))).ToArray(),
                ReadWritesAfter = reads.Select(r => Mask(w => PoBefore(r, w))).ToArray(),
                ReadReadsAfter = reads.Select(r => Enumerable.Range(0, reads.Length).Where(j => PoBefore(r, reads[j])).ToArray()).ToArray(),
                RmwReadOf = writes.Select(w => ev[w].E.RmwRead >= 0 ? w - ev[w].Local + ev[w].E.RmwRead : -1).ToArray(),
            };
        }

        p = new Plan { RfOptions = rfOptions, Locs = locs, WriteIndex = writeIndex };
        x.EngineCache = p;
        return p;
    }

    /// <summary>Each read picks a write to its location with the value it returned (never one of its own thread's later writes).</summary>
    private static bool ChooseRf(CandidateExecution x, DfsPolicy dfs)
    {
        var plan = PlanOf(x);
        for (var i = 0; i < x.N; i++)
        {
            var options = plan.RfOptions[i];
            if (options == null)
            {
                x.RfOf[i] = -1;
                continue;
            }

            if (options.Length == 0)
                return false;
            x.RfOf[i] = options[dfs.PickChoice(options.Length)];
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
        var plan = PlanOf(x);
        Span<int> next = stackalloc int[65];
        Span<int> ready = stackalloc int[64];
        for (var loc = 0; loc < x.CoOrder.Length; loc++)
        {
            var lp = plan.Locs[loc];
            var order = x.CoOrder[loc] ??= new List<int>();
            order.Clear();
            order.Add(loc);
            var n = lp.Writes.Length;
            if (n == 0)
                continue;

            // Writes are bits 0..n-1; bit n stands for the initial write, which precedes all.
            var before = new ulong[n];
            Array.Copy(lp.WritePoBefore, before, n);
            next.Fill(-1);
            ulong mustFollow = 0;
            int Bit(int id) => id == loc ? n : plan.WriteIndex[id];
            bool Require(int a, int b)
            {
                if (a == b)
                    return true;
                if (b == loc)
                    return false;
                if (a != loc)
                    before[plan.WriteIndex[b]] |= 1UL << plan.WriteIndex[a];
                return true;
            }

            for (var k = 0; k < n; k++)
            {
                if (lp.RmwReadOf[k] < 0)
                    continue;
                var src = x.RfOf[lp.RmwReadOf[k]];
                if (!Require(src, lp.Writes[k]) || next[Bit(src)] >= 0)
                    return false;
                next[Bit(src)] = k;
                mustFollow |= 1UL << k;
            }

            for (var ri = 0; ri < lp.Reads.Length; ri++)
            {
                var s = x.RfOf[lp.Reads[ri]];
                var sBit = s == loc ? 0UL : 1UL << plan.WriteIndex[s];
                var wb = lp.ReadWritesBefore[ri] & ~sBit;
                if (wb != 0)
                {
                    if (s == loc)
                        return false;
                    before[plan.WriteIndex[s]] |= wb;
                }

                var wa = lp.ReadWritesAfter[ri];
                if (s != loc)
                {
                    while (wa != 0)
                    {
                        var k = BitOperations.TrailingZeroCount(wa);
                        wa &= wa - 1;
                        before[k] |= sBit;
                    }
                }

                foreach (var rj in lp.ReadReadsAfter[ri])
                {
                    var s2 = x.RfOf[lp.Reads[rj]];
                    if (s2 != s && !Require(s, s2))
                        return false;
                }
            }

            var pending = n == 64 ? ulong.MaxValue : (1UL << n) - 1;
            var last = n;
            while (pending != 0)
            {
                var count = 0;
                if (next[last] >= 0)
                {
                    var f = next[last];
                    if ((pending & (1UL << f)) == 0 || (before[f] & pending) != 0)
                        return false;
                    ready[count++] = f;
                }
                else
                {
                    var cand = pending & ~mustFollow;
                    while (cand != 0)
                    {
                        var k = BitOperations.TrailingZeroCount(cand);
                        cand &= cand - 1;
                        if ((before[k] & pending) == 0)
                            ready[count++] = k;
                    }
                }

                if (count == 0)
                    return false;
                var pick = ready[dfs.PickChoice(count)];
                order.Add(lp.Writes[pick]);
                pending &= ~(1UL << pick);
                last = pick;
            }
        }

        return true;
    }

    /// <summary>
    /// The values each location can hold: its initial value plus whatever the threads can store
    /// when their loads return values already in the sets, grown until nothing new appears.
    /// </summary>
    internal static List<long>[] ValueDomains(LitmusTest test)
    {
        var domains = test.Locations.Select(l => new List<long> { test.InitialValues.TryGetValue(l.Index, out var v) ? v : 0 }).ToArray();

        // herd solves for values symbolically, so a load may return a constant that is only
        // stored on a path the load itself enables (self-justifying, as in LB without
        // dependencies). Seeding with the constants the threads store covers that.
        var seeds = test.Threads.SelectMany(t => StoredConstants(t.Body)).Distinct().ToList();
        if (seeds.Count <= 4)
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

        // Each value carries the sets of write slots (the k-th write of thread t) that can
        // compute it: a write cannot feed its own value, so counters stop where the writes run
        // out (four increments give 0..4) instead of growing with every round. A value that needs
        // k rounds has a chain of k writes, which bounds the rounds as well.
        var provenance = new Dictionary<(int Loc, long Value), List<ulong>>();
        for (var l = 0; l < domains.Length; l++)
        {
            foreach (var v in domains[l])
                provenance[(l, v)] = [0];
        }

        var slots = new Dictionary<(int, int), int>();
        ulong SlotBit(int thread, int k)
        {
            if (!slots.TryGetValue((thread, k), out var bit))
            {
                bit = slots.Count;
                slots[(thread, k)] = bit;
            }

            return bit < 64 ? 1UL << bit : 0;
        }

        var rounds = 1 + test.Threads.Sum(t => AllRuns(test, t, domains, partial: true).Max(r => (int?)r.Events.Count(e => e.Kind == EventKind.Write)) ?? 0);
        for (var round = 0; round < rounds; round++)
        {
            var changed = false;
            foreach (var t in test.Threads)
            {
                foreach (var events in AllRuns(test, t, domains, partial: true).Select(r => r.Events).ToList())
                {
                    var k = 0;
                    foreach (var e in events)
                    {
                        if (e.Kind != EventKind.Write)
                            continue;
                        var slot = SlotBit(t.Index, k++);
                        var deps = e.DataDeps | (e.RmwRead >= 0 ? 1UL << e.RmwRead : 0);
                        foreach (var m in InputMasks(events, deps, provenance))
                        {
                            if ((m & slot) != 0 && slot != 0)
                                continue;
                            if (!AddProvenance(provenance, (e.Loc, e.Value), m | slot))
                                continue;
                            changed = true;
                            if (!domains[e.Loc].Contains(e.Value))
                            {
                                if (domains[e.Loc].Count >= MaxDomain)
                                    throw new LitmusUnsupportedException($"more than {MaxDomain} values stored to {test.Locations[e.Loc].Name}");
                                domains[e.Loc].Add(e.Value);
                            }
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

    /// <summary>The slot sets that can justify all the reads in <paramref name="deps"/> at once (minimal ones, a few).</summary>
    private static List<ulong> InputMasks(IReadOnlyList<ThreadEvent> events, ulong deps, Dictionary<(int, long), List<ulong>> provenance)
    {
        var masks = new List<ulong> { 0 };
        while (deps != 0)
        {
            var j = BitOperations.TrailingZeroCount(deps);
            deps &= deps - 1;
            var r = events[j];
            if (r.Kind != EventKind.Read || !provenance.TryGetValue((r.Loc, r.Value), out var options))
                continue;
            var next = new List<ulong>();
            foreach (var a in masks)
            {
                foreach (var b in options)
                    AddMinimal(next, a | b);
            }

            masks = next;
        }

        return masks;
    }

    private static bool AddProvenance(Dictionary<(int, long), List<ulong>> provenance, (int, long) key, ulong mask)
    {
        if (!provenance.TryGetValue(key, out var list))
            provenance[key] = list = [];
        return AddMinimal(list, mask);
    }

    /// <summary>Keeps an antichain of at most 8 small masks; false when the mask adds nothing.</summary>
    private static bool AddMinimal(List<ulong> list, ulong mask)
    {
        foreach (var m in list)
        {
            if ((m & ~mask) == 0)
                return false;
        }

        list.RemoveAll(m => (mask & ~m) == 0);
        if (list.Count >= 8)
            return false;
        list.Add(mask);
        return true;
    }

    /// <summary>Constants a thread may store: the literal values of assignments and store arguments.</summary>
    internal static IEnumerable<long> StoredConstants(IEnumerable<Stmt> body)
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
