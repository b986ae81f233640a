using System.Text.RegularExpressions;

namespace Kmc.Checks.Litmus;

/// <summary>
/// herd7's LISA format: threads as columns of pseudo-instructions (r[tag] reg loc, w[tag] loc v,
/// f[tag], mov reg expr, b[] reg label, labels). Each instruction is translated into the C
/// primitive with the same event (r[once] is READ_ONCE, f[sync] is synchronize_rcu, ...), so
/// both formats share one interpreter.
/// </summary>
public static partial class LisaParser
{
    [GeneratedRegex(@"^\s*(~\s*exists|exists|forall|locations|filter)\b", RegexOptions.Multiline)]
    private static partial Regex FinalClause();

    [GeneratedRegex(@"^r\d+$")]
    private static partial Regex Register();

    public static LitmusTest Parse(string rest, string name, string? result)
    {
        var open = FindOutsideComments(rest, '{');
        if (open < 0)
            throw new LitmusParseException("missing initial state '{...}'");
        var close = rest.IndexOf('}', open);
        if (close < 0)
            throw new LitmusParseException("unterminated initial state");
        var b = new LitmusParser.Builder();
        var init = new LitmusParser.Cursor(Tokenizer.Tokenize(rest[(open + 1)..close], 1));
        while (init.Peek.Kind != TokKind.End)
        {
            if (init.Accept(";"))
                continue;
            if (init.Peek.Kind == TokKind.Number && init.PeekAt(1).Text == ":")
            {
                var th = (int)Tokenizer.ParseNumber(init.Next());
                init.Next();
                var reg = init.ExpectIdent();
                init.Expect("=");
                if (!b.RegInit.TryGetValue(th, out var regs))
                    b.RegInit[th] = regs = new Dictionary<string, long>(StringComparer.Ordinal);
                regs[reg] = LitmusParser.ReadValue(init, b);
                continue;
            }

            while (init.Peek.Kind == TokKind.Ident && LitmusParser.IsTypeWord(init.Peek.Text))
                init.Next();
            var loc = b.Loc(init.ExpectIdent());
            if (init.Accept("="))
                b.Init[loc] = LitmusParser.ReadValue(init, b);
        }

        var tail = rest[(close + 1)..];
        var final = FinalClause().Match(tail);
        if (!final.Success)
            throw new LitmusParseException("missing exists/forall clause");
        var rows = tail[..final.Index].Split(';').Select(r => r.Trim()).Where(r => r.Length > 0).Select(r => r.Split('|').Select(c => c.Trim()).ToArray()).ToList();
        if (rows.Count == 0)
            throw new LitmusParseException("no thread table");
        var header = rows[0];
        var bodies = header.Select(_ => new List<Stmt>()).ToList();
        for (var k = 0; k < header.Length; k++)
        {
            if (header[k] != $"P{k}")
                throw new LitmusParseException($"expected thread P{k} in the LISA header, got '{header[k]}'");
        }

        foreach (var row in rows.Skip(1))
        {
            for (var k = 0; k < row.Length && k < bodies.Count; k++)
            {
                if (row[k].Length > 0)
                    bodies[k].Add(Instruction(row[k], b));
            }
        }

        var (q, prop, filter) = LitmusParser.ReadFinal(new LitmusParser.Cursor(Tokenizer.Tokenize(tail[final.Index..], 1)), b);
        return new LitmusTest
        {
            Name = name, Format = "LISA", Result = result, Locations = b.Locations, InitialValues = b.Init,
            Threads = bodies.Select((body, i) => new ThreadCode(i, body, b.RegInit.GetValueOrDefault(i) ?? new Dictionary<string, long>())).ToList(),
            Quantifier = q, Condition = prop, Filter = filter,
        };
    }

    private static int FindOutsideComments(string s, char target)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '(' && i + 1 < s.Length && s[i + 1] == '*')
            {
                var end = s.IndexOf("*)", i + 2, StringComparison.Ordinal);
                if (end < 0)
                    return -1;
                i = end + 1;
                continue;
            }

            if (s[i] == target)
                return i;
        }

        return -1;
    }

    private static Stmt Instruction(string text, LitmusParser.Builder b)
    {
        if (text.EndsWith(':'))
            return new LabelStmt(text[..^1].Trim());
        var m = Regex.Match(text, @"^(\w+)\[([^\]]*)\]\s*(.*)$");
        var op = m.Success ? m.Groups[1].Value : text.Split(' ')[0];
        var tag = m.Success ? m.Groups[2].Value.Trim() : "";
        var args = (m.Success ? m.Groups[3].Value : text[op.Length..]).Trim();
        var parts = SplitArgs(args);
        switch (op)
        {
            case "r" when parts.Count == 2:
            {
                var addr = Operand(parts[1], b);
                Expr load = tag switch
                {
                    "once" => new CallExpr("READ_ONCE", [new DerefExpr(addr)]),
                    "deref" => new CallExpr("rcu_dereference", [new DerefExpr(addr)]),
                    "acquire" => new CallExpr("smp_load_acquire", [addr]),
                    _ => throw new LitmusUnsupportedException($"LISA r[{tag}]"),
                };
                return new AssignStmt(new NameExpr(parts[0]), load);
            }

            case "w" when parts.Count == 2:
            {
                var addr = Operand(parts[0], b);
                var v = Operand(parts[1], b);
                return new ExprStmt(tag switch
                {
                    "once" => new CallExpr("WRITE_ONCE", [new DerefExpr(addr), v]),
                    "assign" => new CallExpr("rcu_assign_pointer", [new DerefExpr(addr), v]),
                    "release" => new CallExpr("smp_store_release", [addr, v]),
                    _ => throw new LitmusUnsupportedException($"LISA w[{tag}]"),
                });
            }

            case "f" when parts.Count == 0:
                return new ExprStmt(new CallExpr(tag switch
                {
                    "mb" => "smp_mb",
                    "rmb" => "smp_rmb",
                    "wmb" => "smp_wmb",
                    "sync" or "sync-rcu" => "synchronize_rcu",
                    "rcu_read_lock" or "rcu-lock" => "rcu_read_lock",
                    "rcu_read_unlock" or "rcu-unlock" => "rcu_read_unlock",
                    _ => throw new LitmusUnsupportedException($"LISA f[{tag}]"),
                }, []));
            case "mov" when parts.Count == 2:
                return new AssignStmt(new NameExpr(parts[0]), Operand(parts[1], b));
            case "b" when parts.Count == 2 && tag == "":
                return new BranchStmt(Operand(parts[0], b), parts[1]);
            default:
                throw new LitmusUnsupportedException($"LISA instruction '{text}'");
        }
    }

    /// <summary>Splits "r1 (eq r2 0)" into ["r1", "(eq r2 0)"].</summary>
    private static List<string> SplitArgs(string s)
    {
        var list = new List<string>();
        var i = 0;
        while (i < s.Length)
        {
            if (char.IsWhiteSpace(s[i]))
            {
                i++;
                continue;
            }

            var start = i;
            if (s[i] == '(')
            {
                var depth = 0;
                do
                {
                    if (s[i] == '(')
                        depth++;
                    else if (s[i] == ')')
                        depth--;
                    i++;
                }
                while (i < s.Length && depth > 0);
            }
            else
            {
                while (i < s.Length && !char.IsWhiteSpace(s[i]))
                    i++;
            }

            list.Add(s[start..i]);
        }

        return list;
    }

    private static readonly Dictionary<string, string> s_ops = new()
    {
        ["add"] = "+", ["sub"] = "-", ["xor"] = "^", ["and"] = "&", ["or"] = "|", ["mul"] = "*",
        ["eq"] = "==", ["neq"] = "!=", ["lt"] = "<", ["gt"] = ">", ["le"] = "<=", ["ge"] = ">=",
    };

    private static Expr Operand(string s, LitmusParser.Builder b)
    {
        if (s.StartsWith('('))
        {
            var inner = SplitArgs(s[1..^1]);
            if (inner.Count != 3 || !s_ops.TryGetValue(inner[0], out var op))
                throw new LitmusUnsupportedException($"LISA expression '{s}'");
            return new BinaryExpr(op, Operand(inner[1], b), Operand(inner[2], b));
        }

        if (long.TryParse(s, out var v))
            return new ConstExpr(v);
        if (Register().IsMatch(s))
            return new NameExpr(s);
        b.Loc(s);
        return new NameExpr(s);
    }
}
