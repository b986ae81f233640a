using System.Numerics;

namespace Kmc.Models.Scheduling;

/// <summary>How the native explorer picks the next task and the value of each recorded choice.</summary>
public interface ISchedulePolicy
{
    /// <summary>Picks from <paramref name="enabled"/> (ordered by task id); <paramref name="last"/> ran the previous step.</summary>
    SimTask PickTask(List<SimTask> enabled, SimTask? last);

    int PickChoice(int n);

    /// <summary>A weak-memory choice (see <see cref="IExecutionDriver.ChooseWeak"/>); samplers treat it as any other.</summary>
    int PickWeakChoice(int n, int sc) => PickChoice(n);

    /// <summary>
    /// Whether a weak-memory choice made now may take a non-SC alternative. A memory model asks
    /// before it lets a step exist only through such an alternative (a spin-wait ending on a stale
    /// store, see <see cref="MemoryModel.CanReadSatisfying{T}"/>); samplers have no bound.
    /// </summary>
    bool StaleAllowed() => true;

    /// <summary>
    /// The node of the last choice this policy made that had alternatives to explore (-1: none,
    /// or a policy that explores no tree): the handle <see cref="SkipAlternatives"/> takes.
    /// </summary>
    int LastChoiceNode => -1;

    /// <summary>
    /// Alternatives of choice <paramref name="node"/> (a bit per alternative, of the first 64)
    /// whose subtrees the caller knows hold one execution that ends at once with no outcome: an
    /// exhaustive search leaves those it has not explored yet (see <see cref="SpinLoop"/>).
    /// </summary>
    /// <returns>how many of them were still to be explored and not skipped already</returns>
    int SkipAlternatives(int node, ulong alternatives) => 0;
}

/// <summary>Uniform random scheduling and choices.</summary>
public sealed class RandomPolicy(Rng rng) : ISchedulePolicy
{
    internal Rng Rng => rng;

    public SimTask PickTask(List<SimTask> enabled, SimTask? last) => enabled[rng.Next(enabled.Count)];

    public int PickChoice(int n) => rng.Next(n);
}

/// <summary>
/// PCT (Burckhardt et al.): random distinct task priorities, the highest enabled task runs, and
/// at d-1 random steps the running task drops to the lowest priority. Finds a bug of depth d
/// with probability at least 1/(n k^(d-1)).
/// </summary>
public sealed class PctPolicy : ISchedulePolicy
{
    private readonly Rng _rng;
    private readonly Dictionary<int, long> _priority = new();
    private readonly HashSet<int> _changePoints = new();
    private int _step;
    private long _low;

    public PctPolicy(Rng rng, int depth, int expectedSteps)
    {
        _rng = rng;
        for (var i = 0; i < depth - 1; i++)
            _changePoints.Add(1 + rng.Next(Math.Max(1, expectedSteps)));
    }

    public SimTask PickTask(List<SimTask> enabled, SimTask? last)
    {
        _step++;
        SimTask best = enabled[0];
        var bestPriority = long.MinValue;
        foreach (var t in enabled)
        {
            if (!_priority.TryGetValue(t.Id, out var p))
            {
                p = (long)(_rng.Next() >> 2);
                _priority[t.Id] = p;
            }

            if (p > bestPriority)
            {
                best = t;
                bestPriority = p;
            }
        }

        if (_changePoints.Contains(_step))
            _priority[best.Id] = --_low;
        return best;
    }

    public int PickChoice(int n) => _rng.Next(n);
}

/// <summary>
/// Stateless depth-first search over every scheduling decision and choice, with a bound on
/// preemptions (switching away from a task that could have gone on) and a bound on weak-memory
/// choices that do not take the sequentially consistent alternative (stale reads, stores landing
/// late in coherence order, store buffers not draining). Each execution replays the decision
/// stack's prefix and takes the next untried alternative at the deepest node.
/// </summary>
public sealed class DfsPolicy : ISchedulePolicy
{
    private readonly List<(int Chosen, int Count, ulong Skip)> _stack = new();
    private readonly List<SimTask> _options = new();
    private readonly int _bound;
    private int _pos;
    private int _preemptions;

    /// <param name="preemptionBound">most preemptions per execution (negative: unbounded)</param>
    /// <param name="staleBound">most non-SC weak-memory choices per execution (negative: unbounded)</param>
    /// <param name="probe">
    /// instead of searching, walk one random path of the same tree per execution and multiply the
    /// option counts met on it (<see cref="ProbeProduct"/>): Knuth's estimator of a tree's size
    /// ("Estimating the efficiency of backtrack programs", Math. Comp. 1975), whose mean over
    /// probes is an unbiased estimate of the number of executions the search would run
    /// </param>
    /// <param name="part">with <paramref name="parts"/> &gt; 1: which share of the tree this search explores (see <see cref="Owned"/>)</param>
    public DfsPolicy(int preemptionBound, int staleBound = -1, Rng? probe = null, int part = 0, int parts = 1)
    {
        if (parts < 1 || part < 0 || part >= parts)
            throw new ArgumentOutOfRangeException(nameof(part), $"part {part} of {parts} does not exist");
        _bound = preemptionBound;
        _budget = new StaleBudget(staleBound);
        _probe = probe;
        _part = part;
        _parts = parts;
    }

    /// <summary>
    /// A split search divides the tree into units: the subtrees below the first
    /// <see cref="SplitDepth"/> decisions, and the executions that end above that depth. Every
    /// part walks the same top of the tree in the same order, so all number the units alike; part
    /// k explores the units whose number is k modulo the number of parts, and cuts the others at
    /// the split depth. Each execution of the whole search belongs to exactly one unit, so the
    /// parts together run exactly the executions of one search.
    /// </summary>
    public const int SplitDepth = 6;

    private readonly int _part;
    private readonly int _parts;
    private long _unit;

    /// <summary>The current execution is in this part's share (always, unless split); read it before <see cref="Advance"/>.</summary>
    public bool Owned => _parts == 1 || _unit % _parts == _part;

    /// <summary>The current execution left this part's share at the split depth: the explorer abandons it.</summary>
    public bool Cut { get; private set; }

    private readonly Rng? _probe;

    /// <summary>Probe mode: the product of the option counts on this execution's path.</summary>
    public double ProbeProduct { get; private set; } = 1;

    private readonly StaleBudget _budget;

    /// <summary>The current execution met a weak-memory choice the stale bound left with only its SC alternative.</summary>
    public bool StaleBoundReached => _budget.Reached;

    /// <summary>The execution is still on the prefix an earlier execution took (every state on it was seen then).</summary>
    internal bool Replaying => _pos < _stack.Count;

    /// <summary>Preemptions and non-SC weak-memory choices the current execution has spent so far.</summary>
    internal int Preemptions => _preemptions;

    internal int StaleSpent => _budget.Spent;

    public void BeginExecution()
    {
        _pos = 0;
        _preemptions = 0;
        Cut = false;
        _budget.Reset();
        ProbeProduct = 1;
    }

    public SimTask PickTask(List<SimTask> enabled, SimTask? last)
    {
        _options.Clear();
        var lastEnabled = last != null && enabled.Contains(last);
        if (lastEnabled)
            _options.Add(last!);
        if (!lastEnabled || _bound < 0 || _preemptions < _bound)
        {
            foreach (var t in enabled)
            {
                if (t != last)
                    _options.Add(t);
            }
        }

        var pick = _options[Next(_options.Count)];
        if (lastEnabled && pick != last)
            _preemptions++;
        return pick;
    }

    public int PickChoice(int n) => Next(n);

    /// <summary>Within the stale bound (see <see cref="StaleBudget"/>).</summary>
    public int PickWeakChoice(int n, int sc)
    {
        _lastChoice = -1;
        return _budget.Pick(n, sc, Next);
    }

    public bool StaleAllowed() => _budget.Allows();

    private int Next(int count)
    {
        _lastChoice = -1;
        if (count == 1)
            return 0;
        if (_probe != null)
        {
            ProbeProduct *= count;
            return _probe.Next(count);
        }

        if (_pos >= SplitDepth && !Owned)
        {
            // Below the split depth in another part's unit: that part explores it.
            Cut = true;
            return 0;
        }

        if (_pos < _stack.Count)
        {
            var node = _stack[_pos++];
            if (node.Count != count)
            {
                throw new InvalidOperationException(
                    $"exhaustive search: the scenario is not deterministic (decision {_pos} had {node.Count} options, now {count}); " +
                    "model code must not depend on anything outside the kernel API");
            }

            _lastChoice = _pos - 1;
            return node.Chosen;
        }

        _stack.Add((0, count, 0));
        _lastChoice = _pos++;
        return 0;
    }

    /// <summary>Below the split depth, where every part walks its own units (the top is walked alike by all).</summary>
    public int LastChoiceNode => _lastChoice >= SplitDepth ? _lastChoice : -1;

    private int _lastChoice = -1;

    public int SkipAlternatives(int node, ulong alternatives)
    {
        if (node < SplitDepth || node >= _stack.Count)
            return 0;
        var n = _stack[node];
        var added = ChoiceSkips.Add(ref n.Skip, n.Chosen, alternatives);
        _stack[node] = n;
        return added;
    }

    /// <summary>
    /// The share of the tree finished, read from the decision stack between executions: at each
    /// node every alternative left of the current one is done, and is taken to be as large as its
    /// siblings, so a node weighs 1/count of its parent. That is Knuth's (1975) assumption for a
    /// random probe, applied to the search's own path; it needs no extra executions and settles as
    /// the search moves right. Exact for a uniform tree.
    /// </summary>
    public double FractionDone
    {
        get
        {
            var done = 0.0;
            var weight = 1.0;
            foreach (var (chosen, count, _) in _stack)
            {
                done += weight * chosen / count;
                weight /= count;
            }

            return done;
        }
    }

    private static int NextAlternative((int Chosen, int Count, ulong Skip) node) => ChoiceSkips.Next(node.Chosen, node.Count, node.Skip);

    /// <summary>Moves to the next unexplored execution; false when the tree is exhausted.</summary>
    public bool Advance()
    {
        while (_stack.Count > 0 && NextAlternative(_stack[^1]) >= _stack[^1].Count)
            _stack.RemoveAt(_stack.Count - 1);
        if (_stack.Count == 0)
            return false;
        var top = _stack[^1];
        _stack[^1] = top with { Chosen = NextAlternative(top) };
        if (_stack.Count <= SplitDepth)
            _unit++;
        return true;
    }
}

/// <summary>Feeds a recorded decision list back, and says where a replay left the recorded path.</summary>
public sealed class ReplayPolicy(IReadOnlyList<int> decisions) : ISchedulePolicy
{
    private int _pos;

    public SimTask PickTask(List<SimTask> enabled, SimTask? last)
    {
        var id = NextDecision("a task to run");
        foreach (var t in enabled)
        {
            if (t.Id == id)
                return t;
        }

        throw new ReplayDivergedException(
            $"replay diverged at decision {_pos}: the trace runs task {id}, which cannot run here (runnable: {string.Join(", ", enabled.Select(t => t.Name))})");
    }

    public int PickChoice(int n)
    {
        var v = NextDecision("a choice");
        if (v < 0 || v >= n)
            throw new ReplayDivergedException($"replay diverged at decision {_pos}: choice {v} is out of range [0, {n})");
        return v;
    }

    private int NextDecision(string what)
    {
        if (_pos >= decisions.Count)
            throw new ReplayDivergedException($"replay diverged: the trace has {decisions.Count} decisions, but the execution asks for {what} after them");
        return decisions[_pos++];
    }
}

/// <summary>A trace does not fit the code it is replayed on.</summary>
public sealed class ReplayDivergedException(string message) : Exception(message);

/// <summary>
/// The stale bound of an exhaustive search: the SC alternative of a weak-memory choice is tried
/// first and is free; each other one spends one unit. Once spent, the choice has one option, so,
/// like a preemption the preemption bound forbids, it is no decision and adds no node. The search
/// stack holds the rank of the alternative (0 the SC one, then the others in value order); the
/// value returned, and recorded, is what the model asked for.
/// </summary>
public sealed class StaleBudget(int bound)
{
    private int _spent;

    /// <summary>Non-SC alternatives taken so far in the current execution.</summary>
    public int Spent => _spent;

    /// <summary>The current execution met a weak-memory choice the bound left with only its SC alternative.</summary>
    public bool Reached { get; private set; }

    public void Reset()
    {
        _spent = 0;
        Reached = false;
    }

    /// <summary>
    /// Whether a non-SC alternative may still be taken. Asked only where one exists, so a "no"
    /// is the bound cutting something off (<see cref="Reached"/>).
    /// </summary>
    public bool Allows()
    {
        if (bound < 0 || _spent < bound)
            return true;
        Reached = true;
        return false;
    }

    /// <param name="next">the search's next decision among that many ranks</param>
    public int Pick(int n, int sc, Func<int, int> next)
    {
        if (bound >= 0 && _spent >= bound)
        {
            Reached |= n > 1;
            return sc;
        }

        var rank = next(n);
        if (rank == 0)
            return sc;
        _spent++;
        return rank <= sc ? rank - 1 : rank;
    }
}

/// <summary>The alternatives a choice node was told to skip (<see cref="ISchedulePolicy.SkipAlternatives"/>).</summary>
internal static class ChoiceSkips
{
    /// <summary>Adds to <paramref name="skip"/> the alternatives after <paramref name="chosen"/> among <paramref name="alternatives"/>; how many were new.</summary>
    public static int Add(ref ulong skip, int chosen, ulong alternatives)
    {
        var fresh = chosen >= 63 ? 0 : alternatives & ~skip & ~((2UL << chosen) - 1);
        skip |= fresh;
        return BitOperations.PopCount(fresh);
    }

    /// <summary>The next alternative after <paramref name="chosen"/> not in <paramref name="skip"/> (<paramref name="count"/>: none).</summary>
    public static int Next(int chosen, int count, ulong skip)
    {
        var next = chosen + 1;
        while (next < count && next < 64 && (skip & (1UL << next)) != 0)
            next++;
        return next;
    }
}
