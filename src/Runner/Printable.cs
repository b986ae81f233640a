using System.Text;

namespace Kmc.Checks.Framework;

/// <summary>
/// Text from a user's file, made safe to print in a table or a one-line error: control
/// characters and undecodable bytes become \xNN / \uNNNN escapes, and long text is cut, so a
/// binary file cannot write raw bytes (or terminal escape sequences) to the terminal.
/// </summary>
public static class Printable
{
    public static string Of(string? text, int max = 80)
    {
        if (string.IsNullOrEmpty(text))
            return text ?? "";
        var sb = new StringBuilder();
        foreach (var c in text)
        {
            if (sb.Length >= max)
                return sb.Append('…').ToString();
            if (c < 0x20 || c == 0x7f)
                sb.Append($"\\x{(int)c:x2}");
            else if (c == '\uFFFD' || char.IsControl(c) || char.IsSurrogate(c) || char.GetUnicodeCategory(c) is System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.OtherNotAssigned)
                sb.Append($"\\u{(int)c:x4}");
            else
                sb.Append(c);
        }

        return sb.ToString();
    }
}
