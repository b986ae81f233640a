using System.Runtime.CompilerServices;

namespace Kmc.Models;

public enum AllocKind { Heap, Stack }

/// <summary>
/// One kmalloc'd (or on-stack) object. Its locations point back at it, so any access after
/// kfree (or after the frame returned) is caught with both the allocation and the free site.
/// </summary>
public sealed class Allocation
{
    [ThreadStatic] internal static Allocation? Constructing;

    internal Allocation(int id, AllocKind kind, string name, string site, SimTask? by)
    {
        Id = id;
        Kind = kind;
        Name = name;
        AllocSite = site;
        AllocatedBy = by?.Name;
    }

    public int Id { get; }
    public AllocKind Kind { get; }
    public string Name { get; }
    public string AllocSite { get; }
    public string? AllocatedBy { get; }
    public string? FreeSite { get; private set; }
    public string? FreedBy { get; private set; }
    public bool Freed => FreeSite != null;
    internal List<Loc> Locations { get; } = new();

    internal void MarkFreed(string site, SimTask? by)
    {
        FreeSite = site;
        FreedBy = by?.Name;
    }

    public string Describe() => Kind == AllocKind.Stack
        ? $"on-stack {Name} (frame entered at {AllocSite} by {AllocatedBy})"
        : $"{Name} (kmalloc at {AllocSite} by {AllocatedBy ?? "setup"})";
}

/// <summary>Base for model objects that are kmalloc'd or live on a task's stack.</summary>
public abstract class KObject : INamed
{
    /// <summary>
    /// The allocation whose constructor lambda was running when this object was built (null: built
    /// outside any). Only locations created inside that lambda point back at the allocation, so an
    /// object built first and handed to Kmalloc/OnStack afterwards would be freed with none of its
    /// accesses checked; <see cref="Allocator"/> refuses it instead of missing its use-after-free.
    /// </summary>
    internal readonly Allocation? BornIn = Allocation.Constructing;

    public Allocation? Allocation { get; internal set; }

    public virtual string DisplayName => Allocation is null ? GetType().Name : $"{Allocation.Name}#{Allocation.Id}";
}

/// <summary>The allocator of one execution: tracks what is live, what was freed and where.</summary>
public sealed class Allocator
{
    private readonly List<Allocation> _all = new();

    public IReadOnlyList<Allocation> All => _all;

    internal T Allocate<T>(AllocKind kind, string name, string site, SimTask? by, Func<T> construct) where T : KObject
    {
        // The allocator's list and object numbering are shared by every task.
        Scheduling.Reduction.Footprints.Untracked();
        var a = new Allocation(_all.Count + 1, kind, name, site, by);
        var outer = Allocation.Constructing;
        Allocation.Constructing = a;
        T obj;
        try
        {
            obj = construct();
        }
        finally
        {
            Allocation.Constructing = outer;
        }

        RefuseUntracked(obj, a);
        obj.Allocation = a;
        _all.Add(a);
        return obj;
    }

    /// <summary>An object whose locations were not created inside this allocation's lambda cannot be tracked: say so.</summary>
    private static void RefuseUntracked(KObject? obj, Allocation a)
    {
        var how = a.Kind == AllocKind.Stack ? "OnStack" : "Kmalloc";
        if (obj is null)
            throw new ModelMisuseException($"{how}({a.Name}) at {a.AllocSite}: the constructor lambda returned null");
        if (obj.Allocation != null)
        {
            throw new ModelMisuseException(
                $"{how}({a.Name}) at {a.AllocSite}: the object is already {obj.Allocation.Describe()}; an object has one allocation");
        }

        if (!ReferenceEquals(obj.BornIn, a))
        {
            var type = obj.GetType().Name;
            var born = obj.BornIn is null ? "outside any allocation" : $"inside another allocation ({obj.BornIn.Describe()})";
            throw new ModelMisuseException(
                $"{how}({a.Name}) at {a.AllocSite}: the {type} was constructed {born}, so its locations are not tracked and a use after free would go unreported; construct it inside the lambda: {how}(() => new {type}(...))");
        }
    }

    internal void Free(KObject obj, string site, SimTask? by)
    {
        Scheduling.Reduction.Footprints.Untracked();
        var a = obj.Allocation ?? throw new KernelFailureException(new Failure(FailureKind.Assertion,
            $"kfree of {obj.DisplayName}, which was not kmalloc'd", site));
        if (a.Kind == AllocKind.Stack && a.FreeSite == null)
            throw new KernelFailureException(new Failure(FailureKind.Assertion, $"kfree of {a.Describe()}", site));
        if (a.Freed)
        {
            throw new KernelFailureException(new Failure(FailureKind.DoubleFree,
                $"double free of {a.Describe()}; first freed at {a.FreeSite} by {a.FreedBy}, again by {by?.Name}", site));
        }

        a.MarkFreed(site, by);
    }

    internal void EndFrame(KObject obj, string site, SimTask? by)
    {
        Scheduling.Reduction.Footprints.Untracked();
        var a = obj.Allocation;
        if (a is not { Kind: AllocKind.Stack })
        {
            throw new ModelMisuseException(
                $"FrameReturn({obj.DisplayName}) at {site}: only an object made with OnStack has a frame to return from ({(a is null ? "this one was not allocated" : "this one is " + a.Describe())})");
        }

        if (a.Freed)
            throw new ModelMisuseException($"FrameReturn({obj.DisplayName}) at {site}: its frame already returned at {a.FreeSite}");
        a.MarkFreed(site, by);
    }

    /// <summary>Every heap object still allocated: a leak when the execution has ended.</summary>
    public IEnumerable<Allocation> Live() => _all.Where(a => a.Kind == AllocKind.Heap && !a.Freed);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckLive(Loc loc, string op, string file, int line, SimTask? by)
    {
        if (loc.Owner is { Freed: true } a)
            UsedAfterFree(loc, a, op, file, line, by);
    }

    private static void UsedAfterFree(Loc loc, Allocation a, string op, string file, int line, SimTask? by)
    {
        var site = $"{file}:{line}";
        var what = a.Kind == AllocKind.Stack ? "after its frame returned" : "after free";
        throw new KernelFailureException(new Failure(FailureKind.UseAfterFree,
            $"{op} of {loc.Name} by {by?.Name} {what}: {a.Describe()}, freed at {a.FreeSite} by {a.FreedBy}", site));
    }
}

/// <summary>
/// The kernel API was used in a way kmc cannot model faithfully (an object it could not track, say).
/// Inside a task it ends the execution as a <see cref="FailureKind.ModelCrash"/> naming the misuse.
/// </summary>
public sealed class ModelMisuseException(string message) : InvalidOperationException("kmc misuse: " + message);
