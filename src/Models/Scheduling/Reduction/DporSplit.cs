namespace Kmc.Models.Scheduling.Reduction;

/// <summary>
/// <para>
/// One part of a source-DPOR search divided among several searches (the threads of kmc run --workers). A
/// reduced search cannot be cut into subtrees up front as the plain dfs is: its backtrack points
/// come from races found anywhere below. So the top of the tree is searched differently: at
/// the scheduling nodes before the first <see cref="Depth"/> branching ones (nodes where more
/// than one task is awake), the search tries every task that is not asleep, not only the ones
/// races ask for, as a dfs with sleep sets alone (Godefroid, "Partial-order methods for the
/// verification of concurrent systems", LNCS 1032, 1996) would. Every race reversal that lands
/// there asks for a subset of what is tried anyway, so the top of the tree, its sleep sets and
/// the step footprints recorded there are the same in every part, whatever the others find.
/// </para>
/// <para>
/// Each path through the top (the scheduling nodes above the depth and every choice made inside
/// their steps) is a unit, numbered in dfs order; all parts walk the top alike and so number the
/// units alike. Part k of n explores the units whose number is k modulo n with ordinary
/// source-DPOR below the top, starting from the sleep set the top hands it, and cuts the others at
/// the first scheduling node below the top (their steps above it have run, so their footprints
/// enter the sleep sets of later siblings as in the whole search). The subtrees are disjoint and
/// every one is explored by exactly one part. Together the parts run a source-DPOR search whose
/// backtrack sets near the root are larger than it asks for, which keeps it sound: its
/// completeness argument (Abdulla et al., POPL 2014) needs each backtrack set to contain a source
/// set, not to be one. The cost is the top's extra branches, which the race analysis would
/// have skipped: a few per cent of executions (see kmc bench --split).
/// </para>
/// </summary>
public sealed class DporSplit
{
    /// <summary>
    /// Branching scheduling nodes searched in full. On osq-3cpu-1round under sc (kmc bench
    /// --split --depth K): 10 gives 121 units and 1.017x the executions of one search, 14 522
    /// and 1.024x, 16 947 and 1.032x, 20 3,762 and 1.075x. 16 keeps the overhead near 3 % with
    /// units enough to share evenly among the most workers kmc allows on a small machine.
    /// </summary>
    public const int DefaultDepth = 16;

    public DporSplit(int part, int parts, int depth = DefaultDepth, SplitBoard? board = null)
    {
        if (parts < 1 || part < 0 || part >= parts)
            throw new ArgumentOutOfRangeException(nameof(part), $"part {part} of {parts} does not exist");
        if (depth < 0)
            throw new ArgumentOutOfRangeException(nameof(depth), $"split depth {depth} is negative");
        Part = part;
        Parts = parts;
        Depth = depth;
        Board = board;
        board?.Join(this);
    }

    public int Part { get; }

    public int Parts { get; }

    /// <summary>Branching scheduling nodes above the split (see <see cref="DefaultDepth"/>).</summary>
    public int Depth { get; }

    /// <summary>Shared by the parts of one search: the earliest failing unit so far (null: go to the end).</summary>
    public SplitBoard? Board { get; }

    /// <summary>The unit the current execution is in (0-based, in dfs order over the top of the tree).</summary>
    public long Unit { get; private set; }

    /// <summary>Units seen so far; after an exhausted search, all of them.</summary>
    public long Units => Unit + 1;

    /// <summary>The current execution's unit belongs to this part.</summary>
    public bool Owned => Unit % Parts == Part;

    /// <summary>Executions of this part run before each of its units started, for counting up to a failure (see <see cref="SplitBoard"/>).</summary>
    private readonly List<(long Unit, long Before)> _starts = new();

    private long _executions;

    /// <summary>The search moved to another path through the top of the tree.</summary>
    internal void NextUnit() => Unit++;

    /// <summary>An execution of this part's share was counted.</summary>
    internal void Counted()
    {
        if (_starts.Count == 0 || _starts[^1].Unit != Unit)
            _starts.Add((Unit, _executions));
        _executions++;
    }

    /// <summary>This part's executions in units before <paramref name="unit"/>.</summary>
    public long ExecutionsBefore(long unit)
    {
        foreach (var (u, before) in _starts)
        {
            if (u >= unit)
                return before;
        }

        return _executions;
    }

    /// <summary>Another part failed in an earlier unit: nothing this part finds from now on can come first.</summary>
    public bool Overtaken => Board is { } b && Unit > b.FirstFailingUnit;
}

/// <summary>
/// What the parts of one split search share: the lowest unit in which some part met a failure.
/// That failure is the result, whichever thread got there first: each part walks its units in
/// increasing order and stops once past it (<see cref="DporSplit.Overtaken"/>), and the
/// executions counted are those of the units before it and of its own up to the failure, so
/// neither the failure nor the count depends on timing.
/// </summary>
public sealed class SplitBoard
{
    private long _first = long.MaxValue;
    private readonly List<DporSplit> _parts = new();

    internal void Join(DporSplit part)
    {
        lock (_parts)
            _parts.Add(part);
    }

    /// <summary>Executions all parts but <paramref name="except"/> ran in units before <paramref name="unit"/> (read after the parts ended).</summary>
    public long ExecutionsBefore(long unit, int except)
    {
        lock (_parts)
            return _parts.Where(p => p.Part != except).Sum(p => p.ExecutionsBefore(unit));
    }

    public long FirstFailingUnit => Interlocked.Read(ref _first);

    public void Failed(long unit)
    {
        long seen;
        while (unit < (seen = Interlocked.Read(ref _first)) && Interlocked.CompareExchange(ref _first, unit, seen) != seen)
        {
        }
    }
}
