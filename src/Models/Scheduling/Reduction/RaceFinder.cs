using System.Numerics;

namespace Kmc.Models.Scheduling.Reduction;

/// <summary>One step of an execution as the reduction sees it: the task, what it touched, and its scheduling node.</summary>
internal readonly record struct DporStep(int Task, Footprint Fp, int Node);

/// <summary>
/// <para>
/// The race analysis of source-DPOR (Abdulla, Aronis, Jonsson, Sagonas: "Source Sets: A
/// Foundation for Optimal Dynamic Partial Order Reduction", JACM 64(4), 2017, source-DPOR; the
/// happens-before computation with vector clocks follows Flanagan and Godefroid, "Dynamic
/// partial-order reduction for model checking software", POPL 2005): a vector clock per step and,
/// per shared key, the history of the steps that accessed it; a race is a pair of dependent steps
/// of different tasks not ordered through another step.
/// </para>
/// <para>
/// Incremental: a stateless search replays a prefix of the previous execution and departs from it
/// at the backtrack point. The replayed steps touch the same keys in the same order (the search
/// refuses a scenario that does otherwise), so their clocks, the key histories they built and
/// the races among them (already reversed when they were first found; reversing them again adds
/// nothing, as the backtrack sets only grow) are kept, and each execution analyses only the steps
/// after the prefix it shares with the one before (<see cref="SharedPrefix"/>). Rolling back is
/// exact: every step appended one entry to the history of each key it touched, so forgetting a
/// step pops those entries. With <c>incremental</c> off, every execution is analysed from its
/// first step (the reference the incremental analysis is tested against).
/// </para>
/// <para>
/// With <c>readsFrom</c>, a store-choosing load races with no earlier write and happens after
/// the step that made the store it read, not after the location's last write (reads-from races,
/// see <see cref="DporPolicy"/>).
/// </para>
/// </summary>
internal sealed class RaceFinder(bool incremental, bool readsFrom = false)
{
    /// <summary>The steps that touched one key, in order, and which of them wrote it.</summary>
    private sealed class KeyHistory
    {
        public readonly List<int> Steps = new();
        public readonly List<int> WritePositions = new(); // indexes into Steps
    }

    private readonly Dictionary<long, KeyHistory> _keys = new();
    private readonly List<int[]> _clocks = new();
    private readonly List<int> _seq = new();
    private readonly List<int> _previousOfTask = new();
    private readonly List<int> _untrackedBefore = new();
    private readonly int[] _lastOfTask = NoSteps();
    private readonly int[] _count = new int[64];
    private int _lastUntracked = -1;
    private int _width;
    private readonly Stack<int[]> _pool = new();
    private readonly List<int> _candidates = new();
    private readonly List<int> _readFrom = new();
    private readonly List<(int First, int Second)> _races = new();

    public bool Incremental => incremental;

    /// <summary>How many steps of the current execution are analysed (the shared prefix before <see cref="Analyse"/>).</summary>
    public int Analysed => _clocks.Count;

    private static int[] NoSteps()
    {
        var a = new int[64];
        Array.Fill(a, -1);
        return a;
    }

    /// <summary>Does step <paramref name="i"/> happen before the step whose clock this is?</summary>
    private bool HappensBefore(int i, int task, int[] clock) => task < clock.Length && clock[task] >= _seq[i];

    /// <summary>
    /// Analyses the steps from <see cref="Analysed"/> on: the races whose later step is among
    /// them, in the order the whole-execution analysis finds them.
    /// </summary>
    public List<(int First, int Second)> Analyse(List<DporStep> steps, int taskCount)
    {
        _races.Clear();
        _width = Math.Max(_width, taskCount);
        for (var j = Analysed; j < steps.Count; j++)
            AnalyseStep(steps, j);
        return _races;
    }

    private void AnalyseStep(List<DporStep> steps, int j)
    {
        var ev = steps[j];
        var u = ev.Task;
        var fp = ev.Fp;
        _candidates.Clear();
        _readFrom.Clear();
        var prior = _lastOfTask[u] >= 0 ? _clocks[_lastOfTask[u]] : Array.Empty<int>();
        if (fp.Untracked)
        {
            for (var w = 0; w < _width; w++)
            {
                if (w != u && _lastOfTask[w] >= 0)
                    _candidates.Add(_lastOfTask[w]);
            }
        }
        else
        {
            if (_lastUntracked >= 0)
                _candidates.Add(_lastUntracked);
            for (var k = 0; k < fp.Count; k++)
            {
                if (readsFrom && fp.ReadsFromAt(k))
                {
                    // A store-choosing load: ordered after the store it read and no other.
                    if (MakerOf(steps, j, fp.ReadFrom) is var maker and >= 0)
                        _readFrom.Add(maker);
                    continue;
                }

                if (!_keys.TryGetValue(fp.KeyAt(k), out var h) || h.Steps.Count == 0)
                    continue;
                // The last write, and (for a write) every read since it.
                var lastWrite = h.WritePositions.Count > 0 ? h.WritePositions[^1] : -1;
                if (lastWrite >= 0)
                    _candidates.Add(h.Steps[lastWrite]);
                if (fp.WritesAt(k))
                {
                    for (var p = lastWrite + 1; p < h.Steps.Count; p++)
                        _candidates.Add(h.Steps[p]);
                }
            }
        }

        // A step that ends a spin-wait could not have run before the write that made its
        // condition true, but it could have run before an earlier write that made it false:
        // every earlier write to what the condition reads is a race to reverse.
        for (var k = 0; k < fp.WaitKeys; k++)
        {
            if (!_keys.TryGetValue(fp.KeyAt(k), out var h))
                continue;
            foreach (var p in h.WritePositions)
            {
                var w = h.Steps[p];
                if (steps[w].Task != u && !HappensBefore(w, steps[w].Task, prior))
                    _races.Add((w, j));
            }
        }

        foreach (var i in _candidates)
        {
            var ti = steps[i].Task;
            if (ti != u && !HappensBefore(i, ti, prior) && !OrderedThroughAnother(i, ti))
                _races.Add((i, j));
        }

        var clock = _pool.Count > 0 ? _pool.Pop() : null;
        if (clock?.Length != _width)
            clock = new int[_width]; // the first clocks, or more tasks than before: a pooled clock is too short
        else
            Array.Clear(clock);
        prior.CopyTo(clock, 0);
        foreach (var i in _candidates)
            Join(clock, _clocks[i]);
        foreach (var i in _readFrom)
            Join(clock, _clocks[i]);

        _count[u]++;
        clock[u] = _count[u];
        _clocks.Add(clock);
        _seq.Add(_count[u]);
        _previousOfTask.Add(_lastOfTask[u]);
        _untrackedBefore.Add(_lastUntracked);
        _lastOfTask[u] = j;
        if (fp.Untracked)
            _lastUntracked = j;
        for (var k = 0; k < fp.Count; k++)
        {
            var key = fp.KeyAt(k);
            if (!_keys.TryGetValue(key, out var h))
                _keys[key] = h = new KeyHistory();
            if (fp.WritesAt(k))
                h.WritePositions.Add(h.Steps.Count);
            h.Steps.Add(j);
        }

        bool OrderedThroughAnother(int i, int ti)
        {
            foreach (var other in _candidates)
            {
                if (other > i && HappensBefore(i, ti, _clocks[other]))
                    return true;
            }

            foreach (var other in _readFrom)
            {
                if (other > i && HappensBefore(i, ti, _clocks[other]))
                    return true;
            }

            return false;
        }
    }

    private static void Join(int[] clock, int[] other)
    {
        for (var w = 0; w < other.Length; w++)
            clock[w] = Math.Max(clock[w], other[w]);
    }

    /// <summary>The step that made the store numbered <paramref name="born"/> (-1: none before step <paramref name="j"/> did).</summary>
    private static int MakerOf(List<DporStep> steps, int j, long born)
    {
        int lo = 0, hi = j - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (steps[mid].Fp.StoresBefore < born)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    /// <summary>
    /// The next execution replays the first <paramref name="shared"/> steps of this one unchanged:
    /// forgets the analysis of the steps after them (of all steps when not incremental).
    /// <paramref name="steps"/> are still this execution's.
    /// </summary>
    public void SharedPrefix(List<DporStep> steps, int shared)
    {
        if (!incremental)
            shared = 0;
        if (shared == 0)
        {
            Reset();
            return;
        }

        for (var j = Analysed - 1; j >= shared; j--)
        {
            var ev = steps[j];
            _lastOfTask[ev.Task] = _previousOfTask[j];
            _count[ev.Task] = _seq[j] - 1;
            _lastUntracked = _untrackedBefore[j];
            for (var k = 0; k < ev.Fp.Count; k++)
            {
                var h = _keys[ev.Fp.KeyAt(k)];
                h.Steps.RemoveAt(h.Steps.Count - 1);
                if (h.WritePositions.Count > 0 && h.WritePositions[^1] == h.Steps.Count)
                    h.WritePositions.RemoveAt(h.WritePositions.Count - 1);
            }

            _pool.Push(_clocks[j]);
        }

        var n = Math.Min(shared, Analysed);
        Truncate(_clocks, n);
        Truncate(_seq, n);
        Truncate(_previousOfTask, n);
        Truncate(_untrackedBefore, n);
    }

    /// <summary>Forgets every step (the next execution shares none with this one).</summary>
    private void Reset()
    {
        foreach (var h in _keys.Values)
        {
            h.Steps.Clear();
            h.WritePositions.Clear();
        }

        foreach (var clock in _clocks)
            _pool.Push(clock);
        _clocks.Clear();
        _seq.Clear();
        _previousOfTask.Clear();
        _untrackedBefore.Clear();
        Array.Fill(_lastOfTask, -1);
        Array.Clear(_count);
        _lastUntracked = -1;
    }

    private static void Truncate<T>(List<T> list, int n) => list.RemoveRange(n, list.Count - n);

    /// <summary>
    /// The tasks that can start v = notdep(i, E).j, the steps after <paramref name="i"/> up to
    /// <paramref name="j"/> that do not happen after it (source-DPOR's initials, I(v)), and those
    /// of them whose first step in v does not end a spin-wait.
    /// </summary>
    public ulong Initials(List<DporStep> steps, int i, int j, out ulong notSpinning)
    {
        var ti = steps[i].Task;
        ulong seen = 0;
        ulong initials = 0;
        notSpinning = 0;
        Span<int> firstSeq = stackalloc int[64];
        for (var k = i + 1; k <= j; k++)
        {
            var clock = _clocks[k];
            if (k < j && HappensBefore(i, ti, clock))
                continue; // after i in happens-before: not in notdep(i)
            var w = steps[k].Task;
            if ((seen & (1UL << w)) != 0)
                continue;
            var initial = true;
            var rest = seen;
            while (rest != 0)
            {
                var x = BitOperations.TrailingZeroCount(rest);
                rest &= rest - 1;
                if (x != w && x < clock.Length && clock[x] >= firstSeq[x])
                {
                    initial = false;
                    break;
                }
            }

            seen |= 1UL << w;
            firstSeq[w] = _seq[k];
            if (initial)
            {
                initials |= 1UL << w;
                if (steps[k].Fp.WaitKeys == 0)
                    notSpinning |= 1UL << w;
            }
        }

        return initials;
    }
}
