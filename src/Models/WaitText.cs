namespace Kmc.Models;

/// <summary>
/// What a blocked task waits for, as a hang report words it, kept in its parts: a task blocks at
/// nearly every contended lock or spin, and the text is read only when a report is written, so
/// it is put together then (<see cref="ToString"/>) rather than at each blocking point.
/// </summary>
internal readonly struct WaitText
{
    private readonly string? _a;
    private readonly string? _b;
    private readonly string? _c;
    private readonly string? _d;
    private readonly SpinLoop? _loop;

    /// <summary>The text <c>a + b + c + d</c> (null when <paramref name="a"/> is null: nothing said).</summary>
    public WaitText(string? a, string? b = null, string? c = null, string? d = null)
    {
        _a = a;
        _b = b;
        _c = c;
        _d = d;
    }

    /// <summary>The repeated iteration of a spin loop, worded from what the loop read (it does not change while the task waits).</summary>
    public WaitText(SpinLoop loop) => _loop = loop;

    public static implicit operator WaitText(string? text) => new(text);

    /// <summary>Something is said (the default says nothing).</summary>
    public bool IsSet => _a is not null || _loop is not null;

    public override string? ToString() => _loop?.BlockedOn() ?? (_a is null ? null : string.Concat(_a, _b, _c, _d));
}

/// <summary>Where a task blocked (a hang report's "at fn (file:line)"), put into words only when a report reads it.</summary>
internal readonly struct WaitSite(string? fn, string? file, int line)
{
    public bool IsSet => fn is not null;

    public override string? ToString() => fn is null ? null : $"{fn} ({Path.GetFileName(file)}:{line})";
}
