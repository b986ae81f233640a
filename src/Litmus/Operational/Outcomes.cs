using System.Text.RegularExpressions;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>A register of a thread, or (Thread = -1) the final value of a shared location.</summary>
public sealed record OutcomeVar(int Thread, string Name)
{
    public override string ToString() => Thread < 0 ? Name : $"{Thread}:{Name}";
}

/// <summary>One final state, projected on the variables of an <see cref="OutcomeSpace"/>.</summary>
public sealed class Outcome : IEquatable<Outcome>
{
    private readonly long[] _values;

    public Outcome(long[] values) => _values = values;

    public IReadOnlyList<long> Values => _values;

    public bool Equals(Outcome? other) => other != null && _values.AsSpan().SequenceEqual(other._values);

    public override bool Equals(object? obj) => Equals(obj as Outcome);

    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var v in _values)
            h.Add(v);
        return h.ToHashCode();
    }
}

/// <summary>
/// What an outcome is made of: the registers and locations the final condition and filter name,
/// plus a <c>locations [...]</c> clause's (herd prints those too). Two engines' outcome sets
/// are compared in this space.
/// </summary>
public sealed partial class OutcomeSpace
{
    private readonly Dictionary<OutcomeVar, int> _index = new();

    private OutcomeSpace(LitmusTest test, IReadOnlyList<OutcomeVar> vars)
    {
        Test = test;
        Vars = vars;
        for (var i = 0; i < vars.Count; i++)
            _index[vars[i]] = i;
    }

    public LitmusTest Test { get; }
    public IReadOnlyList<OutcomeVar> Vars { get; }

    public static OutcomeSpace Of(LitmusTest test, IEnumerable<OutcomeVar>? extra = null)
    {
        var vars = new List<OutcomeVar>();
        void Add(OutcomeVar v)
        {
            if (v.Thread >= test.Threads.Count)
                throw new LitmusParseException($"the condition names thread {v.Thread}, which does not exist");
            if (v.Thread < 0)
                test.LocationIndex(v.Name);
            if (!vars.Contains(v))
                vars.Add(v);
        }

        // A locations clause may name what the threads never touch; herd ignores those too.
        bool Known(OutcomeVar v) => v.Thread < test.Threads.Count && (v.Thread >= 0 || test.Locations.Any(l => l.Name == v.Name));

        void Walk(Prop? p)
        {
            switch (p)
            {
                case NotProp n:
                    Walk(n.Inner);
                    break;
                case AndProp a:
                    Walk(a.Left);
                    Walk(a.Right);
                    break;
                case OrProp o:
                    Walk(o.Left);
                    Walk(o.Right);
                    break;
                case EqProp e:
                    Add(new OutcomeVar(e.Thread, e.Name));
                    if (e.Other is { } other)
                        Add(new OutcomeVar(other.Thread, other.Name));
                    break;
            }
        }

        Walk(test.Condition);
        Walk(test.Filter);
        foreach (var v in extra ?? [])
        {
            if (Known(v))
                Add(v);
        }
        return new OutcomeSpace(test, vars);
    }

    public static OutcomeSpace OfFile(LitmusTest test, string path) => Of(test, LocationsClause(File.ReadAllText(path)));

    [GeneratedRegex(@"^\s*locations\s*\[([^\]]*)\]", RegexOptions.Multiline)]
    private static partial Regex LocationsLine();

    [GeneratedRegex(@"^(?:(\d+):)?\s*([A-Za-z_]\w*)(?:\[(\d+)\])?$")]
    private static partial Regex LocationsItem();

    /// <summary>The variables of a <c>locations [0:r1; x;]</c> clause (the parser skips it); unreadable items are ignored.</summary>
    public static IEnumerable<OutcomeVar> LocationsClause(string text)
    {
        foreach (Match m in LocationsLine().Matches(text))
        {
            foreach (var item in m.Groups[1].Value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var im = LocationsItem().Match(item);
                if (!im.Success)
                    continue;
                var name = im.Groups[2].Value + (im.Groups[3].Success && im.Groups[3].Value != "0" ? $"[{im.Groups[3].Value}]" : "");
                yield return new OutcomeVar(im.Groups[1].Success ? int.Parse(im.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1, name);
            }
        }
    }

    public Outcome Make(Func<OutcomeVar, long> value)
    {
        var values = new long[Vars.Count];
        for (var i = 0; i < values.Length; i++)
            values[i] = value(Vars[i]);
        return new Outcome(values);
    }

    /// <summary>The final state of an execution the axiomatic engine allowed.</summary>
    public Outcome Of(CandidateExecution x, IReadOnlyList<ThreadRun> runs) => Make(v =>
        v.Thread < 0 ? x.FinalValue(Test.LocationIndex(v.Name))
        : runs[v.Thread].Registers.TryGetValue(v.Name, out var r) ? r : 0);

    public bool Satisfies(Outcome o) => Holds(Test.Condition, o);

    /// <summary>herd drops executions the filter rejects before it looks at the condition.</summary>
    public bool Kept(Outcome o) => Test.Filter == null || Holds(Test.Filter, o);

    private bool Holds(Prop p, Outcome o) => p switch
    {
        TrueProp t => t.Value,
        NotProp n => !Holds(n.Inner, o),
        AndProp a => Holds(a.Left, o) && Holds(a.Right, o),
        OrProp or => Holds(or.Left, o) || Holds(or.Right, o),
        EqProp e => (Value(o, e.Thread, e.Name) == (e.Other is { } x ? Value(o, x.Thread, x.Name) : e.Value)) != e.Negated,
        _ => throw new LitmusUnsupportedException(p.GetType().Name),
    };

    private long Value(Outcome o, int thread, string name) => o.Values[_index[new OutcomeVar(thread, name)]];

    public string Format(Outcome o) =>
        string.Join(" ", Vars.Select((v, i) => $"{v}={Test.FormatValue(o.Values[i])}"));

    /// <summary>Outcomes in a stable order (by their values) for reports and tests.</summary>
    public IEnumerable<string> Show(IEnumerable<Outcome> outcomes) =>
        outcomes.Select(o => (o, s: Format(o))).OrderBy(p => p.s, StringComparer.Ordinal).Select(p => p.s);

    /// <summary>herd's answer for the condition over a set of outcomes (DEADLOCK when none completes).</summary>
    public string Verdict(IReadOnlyCollection<Outcome> outcomes)
    {
        var some = outcomes.Any(Satisfies);
        var fail = outcomes.Any(o => !Satisfies(o));
        return !some && !fail ? "DEADLOCK" : !some ? "Never" : !fail ? "Always" : "Sometimes";
    }
}

/// <summary>The axiomatic engine's outcome set: the final states of every execution the model allows.</summary>
public static class AxiomaticOutcomes
{
    public sealed record Result(HashSet<Outcome> Outcomes, bool DataRace, bool TimedOut, bool SelfDeadlock, long Allowed, long Candidates);

    public static Result Collect(LitmusTest test, OutcomeSpace space, string model, TimeSpan? timeout) =>
        Collect(test, space, LitmusModels.Get(model), timeout);

    public static Result Collect(LitmusTest test, OutcomeSpace space, ILitmusModel model, TimeSpan? timeout)
    {
        var set = new HashSet<Outcome>();
        var obs = LitmusEngine.Run(test, model, timeout, everyExecution: true, (x, runs) => set.Add(space.Of(x, runs)));
        return new Result(set, obs.DataRace, obs.TimedOut, obs.SelfDeadlock, obs.Allowed, obs.Candidates);
    }
}

/// <summary>
/// A model without load buffering: the executions of <paramref name="inner"/> in which no load
/// reads a store that depends, through program order and reads-from, on the load itself
/// (acyclic po | rf). An outcome the LKMM allows and this forbids needs a load to be satisfied
/// by a store that has not executed yet, which the operational models never do: that sorts
/// their missed outcomes by cause.
/// </summary>
public sealed class NoLoadBuffering(ILitmusModel inner) : ILitmusModel
{
    public string Name => $"{inner.Name} without load buffering";

    public bool Allows(CandidateExecution x, out bool dataRace)
    {
        dataRace = false;
        return Acyclic(x) && inner.Allows(x, out dataRace);
    }

    public bool MayAllowRf(CandidateExecution x) => Acyclic(x) && inner.MayAllowRf(x);

    private static bool Acyclic(CandidateExecution x) => (x.Po.Between(x.M, x.M) | x.Rf).Acyclic();
}
