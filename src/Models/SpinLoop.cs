using System.Runtime.CompilerServices;
using System.Text;

namespace Kmc.Models;

/// <summary>
/// <para>
/// A retry loop of a port (<c>for (;;) { ... cpu_relax(); }</c>) whose iterations kmc may cut
/// when they repeat without effect: the zero-net-effect iterations of Kokologiannakis, Ren and
/// Vafeiadis, "Dynamic Partial Order Reductions for Spinloops" (SAVer, FMCAD 2021), the
/// "spin-assume" transformation of GenMC, adapted to kmc's interleaving search.
/// </para>
/// <para>
/// An iteration runs from one <see cref="Head"/> to the next. It has no effect when it stores
/// nothing (no store, no successful RMW; a failed cmpxchg is a read), makes no recorded choice,
/// no full barrier, touches no state the kernel API cannot name (sleeping, waking, spawning,
/// allocating, RCU, a ghost, a task field) and leaves preempt_count, irqs, RCU nesting and task
/// state as they were. If such an iteration read exactly the same stores (the same locations in
/// the same order, each from the same store: the lkmm history entry, the tso buffer entry or
/// memory version, the sc version) as the iteration before it, and the loop's
/// carried state (<paramref name="state"/> of <see cref="Head"/>) is the same, then it changed
/// nothing: the task's locals are those the previous iteration left (the loop's locals are
/// determined by what an iteration read, see the guide), its view only re-joined what it
/// already held, and memory is untouched. Every run of further such iterations is equivalent to
/// the task not running them, so the task waits at the head, as a blocked spin-wait, until one
/// of the locations it read is stored to. Then it runs the loop again.
/// </para>
/// <para>
/// A loop that names what it carries from iteration to iteration (<see cref="Head(long)"/>)
/// needs no second iteration to compare with: an iteration without effect that leaves that
/// state as it found it is a no-op by itself, and the task waits after the first one, as
/// GenMC's spin-assume blocks a failed await iteration. The read comparison of
/// <see cref="Head()"/> is the fallback for a loop whose locals are only known to be
/// determined by what it reads; it costs one repeat per wait.
/// </para>
/// <para>
/// Liveness keeps its meaning (<see cref="Liveness"/>): a task waiting there is spinning, and
/// when no task can move it is a Hang (or a Livelock) as any spin-wait. It only waits when every
/// store its iteration read is still its location's newest: a repeat on a stale read (a weak
/// model's older store, nothing stored to the location since) is no hang, since a fair
/// execution reads the newer store, and the sibling execution whose iteration read it is
/// explored (the weak-memory choice's other alternatives, within the stale bound, which only
/// counts fewer stale reads there). So that execution is abandoned at once as "stopped early:
/// repeated zero-effect spin iteration" (<see cref="Execution.SpinPruned"/>), neither a pass
/// nor a failure, as GenMC drops a blocked execution whose spin read is not the latest. Under
/// sc every read is the newest (a store after the read wakes the task), so a spin nothing can
/// end is always reported.
/// </para>
/// <para>
/// Under lkmm, whose loads name the store they read, the head decides from which stores the
/// iteration read and what is newest when the head runs, never from when it read them: an
/// iteration without effect is dropped when any store it read is no longer the newest, whether
/// that store was already old when read or was overwritten before the head (the execution
/// where the overwriting store came first, and the load could read it, is explored as the race
/// between that load and that store is reversed); otherwise it waits until some location it read
/// has a newer newest store (a store that lands late, before the newest, gives it nothing new to
/// read). So a load in the loop commutes with a store it did not read, as any store-choosing load
/// does, and the reduction takes it as one (reads-from races, see
/// <see cref="Scheduling.Reduction.DporPolicy"/>); the head's step reads the locations itself.
/// Under sc and tso the head compares versions: a location stored to since the read (moved)
/// makes the iteration run again.
/// </para>
/// <para>
/// Woken: in the exhaustive search with no preemption or stale bound, the store that wakes a
/// task from that wait ends the execution, instead of the task iterating again
/// (<see cref="ExecutionOptions.PruneWokenSpins"/>, GenMC's blocked await): that store raced
/// with the loads of the iteration without effect, and the search runs it before them too,
/// where that iteration reads it at once. A cpu_relax() inside the loop is <see cref="Relax"/>,
/// not a spin-wait of its own, for that reason.
/// </para>
/// <para>
/// Stale repeats (<see cref="ExecutionOptions.SkipStaleSpinRepeats"/>, lkmm, the same search):
/// when an iteration without effect reaches the head of a loop that names its state in the step
/// of its last load, the alternatives of that load which read an older store of the same value
/// would run the same code to the same head and be dropped there at once, so the search does not
/// run them ("N more not run: a spin's stale repeat of a value a sibling read").
/// </para>
/// <para>
/// The partial-order reduction sees the wait as a spin-wait whose condition reads the loop's
/// locations (the footprint of the step that ends it), so every store that could have made the
/// iteration differ is a race reversed, as for <see cref="Kernel.SpinUntil"/>. The state cache
/// and the Coyote driver run without it (their state and their deadlock detection know nothing of it).
/// </para>
/// </summary>
public sealed class SpinLoop
{
    /// <summary>Past this many loads an iteration is not compared (a loop that has exited and runs on).</summary>
    private const int MaxReads = 256;

    private readonly string _what;
    private readonly WaitSite _at;
    private readonly string _fn;
    private readonly string _file;
    private readonly int _line;
    private SimTask? _task;
    private List<ReadOf> _prev = new();
    private List<ReadOf> _cur = new();
    private bool _prevComparable;
    private bool _effect;
    private bool _overflow;
    private long _startState;
    private TaskSnapshot _startTask;

    /// <summary>
    /// One load of an iteration: where, which store (an entry, or the location's version); and,
    /// where the search skips stale repeats, the load's stale alternatives of the same value, its
    /// choice's node and the step it ran in (see <see cref="SkipStaleRepeats"/>).
    /// </summary>
    private readonly record struct ReadOf(Loc Loc, object? Entry, int Version, ulong StaleTwins = 0, int Node = -1, int Step = 0)
    {
        public bool SameStore(in ReadOf o) =>
            ReferenceEquals(Loc, o.Loc) && (Entry != null ? ReferenceEquals(Entry, o.Entry) : o.Entry == null && Version == o.Version);
    }

    /// <summary>What of the task itself an iteration must leave as it found it.</summary>
    private readonly record struct TaskSnapshot(int PreemptCount, bool IrqsDisabled, int RcuNesting, TaskState State, bool Sleeping)
    {
        public static TaskSnapshot Of(SimTask t) => new(t.PreemptCount, t.Cpu.IrqsDisabled, t.RcuReadLockNesting, t.State, t.Sleeping);
    }

    internal SpinLoop(string what, string fn, string file, int line)
    {
        _what = what;
        _fn = fn;
        _file = file;
        _line = line;
        _at = new WaitSite(fn, file, line);
    }

    /// <summary>Iterations of this loop the task has waited out as repeats.</summary>
    public int Waits { get; private set; }

    internal void Read(Loc loc, object? entry, ulong staleTwins, int node, int step)
    {
        if (_cur.Count >= MaxReads)
        {
            _overflow = true;
            return;
        }

        _cur.Add(new ReadOf(loc, entry, loc.Version, staleTwins, node, step));
    }

    internal void Effect() => _effect = true;

    /// <summary>
    /// The head of the loop, at the top of every iteration (the first included). Returns at once,
    /// unless the iteration just ended repeated the one before it without effect (it read the
    /// same stores): then the task waits until a location it read is stored to. For a loop whose
    /// locals are determined by what each iteration reads (or fixed before the loop).
    /// </summary>
    public ValueTask Head() => At(0, declared: false);

    /// <summary>
    /// The head of a loop that names what it carries from one iteration to the next:
    /// <paramref name="state"/> must change whenever anything the loop's code will act on
    /// changed (a pointer it re-read, a retry counter, the old value of a cmpxchg loop, a
    /// first-iteration flag). An iteration without effect that leaves it as it found it changed
    /// nothing, so the task waits at once (the spin-assume of GenMC), without a second
    /// iteration to compare with.
    /// </summary>
    public ValueTask Head(long state) => At(state, declared: true);

    private ValueTask At(long state, bool declared)
    {
        var ex = Execution.Current;
        if (!ex.SpinPruning)
            return default;
        var t = Execution.CurrentTask;
        var snapshot = TaskSnapshot.Of(t);
        if (_task != t || t.ActiveLoop != this)
        {
            // Entering the loop, or back after another loop's head ran in between (a nested
            // loop): nothing to compare with yet.
            _task = t;
            t.ActiveLoop = this;
            Begin(comparable: false, state, snapshot);
            return default;
        }

        var noOp = !_effect && !_overflow && state == _startState && snapshot == _startTask
                   && (declared || (_prevComparable && SameReads()));
        if (!noOp)
        {
            (_prev, _cur) = (_cur, _prev);
            Begin(comparable: !_overflow, state, snapshot);
            return default;
        }

        // Under lkmm, which stores the iteration read, not when it read them: a store made
        // between a load and the head makes the iteration stale as one made before the load
        // does, and the head's step reads the locations to say so.
        var byStore = DecidesOnStores(ex);
        if (declared && byStore)
            SkipStaleRepeats(ex);
        if (byStore)
        {
            foreach (var r in _cur)
                Scheduling.Reduction.Footprints.Read(r.Loc.Key);
        }

        if (ReadStale(ex) && (byStore || !Moved()))
        {
            // A repeat on a stale read: a fair execution reads the newer store, and the sibling
            // whose iteration read it is explored; waiting here would only run the rest of the
            // tasks again with this one parked (GenMC drops such a blocked execution too).
            ex.AbortSpinPruned();
            throw ExecutionAbortedException.Instance;
        }

        return Wait(ex, t, byStore);
    }

    /// <summary>
    /// An iteration without effect that ends here in the step of its last load: that load's
    /// untried alternatives reading a store of the same value that was not the newest would run
    /// the same code to this head in this step and be dropped here as a repeat on a stale read,
    /// so the search skips them (<see cref="ExecutionOptions.SkipStaleSpinRepeats"/>). Only the
    /// last load: an earlier one's older store could leave a later load a wider window. Only a
    /// loop that names what it carries: with <see cref="Head()"/> the sibling's reads would not
    /// be those of the iteration before, and it would run on.
    /// </summary>
    private void SkipStaleRepeats(Execution ex)
    {
        if (_cur.Count == 0 || _cur[^1] is not { StaleTwins: not 0 } last || last.Step != ex.StepCount)
            return;
        ex.StaleRepeatsSkipped += ex.Driver.SkipAlternatives(ex, last.Node, last.StaleTwins);
    }

    /// <summary>
    /// cpu_relax() at the end of an iteration, with what can make the next iteration differ.
    /// Where the loop's rule runs (spin pruning), nothing: the head makes the task wait after an
    /// iteration without effect until a location it read is stored to, and the search treats
    /// that iteration's loads as loads (a wait on the newest values here would be one more
    /// look for the reduction to order against every store). Elsewhere (the Coyote driver, the
    /// state cache, --no-spin-pruning) a spin-wait until <paramref name="canChange"/> holds, so a
    /// loop nothing can end is still a hang there rather than a run cut at the step bound.
    /// </summary>
    /// <remarks>The spin-wait is reported at the loop's site, as the loop's own wait is, so a hang reads the same both ways.</remarks>
    public ValueTask Relax(Func<bool> canChange, string what) =>
        Execution.Current.SpinPruning ? default : Kernel.SpinUntil(canChange, what, _fn, _file, _line);

    /// <summary>Some location the iteration read was stored to since (no footprint: the task itself asks).</summary>
    private bool Moved()
    {
        foreach (var r in _cur)
        {
            if (r.Loc.Version != r.Version)
                return true;
        }

        return false;
    }

    private void Begin(bool comparable, long state, TaskSnapshot snapshot)
    {
        if (!comparable)
            _prev.Clear();
        _prevComparable = comparable;
        _startState = state;
        _startTask = snapshot;
        _cur.Clear();
        _effect = false;
        _overflow = false;
    }

    private bool SameReads()
    {
        if (_cur.Count != _prev.Count)
            return false;
        for (var i = 0; i < _cur.Count; i++)
        {
            if (!_cur[i].SameStore(_prev[i]))
                return false;
        }

        return true;
    }

    /// <summary>The iteration repeated the one before without effect: wait for a store to what it read.</summary>
    private async ValueTask Wait(Execution ex, SimTask t, bool byStore)
    {
        Waits++;
        t.SpinWait = this;
        t.WaitsAfterLook = true;
        try
        {
            // Tried at every scheduling point while the task waits: the execution and the rule are
            // fixed for the wait, so they are not looked up each time.
            await ex.Point(t, () => Changed(ex, byStore), new WaitText(this), _at, _cur.Count > 0 ? _cur[0].Loc : null);
        }
        finally
        {
            t.SpinWait = null;
            t.WaitsAfterLook = false;
        }

        if (ex.Recording)
            ex.Record(t, "spin loop", _what, "a location its last iteration read was stored to: iterates again", _fn, _file, _line);
        // The iteration to come is compared with the one that repeated (whose reads are _prev's).
        _cur.Clear();
        _effect = false;
        _overflow = false;
    }

    /// <summary>
    /// The wait's condition: some location the iteration read was stored to since it read it
    /// (where the model names the store a load read: its newest store is another one now).
    /// </summary>
    private bool Changed(Execution ex, bool byStore)
    {
        var changed = false;
        foreach (var r in _cur)
        {
            // Every key, not the first that moved: the reduction reverses each store to them.
            Scheduling.Reduction.Footprints.Read(r.Loc.Key);
            changed |= byStore ? !ex.Memory.IsLatest(r.Loc, r.Entry, r.Version) : r.Loc.Version != r.Version;
        }

        return changed;
    }

    /// <summary>
    /// Under a model whose loads choose their store (lkmm), the head decides from which stores
    /// the iteration read and what is newest now, never from when it read them, so a load in
    /// the loop commutes with a store it did not read, as any store-choosing load does (the
    /// reduction's reads-from races).
    /// </summary>
    private static bool DecidesOnStores(Execution ex) => ex.Memory.FootprintsLoads;

    /// <summary>Whether the iteration the task waits after read a store that is no longer its location's newest.</summary>
    internal bool ReadStale(Execution ex)
    {
        foreach (var r in _cur)
        {
            if (!ex.Memory.IsLatest(r.Loc, r.Entry, r.Version))
                return true;
        }

        return false;
    }

    internal string BlockedOn()
    {
        var sb = new StringBuilder(_what).Append(": its iteration repeats, re-reading ");
        var seen = new HashSet<Loc>();
        foreach (var r in _cur)
        {
            if (seen.Add(r.Loc))
                sb.Append(seen.Count > 1 ? ", " : "").Append(r.Loc.Name);
        }

        if (seen.Count == 0)
            sb.Append("nothing");
        return sb.Append(seen.Count == 0 ? " (nothing can end it)" : " until one is stored to").ToString();
    }
}

public static partial class Kernel
{
    /// <summary>
    /// Marks a retry loop (a <c>for (;;)</c> that re-reads until something changes): create it
    /// right before the loop and await its <see cref="SpinLoop.Head"/> at the top of every
    /// iteration. An iteration that repeats the one before without effect makes the task wait,
    /// as a spin-wait, until a location it read changes (see <see cref="SpinLoop"/>): without it
    /// a weak model can re-read a stale store forever and the search is cut at the step bound.
    /// </summary>
    public static SpinLoop SpinLoop(string what, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => new(what, fn, file, line);
}
