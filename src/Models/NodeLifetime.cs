using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>
/// The lifetime of a static queue node (a per-CPU osq_node, a qspinlock qnode, an MCS node): it
/// is never freed, so the allocator cannot see a late access to it, but between its owner leaving
/// the queue and the next use of the node it is just as dead. A port marks the node entered
/// (<see cref="Kernel.NodeEnter"/>: the owner claims it, before it initialises the fields) and left
/// (<see cref="Kernel.NodeLeave"/>: the owner's lock/unlock/unqueue returned and no other CPU may
/// still reach the node by the algorithm's rules). While the node is left, a store or a successful
/// read-modify-write to one of its fields by a task other than its last owner is a
/// <see cref="FailureKind.UseAfterLeave"/>: it would land in the node's next use.
///
/// Loads and failed RMWs after leave are not reported: the kernel does them on purpose. OSQ's
/// unqueue (Step A) reads data_race(prev->next) and tries cmpxchg(&amp;prev->next, node, NULL) on a
/// prev that may have left already; the read's value is rechecked and the failed cmpxchg writes
/// nothing, so neither can corrupt the next use.
///
/// Not caught (ABA): a late write that lands after the node was entered again. Once re-entered,
/// the same store (say WRITE_ONCE(prev->next, node) with the same node) is legitimate when the
/// writer found the node in this use of it and a corruption when it found it in the previous
/// one; telling them apart needs the pointer's provenance (which use of the node the writer's
/// pointer was loaded in), and kmc tracks values, not where a pointer came from. The search still
/// reaches the interleaving in which the late write comes before the re-entry, where it is caught.
///
/// Under tso and lkmm a store is checked when its CPU issues it, not when it becomes visible: a
/// store issued before the leave that a store buffer makes visible after it is not reported as
/// such (its effects, a lost hand-off or a hang, still are).
///
/// Cost: a location that belongs to no node pays one null test per store; the node's state is
/// tracked for the partial-order reduction (entering and leaving write it, a checked store reads
/// it) and fingerprinted for the state cache.
/// </summary>
public sealed class NodeLifetime : Scheduling.IStateful
{
    private readonly long _key;

    /// <param name="name">The node as reports name it (osq_node[1]).</param>
    /// <param name="fields">The node's fields: stores to them are checked.</param>
    public NodeLifetime(string name, params Loc[] fields)
    {
        Name = name;
        _key = Scheduling.Reduction.Footprints.NewKey(this);
        foreach (var f in fields)
        {
            if (f.Node != null && f.Node != this)
                throw new ModelMisuseException($"NodeLifetime({name}): {f.Name} already belongs to {f.Node.Name}; a field belongs to one node");
            f.Node = this;
        }
    }

    public string Name { get; }

    /// <summary>The task that last entered the node (null: never entered).</summary>
    public SimTask? Owner { get; private set; }

    /// <summary>Between <see cref="Kernel.NodeEnter"/> and <see cref="Kernel.NodeLeave"/>.</summary>
    public bool InQueue { get; private set; }

    private string? _enterSite;
    private string? _leaveSite;
    private int _leaveStep;

    bool Scheduling.IStateful.TasksReadIt => false;

    void Scheduling.IStateful.WriteState(Scheduling.StateWriter w)
    {
        w.Value(InQueue);
        w.Object(Owner);
    }

    internal void Enter(SimTask t, string site)
    {
        Scheduling.Reduction.Footprints.WriteOnly(_key);
        if (InQueue)
        {
            // Two users of one static node at once (a nesting count that does not separate them,
            // say): the second one's initialisation overwrites the first one's live node.
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"{t.Name} takes {Name} while {Owner!.Name} still uses it (entered at {_enterSite}): one static node, two users", site));
        }

        Owner = t;
        InQueue = true;
        _enterSite = site;
    }

    internal void Leave(SimTask t, string site, int step)
    {
        Scheduling.Reduction.Footprints.WriteOnly(_key);
        if (!InQueue || Owner != t)
        {
            throw new ModelMisuseException(
                $"NodeLeave({Name}) at {site} by {t.Name}: the node is {(InQueue ? "used by " + Owner!.Name : "not entered")}; a node is left by the task that entered it");
        }

        InQueue = false;
        _leaveSite = site;
        _leaveStep = step;
    }

    /// <summary>A store or successful RMW of <paramref name="x"/> is about to take effect.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckWrite<T>(Loc<T> x, T value, string op, string file, int line, SimTask t)
    {
        if (x.Node is { } n)
            n.OnWrite(x, value, op, file, line, t);
    }

    /// <summary>The untyped form, for the lock words the kernel API writes itself.</summary>
    internal static void CheckWrite(Loc x, string value, string op, string file, int line, SimTask t)
    {
        if (x.Node is { } n)
            n.OnWrite(x, value, op, file, line, t);
    }

    private void OnWrite<T>(Loc<T> x, T value, string op, string file, int line, SimTask t)
    {
        if (!Execution.Current.Options.DetectUseAfterLeave)
            return;
        Scheduling.Reduction.Footprints.Read(_key);
        if (!InQueue && Owner != null && Owner != t)
            Report(x, x.FormatValue(value), op, file, line, t);
    }

    private void OnWrite(Loc x, string value, string op, string file, int line, SimTask t)
    {
        if (!Execution.Current.Options.DetectUseAfterLeave)
            return;
        Scheduling.Reduction.Footprints.Read(_key);
        if (!InQueue && Owner != null && Owner != t)
            Report(x, value, op, file, line, t);
    }

    private void Report(Loc x, string value, string op, string file, int line, SimTask t)
    {
        var step = _leaveStep > 0 ? $", step {_leaveStep}" : "";
        throw new KernelFailureException(new Failure(FailureKind.UseAfterLeave,
            $"{op} of {x.Name} = {value} by {t.Name} after {Name} left the queue: its owner {Owner!.Name} left at {_leaveSite}{step}; "
            + "the node is static, so the store lands in its next use", $"{file}:{line}"));
    }
}

public static partial class Kernel
{
    /// <summary>
    /// The current task claims the static queue node (before it initialises the fields): from now
    /// on other CPUs may write it again. See <see cref="NodeLifetime"/>.
    /// </summary>
    public static void NodeEnter(NodeLifetime node, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        node.Enter(t, $"{file}:{line}");
        ex.Record(t, "node enter", node.Name, null, fn, file, line);
    }

    /// <summary>
    /// The current task is done with the static queue node: no other CPU may write it until it is
    /// entered again (a store or successful RMW by another task is a <see cref="FailureKind.UseAfterLeave"/>).
    /// </summary>
    public static void NodeLeave(NodeLifetime node, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        ex.Record(t, "node leave", node.Name, null, fn, file, line);
        node.Leave(t, $"{Path.GetFileName(file)}:{line} in {fn}", ex.Recorder?.Steps.Count ?? 0);
    }
}
