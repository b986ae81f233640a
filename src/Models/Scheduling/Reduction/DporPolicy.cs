using System.Numerics;

namespace Kmc.Models.Scheduling.Reduction;

/// <summary>
/// <para>
/// Source-DPOR with sleep sets (Abdulla, Aronis, Jonsson, Sagonas: "Optimal dynamic partial
/// order reduction", POPL 2014, Algorithm 2 "source-DPOR"). The search is stateless: each
/// execution replays a prefix of the decision stack and then runs on with a default task, and
/// every step records its <see cref="Footprint"/>. After each execution, every pair of steps of
/// different tasks that are dependent and not ordered through other steps (a race) asks that,
/// at the state before the first, some task that can start the reversed order (an initial of
/// notdep(e, E).e') be tried there, unless one already was. Sleep sets skip a task whose next
/// step was explored from an earlier state and is independent of everything run since. The
/// races are found by <see cref="RaceFinder"/>, which keeps its analysis of the prefix an
/// execution shares with the one before and analyses only the steps after it.
/// </para>
/// <para>
/// Weak memory: the models' choices (which store a load reads, where a store lands, a store
/// buffer draining) are data choices inside a step; each is a node of its own that is explored
/// in full (within the stale bound), as the existing search does. The model state they read is
/// in the step's footprint (a load reads its location's history; a store writes it; smp_mb()
/// and fully ordered RMWs under lkmm touch the global fence view; under tso every access reads
/// and writes the store buffers, since any access may drain any buffer), so two steps whose
/// order could change a choice's alternatives are dependent and both orders are explored. The
/// stale bound counts non-SC choices of a trace, which commuting independent steps does not
/// change, so the bounded state space is closed under the reduction's equivalence.
/// </para>
/// <para>
/// Sleep sets over reads-from choices (<see cref="ReadsFromSleep"/>; lkmm with no stale bound).
/// Sleep sets are over transitions (Godefroid, "Partial-Order Methods for the Verification of
/// Concurrent Systems", LNCS 1032, 1996), and a load that chooses which store in its window it
/// reads is one transition per store it may read, as in the reads-from view of Abdulla, Atig,
/// Jonsson and Ngo ("Optimal stateless model checking under the release-acquire semantics",
/// OOPSLA 2018) and GenMC/TruSt (Kokologiannakis, Marmanis, Gladstein and Vafeiadis, POPL 2022).
/// Let task A's next step make one such load L of x (a non-RMW load, in a marked spin loop or
/// not, the only store-choosing load on each path of the step: <see cref="Footprint.ChoiceRead"/>), and
/// let another task's step s depend on it only by adding stores to x (s writes x, and nothing
/// else of A's step is written by s, nor anything s touches written by A's step). For a store w
/// of x that was already there, "L reads w; s" and "s; L reads w" reach the same state: L changes
/// only A's own views, and w stays in A's window whatever s inserts (A's window starts at an
/// entry A has seen, and s lands at a gap after what its own task has seen, or at the end for
/// an RMW, which also reads the newest store either way), while s's placement and value depend
/// on neither A's views nor L. So "L reads w" stays asleep after s, and only "L reads a store
/// made since A fell asleep" is new: A is awake for those alone, remembering the model's store
/// count at the node where its entry was explored (<see cref="Node.StoreMark"/>; the store
/// count of an entry inherited stays as it was). When A runs, its first store-choosing load keeps
/// only the stores born after the mark, before the model's choice (so the recorded choice counts
/// are those of the filtered set and a replay makes the same ones); with none, the execution is
/// sleep-blocked. Any other dependence wakes A in full, as before. Race detection is unchanged
/// (a load and a store to its location stay dependent), so the backtrack sets are those of the
/// task-level search; only the sleep sets are finer, and each step they let sleep commutes with
/// everything run since it was explored. The stale bound counts non-SC reads, which this
/// reordering changes (the read's distance from the newest store), so with a stale bound the
/// sleep sets stay at task level. Spin-wait exits stay plain reads: whether the wait ends
/// depends on what is newest when it is tried. A load in a marked spin loop is a store-choosing
/// load: the loop's head decides from which stores its iteration read and reads the locations
/// itself in its own step (<see cref="SpinLoop"/>).
/// </para>
/// <para>
/// Reads-from races (the same setting: lkmm, no stale bound). Let step s of one task write x (a
/// store or an RMW) and a later step of another task make one store-choosing load L of x (as
/// above) that read store w, s conflicting with it only there. If s did not make w, "s; L reads w"
/// and "L reads w; s" reach the same state, by the argument above read the other way round (s
/// only adds a store, which leaves w in L's window, and L changes only its own task's views).
/// If s made w, "L; s" cannot read w, and its L reads an older store, which L's choice after s
/// explores already. Either way the pair is no race, and L happens after s only when s made w:
/// the load's happens-before edge is its reads-from edge, as in the reads-from equivalence of
/// data-centric DPOR (Chalupa, Chatterjee, Pavlogiannis, Sinha, Vaidya, POPL 2018) and of GenMC.
/// The other order stays a race: "L; s" is reversed so that L may read the store s makes (what
/// GenMC does by a backward revisit), and there the reads-from sleep set above keeps L from
/// reading again what it read before s. For the same reason a task asleep before a step that
/// writes x stays asleep after another task's store-choosing load of x
/// (<see cref="Footprint.OnlyChoiceReadConflict"/>). The step that made a store is found from the
/// model's store count (<see cref="Footprint.StoresBefore"/>, <see cref="Footprint.ReadFrom"/>).
/// </para>
/// <para>
/// Blocking: a spin-wait's condition is evaluated into the footprint of the step that ends it
/// (a condition that reads nothing the kernel API can name makes the step untracked). When no
/// initial of a reversed race can run at the state before the race (it was blocked there), every
/// task enabled there is added, as classic DPOR (Flanagan and Godefroid, POPL 2005) does.
/// </para>
/// <para>
/// Woken spins (<see cref="ExecutionOptions.PruneWokenSpins"/>): an execution ended by the store
/// that woke a task from a spin it had looked at without effect is covered by the reversal of the
/// race between that look and that store. Like an execution cut by a failure or the
/// step bound, it ends before the other tasks take the steps they had left, so each of them is
/// tried at the last state before the end where it could run (<see cref="EndExecution"/>'s
/// cut tasks): without that, a task whose races only those steps would meet stays unexplored
/// there (SpinLoopProgramTests found outcomes lost under reads-from races).
/// </para>
/// <para>
/// The preemption bound is not combined with the reduction (bounded POR needs extra backtrack
/// points, Coons et al., OOPSLA 2013): a search with a preemption bound runs the plain DFS.
/// </para>
/// <para>
/// Split over several searches (<see cref="DporSplit"/>), the nodes near the root try every task
/// that is not asleep, and each search explores below them only its own share of the paths.
/// </para>
/// </summary>
public sealed class DporPolicy : ISchedulePolicy
{
    private readonly StaleBudget _budget;
    private readonly List<Node> _stack = new();
    private readonly List<DporStep> _events = new();
    private readonly List<Footprint> _pool = new();
    private readonly RaceFinder _races;
    private int _pos;
    private int _stepIndex;
    private int _shared;
    private Footprint? _step;
    private readonly DporSplit? _split;
    private readonly bool _readsFrom;

    // Split search: branching scheduling nodes above the split met so far in this execution, and
    // whether the last scheduling node was above it (the choices inside its step then are too).
    private int _topBranches;
    private bool _inTop;

    /// <param name="staleBound">the most non-SC weak-memory choices per execution (negative: unbounded)</param>
    /// <param name="incrementalRaces">analyse only the steps after the prefix an execution shares with the one before (see <see cref="RaceFinder"/>); false: every step of every execution</param>
    /// <param name="split">the share of a split search this one explores (null: the whole tree)</param>
    /// <param name="readsFromSleep">sleep sets at the granularity of a load's reads-from choice (<see cref="ReadsFromSleep"/>); only with an unbounded stale bound</param>
    public DporPolicy(int staleBound = -1, bool incrementalRaces = true, DporSplit? split = null, bool readsFromSleep = true)
    {
        _budget = new StaleBudget(staleBound);
        _split = split;
        _readsFrom = readsFromSleep && staleBound < 0;
        _races = new RaceFinder(incrementalRaces, _readsFrom);
    }

    /// <summary>The share of a split search this one explores (null: the whole tree).</summary>
    public DporSplit? Split => _split;

    /// <summary>
    /// Sleep sets over (task, store read) rather than tasks: a sleeping task whose next step's one
    /// store-choosing load meets another task's store to that location wakes only for the stores
    /// made since it fell asleep; and reads-from races: such a load after a store is no race, and
    /// happens after the store it read only (see the class comment).
    /// </summary>
    public bool ReadsFromSleep => _readsFrom;

    /// <summary>The current execution met a weak-memory choice the stale bound left with only its SC alternative.</summary>
    public bool StaleBoundReached => _budget.Reached;

    /// <summary>Executions abandoned because every task that could run was asleep (their traces were explored already).</summary>
    public long SleepBlocked { get; private set; }

    private sealed class Node
    {
        public bool IsChoice;
        public int Chosen;
        public int Count;

        /// <summary>Choice nodes: alternatives known to end at once with no outcome (<see cref="SkipAlternatives"/>).</summary>
        public ulong Skip;

        /// <summary>Above the split of a split search: a change here starts another unit.</summary>
        public bool Top;

        // scheduling nodes
        public int Task;
        public ulong Enabled;
        public ulong Backtrack;
        public ulong Done;
        public ulong SleepMask;
        public List<SleepEntry>? Sleep;
        public List<(int Task, Footprint Fp)>? DoneFp;
        public Footprint? Taken;

        /// <summary>Tasks awake only for loads of stores made after a mark (<see cref="ReadsFromSleep"/>).</summary>
        public ulong NewOnlyMask;

        /// <summary>The memory model's store count when the node was reached (the mark of what is done here).</summary>
        public long StoreMark;

        /// <summary>The mark below which the task's next load reads only what an earlier exploration read (-1: none).</summary>
        public long NewStoresAfter(int task)
        {
            var mark = -1L;
            foreach (var e in Sleep!)
            {
                if (e.Task == task && e.NewOnly)
                    mark = Math.Max(mark, e.Mark);
            }

            return mark;
        }
    }

    /// <summary>
    /// A sleeping task's next step, explored from a state where the memory model had made
    /// <paramref name="Mark"/> stores; <paramref name="NewOnly"/>: since then another task added
    /// stores to what its one store-choosing load reads, so only reading those is new.
    /// </summary>
    private readonly record struct SleepEntry(int Task, Footprint Fp, long Mark, bool NewOnly);

    public void BeginExecution()
    {
        _pos = 0;
        _stepIndex = 0;
        _topBranches = 0;
        _inTop = true;
        _budget.Reset();
        // The steps of the shared prefix keep their footprints: the replay refills them alike.
        for (var k = _shared; k < _events.Count; k++)
            _pool.Add(_events[k].Fp);
        _events.RemoveRange(_shared, _events.Count - _shared);
    }

    /// <summary>Picks the task for the next step (called at every step, even with one task enabled); null when all are asleep, or when a split search leaves this part's share (see <see cref="DporSplit"/>).</summary>
    /// <param name="storeMark">the memory model's store count now (see <see cref="ReadsFromSleep"/>)</param>
    public SimTask? PickStep(List<SimTask> enabled, SimTask? last, long storeMark = 0)
    {
        ulong mask = 0;
        foreach (var t in enabled)
        {
            if (t.Id >= 64)
                throw new InvalidOperationException("partial-order reduction handles at most 64 tasks; run with --no-reduction");
            mask |= 1UL << t.Id;
        }

        var top = _split != null && _topBranches < _split.Depth;
        Node node;
        if (_pos < _stack.Count)
        {
            node = _stack[_pos];
            if (node.IsChoice || node.Enabled != mask || node.Top != top)
                throw Nondeterministic();
        }
        else
        {
            if (_split is { Owned: false } && !top)
            {
                // Below the split in another part's unit: that part explores it.
                return null;
            }

            node = NewSchedulingNode(mask);
            node.StoreMark = storeMark;
            var free = mask & ~node.SleepMask;
            if (free == 0)
            {
                if (_split is not { Owned: false })
                    SleepBlocked++;
                return null;
            }

            // A task awake only for new stores may find none: start with one wholly awake.
            var first = (free & ~node.NewOnlyMask) != 0 ? free & ~node.NewOnlyMask : free;
            node.Task = last != null && (first & (1UL << last.Id)) != 0 ? last.Id : BitOperations.TrailingZeroCount(first);
            // Above the split every task awake is tried, so the top of the tree does not depend
            // on races found below it, in this part's share or another's.
            node.Backtrack = top ? free : 1UL << node.Task;
            node.Top = top;
            _stack.Add(node);
        }

        if (top && BitOperations.PopCount(node.Enabled & ~node.SleepMask) > 1)
            _topBranches++;
        _inTop = top;

        var index = _pos++;
        if (_stepIndex < _events.Count)
        {
            if (_events[_stepIndex].Node != index)
                throw Nondeterministic();
            _step = _events[_stepIndex].Fp;
        }
        else
        {
            _step = _pool.Count > 0 ? Pop(_pool) : new Footprint();
            _events.Add(new DporStep(node.Task, _step, index));
        }

        _step.Clear();
        _step.StoresBefore = storeMark;
        if ((node.NewOnlyMask & (1UL << node.Task)) != 0)
            _step.NewStoresAfter = node.NewStoresAfter(node.Task);
        _stepIndex++;
        foreach (var t in enabled)
        {
            if (t.Id == node.Task)
                return t;
        }

        throw Nondeterministic();
    }

    /// <summary>The footprint the step now starting fills in (through <see cref="Footprints"/>).</summary>
    public Footprint StepFootprint => _step!;

    private static Footprint Pop(List<Footprint> pool)
    {
        var f = pool[^1];
        pool.RemoveAt(pool.Count - 1);
        return f;
    }

    /// <summary>A new node's sleep set: what slept or was done at the node before, if independent of the step taken there.</summary>
    private Node NewSchedulingNode(ulong enabled)
    {
        var node = new Node { Enabled = enabled };
        if (_events.Count == 0)
            return node;
        var prev = _events[^1];
        var parent = _stack[prev.Node];
        if (parent.Sleep != null)
        {
            foreach (var e in parent.Sleep)
                Inherit(e);
        }

        if (parent.DoneFp != null)
        {
            foreach (var (task, fp) in parent.DoneFp)
                Inherit(new SleepEntry(task, fp, parent.StoreMark, NewOnly: false));
        }

        // A task asleep for all its loads is asleep, whatever a later mark says.
        node.NewOnlyMask &= ~node.SleepMask;
        return node;

        void Inherit(SleepEntry e)
        {
            if (e.Task == prev.Task)
                return;
            if (e.Fp.DependsOn(prev.Fp) && !(_readsFrom && e.Fp.OnlyChoiceReadConflict(prev.Fp)))
            {
                if (!_readsFrom || !e.Fp.OnlyNewStoresConflict(prev.Fp))
                    return;
                e = e with { NewOnly = true };
            }

            (node.Sleep ??= new()).Add(e);
            if (e.NewOnly)
                node.NewOnlyMask |= 1UL << e.Task;
            else
                node.SleepMask |= 1UL << e.Task;
        }
    }

    public SimTask PickTask(List<SimTask> enabled, SimTask? last) =>
        PickStep(enabled, last) ?? throw new InvalidOperationException("all tasks asleep");

    public int PickChoice(int n) => Next(n);

    public int PickWeakChoice(int n, int sc)
    {
        _lastChoice = -1;
        return _budget.Pick(n, sc, Next);
    }

    public bool StaleAllowed() => _budget.Allows();

    private int _lastChoice = -1;

    /// <summary>Below the split (a split search's top is walked alike by every part).</summary>
    public int LastChoiceNode => _lastChoice;

    public int SkipAlternatives(int node, ulong alternatives)
    {
        if (node < 0 || node >= _stack.Count || _stack[node] is not { IsChoice: true, Top: false } n)
            return 0;
        return ChoiceSkips.Add(ref n.Skip, n.Chosen, alternatives);
    }

    private int Next(int count)
    {
        _lastChoice = -1;
        if (count == 1)
            return 0;
        if (_pos < _stack.Count)
        {
            var node = _stack[_pos++];
            if (!node.IsChoice || node.Count != count)
                throw Nondeterministic();
            _lastChoice = _pos - 1;
            return node.Chosen;
        }

        // A choice inside a step above the split is above it too: every part makes all of them,
        // so the footprints of the steps up there are whole in every part.
        _stack.Add(new Node { IsChoice = true, Count = count, Top = _split != null && _inTop });
        _lastChoice = _pos++;
        return 0;
    }

    private InvalidOperationException Nondeterministic() => new(
        $"exhaustive search: the scenario is not deterministic (decision {_pos + 1} differs from the run that created it); " +
        "model code must not depend on anything outside the kernel API");

    /// <summary>Ends an execution: finds its races, adds backtrack points, and moves to the next unexplored execution; false when done.</summary>
    /// <param name="taskCount">the tasks the execution had</param>
    /// <param name="cutByFailure">the tasks (a bit per id) that had steps left when a failure or the step bound ended the execution (0: it ran to its end)</param>
    public bool EndExecution(int taskCount, ulong cutByFailure = 0)
    {
        // The steps of the shared prefix were added to their nodes' Taken by an earlier execution.
        var fresh = _races.Analysed;
        if (_events.Count > 0 && _events[^1].Fp.NewStoresBlocked && _split is not { Owned: false })
            SleepBlocked++;
        // Another part's execution ran only above the split, where every task is tried already; its
        // steps stay unanalysed, and the next execution that needs them analyses them after its replay.
        if (_split is not { Owned: false })
        {
            AddBacktrackPoints(taskCount);
            if (cutByFailure != 0 && _events.Count > 0)
                BacktrackBeforeFailure(cutByFailure);
        }
        for (var k = fresh; k < _events.Count; k++)
        {
            var e = _events[k];
            var node = _stack[e.Node];
            (node.Taken ??= new Footprint()).UnionWith(e.Fp);
        }

        var more = Advance();
        _shared = more && _races.Incremental ? SharedSteps() : 0;
        _races.SharedPrefix(_events, _shared);
        return more;
    }

    /// <summary>
    /// The steps the next execution replays unchanged: those before the node <see cref="Advance"/>
    /// changed, less the step a changed choice belongs to (a choice is made inside the step of the
    /// last scheduling node before it).
    /// </summary>
    private int SharedSteps()
    {
        var changed = _stack.Count - 1;
        var n = _events.Count;
        while (n > 0 && _events[n - 1].Node >= changed)
            n--;
        if (n > 0 && _stack[changed].IsChoice)
            n--;
        return n;
    }

    /// <summary>
    /// The share of the reduced tree finished, as <see cref="DfsPolicy.FractionDone"/> reads it:
    /// a scheduling node's alternatives are the tasks done there, the one being explored and the
    /// backtrack points still to take. Races found later add backtrack points, so early on this
    /// runs ahead of the truth and the estimated total grows as the search learns the tree.
    /// </summary>
    public double FractionDone
    {
        get
        {
            var done = 0.0;
            var weight = 1.0;
            foreach (var node in _stack)
            {
                int chosen, count;
                if (node.IsChoice)
                {
                    (chosen, count) = (node.Chosen, node.Count);
                }
                else
                {
                    var current = 1UL << node.Task;
                    var todo = node.Backtrack & node.Enabled & ~node.Done & ~node.SleepMask & ~current;
                    chosen = BitOperations.PopCount(node.Done & ~current);
                    count = chosen + 1 + BitOperations.PopCount(todo);
                }

                done += weight * chosen / count;
                weight /= count;
            }

            return done;
        }
    }

    private bool Advance()
    {
        // The stack beyond the last replayed position belongs to an execution cut short (a failure
        // stops the search, so only a sleep-blocked end leaves nothing there).
        while (_stack.Count > 0)
        {
            var k = _stack.Count - 1;
            var node = _stack[k];
            if (node.IsChoice)
            {
                var next = ChoiceSkips.Next(node.Chosen, node.Count, node.Skip);
                if (next < node.Count)
                {
                    node.Chosen = next;
                    if (node.Top)
                        _split!.NextUnit();
                    return true;
                }

                _stack.RemoveAt(k);
                continue;
            }

            node.Done |= 1UL << node.Task;
            (node.DoneFp ??= new()).Add((node.Task, node.Taken ?? new Footprint()));
            node.Taken = null;
            var candidates = node.Backtrack & node.Enabled & ~node.Done & ~node.SleepMask;
            if (candidates != 0)
            {
                node.Task = BitOperations.TrailingZeroCount(candidates);
                if (node.Top)
                    _split!.NextUnit();
                return true;
            }

            _stack.RemoveAt(k);
        }

        return false;
    }

    /// <summary>
    /// DPOR's races are those of maximal executions, but a failure ends an execution (in a search
    /// collecting every outcome) before the other tasks take the steps they had left, so the races
    /// those steps would have had with earlier steps are never seen, and neither are the failures
    /// or final states behind them. Each such task is tried at the last state before the failing
    /// step where it could run (as when a reversed race's initials were blocked), so a later
    /// execution runs its next step before the failure and meets those races.
    /// </summary>
    private void BacktrackBeforeFailure(ulong cut)
    {
        var failing = _events[^1];
        cut &= ~(1UL << failing.Task);
        while (cut != 0)
        {
            TryWhereLastEnabled(BitOperations.TrailingZeroCount(cut), failing.Node);
            cut &= cut - 1;
        }
    }

    /// <summary>Adds <paramref name="task"/> to the backtrack set of the last scheduling node at or before <paramref name="node"/> where it was enabled, unless it sleeps there.</summary>
    private void TryWhereLastEnabled(int task, int node)
    {
        for (var k = node; k >= 0; k--)
        {
            var earlier = _stack[k];
            if (earlier.IsChoice || (earlier.Enabled & (1UL << task)) == 0)
                continue;
            if ((earlier.SleepMask & (1UL << task)) == 0)
                earlier.Backtrack |= 1UL << task;
            return;
        }
    }

    private void AddBacktrackPoints(int taskCount)
    {
        foreach (var (i, j) in _races.Analyse(_events, taskCount))
            Reverse(i, j);
    }

    /// <summary>
    /// The race (i, j): at the node before step i, some initial of v = notdep(i).j must be in the
    /// backtrack set (source-DPOR's condition on "sources").
    /// </summary>
    private void Reverse(int i, int j)
    {
        var node = _stack[_events[i].Node];
        var initials = _races.Initials(_events, i, j, out var notSpinning);
        if ((initials & node.Backtrack) != 0)
            return;
        var runnable = initials & node.Enabled & ~node.SleepMask;
        if (runnable != 0)
        {
            node.Backtrack |= 1UL << BitOperations.TrailingZeroCount(runnable);
            return;
        }

        if ((initials & node.SleepMask) != 0)
            return;

        // An initial that starts by ending a spin-wait is reversed against every write its
        // condition read (see AddBacktrackPoints): nothing more to do for it here.
        if ((initials & notSpinning) == 0)
            return;

        // Every initial was blocked before step i (a spin-wait on what step i or an earlier
        // step changed). The reversal is against the step that blocked it: try the initial at
        // the last state where it could run. Then, as classic DPOR does when the racing task
        // is disabled, try everything that could run before step i.
        var blocked = initials;
        while (blocked != 0)
        {
            TryWhereLastEnabled(BitOperations.TrailingZeroCount(blocked), _events[i].Node - 1);
            blocked &= blocked - 1;
        }

        node.Backtrack |= node.Enabled & ~node.SleepMask;
    }
}
