namespace Kmc.Models.Scheduling;

/// <summary>How long a failing schedule is: what a reader has to follow.</summary>
public readonly record struct ScheduleSize(int Preemptions, int Steps) : IComparable<ScheduleSize>
{
    /// <summary>Fewer preemptions first: each one is a "why did it switch here?" for the reader.</summary>
    public int CompareTo(ScheduleSize other) =>
        Preemptions != other.Preemptions ? Preemptions.CompareTo(other.Preemptions) : Steps.CompareTo(other.Steps);

    public override string ToString() => $"{Steps} steps, {Preemptions} preemptions";
}

/// <summary>The outcome of shortening a failing schedule.</summary>
public sealed record MinimizeResult(IReadOnlyList<int> Schedule, ScheduleSize Original, ScheduleSize Minimized, int Runs);

/// <summary>
/// Shortens a failing native schedule while it keeps failing the same way (same failure kind at
/// the same place), after Jalbert and Sen's trace simplification: the schedule is seen as blocks
/// (task T runs for k decisions), and a candidate merges a block into the next block of the same
/// task (one preemption fewer) or drops a block. Each task's own choices (need_resched, weak-memory
/// reads, faults) follow it. A candidate runs under <see cref="BlockPolicy"/>, which tolerates
/// blocks that no longer fit; the decisions it actually took become the new schedule, so the
/// result replays exactly.
/// </summary>
public static class Minimizer
{
    /// <summary>
    /// The budget is a number of trial runs, never time: the same trace must come out of the same
    /// seed on a loaded CI machine as on an idle laptop.
    /// </summary>
    public static MinimizeResult Minimize(Scenario scenario, ExploreOptions options, IReadOnlyList<int> schedule, Failure failure,
        int maxRuns = 2000)
    {
        var runs = 1;
        var first = Run(scenario, options, new BlockPolicy(new ReplayPolicy(schedule)));
        if (!SameBug(first.Failure, failure))
            return new MinimizeResult(schedule, first.Size, first.Size, runs);

        var best = first;
        bool Budget() => runs < maxRuns;

        bool Improves(List<Block> blocks)
        {
            runs++;
            var r = Run(scenario, options, new BlockPolicy(blocks, best.Choices));
            if (!SameBug(r.Failure, failure) || r.Size.CompareTo(best.Size) >= 0)
                return false;
            best = r;
            return true;
        }

        var progress = true;
        while (progress && Budget())
        {
            progress = false;
            for (var i = 0; i < best.Blocks.Count && Budget(); i++)
            {
                var j = NextBlockOfSameTask(best.Blocks, i);
                if (j < 0)
                    continue;
                if (Improves(Merge(best.Blocks, from: j, into: i)) || Improves(Merge(best.Blocks, from: i, into: j)))
                {
                    progress = true;
                    i = -1;
                }
            }

            for (var i = best.Blocks.Count - 1; i >= 0 && Budget(); i--)
            {
                var fewer = new List<Block>(best.Blocks);
                fewer.RemoveAt(i);
                if (Improves(fewer))
                {
                    progress = true;
                    i = Math.Min(i, best.Blocks.Count);
                }
            }
        }

        return new MinimizeResult(best.Decisions, first.Size, best.Size, runs);
    }

    private static int NextBlockOfSameTask(List<Block> blocks, int i)
    {
        for (var j = i + 1; j < blocks.Count; j++)
        {
            if (blocks[j].Task == blocks[i].Task)
                return j;
        }

        return -1;
    }

    /// <summary>Moves block <paramref name="from"/>'s decisions into block <paramref name="into"/>.</summary>
    private static List<Block> Merge(List<Block> blocks, int from, int into)
    {
        var merged = new List<Block>(blocks);
        merged[into] = merged[into] with { Count = merged[into].Count + merged[from].Count };
        merged.RemoveAt(from);
        return merged;
    }

    private static bool SameBug(Failure? found, Failure wanted) =>
        found != null && found.Kind == wanted.Kind && found.Location == wanted.Location;

    private sealed record Attempt(Failure? Failure, ScheduleSize Size, List<int> Decisions, List<Block> Blocks,
        Dictionary<int, List<int>> Choices);

    private static Attempt Run(Scenario scenario, ExploreOptions options, BlockPolicy policy)
    {
        var decisions = new List<int>();
        using var _ = new NoSynchronizationContext(suppressFlow: true);
        var ex = NativeExplorer.RunOnce(scenario, options, policy, decisions, record: false);
        return new Attempt(ex.StepBoundHit ? null : ex.Failure, new ScheduleSize(policy.Preemptions, ex.StepCount), decisions,
            policy.TakenBlocks(), policy.TakenChoices);
    }
}

/// <summary>Task <see cref="Task"/> is picked at the next <see cref="Count"/> scheduling decisions.</summary>
public readonly record struct Block(int Task, int Count);

/// <summary>
/// Runs a schedule given as blocks, and records what it actually did. Where a block's task cannot
/// run, the block is dropped; after the last block it runs without preempting (the last task goes
/// on if it can, else the lowest-numbered runnable one). A task's k-th choice takes its k-th
/// recorded value, or when that does not fit 0 (a weak-memory choice: its SC alternative, the
/// fewest weak behaviours for the reader to follow). Or it wraps another policy and only records.
/// </summary>
public sealed class BlockPolicy : ISchedulePolicy
{
    private readonly List<Block> _blocks;
    private readonly Dictionary<int, List<int>> _choices;
    private readonly ISchedulePolicy? _inner;
    private readonly List<int> _picks = new();
    private readonly Dictionary<int, int> _choiceCursor = new();
    private int _block;
    private int _leftInBlock;

    public BlockPolicy(IReadOnlyList<Block> blocks, Dictionary<int, List<int>> choices)
    {
        _blocks = blocks.ToList();
        _choices = choices;
        _leftInBlock = _blocks.Count > 0 ? _blocks[0].Count : 0;
    }

    public BlockPolicy(ISchedulePolicy inner)
    {
        _blocks = new();
        _choices = new();
        _inner = inner;
    }

    public int Preemptions { get; private set; }

    public Dictionary<int, List<int>> TakenChoices { get; } = new();

    public SimTask PickTask(List<SimTask> enabled, SimTask? last)
    {
        var lastEnabled = last != null && enabled.Contains(last);
        var pick = _inner?.PickTask(enabled, last) ?? FromBlocks(enabled) ?? (lastEnabled ? last! : enabled[0]);
        if (lastEnabled && pick != last)
            Preemptions++;
        _picks.Add(pick.Id);
        return pick;
    }

    private SimTask? FromBlocks(List<SimTask> enabled)
    {
        while (_block < _blocks.Count)
        {
            if (_leftInBlock > 0)
            {
                foreach (var t in enabled)
                {
                    if (t.Id == _blocks[_block].Task)
                    {
                        _leftInBlock--;
                        return t;
                    }
                }
            }

            if (++_block < _blocks.Count)
                _leftInBlock = _blocks[_block].Count;
        }

        return null;
    }

    public int PickChoice(int n) => Pick(n, -1);

    public int PickWeakChoice(int n, int sc) => Pick(n, sc);

    public bool StaleAllowed() => _inner?.StaleAllowed() ?? true;

    /// <param name="sc">the SC alternative of a weak-memory choice; -1 for any other choice</param>
    private int Pick(int n, int sc)
    {
        var task = Execution.InTask ? Execution.CurrentTask.Id : -1;
        int v;
        if (_inner != null)
        {
            v = sc < 0 ? _inner.PickChoice(n) : _inner.PickWeakChoice(n, sc);
        }
        else
        {
            var k = _choiceCursor.GetValueOrDefault(task);
            _choiceCursor[task] = k + 1;
            v = _choices.TryGetValue(task, out var list) && k < list.Count && list[k] < n ? list[k] : Math.Max(sc, 0);
        }

        if (!TakenChoices.TryGetValue(task, out var taken))
            TakenChoices[task] = taken = new List<int>();
        taken.Add(v);
        return v;
    }

    /// <summary>The decisions actually taken, as blocks.</summary>
    public List<Block> TakenBlocks()
    {
        var blocks = new List<Block>();
        foreach (var id in _picks)
        {
            if (blocks.Count > 0 && blocks[^1].Task == id)
                blocks[^1] = blocks[^1] with { Count = blocks[^1].Count + 1 };
            else
                blocks.Add(new Block(id, 1));
        }

        return blocks;
    }
}
