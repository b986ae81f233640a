namespace Kmc.Checks.Litmus;

public enum TokKind
{
    Ident,
    Number,
    Punct,
    End,
}

public readonly record struct Token(TokKind Kind, string Text, int Line)
{
    public override string ToString() => Kind == TokKind.End ? "end of file" : $"'{Text}' (line {Line})";
}

/// <summary>
/// Splits a litmus file into tokens. C comments are skipped everywhere; herd's OCaml-style
/// (* ... *) comments only outside braces, where "(*" cannot start C code.
/// </summary>
public static class Tokenizer
{
    private static readonly string[] s_multi = ["/\\", "\\/", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "->", "++", "--", "+=", "-=", "|=", "&=", "^="];

    public static List<Token> Tokenize(string text, int firstLine)
    {
        var tokens = new List<Token>();
        var i = 0;
        var line = firstLine;
        var depth = 0;
        var braces = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\n')
            {
                line++;
                i++;
                continue;
            }

            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            if (c == '/' && i + 1 < text.Length && text[i + 1] == '/')
            {
                while (i < text.Length && text[i] != '\n')
                    i++;
                continue;
            }

            if (c == '/' && i + 1 < text.Length && text[i + 1] == '*')
            {
                i = SkipComment(text, i + 2, "*/", ref line);
                continue;
            }

            if (c == '(' && braces == 0 && i + 1 < text.Length && text[i + 1] == '*')
            {
                i = SkipComment(text, i + 2, "*)", ref line);
                continue;
            }

            if (char.IsLetter(c) || c == '_')
            {
                var s = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '_' || text[i] == '.'))
                    i++;
                tokens.Add(new Token(TokKind.Ident, text[s..i], line));
                continue;
            }

            if (char.IsDigit(c))
            {
                var s = i;
                while (i < text.Length && (char.IsLetterOrDigit(text[i]) || text[i] == '.'))
                    i++;
                tokens.Add(new Token(TokKind.Number, text[s..i], line));
                continue;
            }

            var multi = s_multi.FirstOrDefault(m => string.CompareOrdinal(text, i, m, 0, m.Length) == 0);
            var p = multi ?? c.ToString();
            if (p is "{" or "(" or "[")
                depth++;
            else if (p is "}" or ")" or "]")
                depth = Math.Max(0, depth - 1);
            if (p == "{")
                braces++;
            else if (p == "}")
                braces = Math.Max(0, braces - 1);
            tokens.Add(new Token(TokKind.Punct, p, line));
            i += p.Length;
        }

        tokens.Add(new Token(TokKind.End, "", line));
        return tokens;
    }

    private static int SkipComment(string text, int i, string close, ref int line)
    {
        while (i < text.Length && string.CompareOrdinal(text, i, close, 0, close.Length) != 0)
        {
            if (text[i] == '\n')
                line++;
            i++;
        }

        return Math.Min(text.Length, i + close.Length);
    }

    public static long ParseNumber(Token t)
    {
        var s = t.Text;
        try
        {
            if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
                return Convert.ToInt64(s[2..].TrimEnd('u', 'U', 'l', 'L'), 16);
            return long.Parse(s.TrimEnd('u', 'U', 'l', 'L'), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
        {
            throw new LitmusParseException($"bad number {t}");
        }
    }
}
