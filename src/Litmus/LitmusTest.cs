namespace Kmc.Checks.Litmus;

/// <summary>A construct the engine does not model; the file is reported as unsupported, naming it.</summary>
public sealed class LitmusUnsupportedException(string construct) : Exception(construct)
{
    public string Construct { get; } = construct;
}

/// <summary>The file is not a well-formed litmus test; reported per file as a parse error.</summary>
public sealed class LitmusParseException(string message) : Exception(message);

/// <summary>
/// Values are 64-bit integers; the address of shared location i is <see cref="AddrBase"/> + i,
/// so pointers compare and print as location names, and SRCU cookies live in their own range.
/// </summary>
public static class Values
{
    public const long AddrBase = 1L << 40;
    public const long CookieBase = 1L << 50;

    public static bool IsAddress(long v) => v >= AddrBase && v < CookieBase;
}

public abstract record Expr;

public sealed record ConstExpr(long Value) : Expr;

/// <summary>A register, or the name of a shared location (its address).</summary>
public sealed record NameExpr(string Name) : Expr;

/// <summary>*e as an rvalue is a plain load; as an lvalue the location e points to.</summary>
public sealed record DerefExpr(Expr Pointer) : Expr;

public sealed record AddrOfExpr(Expr Target) : Expr;

public sealed record UnaryExpr(string Op, Expr Operand) : Expr;

public sealed record BinaryExpr(string Op, Expr Left, Expr Right) : Expr;

public sealed record CondExpr(Expr Cond, Expr Then, Expr Else) : Expr;

public sealed record CallExpr(string Name, IReadOnlyList<Expr> Args) : Expr;

public abstract record Stmt;

public sealed record BlockStmt(IReadOnlyList<Stmt> Body) : Stmt;

public sealed record ExprStmt(Expr Expr) : Stmt;

public sealed record AssignStmt(Expr Target, Expr Value) : Stmt;

public sealed record IfStmt(Expr Cond, Stmt Then, Stmt? Else) : Stmt;

/// <summary>
/// A C loop: for's init runs once, then (after the body first, for do) the condition is tested
/// before each iteration and the step runs after it. A missing condition is true.
/// </summary>
public sealed record LoopStmt(string Keyword, Stmt? Init, Expr? Cond, Stmt? Step, Stmt Body, bool TestFirst) : Stmt;

/// <summary>LISA's label, the target of a forward branch.</summary>
public sealed record LabelStmt(string Name) : Stmt;

/// <summary>A register declared without a value: 0, unless the initial state gave it one.</summary>
public sealed record DeclStmt(string Name) : Stmt;

/// <summary>LISA's b[] r L: jump forward to L when the value is non-zero (a control dependency).</summary>
public sealed record BranchStmt(Expr Cond, string Label) : Stmt;

public sealed record ThreadCode(int Index, IReadOnlyList<Stmt> Body, IReadOnlyDictionary<string, long> InitialRegisters)
{
    /// <summary>Where a taken branch at <paramref name="pc"/> lands: its label, which must come later (LISA branches only skip forward).</summary>
    public int BranchTarget(int pc, string label)
    {
        for (var k = pc + 1; k < Body.Count; k++)
        {
            if (Body[k] is LabelStmt l && l.Name == label)
                return k;
        }

        throw new LitmusUnsupportedException($"branch to '{label}' (backward or missing label)");
    }
}

/// <summary>A shared location; arrays occupy consecutive locations.</summary>
public sealed record Location(int Index, string Name);

public abstract record Prop;

public sealed record TrueProp(bool Value) : Prop;

public sealed record NotProp(Prop Inner) : Prop;

public sealed record AndProp(Prop Left, Prop Right) : Prop;

public sealed record OrProp(Prop Left, Prop Right) : Prop;

/// <summary>
/// A register (Thread &gt;= 0) or the final value of a location (Thread = -1) equals a constant,
/// or, when <paramref name="Other"/> is set, another register or location.
/// </summary>
public sealed record EqProp(int Thread, string Name, long Value, bool Negated = false, (int Thread, string Name)? Other = null) : Prop;

public enum Quantifier
{
    Exists,
    NotExists,
    Forall,
}

public sealed record LitmusTest
{
    public required string Name { get; init; }
    public required string Format { get; init; }
    public required string? Result { get; init; }
    public required IReadOnlyList<Location> Locations { get; init; }
    public required IReadOnlyDictionary<int, long> InitialValues { get; init; }
    public required IReadOnlyList<ThreadCode> Threads { get; init; }
    public required Quantifier Quantifier { get; init; }
    public required Prop Condition { get; init; }
    public Prop? Filter { get; init; }

    public int LocationIndex(string name) =>
        Locations.FirstOrDefault(l => l.Name == name)?.Index ?? throw new LitmusParseException($"unknown location '{name}'");

    public string FormatValue(long v)
    {
        if (Values.IsAddress(v))
        {
            var i = (int)(v - Values.AddrBase);
            return i < Locations.Count ? Locations[i].Name : v.ToString();
        }

        return v.ToString();
    }
}
