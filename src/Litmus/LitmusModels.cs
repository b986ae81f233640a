namespace Kmc.Checks.Litmus;

/// <summary>An axiomatic memory model: which candidate executions it allows.</summary>
public interface ILitmusModel
{
    string Name { get; }

    /// <summary>True when the execution is allowed; <paramref name="dataRace"/> when it also has a data race the model flags.</summary>
    bool Allows(CandidateExecution x, out bool dataRace);

    /// <summary>
    /// A necessary condition on reads-from alone (<see cref="CandidateExecution.Rf"/> is set, co is
    /// not): false prunes every coherence order of this rf at once.
    /// </summary>
    bool MayAllowRf(CandidateExecution x);
}

public static class LitmusModels
{
    public static ILitmusModel Get(string name) => name switch
    {
        "sc" => new ScModel(),
        "tso" => new TsoModel(),
        "lkmm" => new LkmmModel(),
        _ => throw new Framework.KmcInputException($"unknown memory model '{name}' (use sc, tso or lkmm)"),
    };

    /// <summary>Sequential consistency per location and RMW atomicity: every model has them.</summary>
    internal static bool Coherent(CandidateExecution x, out Rel fr)
    {
        fr = x.Rf.Inverse() * x.Co;
        var poLoc = (x.Po & x.Loc).Between(x.M, x.M);
        if (!(poLoc | x.Rf | x.Co | fr).Acyclic())
            return false;
        var ext = Ext(x);
        return (x.Rmw & ((fr & ext) * (x.Co & ext))).IsEmpty;
    }

    internal static Rel Ext(CandidateExecution x) => Rel.Cross(All(x), All(x)) - x.Int;

    internal static EventSet All(CandidateExecution x) => EventSet.Of(x.N, _ => true);

    internal static EventSet Where(CandidateExecution x, Func<Ev, bool> p) => EventSet.Of(x.N, i => p(x.Events[i]));

    internal static EventSet Fences(CandidateExecution x, params FenceKind[] kinds) =>
        Where(x, e => e.Kind == EventKind.Fence && kinds.Contains(e.E.Fence));
}

/// <summary>
/// Sequential consistency: acyclic(po | rf | co | fr). Like <see cref="TsoModel"/>, it keeps only
/// executions the LKMM also allows: the hardware is a valid LKMM implementation, so that changes
/// nothing about ordering, but it adds the software guarantees the hardware model knows nothing
/// of (RCU and SRCU grace periods, sys_membarrier) and the LKMM's data-race flags.
/// </summary>
public sealed class ScModel : ILitmusModel
{
    private readonly LkmmModel _kernel = new();

    public string Name => "sc";

    public bool Allows(CandidateExecution x, out bool dataRace)
    {
        dataRace = false;
        if (!LitmusModels.Coherent(x, out var fr))
            return false;
        return ((x.Po.Between(x.M, x.M)) | x.Rf | x.Co | fr).Acyclic() && _kernel.Allows(x, out dataRace);
    }

    public bool MayAllowRf(CandidateExecution x) => (x.Po.Between(x.M, x.M) | x.Rf).Acyclic() && _kernel.MayAllowRf(x);
}

/// <summary>
/// x86-TSO: program order except store-to-load, unless a full fence or a locked instruction
/// (an atomic RMW or a lock operation) sits between; stores are seen in one global order.
/// Intersected with the LKMM for the kernel's software guarantees, as <see cref="ScModel"/>.
/// </summary>
public sealed class TsoModel : ILitmusModel
{
    private readonly LkmmModel _kernel = new();

    public string Name => "tso";

    public bool Allows(CandidateExecution x, out bool dataRace)
    {
        dataRace = false;
        if (!LitmusModels.Coherent(x, out var fr))
            return false;
        return (Ppo(x) | (x.Rf & LitmusModels.Ext(x)) | x.Co | fr).Acyclic() && _kernel.Allows(x, out dataRace);
    }

    public bool MayAllowRf(CandidateExecution x) => (Ppo(x) | (x.Rf & LitmusModels.Ext(x))).Acyclic() && _kernel.MayAllowRf(x);

    private static Rel Ppo(CandidateExecution x)
    {
        var wr = Rel.Cross(x.W, x.R);
        var locked = LitmusModels.Where(x, e => e.E.Has(EventTags.Rmw | EventTags.LockRead | EventTags.LockWrite | EventTags.Unlock));
        var full = LitmusModels.Fences(x, FenceKind.Mb, FenceKind.SyncRcu, FenceKind.SyncSrcu);
        return ((x.Po - wr) | x.Po.To(full) * x.Po | x.Po.To(locked) | x.Po.From(locked)).Between(x.M, x.M);
    }
}
