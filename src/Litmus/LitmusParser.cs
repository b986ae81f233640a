using System.Text.RegularExpressions;

namespace Kmc.Checks.Litmus;

/// <summary>
/// Reads herd7's C litmus format (and, through <see cref="LisaParser"/>, its LISA format): the
/// header with its Result line, the initial state, the threads, and the final condition.
/// </summary>
public static partial class LitmusParser
{
    private static readonly HashSet<string> s_typeWords =
    [
        "int", "long", "short", "char", "unsigned", "signed", "bool", "_Bool", "void", "const", "volatile",
        "atomic_t", "atomic_long_t", "spinlock_t", "raw_spinlock_t", "intptr_t", "uintptr_t", "u8", "u16", "u32", "u64",
        "s32", "s64", "size_t", "struct", "static",
        // The rest of the base types of herd7's C lexer (herdtools7 lib/CLexer.mll).
        "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t", "uint64_t", "__int128_t", "__uint128_t",
        "mtx_t", "atomic_int", "_Atomic", "srcu_struct",
    ];

    [GeneratedRegex(@"Result:\s*([^\n\r]*)")]
    private static partial Regex ResultLine();

    public static LitmusTest ParseFile(string path) => Parse(ReadText(path));

    /// <summary>The file as text; a file with NUL bytes or bytes that are not UTF-8 is no litmus test.</summary>
    private static string ReadText(string path)
    {
        var bytes = File.ReadAllBytes(path);
        string text;
        try
        {
            text = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (System.Text.DecoderFallbackException)
        {
            throw new LitmusParseException("not a text file (bytes that are not UTF-8)");
        }

        return text.Contains('\0') ? throw new LitmusParseException("not a text file (NUL bytes)") : text.TrimStart('\uFEFF');
    }

    public static LitmusTest Parse(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n');
        var first = Array.FindIndex(lines, l => l.Trim().Length > 0);
        if (first < 0)
            throw new LitmusParseException("empty file");
        var head = lines[first].Trim().Split((char[]?)null, 2, StringSplitOptions.RemoveEmptyEntries);
        var result = ResultLine().Match(text) is { Success: true } m ? TrimComment(m.Groups[1].Value) : null;
        var rest = string.Join('\n', lines.Skip(first + 1));
        var name = head.Length > 1 ? head[1] : "?";
        return head[0] switch
        {
            "C" => new CReader(Tokenizer.Tokenize(rest, first + 2), name, result).Read(),
            "LISA" => LisaParser.Parse(rest, name, result),
            _ => throw new LitmusUnsupportedException($"litmus format '{Kmc.Checks.Framework.Printable.Of(head[0], 24)}'"),
        };
    }

    private static string TrimComment(string s)
    {
        s = s.Trim();
        return s.EndsWith("*)", StringComparison.Ordinal) ? s[..^2].Trim() : s;
    }

    internal static bool IsTypeWord(string s) => s_typeWords.Contains(s);

    /// <summary>Shared between the C and LISA readers: locations, init values and the final clauses.</summary>
    internal sealed class Builder
    {
        public readonly List<Location> Locations = [];
        public readonly Dictionary<string, int> ByName = new(StringComparer.Ordinal);
        public readonly Dictionary<int, long> Init = [];
        public readonly Dictionary<int, Dictionary<string, long>> RegInit = [];

        public int Loc(string name, int size = 1)
        {
            if (ByName.TryGetValue(name, out var i))
                return i;
            i = Locations.Count;
            ByName[name] = i;
            Locations.Add(new Location(i, name));
            for (var k = 1; k < size; k++)
            {
                var n = $"{name}[{k}]";
                ByName[n] = Locations.Count;
                Locations.Add(new Location(Locations.Count, n));
            }

            return i;
        }

        public long Address(string name) => Values.AddrBase + Loc(name);
    }

    /// <summary>Final clauses: locations [...]; filter P; exists|~exists|forall P.</summary>
    internal static (Quantifier, Prop, Prop?) ReadFinal(Cursor c, Builder b)
    {
        Prop? filter = null;
        while (true)
        {
            var t = c.Peek;
            if (t.Kind == TokKind.End)
                return (Quantifier.Exists, new TrueProp(true), filter);
            if (t.Text == "locations")
            {
                c.Next();
                c.Expect("[");
                while (c.Peek.Text != "]" && c.Peek.Kind != TokKind.End)
                    c.Next();
                c.Expect("]");
                c.Accept(";");
                continue;
            }

            if (t.Text == "filter")
            {
                c.Next();
                filter = ReadProp(c, b);
                continue;
            }

            Quantifier q;
            if (t.Text == "exists")
                q = Quantifier.Exists;
            else if (t.Text == "forall")
                q = Quantifier.Forall;
            else if (t.Text == "~" && c.PeekAt(1).Text == "exists")
            {
                c.Next();
                q = Quantifier.NotExists;
            }
            else
                throw new LitmusParseException($"expected exists, ~exists, forall, filter or locations, got {t}");

            c.Next();
            var prop = ReadProp(c, b);
            c.Accept(";");
            if (c.Peek.Kind != TokKind.End)
                throw new LitmusParseException($"unexpected {c.Peek} after the final condition");
            return (q, prop, filter);
        }
    }

    private static Prop ReadProp(Cursor c, Builder b)
    {
        var left = ReadConj(c, b);
        while (c.Accept("\\/"))
            left = new OrProp(left, ReadConj(c, b));
        if (c.Accept("==>"))
            throw new LitmusUnsupportedException("'==>' in a condition");
        return left;
    }

    private static Prop ReadConj(Cursor c, Builder b)
    {
        var left = ReadUnary(c, b);
        while (c.Accept("/\\"))
            left = new AndProp(left, ReadUnary(c, b));
        return left;
    }

    private static Prop ReadUnary(Cursor c, Builder b)
    {
        if (c.Accept("~") || c.Accept("not"))
            return new NotProp(ReadUnary(c, b));
        if (c.Accept("true"))
            return new TrueProp(true);
        if (c.Accept("false"))
            return new TrueProp(false);
        if (c.Accept("("))
        {
            var p = ReadProp(c, b);
            c.Expect(")");
            return p;
        }

        var thread = -1;
        string name;
        if (TryReadThreadPrefix(c) is { } th0)
        {
            thread = th0;
            name = c.ExpectIdent();
        }
        else
        {
            if (c.Accept("*"))
                throw new LitmusUnsupportedException("'*' in the final condition");
            name = ReadGlobalName(c);
            if (c.Accept("["))
            {
                var k = Tokenizer.ParseNumber(c.Next());
                c.Expect("]");
                name = k == 0 ? name : $"{name}[{k}]";
            }

            b.Loc(name);
        }

        var negated = false;
        if (c.Accept("!="))
            negated = true;
        else if (!c.Accept("=") && !c.Accept("=="))
            throw new LitmusParseException($"expected '=' in the condition, got {c.Peek}");
        if (TryReadThreadPrefix(c) is { } th)
            return new EqProp(thread, name, 0, negated, (th, c.ExpectIdent()));

        return new EqProp(thread, name, ReadValue(c, b), negated);
    }

    /// <summary>A register's thread: "1:" or herd's "P1:" spelling of it.</summary>
    internal static int? TryReadThreadPrefix(Cursor c)
    {
        if (c.PeekAt(1).Text != ":")
            return null;
        if (c.Peek.Kind == TokKind.Number)
        {
            var th = (int)Tokenizer.ParseNumber(c.Next());
            c.Next();
            return th;
        }

        if (c.Peek.Kind == TokKind.Ident && ThreadName().IsMatch(c.Peek.Text))
        {
            var th = int.Parse(c.Next().Text[1..], System.Globalization.CultureInfo.InvariantCulture);
            c.Next();
            return th;
        }

        return null;
    }

    /// <summary>A shared location: "x", or herd's bracketed "[x]".</summary>
    internal static string ReadGlobalName(Cursor c)
    {
        if (!c.Accept("["))
            return c.ExpectIdent();
        var name = c.ExpectIdent();
        c.Expect("]");
        return name;
    }

    [GeneratedRegex(@"^P\d+$")]
    private static partial Regex ThreadName();

    /// <summary>A number, or a location name / &amp;name for its address.</summary>
    internal static long ReadValue(Cursor c, Builder b)
    {
        var neg = c.Accept("-");
        if (c.Peek.Kind == TokKind.Number)
        {
            var v = Tokenizer.ParseNumber(c.Next());
            return neg ? -v : v;
        }

        c.Accept("&");
        var name = c.ExpectIdent();
        return b.Address(name);
    }

    internal sealed class Cursor(List<Token> tokens)
    {
        private int _pos;

        public Token Peek => tokens[_pos];

        public Token PeekAt(int k) => tokens[Math.Min(_pos + k, tokens.Count - 1)];

        public Token Next()
        {
            var t = tokens[_pos];
            if (_pos < tokens.Count - 1)
                _pos++;
            return t;
        }

        public bool Accept(string text)
        {
            if (Peek.Kind == TokKind.End || Peek.Text != text)
                return false;
            Next();
            return true;
        }

        public void Expect(string text)
        {
            if (!Accept(text))
                throw new LitmusParseException($"expected '{text}', got {Peek}");
        }

        public string ExpectIdent()
        {
            if (Peek.Kind != TokKind.Ident)
                throw new LitmusParseException($"expected a name, got {Peek}");
            return Next().Text;
        }
    }

    /// <summary>The C format: init block, P0..Pn functions, final clauses.</summary>
    private sealed class CReader(List<Token> tokens, string name, string? result)
    {
        private readonly Cursor _c = new(tokens);
        private readonly Builder _b = new();

        public LitmusTest Read()
        {
            _c.Expect("{");
            while (!_c.Accept("}"))
                ReadInitItem();
            var threads = new List<ThreadCode>();
            while (true)
            {
                while (_c.Peek.Text is "void" or "static")
                    _c.Next();
                if (_c.Peek.Kind != TokKind.Ident || !ThreadName().IsMatch(_c.Peek.Text))
                    break;
                threads.Add(ReadThread(threads.Count));
            }

            if (threads.Count == 0)
                throw new LitmusParseException($"no thread functions P0(...) found (at {_c.Peek})");
            var (q, prop, filter) = ReadFinal(_c, _b);
            return new LitmusTest
            {
                Name = name, Format = "C", Result = result, Locations = _b.Locations, InitialValues = _b.Init,
                Threads = threads.Select(t => t with { InitialRegisters = _b.RegInit.GetValueOrDefault(t.Index) ?? new Dictionary<string, long>() }).ToList(),
                Quantifier = q, Condition = prop, Filter = filter,
            };
        }

        /// <summary>
        /// One item of the initial state, in the forms of herd7's state grammar (herdtools7
        /// lib/stateParser.mly): an optional type (any names, so typedefs too, and stars), then
        /// a location (x, [x], 1:r0, P1:r0, or an array x[N]), then optionally "=" and a value
        /// (a number, a location standing for its address, &amp;x, or ATOMIC_INIT(v)).
        /// </summary>
        private void ReadInitItem()
        {
            if (_c.Accept(";"))
                return;
            // A name is a type when another name, a star, a register or [x] follows it (not "=", ";" or x's [N]).
            while (_c.Peek.Kind == TokKind.Ident && _c.PeekAt(1).Text != ":"
                   && (_c.PeekAt(1).Kind is TokKind.Ident or TokKind.Number || _c.PeekAt(1).Text == "*"
                       || _c.PeekAt(1).Text == "[" && _c.PeekAt(2).Kind == TokKind.Ident))
            {
                _c.Next();
                while (_c.Accept("*"))
                {
                }
            }

            while (_c.Accept("*"))
            {
            }

            if (TryReadThreadPrefix(_c) is { } th)
            {
                var reg = _c.ExpectIdent();
                if (_c.Accept("="))
                {
                    var v = ReadInitValue();
                    if (!_b.RegInit.TryGetValue(th, out var regs))
                        _b.RegInit[th] = regs = new Dictionary<string, long>(StringComparer.Ordinal);
                    regs[reg] = v;
                }

                EndInitItem();
                return;
            }

            var var = ReadGlobalName(_c);
            var size = 1;
            if (_c.Accept("["))
            {
                size = (int)Tokenizer.ParseNumber(_c.Next());
                _c.Expect("]");
            }

            var loc = _b.Loc(var, size);
            if (_c.Accept("="))
            {
                if (_c.Peek.Text == "{")
                    throw new LitmusUnsupportedException("array initialiser");
                _b.Init[loc] = ReadInitValue();
            }

            EndInitItem();
        }

        private long ReadInitValue()
        {
            if (!_c.Accept("ATOMIC_INIT"))
                return ReadValue(_c, _b);
            _c.Expect("(");
            var v = ReadValue(_c, _b);
            _c.Expect(")");
            return v;
        }

        private void EndInitItem()
        {
            if (!_c.Accept(";") && _c.Peek.Text != "}")
                throw new LitmusParseException($"expected ';' in the initial state, got {_c.Peek}");
        }

        /// <summary>Skips a declaration's type: words like int/unsigned/struct X and the stars.</summary>
        private void SkipType()
        {
            while (_c.Peek.Kind == TokKind.Ident && IsTypeWord(_c.Peek.Text) && _c.PeekAt(1).Kind == TokKind.Ident
                   || _c.Peek.Kind == TokKind.Ident && IsTypeWord(_c.Peek.Text) && _c.PeekAt(1).Text == "*")
            {
                var w = _c.Next().Text;
                if (w == "struct")
                    _c.ExpectIdent();
                while (_c.Accept("*"))
                {
                }
            }

            while (_c.Accept("*"))
            {
            }
        }

        /// <summary>
        /// A cast's type, up to its ')': herd7 reads "(typ) e" as e (CParser.mly's CAST rule), and
        /// so does kmc, since values are untyped: "(intptr_t)r1", "(int)r1", "(int *)x", "(struct s *)p".
        /// </summary>
        private void SkipCastType()
        {
            while (_c.Peek.Text != ")")
            {
                var t = _c.Next();
                if (t.Text == "*" || t.Kind == TokKind.Ident && IsTypeWord(t.Text))
                {
                    if (t.Text == "struct")
                        _c.ExpectIdent();
                    continue;
                }

                throw new LitmusParseException($"unexpected {t} in a cast's type");
            }
        }

        private ThreadCode ReadThread(int expected)
        {
            var fn = _c.ExpectIdent();
            if (!int.TryParse(fn.AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var index) || index != expected)
                throw new LitmusParseException($"thread {fn} out of order (expected P{expected})");
            _c.Expect("(");
            while (!_c.Accept(")"))
            {
                SkipType();
                var param = _c.ExpectIdent();
                _b.Loc(param);
                _c.Accept(",");
            }

            var body = ReadBlock();
            return new ThreadCode(index, body.Body, new Dictionary<string, long>());
        }

        private BlockStmt ReadBlock()
        {
            _c.Expect("{");
            var body = new List<Stmt>();
            while (!_c.Accept("}"))
            {
                if (_c.Peek.Kind == TokKind.End)
                    throw new LitmusParseException("unterminated block");
                body.AddRange(ReadStmt());
            }

            return new BlockStmt(body);
        }

        private IEnumerable<Stmt> ReadStmt()
        {
            var t = _c.Peek;
            if (t.Text == "{")
                return [ReadBlock()];
            if (t.Text == ";")
            {
                _c.Next();
                return [];
            }

            if (t.Kind == TokKind.Ident)
            {
                switch (t.Text)
                {
                    case "if":
                    {
                        _c.Next();
                        _c.Expect("(");
                        var cond = ReadExpr();
                        _c.Expect(")");
                        var then = Single(ReadStmt());
                        Stmt? els = null;
                        if (_c.Accept("else"))
                            els = Single(ReadStmt());
                        return [new IfStmt(cond, then, els)];
                    }

                    case "while" or "for" or "do":
                        return [ReadLoop()];
                    case "goto" or "return" or "switch" or "break" or "continue":
                        throw new LitmusUnsupportedException($"'{t.Text}' statement");
                }

                if (IsTypeWord(t.Text) && t.Text != "void")
                    return ReadDecl();
            }

            var s = ReadSimple();
            _c.Expect(";");
            return [s];
        }

        /// <summary>An expression statement or assignment, without its ';' (a for loop's step has none).</summary>
        private Stmt ReadSimple()
        {
            var e = ReadExpr();
            if (_c.Accept("="))
                return new AssignStmt(e, ReadExpr());
            if (_c.Peek.Text is "+=" or "-=" or "|=" or "&=" or "^=")
            {
                var op = _c.Next().Text[..1];
                return new AssignStmt(e, new BinaryExpr(op, e, ReadExpr()));
            }

            if (_c.Peek.Text is "++" or "--")
            {
                var op = _c.Next().Text[..1];
                return new AssignStmt(e, new BinaryExpr(op, e, new ConstExpr(1)));
            }

            return new ExprStmt(e);
        }

        /// <summary>while (c) s; do s while (c); for (init; c; step) s.</summary>
        private LoopStmt ReadLoop()
        {
            var keyword = _c.Next().Text;
            if (keyword == "do")
            {
                var body = Single(ReadStmt());
                if (_c.Peek.Text != "while")
                    throw new LitmusParseException($"expected 'while' after a do loop's body, got {_c.Peek}");
                _c.Next();
                _c.Expect("(");
                var c = ReadExpr();
                _c.Expect(")");
                _c.Expect(";");
                return new LoopStmt(keyword, null, c, null, body, TestFirst: false);
            }

            _c.Expect("(");
            if (keyword == "while")
            {
                var c = ReadExpr();
                _c.Expect(")");
                return new LoopStmt(keyword, null, c, null, Single(ReadStmt()), TestFirst: true);
            }

            var init = _c.Peek.Text == ";" ? null : Single(ReadStmt());
            if (init == null)
                _c.Next();
            var cond = _c.Peek.Text == ";" ? null : ReadExpr();
            _c.Expect(";");
            var step = _c.Peek.Text == ")" ? null : ReadSimple();
            _c.Expect(")");
            return new LoopStmt(keyword, init, cond, step, Single(ReadStmt()), TestFirst: true);
        }

        private static Stmt Single(IEnumerable<Stmt> s)
        {
            var l = s.ToList();
            return l.Count == 1 ? l[0] : new BlockStmt(l);
        }

        private List<Stmt> ReadDecl()
        {
            var list = new List<Stmt>();
            SkipType();
            while (true)
            {
                while (_c.Accept("*"))
                {
                }

                var reg = _c.ExpectIdent();
                if (_c.Peek.Text == "[")
                    throw new LitmusUnsupportedException("local array");
                list.Add(_c.Accept("=") ? new AssignStmt(new NameExpr(reg), ReadExpr()) : new DeclStmt(reg));
                if (!_c.Accept(","))
                    break;
            }

            _c.Expect(";");
            return list;
        }

        private Expr ReadExpr()
        {
            var cond = ReadBinary(0);
            if (!_c.Accept("?"))
                return cond;
            var a = ReadExpr();
            _c.Expect(":");
            return new CondExpr(cond, a, ReadExpr());
        }

        private static readonly string[][] s_levels =
        [
            ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", ">", "<=", ">="], ["<<", ">>"], ["+", "-"], ["*", "/", "%"],
        ];

        private Expr ReadBinary(int level)
        {
            if (level == s_levels.Length)
                return ReadUnaryExpr();
            var left = ReadBinary(level + 1);
            while (_c.Peek.Kind == TokKind.Punct && s_levels[level].Contains(_c.Peek.Text))
            {
                var op = _c.Next().Text;
                left = new BinaryExpr(op, left, ReadBinary(level + 1));
            }

            return left;
        }

        private Expr ReadUnaryExpr()
        {
            var t = _c.Peek;
            if (t.Kind == TokKind.Punct)
            {
                switch (t.Text)
                {
                    case "*":
                        _c.Next();
                        return new DerefExpr(ReadUnaryExpr());
                    case "&":
                        _c.Next();
                        return new AddrOfExpr(ReadUnaryExpr());
                    case "!" or "~" or "-" or "+":
                        _c.Next();
                        return new UnaryExpr(t.Text, ReadUnaryExpr());
                    case "(" when _c.PeekAt(1).Kind == TokKind.Ident && IsTypeWord(_c.PeekAt(1).Text):
                        _c.Next();
                        SkipCastType();
                        _c.Expect(")");
                        return ReadUnaryExpr();
                }
            }

            return ReadPostfix(ReadPrimary());
        }

        private Expr ReadPostfix(Expr e)
        {
            while (true)
            {
                if (_c.Accept("["))
                {
                    var i = ReadExpr();
                    _c.Expect("]");
                    e = new DerefExpr(new BinaryExpr("+", e, i));
                }
                else if (_c.Peek.Text is "->" or ".")
                    throw new LitmusUnsupportedException("struct member access");
                else
                    return e;
            }
        }

        private Expr ReadPrimary()
        {
            var t = _c.Next();
            switch (t.Kind)
            {
                case TokKind.Number:
                    return new ConstExpr(Tokenizer.ParseNumber(t));
                case TokKind.Ident when _c.Peek.Text == "(":
                {
                    _c.Next();
                    var args = new List<Expr>();
                    while (!_c.Accept(")"))
                    {
                        args.Add(ReadExpr());
                        if (!_c.Accept(",") && _c.Peek.Text != ")")
                            throw new LitmusParseException($"expected ',' or ')' in the arguments of {t.Text}, got {_c.Peek}");
                    }

                    return new CallExpr(t.Text, args);
                }

                case TokKind.Ident:
                    return t.Text switch
                    {
                        "true" => new ConstExpr(1),
                        "false" => new ConstExpr(0),
                        "NULL" => new ConstExpr(0),
                        _ => new NameExpr(t.Text),
                    };
                case TokKind.Punct when t.Text == "(":
                {
                    var e = ReadExpr();
                    _c.Expect(")");
                    return e;
                }

                default:
                    throw new LitmusParseException($"unexpected {t} in an expression");
            }
        }
    }
}
