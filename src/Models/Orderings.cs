namespace Kmc.Models;

/// <summary>
/// One call of the kernel API that asks for ordering (an acquire load, a release store, an
/// acquire/release/fully ordered RMW, a barrier other than barrier()), as the port wrote it:
/// its source file and line, the C# method it is in, the kernel operation and the ordering.
/// </summary>
public sealed record OrderingSite(string File, int Line, string Function, string Op, string Ordering)
{
    /// <summary>The source file name without its folders (call-site paths differ between builds).</summary>
    public string FileName => System.IO.Path.GetFileName(File);

    public override string ToString() => $"{Op} ({Ordering}) in {Function} at {FileName}:{Line}";
}

/// <summary>What an <see cref="IOrderingHook"/> does to one ordered call.</summary>
public enum SiteAction
{
    /// <summary>As written.</summary>
    Keep,

    /// <summary>
    /// Its ordering taken away: an acquire load or release store becomes READ_ONCE/WRITE_ONCE,
    /// an ordered RMW its _relaxed form, a barrier is removed; a READ_ONCE/WRITE_ONCE (a "once"
    /// site, offered only to hooks that ask for them) becomes a plain access.
    /// </summary>
    Relax,
}

/// <summary>
/// Sees every ordered call of the kernel API in one execution and may change it. A scenario's
/// setup installs one (<see cref="Execution.Orderings"/>); with none installed the API does
/// exactly what it did before. This is how weakened-barrier variants are made from a port's
/// fixed code without editing it (kmc weaken), and the place for other site mutations: a hook
/// sees each site before the access is made, so it can be given further actions.
/// Lock and sleep primitives of the simulated kernel (spin_lock, mutex_lock, wait queues) are
/// not ordered calls of the port and are not offered.
/// </summary>
public interface IOrderingHook
{
    SiteAction At(OrderingSite site);

    /// <summary>Whether READ_ONCE()/WRITE_ONCE() and atomic_read()/atomic_set() are offered too (as "once" sites).</summary>
    bool SeesOnceSites => false;
}

/// <summary>Collects the ordered sites an execution passes, in the files it is asked about.</summary>
public sealed class OrderingProbe(Func<string, bool> fileFilter, bool onceSites = false) : IOrderingHook
{
    private readonly HashSet<OrderingSite> _sites = new();

    public bool SeesOnceSites => onceSites;

    public IReadOnlyCollection<OrderingSite> Sites => _sites;

    public SiteAction At(OrderingSite site)
    {
        if (fileFilter(site.File))
            _sites.Add(site);
        return SiteAction.Keep;
    }
}

/// <summary>Relaxes the one ordered call at a given file and line (and operation).</summary>
public sealed class SiteWeakening(string fileName, int line, string op) : IOrderingHook
{
    /// <summary>A "once" site is only ever weakened by a hook that asks to see them.</summary>
    public bool SeesOnceSites => true;

    public string FileName { get; } = fileName;
    public int Line { get; } = line;
    public string Op { get; } = op;

    public SiteAction At(OrderingSite site) =>
        site.Line == Line && site.Op == Op && site.FileName == FileName ? SiteAction.Relax : SiteAction.Keep;
}

/// <summary>
/// On a port class: the site (<c>Function.op</c>, as kmc mutate names it) is weaker than its
/// callers could need, on purpose, for the reason given (the kernel code is that way and says
/// why). kmc mutate lists it as intentional and leaves it out of the score.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class IntentionallyWeakAttribute(string site, string reason) : Attribute
{
    public string Site { get; } = site;
    public string Reason { get; } = reason;
}
