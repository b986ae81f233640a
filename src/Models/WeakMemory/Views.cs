namespace Kmc.Models.WeakMemory;

/// <summary>One store in a location's modification (coherence) order.</summary>
internal abstract class StoreEntry
{
    /// <summary>Position in the location's coherence order; -1 once the history was reset.</summary>
    public int Index;

    /// <summary>The task that made the store (null: the initial value or an out-of-model write).</summary>
    public SimTask? Writer;

    /// <summary>The recorded step that made it (0 when not recording).</summary>
    public int Step;

    /// <summary>When it was made, counting the model's stores (0: the initial value); for promises.</summary>
    public long Born;

    /// <summary>The view a reader that acquires from this store joins (null: it carries nothing).</summary>
    public View? Message;

    /// <summary>
    /// What a strong fence (smp_mb()) made visible to every CPU before this store: whatever
    /// executes after reading it must not see older (null: nothing).
    /// </summary>
    public View? Strong;

    /// <summary>Written by an RMW: it sits right after the store it read, and nothing may be put between them.</summary>
    public bool Rmw;

    /// <summary>What this store carries for the data-race detector.</summary>
    public RaceStamp Race;

    public abstract string ShowValue();

    public string Describe() =>
        Writer is null ? $"the initial value {ShowValue()}"
        : Step > 0 ? $"#{Step} ({Writer.Name}'s store of {ShowValue()})"
        : $"{Writer.Name}'s store of {ShowValue()}";
}

internal sealed class StoreEntry<T>(T value) : StoreEntry
{
    public readonly T Value = value;

    public override string ShowValue() => Format.Value(Value);
}

/// <summary>
/// A location's coherence order, oldest first. The last entry's value is always the one
/// <c>Loc.Value</c> holds, so spin-wait conditions and end-of-run invariants (which peek at
/// <c>Loc.Value</c>) see the coherence-latest value.
/// </summary>
/// <summary>A coherence order whatever its value type.</summary>
internal interface IHistory
{
    IReadOnlyList<StoreEntry> Stores { get; }
}

internal sealed class History<T> : IHistory
{
    public readonly List<StoreEntry<T>> Entries = new();

    public IReadOnlyList<StoreEntry> Stores => Entries;

    public StoreEntry<T> Last => Entries[^1];

    public void Renumber(int from)
    {
        for (var i = from; i < Entries.Count; i++)
            Entries[i].Index = i;
    }
}

/// <summary>
/// A view: for each location, the coherence-latest store a task (or a message) is known to have
/// seen; a load may not read anything older. Immutable once published as a message.
/// </summary>
internal sealed class View
{
    public readonly Dictionary<Loc, StoreEntry> Floors;

    public View() => Floors = new();

    public View(View other) => Floors = new(other.Floors);

    public bool IsEmpty => Floors.Count == 0;

    /// <summary>Raises each floor to the other view's where it is newer. True when anything changed.</summary>
    public bool Join(View? other)
    {
        if (other is null)
            return false;
        var changed = false;
        foreach (var (loc, e) in other.Floors)
        {
            if (!Floors.TryGetValue(loc, out var mine) || mine.Index < e.Index)
            {
                Floors[loc] = e;
                changed = true;
            }
        }

        return changed;
    }

    public int FloorIndex(Loc loc) => Floors.TryGetValue(loc, out var e) && e.Index > 0 ? e.Index : 0;

    /// <summary>Raises one floor. True when it moved.</summary>
    public bool Raise(Loc loc, StoreEntry e)
    {
        if (Floors.TryGetValue(loc, out var mine) && mine.Index >= e.Index)
            return false;
        Floors[loc] = e;
        return true;
    }
}
