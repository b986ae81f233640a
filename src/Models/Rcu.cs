namespace Kmc.Models;

/// <summary>struct rcu_head: what call_rcu() queues, embedded in the object its callback frees.</summary>
public sealed class RcuHead(string name)
{
    public string Name { get; } = name;

    /// <summary>Queued and not yet invoked: queuing it again is the double call_rcu() debug objects catch.</summary>
    internal bool Queued;
}

/// <summary>One grace period: the read-side critical sections it still waits for.</summary>
internal sealed class GracePeriod
{
    public GracePeriod(SimTask updater, List<SimTask> readers)
    {
        Updater = updater;
        Waiting = readers;
        Names = string.Join(", ", readers.Select(r => $"{r.Name} (rcu_read_lock() at {Path.GetFileName(r.RcuLockedAt)})"));
    }

    public SimTask Updater { get; }

    /// <summary>Readers that were inside a section when the grace period started and have not left it yet.</summary>
    public List<SimTask> Waiting { get; }

    /// <summary>The readers waited for, as the trace and a hang report name them.</summary>
    public string Names { get; }

    /// <summary>What the memory model returned at the start.</summary>
    public object? Start;

    /// <summary>What the memory model returned at each waited-for section's end, in the order they ended.</summary>
    public readonly List<object?> Ended = new();

    /// <summary>The race detector's clocks of the sections that ended before the start and of those waited for.</summary>
    public readonly List<int[]?> RaceEnded = new();
}

/// <summary>
/// The RCU state of one execution: the grace periods in progress and the call_rcu() callbacks
/// queued so far. Read-side nesting lives in each task (<see cref="SimTask.RcuReadLockNesting"/>).
/// </summary>
internal sealed class RcuState
{
    private readonly List<GracePeriod> _active = new();

    /// <summary>Callbacks queued so far, for their tasks' names.</summary>
    public int Callbacks;

    public GracePeriod Start(Execution ex, SimTask updater)
    {
        // Only sections already open are waited for: one that starts later sees what preceded
        // the grace period instead (the memory model's job), so it need not hold it up.
        var readers = ex.Tasks.Where(r => r != updater && !r.Done && r.RcuReadLockNesting > 0).ToList();
        var gp = new GracePeriod(updater, readers);
        gp.Start = ex.IsSc ? null : ex.Memory.OnGracePeriodStart(updater);
        if (ex.Races != null)
        {
            ex.Races.OnGracePeriodStart(updater);
            gp.RaceEnded.Add(_raceEnded);
        }

        if (readers.Count > 0)
            _active.Add(gp);
        return gp;
    }

    /// <summary>A reader's outermost rcu_read_unlock(): the section every grace period still waiting on it waited for.</summary>
    /// <summary>The race detector's clocks of every section ended so far, joined.</summary>
    private int[]? _raceEnded;

    public void SectionEnded(SimTask reader, object? token, int[]? raceClock)
    {
        _raceEnded = RaceDetector.JoinOf(_raceEnded, raceClock);
        for (var i = _active.Count - 1; i >= 0; i--)
        {
            var gp = _active[i];
            if (!gp.Waiting.Remove(reader))
                continue;
            gp.Ended.Add(token);
            gp.RaceEnded.Add(raceClock);
            if (gp.Waiting.Count == 0)
                _active.RemoveAt(i);
        }
    }

    public void End(Execution ex, GracePeriod gp)
    {
        if (!ex.IsSc)
            ex.Memory.OnGracePeriodEnd(gp.Updater, gp.Start, gp.Ended);
        ex.Races?.OnGracePeriodEnd(gp.Updater, gp.RaceEnded);
    }
}
