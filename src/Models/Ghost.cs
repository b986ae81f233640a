namespace Kmc.Models;

/// <summary>
/// Check-side state shared by tasks that is not kernel memory: who owns a lock, which CPUs are
/// inside a queue. Reading or writing it is not a scheduling point and no memory model applies,
/// but the partial-order reduction sees the access, so two steps that touch the same ghost are
/// explored in both orders. A plain C# variable shared by tasks is invisible to the reduction:
/// keep such state in a <see cref="Ghost{T}"/> (or run dfs with --no-reduction).
/// </summary>
public sealed class Ghost<T> : Scheduling.IStateful
{
    private T _value;
    private readonly long _key = Scheduling.Reduction.Footprints.NewKey();

    public Ghost(T initial = default!)
    {
        _value = initial;
        Scheduling.StateCache.Created(_key, this);
    }

    void Scheduling.IStateful.WriteState(Scheduling.StateWriter w) => w.Value(_value);

    public T Value
    {
        get
        {
            Scheduling.Reduction.Footprints.Read(_key);
            // A spin loop records only what it loads from kernel memory: a ghost read inside
            // one (check code) could change under it unseen, so the iteration is not comparable.
            Execution.NoteSpinEffect();
            return _value;
        }
        set
        {
            Scheduling.Reduction.Footprints.WriteOnly(_key);
            Execution.CurrentOrNull?.Invariants?.Wrote(_key, Scheduling.Reduction.Footprints.Current);
            _value = value;
        }
    }

    /// <summary>This ghost in step footprints and invariant watch lists.</summary>
    internal long Key => _key;

    public override string ToString() => $"ghost {Format.Value(_value)}";
}
