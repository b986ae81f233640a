using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>
/// What a task's next step does to shared state, announced by <see cref="OperationalThread"/>
/// just before the kernel API call that suspends it. Two steps whose footprints are
/// independent commute: either order reaches the same state with the same choices.
/// </summary>
internal readonly record struct Footprint(int Loc, bool Write, bool Global, bool All, RcuRole Rcu = RcuRole.None)
{
    /// <summary>A step that touches nothing shared (a task's start, a local-only fence).</summary>
    public static readonly Footprint None = new(-1, false, false, false);

    public bool IsNone => Loc < 0 && !Global && !All && Rcu == RcuRole.None;

    public static bool Independent(Footprint a, Footprint b)
    {
        if (a.IsNone || b.IsNone)
            return true;
        if (a.All || b.All)
            return false;
        if (a.Global && b.Global)
            return false;

        // Read-side sections only meet grace periods: readers commute with each other.
        if (a.Rcu != RcuRole.None && b.Rcu != RcuRole.None && (a.Rcu == RcuRole.GracePeriod || b.Rcu == RcuRole.GracePeriod))
            return false;
        return a.Loc < 0 || a.Loc != b.Loc || (!a.Write && !b.Write);
    }
}

/// <summary>How a step takes part in RCU.</summary>
internal enum RcuRole : byte
{
    None,

    /// <summary>
    /// Any step of a thread with read-side sections: rcu_read_lock()/rcu_read_unlock() are no
    /// scheduling points, so they run inside whichever step precedes them.
    /// </summary>
    Reader,

    /// <summary>synchronize_rcu(): starts a grace period, waits for the readers, ends it.</summary>
    GracePeriod,
}

/// <summary>Signals the explorer loop that every enabled task is asleep: the execution is a redundant interleaving.</summary>
internal sealed class SleepBlockedException : Exception
{
    public static readonly SleepBlockedException Instance = new();
}

/// <summary>
/// The native explorer's stateless DFS (every scheduling decision and every memory-model choice,
/// no preemption bound) with sleep sets (Godefroid, 1996): after the subtree of task t at a
/// decision has been explored, t sleeps in its siblings' subtrees until a step dependent with
/// t's pending step runs, so each Mazurkiewicz trace (interleavings that differ only in the
/// order of independent steps) is run to completion once. Every final state stays reachable,
/// and so does every deadlock. Memory-model choices are plain DFS nodes.
/// </summary>
internal sealed class SleepSetDfs(Func<int, (Footprint Step, int Seq)> pending, bool reduce) : ISchedulePolicy
{
    private sealed class Node
    {
        public int Chosen;
        public int Count;

        /// <summary>Task decisions: the options in order with the step each would take.</summary>
        public (int Task, Footprint Step, int Seq)[]? Options;
    }

    private readonly List<Node> _stack = new();
    private readonly List<(int Task, Footprint Step, int Seq)> _sleep = new();
    private readonly List<SimTask> _options = new();
    private int _pos;

    public void BeginExecution()
    {
        _pos = 0;
        _sleep.Clear();
    }

    public SimTask PickTask(List<SimTask> enabled, SimTask? last)
    {
        // A sleeper that is no longer enabled, or that ran meanwhile (forced: it was the only
        // enabled task), has left the state it slept in; dropping it only prunes less.
        // The task that ran the step before was not picked from the sleepers, so it was forced
        // too (a call with two scheduling points, like synchronize_rcu(), announces once).
        _sleep.RemoveAll(s => !enabled.Any(t => t.Id == s.Task) || pending(s.Task).Seq != s.Seq || s.Task == last?.Id);

        _options.Clear();
        if (last != null && enabled.Contains(last) && !Asleep(last.Id))
            _options.Add(last);
        foreach (var t in enabled)
        {
            if (t != last && !Asleep(t.Id))
                _options.Add(t);
        }

        if (_options.Count == 0)
            throw SleepBlockedException.Instance;

        Node node;
        if (_pos < _stack.Count)
        {
            node = _stack[_pos++];
            if (node.Options == null || node.Options.Length != _options.Count)
                throw new InvalidOperationException("operational litmus: the execution is not deterministic (a decision changed its options on replay)");
        }
        else
        {
            node = new Node
            {
                Count = _options.Count,
                Options = _options.Select(t => (t.Id, pending(t.Id).Step, pending(t.Id).Seq)).ToArray(),
            };
            _stack.Add(node);
            _pos++;
        }

        var chosen = node.Options![node.Chosen];
        if (reduce)
        {
            for (var i = 0; i < node.Chosen; i++)
                _sleep.Add(node.Options[i]);
            _sleep.RemoveAll(s => s.Task == chosen.Task || !Footprint.Independent(s.Step, chosen.Step));
        }

        return _options[node.Chosen];
    }

    private bool Asleep(int task)
    {
        foreach (var s in _sleep)
        {
            if (s.Task == task)
                return true;
        }

        return false;
    }

    public int PickChoice(int n)
    {
        if (n == 1)
            return 0;
        if (_pos < _stack.Count)
        {
            var node = _stack[_pos++];
            if (node.Options != null || node.Count != n)
                throw new InvalidOperationException("operational litmus: the execution is not deterministic (a choice changed its options on replay)");
            return node.Chosen;
        }

        _stack.Add(new Node { Count = n });
        _pos++;
        return 0;
    }

    /// <summary>Moves to the next unexplored execution; false when the tree is exhausted.</summary>
    public bool Advance()
    {
        // A sleep-blocked execution stopped before reaching the nodes it would have pushed
        // below _pos; they belong to no execution and must not be revisited.
        if (_pos < _stack.Count)
            _stack.RemoveRange(_pos, _stack.Count - _pos);
        while (_stack.Count > 0 && _stack[^1].Chosen + 1 >= _stack[^1].Count)
            _stack.RemoveAt(_stack.Count - 1);
        if (_stack.Count == 0)
            return false;
        _stack[^1].Chosen++;
        return true;
    }
}
