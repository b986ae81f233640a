using System.Runtime.CompilerServices;
using System.Text;

namespace Kmc.Models;

/// <summary>
/// One task holding a lock, as lockdep's held_locks entry knows it: the task, the recorded step
/// that took it (0 when the execution is not recorded) and the call that did.
/// </summary>
public readonly record struct Hold(SimTask Task, int Step, string Function, string File, int Line, string? Mode = null);

/// <summary>Something one task can hold while another waits for it; hang reports name both.</summary>
public interface IHoldable
{
    /// <summary>What it is, in kernel terms: "spinlock page[0].lock", "mutex inode->i_rwsem".</summary>
    string Describe();

    /// <summary>Who holds it now (several, for a lock taken shared).</summary>
    IEnumerable<Hold> Holds { get; }
}

/// <summary>
/// struct lockdep_map for a port's own lock (one built from atomics and a wait queue, say): the
/// port annotates where the lock is taken and released, as the kernel's lock_acquired() and
/// lock_release() calls do, so that hang reports can say which task holds what a stuck task waits
/// for. The annotations are bookkeeping only: no memory access, no scheduling point.
/// </summary>
public sealed class LockdepMap : IHoldable
{
    private readonly List<Hold> _holds = [];

    public LockdepMap(string name, string kind = "lock")
    {
        Name = name;
        Kind = kind;
        Execution.CurrentOrNull?.RegisterLock(this);
    }

    public string Name { get; }
    public string Kind { get; }

    public IEnumerable<Hold> Holds => _holds;

    public string Describe() => $"{Kind} {Name}";

    internal void Acquired(Hold h) => _holds.Add(h);

    internal void Released(SimTask t)
    {
        var i = _holds.FindLastIndex(h => h.Task == t);
        // A lock released by another task than took it (a semaphore-like handover) drops the oldest hold.
        if (i < 0 && _holds.Count > 0)
            i = 0;
        if (i >= 0)
            _holds.RemoveAt(i);
    }
}

public static partial class Kernel
{
    /// <summary>lock_contended(): the current task is about to wait for <paramref name="map"/> (until lock_acquired()).</summary>
    public static void LockContended(LockdepMap map) => Execution.CurrentTask.Contending = map;

    /// <summary>lock_acquired(): the current task now holds <paramref name="map"/> (<paramref name="mode"/>: "read", "add", ...).</summary>
    public static void LockAcquired(LockdepMap map, string? mode = null, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var (ex, t) = Ctx();
        // The step that took the lock is the access the task just made.
        map.Acquired(new Hold(t, ex.Recorder?.Steps.Count ?? 0, fn, file, line, mode));
        if (t.Contending == map)
            t.Contending = null;
    }

    /// <summary>lock_release()</summary>
    public static void LockRelease(LockdepMap map) => map.Released(Execution.CurrentTask);
}

/// <summary>
/// The part of a hang report that says, for every stuck task, what it waits for and who holds
/// that, then every lock each stuck task holds (lockdep's "locks held by" list).
/// </summary>
internal static class HoldersReport
{
    /// <summary>The "waits for ..." line of a stuck task; null when the model cannot name what it waits for.</summary>
    public static string? WaitsFor(Execution ex, SimTask t)
    {
        var sb = new StringBuilder();
        switch (t.BlockedFor ?? t.Contending)
        {
            case IHoldable h:
                sb.Append("waits for ").Append(h.Describe()).Append(", ").Append(HeldBy(ex, h));
                break;
            case Loc x:
                sb.Append("waits for ").Append(x.Name).Append(" to change (now ").Append(x.Show()).Append("), ").Append(LastWriter(ex, x));
                break;
        }

        if (t.QueuedOn is { } wq && t.Sleeping)
        {
            if (sb.Length > 0)
                sb.Append("; ");
            sb.Append("queued on wait queue ").Append(wq.Name);
        }

        return sb.Length > 0 ? sb.ToString() : null;
    }

    private static string HeldBy(Execution ex, IHoldable h)
    {
        var holds = h.Holds.ToList();
        return holds.Count == 0 ? "which no task holds" : "held by " + string.Join(" and ", holds.Select(x => Describe(ex, x)));
    }

    /// <summary>"T1 (block) since step 8 (DioWrite → PagecacheBlockGet → ..., PagecacheLock.cs:87)".</summary>
    private static string Describe(Execution ex, Hold h)
    {
        var mode = h.Mode is null ? "" : $" ({h.Mode})";
        var since = h.Step > 0 ? $" since step {h.Step}" : "";
        return $"{h.Task.Name}{mode}{since} ({Site(ex, h)})";
    }

    /// <summary>Where a hold was taken: the recorded step's call chain when there is one, else the calling function.</summary>
    private static string Site(Execution ex, Hold h)
    {
        var step = h.Step > 0 && ex.Recorder is { } r && h.Step <= r.Steps.Count ? r.Steps[h.Step - 1] : null;
        return $"{step?.Chain ?? h.Function}, {Path.GetFileName(h.File)}:{h.Line}";
    }

    private static string LastWriter(Execution ex, Loc x)
    {
        if (!ex.Recording)
            return "its last writer is named when the execution is recorded";
        if (x.LastWriter is not { } w)
            return "never written by a task";
        var step = w.Step > 0 && w.Step <= ex.Recorder!.Steps.Count ? ex.Recorder.Steps[w.Step - 1] : null;
        return step is null
            ? $"last written by {w.Name}"
            : $"last written by {w.Name} at step {w.Step} ({step.Op} in {step.Chain ?? step.Function}, {step.Where})";
    }

    /// <summary>lockdep's held-locks list for the stuck tasks, in the order they took them.</summary>
    public static void HeldLocks(Execution ex, IEnumerable<SimTask> stuck, StringBuilder sb)
    {
        foreach (var t in stuck)
        {
            var held = ex.Locks.SelectMany(l => l.Holds.Where(h => h.Task == t).Select(h => (Lock: l, Hold: h)))
                .OrderBy(x => x.Hold.Step).ToList();
            if (held.Count == 0)
                continue;
            sb.Append("\n  ").Append(held.Count).Append(held.Count == 1 ? " lock" : " locks").Append(" held by ").Append(t.Name).Append(':');
            for (var i = 0; i < held.Count; i++)
            {
                var (l, h) = held[i];
                sb.Append("\n    #").Append(i).Append(": ").Append(l.Describe()).Append(h.Mode is null ? "" : $" ({h.Mode})")
                    .Append(h.Step > 0 ? $", taken at step {h.Step}" : ", taken").Append(" (").Append(Site(ex, h)).Append(')');
            }
        }
    }
}
