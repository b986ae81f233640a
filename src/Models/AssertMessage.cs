using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>
/// The message of <see cref="Kernel.Assert(bool, ref AssertMessage, string, string, int)"/>: an
/// interpolated string whose parts are formatted only when the condition is false, as
/// Debug.Assert's handler does. A passing assertion (nearly every one, at every step) then costs
/// no string.
/// </summary>
[InterpolatedStringHandler]
public ref struct AssertMessage
{
    private DefaultInterpolatedStringHandler _text;

    public AssertMessage(int literalLength, int formattedCount, bool cond, out bool shouldAppend)
    {
        shouldAppend = !cond;
        _text = cond ? default : new DefaultInterpolatedStringHandler(literalLength, formattedCount);
    }

    public void AppendLiteral(string value) => _text.AppendLiteral(value);

    public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

    public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

    public void AppendFormatted<T>(T value, int alignment) => _text.AppendFormatted(value, alignment);

    public void AppendFormatted<T>(T value, int alignment, string? format) => _text.AppendFormatted(value, alignment, format);

    public void AppendFormatted(string? value) => _text.AppendFormatted(value);

    /// <summary>The message (only for a failed assertion: a passing one formatted nothing).</summary>
    internal string ToStringAndClear() => _text.ToStringAndClear();
}
