// Dynamic fault injection, after the bcachefs series' "Dynamic fault injection" patch
// (lib/dynamic_fault.c, include/linux/dynamic_fault.h, 2016-2021 era; Adam Berkan's design based
// on dynamic_debug.c), as a facility of the simulated kernel.
//
// * A site is one textual use of DynamicFault()/RaceFault() or of an allocator (KmallocOrNull,
//   Kmalloc...): identified by file:line (CallerFilePath is repo-relative through the build's
//   PathMap), with its function, module (the source folder) and class ("memory", "race", ...).
//   C# has no linker section to enumerate descriptors, so a site is registered the first time an
//   execution reaches it (FaultInjector.Seen); `kmc faults list` runs the scenario to find them.
// * Control is the patch's query language (FaultQuery): selectors file/line/func/module/name/class
//   and the actions disable/enable/oneshot/frequency N, plus kmc's `choose`: the explorer decides
//   at each hit whether the site fires, as a recorded choice, so the decision replays.
// * Per-site state (count, oneshot) lives in the execution, so every execution starts afresh and
//   the same schedule gives the same faults.
using System.Runtime.CompilerServices;
using System.Text;

namespace Kmc.Models;

/// <summary>One fault site: where it is in the model code and what class of fault it injects.</summary>
public sealed record FaultSite(string Name, string Class, string File, int Line, string Function, string Module)
{
    public string Where => $"{File}:{Line}";

    /// <summary>A query that selects exactly this site.</summary>
    public string Selector => $"file {File} line {Line}";

    internal static FaultSite Of(string name, string cls, string fn, string file, int line)
    {
        file = file.Replace('\\', '/');
        if (file.StartsWith("./", StringComparison.Ordinal))
            file = file[2..];
        var dir = Path.GetFileName(Path.GetDirectoryName(file) ?? "") ?? "";
        return new FaultSite(name, cls, file, line, fn, dir.ToLowerInvariant());
    }
}

/// <summary>The patch's per-site enable state (enum dfault_enabled).</summary>
public enum FaultEnabled { Disabled, Enabled, Oneshot }

/// <summary>What a query command does to the sites it selects.</summary>
public sealed record FaultAction(FaultEnabled Enabled, int Frequency, bool Choose)
{
    public override string ToString()
    {
        var parts = new List<string> { Enabled.ToString().ToLowerInvariant() };
        if (Frequency > 0)
            parts.Add($"frequency {Frequency}");
        if (Choose)
            parts.Add("choose");
        return string.Join(' ', parts);
    }
}

/// <summary>One command of a query: selectors (all must match) and the action for matching sites.</summary>
public sealed record FaultCommand(
    string? File, string? Function, string? Module, string? Name, string? Class, int LineFrom, int LineTo, FaultAction Action)
{
    public bool Matches(FaultSite s) =>
        (File == null || Glob(File, s.File) || Glob(File, Path.GetFileName(s.File)))
        && (Function == null || Glob(Function, s.Function))
        && (Module == null || Glob(Module, s.Module))
        && (Name == null || Glob(Name, s.Name))
        && (Class == null || s.Class == Class || s.Class.StartsWith(Class + ":", StringComparison.Ordinal))
        && s.Line >= LineFrom && s.Line <= LineTo;

    /// <summary>'*' matches any run of characters, as dynamic debug's func/file globs.</summary>
    internal static bool Glob(string pattern, string text)
    {
        if (!pattern.Contains('*'))
            return string.Equals(pattern, text, StringComparison.Ordinal);
        var parts = pattern.Split('*');
        if (!text.StartsWith(parts[0], StringComparison.Ordinal))
            return false;
        var pos = parts[0].Length;
        for (var i = 1; i < parts.Length - 1; i++)
        {
            var at = text.IndexOf(parts[i], pos, StringComparison.Ordinal);
            if (at < 0)
                return false;
            pos = at + parts[i].Length;
        }

        return text.Length - pos >= parts[^1].Length && text.EndsWith(parts[^1], StringComparison.Ordinal);
    }
}

/// <summary>A malformed fault query.</summary>
public sealed class FaultQueryException(string message) : FormatException(message);

/// <summary>
/// A parsed fault query: commands separated by ';' or newlines, applied in order (the last
/// command that selects a site decides its state). Grammar of a command, as the patch's control
/// file: words, optionally quoted, that are keyword/value pairs:
/// <c>file F | func F | module M | name N | class C | line N | line A-B</c> (selectors) and
/// <c>enable | always | disable | off | oneshot | frequency N | choose</c> (actions).
/// </summary>
public sealed class FaultQuery
{
    private FaultQuery(string text, IReadOnlyList<FaultCommand> commands)
    {
        Text = text;
        Commands = commands;
    }

    public string Text { get; }
    public IReadOnlyList<FaultCommand> Commands { get; }

    public static readonly FaultQuery None = new("", []);

    public override string ToString() => Text;

    /// <summary>The action of the last command that selects the site, or null (the site is off).</summary>
    public FaultAction? ActionFor(FaultSite site)
    {
        for (var i = Commands.Count - 1; i >= 0; i--)
        {
            if (Commands[i].Matches(site))
                return Commands[i].Action.Enabled == FaultEnabled.Disabled ? null : Commands[i].Action;
        }

        return null;
    }

    public static FaultQuery Parse(string text)
    {
        var commands = new List<FaultCommand>();
        foreach (var raw in text.Split([';', '\n']))
        {
            var words = Words(raw);
            if (words.Count == 0)
                continue;
            commands.Add(ParseCommand(words, raw.Trim()));
        }

        return new FaultQuery(text.Trim(), commands);
    }

    private static FaultCommand ParseCommand(List<string> words, string raw)
    {
        string? file = null, func = null, module = null, name = null, cls = null;
        int lineFrom = 0, lineTo = int.MaxValue;
        FaultEnabled? enabled = null;
        var frequency = 0;
        var choose = false;
        for (var i = 0; i < words.Count; i++)
        {
            var w = words[i];
            string Value()
            {
                if (i + 1 >= words.Count)
                    throw new FaultQueryException($"fault query '{raw}': '{w}' needs a value");
                return words[++i];
            }

            switch (w)
            {
                case "file": file = Value(); break;
                case "func": func = Value(); break;
                case "module": module = Value(); break;
                case "name": name = Value(); break;
                case "class": cls = Value(); break;
                case "line":
                    (lineFrom, lineTo) = ParseLines(Value(), raw);
                    break;
                case "enable" or "always" or "on":
                    enabled = FaultEnabled.Enabled;
                    break;
                case "disable" or "off":
                    enabled = FaultEnabled.Disabled;
                    break;
                case "oneshot":
                    enabled = FaultEnabled.Oneshot;
                    break;
                case "frequency":
                {
                    var v = Value();
                    if (!int.TryParse(v, out frequency) || frequency < 0)
                        throw new FaultQueryException($"fault query '{raw}': frequency '{v}' is not a non-negative number");
                    break;
                }

                case "choose":
                    choose = true;
                    break;
                default:
                    throw new FaultQueryException(
                        $"fault query '{raw}': unknown word '{w}' (selectors: file, func, module, name, class, line; actions: enable, disable, oneshot, frequency N, choose)");
            }
        }

        // As in the patch, "frequency N" implies enable unless another action word was given; so does "choose".
        if (enabled == null && (frequency > 0 || choose))
            enabled = FaultEnabled.Enabled;
        if (enabled == null)
            throw new FaultQueryException($"fault query '{raw}': no action (enable, disable, oneshot, frequency N or choose)");
        return new FaultCommand(file, func, module, name, cls, lineFrom, lineTo, new FaultAction(enabled.Value, frequency, choose));
    }

    private static (int, int) ParseLines(string v, string raw)
    {
        var dash = v.IndexOf('-');
        if (dash < 0)
        {
            if (int.TryParse(v, out var n) && n > 0)
                return (n, n);
        }
        else if (int.TryParse(v[..dash], out var a) && int.TryParse(v[(dash + 1)..], out var b) && a > 0 && b >= a)
        {
            return (a, b);
        }

        throw new FaultQueryException($"fault query '{raw}': line '{v}' is not N or A-B");
    }

    /// <summary>Whitespace-separated words; '...' and "..." quote words with spaces.</summary>
    private static List<string> Words(string s)
    {
        var words = new List<string>();
        var i = 0;
        while (i < s.Length)
        {
            if (char.IsWhiteSpace(s[i]))
            {
                i++;
                continue;
            }

            if (s[i] is '\'' or '"')
            {
                var q = s[i];
                var end = s.IndexOf(q, i + 1);
                if (end < 0)
                    throw new FaultQueryException($"fault query '{s.Trim()}': unterminated quote");
                words.Add(s[(i + 1)..end]);
                i = end + 1;
                continue;
            }

            var start = i;
            while (i < s.Length && !char.IsWhiteSpace(s[i]))
                i++;
            words.Add(s[start..i]);
        }

        return words;
    }
}

/// <summary>
/// The fault state of one execution: the query, each site's counter, and the sites reached (in
/// the order they were first reached), which is how `kmc faults list` discovers them.
/// </summary>
public sealed class FaultInjector
{
    private static readonly ConditionalWeakTable<Execution, FaultInjector> s_attached = new();

    private readonly Dictionary<(string File, int Line), (FaultSite Site, SiteState State)> _sites = new();
    private readonly List<FaultSite> _seen = new();
    private readonly HashSet<SimTask> _yielding = new();

    public FaultInjector(FaultQuery query) => Query = query;

    public FaultQuery Query { get; }

    /// <summary>Every site this execution reached, in the order it first reached them.</summary>
    public IReadOnlyList<FaultSite> Seen => _seen;

    /// <summary>How many times a fault fired in this execution.</summary>
    public int Fired { get; private set; }

    public void AttachTo(Execution ex) => s_attached.AddOrUpdate(ex, this);

    public static FaultInjector? Of(Execution ex) => s_attached.TryGetValue(ex, out var f) ? f : null;

    /// <summary>An execution starting again (<see cref="Execution.Reset"/>) has no injector until its setup attaches one.</summary>
    internal static void Detach(Execution ex) => s_attached.Remove(ex);

    private sealed class SiteState(FaultAction? action)
    {
        public FaultAction? Action = action;
        public int Count;
    }

    /// <summary>__dynamic_fault_enabled(): registers the site and decides whether it fires now.</summary>
    internal bool Evaluate(Execution ex, SimTask task, string name, string cls, string fn, string file, int line)
    {
        // The sites' counters are shared by every task.
        Scheduling.Reduction.Footprints.Untracked();
        if (!_sites.TryGetValue((file, line), out var entry))
        {
            var site = FaultSite.Of(name, cls, fn, file, line);
            entry = (site, new SiteState(Query.ActionFor(site)));
            _sites[(file, line)] = entry;
            _seen.Add(site);
        }

        var st = entry.State;
        if (st.Action is not { } a)
            return false;

        // The patch's counter: with a frequency, only every N-th hit may fire.
        var fire = a.Frequency == 0 || ++st.Count >= a.Frequency;
        if (fire && a.Choose)
            fire = ex.Choose(task, 2) == 1;
        if (fire)
        {
            st.Count = 0;
            if (a.Enabled == FaultEnabled.Oneshot)
                st.Action = null;
            Fired++;
        }

        if (ex.Recording)
            ex.Record(task, "dynamic_fault", $"{cls} {entry.Site.Name}", fire ? "fires" : "does not fire", fn, file, line);
        return fire;
    }

    /// <summary>race_fault(): wait until another task has taken a step, or none can.</summary>
    internal Func<bool> YieldUntilOthersRan(Execution ex, SimTask task)
    {
        var at = ex.StepCount;
        _yielding.Add(task);
        return () =>
        {
            if (ex.StepCount != at || !ex.Tasks.Any(o => o != task && !_yielding.Contains(o) && ex.CanRun(o)))
            {
                _yielding.Remove(task);
                return true;
            }

            return false;
        };
    }
}

public static partial class Kernel
{
    /// <summary>
    /// dynamic_fault(class): true when a fault should be injected at this call site. Off unless a
    /// fault query enables the site; outside tasks (scenario setup) it never fires.
    /// </summary>
    public static bool DynamicFault(string name, string @class = "fault", [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => FaultAt(name, @class, fn, file, line);

    /// <summary>memory_fault(): a "memory"-class site.</summary>
    public static bool MemoryFault(string name = "memory", [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => FaultAt(name, "memory", fn, file, line);

    /// <summary>
    /// race_fault(): when the site fires, the task gives up its CPU here: it waits until another
    /// task has taken a step (or none can), forcing the reschedule a race needs.
    /// </summary>
    public static async ValueTask RaceFault(string name = "race", [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        if (!FaultAt(name, "race", fn, file, line))
            return;
        var (ex, t) = Ctx();
        var injector = FaultInjector.Of(ex)!;
        await ex.Point(t, injector.YieldUntilOthersRan(ex, t), "race_fault() reschedule", new WaitSite(fn, file, line));
        ex.Record(t, "race_fault", name, "rescheduled", fn, file, line);
    }

    private static bool FaultAt(string name, string cls, string fn, string file, int line)
    {
        if (!Execution.InTask)
            return false;
        var ex = Execution.Current;
        var injector = FaultInjector.Of(ex);
        return injector != null && injector.Evaluate(ex, Execution.CurrentTask, name, cls, fn, file, line);
    }

    /// <summary>kmalloc() that may fail: a "memory" fault site; NULL when the site fires.</summary>
    public static T? KmallocOrNull<T>(Func<T> construct, string? name = null, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : KObject
        => AllocOrNull(construct, name, "kmalloc", fn, file, line);

    /// <summary>kzalloc() that may fail: a "memory" fault site; NULL when the site fires.</summary>
    public static T? KzallocOrNull<T>(Func<T> construct, string? name = null, [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        where T : KObject
        => AllocOrNull(construct, name, "kzalloc", fn, file, line);

    private static T? AllocOrNull<T>(Func<T> construct, string? name, string op, string fn, string file, int line) where T : KObject
    {
        var what = name ?? typeof(T).Name;
        if (FaultAt(what, "memory", fn, file, line))
        {
            var (ex, t) = Ctx();
            ex.Record(t, op, what, "NULL (injected fault)", fn, file, line);
            return null;
        }

        return Alloc(construct, name, op, fn, file, line);
    }

    /// <summary>
    /// Kmalloc/Kzalloc are fault sites too, but their callers take the result as never NULL: an
    /// injected failure there is the NULL dereference the C caller would hit.
    /// </summary>
    private static void UncheckedAllocFault(string? name, Type type, string op, string fn, string file, int line)
    {
        var what = name ?? type.Name;
        if (FaultAt(what, "memory", fn, file, line))
        {
            throw new KernelFailureException(new Failure(FailureKind.Assertion,
                $"{op}({what}) in {fn} failed (injected fault) and the caller does not check for NULL", $"{file}:{line}"));
        }
    }
}
