using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Kmc.Models;

namespace Kmc.Checks.Framework;

/// <summary>
/// report.html: one self-contained page (inline CSS and SVG, no scripts, nothing fetched) with a
/// swimlane timeline of the interleaving: a lane per task (as wide as its text needs, the lanes
/// together at least a page wide), a row per step with its weak-memory note when it did what SC
/// would not, wakeups and stale reads-from as arrows, waits as dashed lane segments, runs of
/// repeated steps (spin and retry loops) folded into one row, and the failure at the end.
/// </summary>
public static partial class HtmlReport
{
    /// <summary>Lane header colours, in lane order; tests look for them in a screenshot.</summary>
    public static readonly IReadOnlyList<string> LaneColors =
        ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

    /// <summary>The failure banner's colour.</summary>
    public const string FailureColor = "#d62728";

    private const int MinLaneWidth = 260;
    private const int MaxLaneWidth = 720;

    /// <summary>The width the lanes share at least (a laptop page): fewer lanes get wider boxes.</summary>
    private const int PageWidth = 1280;

    private const int RowHeight = 40;
    private const int NoteHeight = 14;
    private const int FoldHeight = 28;
    private const int Gutter = 56;
    private const int HeaderHeight = 44;

    /// <summary>Width of one character of the 12 px monospace box text (its widest line sizes a lane).</summary>
    private const double CharWidth = 7.3;

    /// <summary>Ops after which a task waits: the lane shows the wait until its next step.</summary>
    private static readonly string[] WaitOps =
        ["schedule", "spin until", "smp_cond_load_acquire", "smp_cond_load_relaxed", "arch_spin_lock", "prepare_to_wait"];

    public static string Render(TraceFile t, string tracePath)
    {
        var lanes = t.Steps.Select(s => s.Task).Distinct().ToList();
        var cpuOf = t.Steps.GroupBy(s => s.Task).ToDictionary(g => g.Key, g => g.First().Cpu);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        sb.Append($"<title>{E(t.Check)} / {E(t.Variant)}: {t.Failure.Kind}</title>");
        sb.Append("<style>").Append(Css).Append("</style></head><body>\n");
        sb.Append($"<h1>{E(t.Check)} / {E(t.Variant)}</h1>\n");
        sb.Append($"<div class=\"failure\" id=\"failure\"><b>{t.Failure.Kind}</b>: {E(FirstLine(t.Failure.Message))}");
        if (t.Failure.Location != null)
            sb.Append($" <span class=\"at\">at {E(t.Failure.Location)}</span>");
        sb.Append("</div>\n<table class=\"meta\">");
        Meta(sb, "driver / strategy", $"{t.Driver} / {t.Strategy}");
        Meta(sb, "seed", t.Seed.ToString(CultureInfo.InvariantCulture));
        Meta(sb, "memory model", t.Options.MemoryModel);
        if (t.Faults != null)
            Meta(sb, "faults", t.Faults);
        Meta(sb, "found in execution", t.FailingExecution.ToString(CultureInfo.InvariantCulture));
        Meta(sb, "steps", t.Steps.Count.ToString(CultureInfo.InvariantCulture));
        if (t.Minimization is { } m)
            Meta(sb, "minimised", ReportWriter.MinimizationText(m));
        Meta(sb, "model hash", t.ModelHash);
        sb.Append("</table>\n");
        sb.Append($"<p>Replay: <code id=\"replay\">{E(ReportWriter.ReplayCommand(tracePath, t.Check))}</code></p>\n");
        sb.Append("<h2>Timeline</h2>\n<div class=\"timeline\">");
        Timeline(sb, t, lanes, cpuOf);
        sb.Append("</div>\n");
        sb.Append($"<pre class=\"failure-end\" id=\"failure-end\">{t.Failure.Kind}: {E(t.Failure.Message)}</pre>\n");
        Legend(sb);
        StepsTable(sb, t.Steps);
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    /// <summary>
    /// A weak-memory note that describes a non-SC behaviour: a stale read, a store that landed
    /// late, a store still in a buffer. "reads #N" alone is what SC would do too.
    /// </summary>
    public static bool IsWeak(string? memory) =>
        memory != null && (memory.Contains("stale", StringComparison.Ordinal) || memory.Contains("lands late", StringComparison.Ordinal)
                           || memory.Contains("not yet visible", StringComparison.Ordinal));

    /// <summary>The store a stale read took its value from (its step number), when the note names one.</summary>
    private static int? StaleSource(Step s) =>
        s.Memory != null && s.Memory.Contains("stale", StringComparison.Ordinal) && ReadsFrom().Match(s.Memory) is { Success: true } m
        && int.TryParse(m.Groups[1].Value, CultureInfo.InvariantCulture, out var from) && from >= 1 && from < s.Index
            ? from
            : null;

    /// <summary>One row of the timeline: a step, or a fold of consecutive repeated steps.</summary>
    private sealed record Row(int First, int Last, int Y, int Height)
    {
        public bool Fold => Last > First;
    }

    private static void Timeline(StringBuilder sb, TraceFile t, List<string> lanes, Dictionary<string, int> cpuOf)
    {
        var steps = t.Steps;
        var widths = LaneWidths(steps, lanes);
        var laneX = new int[lanes.Count];
        for (var i = 1; i < lanes.Count; i++)
            laneX[i] = laneX[i - 1] + widths[i - 1];
        int X(string task) => Gutter + laneX[lanes.IndexOf(task)];
        int W(string task) => widths[lanes.IndexOf(task)];

        // Box text wraps instead of being cut: a value is shown whole, its row as tall as it needs.
        int Chars(Step s) => (int)((W(s.Task) - 28) / CharWidth);
        var rows = Rows(steps, i => ExtraHeight(steps[i], Chars(steps[i])));
        var rowOf = new int[steps.Count];
        for (var r = 0; r < rows.Count; r++)
        {
            for (var i = rows[r].First; i <= rows[r].Last; i++)
                rowOf[i] = r;
        }

        var failureY = rows.Count > 0 ? rows[^1].Y + rows[^1].Height : HeaderHeight;
        var width = Gutter + widths.Sum() + 10;
        var height = failureY + RowHeight + 20;
        int Y(int step) => rows[rowOf[step]].Y;
        int H(int step) => rows[rowOf[step]].Height;

        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"interleaving\">");
        sb.Append("<defs>");
        Marker(sb, "wake", "#1565c0");
        Marker(sb, "rf", "#ef6c00");
        sb.Append("</defs>");

        for (var i = 0; i < lanes.Count; i++)
        {
            var x = Gutter + laneX[i];
            var color = LaneColors[i % LaneColors.Count];
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"lane\" data-task=\"{E(lanes[i])}\">");
            sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"lane-head\" x=\"{x + 4}\" y=\"4\" width=\"{widths[i] - 8}\" height=\"{HeaderHeight - 10}\" rx=\"5\" fill=\"{color}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"lane-title\" x=\"{x + widths[i] / 2}\" y=\"{HeaderHeight / 2 + 4}\">{E(lanes[i])} · CPU{cpuOf[lanes[i]]}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"lane-line\" x1=\"{x + widths[i] / 2}\" y1=\"{HeaderHeight}\" x2=\"{x + widths[i] / 2}\" y2=\"{failureY}\" stroke=\"{color}\"/>");
            sb.Append("</g>");
        }

        var nextOfTask = NextStepOfSameTask(steps);
        foreach (var row in rows)
        {
            if (row.Fold)
            {
                Fold(sb, steps, row, widths.Sum());
                continue;
            }

            var index = row.First;
            var s = steps[index];
            var x = X(s.Task);
            var w = W(s.Task);
            if (WaitOps.Contains(s.Op) && nextOfTask[index] is { } next && rowOf[next] > rowOf[index] + 1)
            {
                sb.Append(CultureInfo.InvariantCulture,
                    $"<line class=\"wait\" x1=\"{x + w / 2}\" y1=\"{row.Y + row.Height - 4}\" x2=\"{x + w / 2}\" y2=\"{Y(next)}\"><title>{E(s.Task)} waits</title></line>");
            }

            var color = LaneColors[lanes.IndexOf(s.Task) % LaneColors.Count];
            var chars = Chars(s);
            var chain = s.Chain is null ? "" : "\n" + s.Chain;
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"step\" id=\"step-{s.Index}\"><title>{E(s.ToString())}{E(chain)}{(s.Memory != null ? "\n" + E(s.Memory) : "")}</title>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"idx\" x=\"{Gutter - 8}\" y=\"{row.Y + 22}\">{s.Index}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x + 8}\" y=\"{row.Y + 3}\" width=\"{w - 16}\" height=\"{row.Height - 6}\" rx=\"4\" stroke=\"{color}\"/>");
            var y = row.Y + 17;
            foreach (var line in Wrap(OpText(s), chars))
            {
                sb.Append(CultureInfo.InvariantCulture, $"<text class=\"op\" x=\"{x + 14}\" y=\"{y}\">{E(line)}</text>");
                y += LineHeight;
            }

            // Where: the innermost calls of the chain that fit (the steps table below has the whole chain).
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"src\" x=\"{x + 14}\" y=\"{y}\">{E(ClipLeft($"{s.Chain ?? s.Function} {s.Where}", (int)(chars * 1.2)))}</text>");
            if (IsWeak(s.Memory))
            {
                foreach (var line in Wrap(s.Memory!, (int)(chars * 1.2)))
                {
                    y += NoteHeight;
                    sb.Append(CultureInfo.InvariantCulture, $"<text class=\"mem\" x=\"{x + 14}\" y=\"{y}\">{E(line)}</text>");
                }
            }

            sb.Append("</g>");
        }

        // Arrows last, so they are drawn over the boxes. A task reading its own store needs no
        // arrow, and neither does a load that read what SC would have read (the newest store).
        for (var i = 0; i < steps.Count; i++)
        {
            var s = steps[i];
            if (s.Wakes != null && lanes.Contains(s.Wakes))
            {
                var target = NextStepOf(steps, s.Wakes, i) ?? i;
                Arrow(sb, "wake", X(s.Task), W(s.Task), Y(i), H(i), X(s.Wakes), W(s.Wakes), Y(target), H(target), $"{s.Task} wakes {s.Wakes}");
            }

            if (StaleSource(s) is { } from && steps[from - 1].Task != s.Task)
            {
                var src = steps[from - 1];
                Arrow(sb, "rf", X(src.Task), W(src.Task), Y(from - 1), H(from - 1), X(s.Task), W(s.Task), Y(i), H(i), $"#{s.Index} reads from #{from}: {s.Memory}");
            }
        }

        var fx = lanes.Count > 0 ? Gutter + 8 : 8;
        var failWidth = Math.Max(MinLaneWidth, widths.Sum()) - 16;
        sb.Append(CultureInfo.InvariantCulture, $"<g class=\"failure-box\"><rect x=\"{fx}\" y=\"{failureY + 3}\" width=\"{failWidth}\" height=\"{RowHeight - 2}\" rx=\"4\" fill=\"{FailureColor}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"fail\" x=\"{fx + 10}\" y=\"{failureY + 26}\">{t.Failure.Kind}: {E(Clip(FirstLine(t.Failure.Message), (int)(failWidth / 7.8)))}</text></g>");
        sb.Append("</svg>");
    }

    /// <summary>
    /// Each lane as wide as its widest box text (between <see cref="MinLaneWidth"/> and
    /// <see cref="MaxLaneWidth"/>), and together at least <see cref="PageWidth"/> wide, so that
    /// values fit in their boxes and a few lanes use the page instead of a third of it.
    /// </summary>
    private static int[] LaneWidths(IReadOnlyList<Step> steps, List<string> lanes)
    {
        var widths = lanes.Select(l =>
        {
            var longest = steps.Where(s => s.Task == l)
                .Select(s => Math.Max(OpText(s).Length, (int)(Math.Max($"{s.Function} {s.Where}".Length, IsWeak(s.Memory) ? s.Memory!.Length : 0) / 1.2)))
                .DefaultIfEmpty(0).Max();
            return Math.Clamp((int)(longest * CharWidth) + 30, MinLaneWidth, MaxLaneWidth);
        }).ToArray();
        var spare = PageWidth - Gutter - widths.Sum();
        if (spare > 0 && widths.Length > 0)
        {
            for (var i = 0; i < widths.Length; i++)
                widths[i] = Math.Min(MaxLaneWidth, widths[i] + spare / widths.Length);
        }

        return widths;
    }

    /// <summary>Steps closer than this to the failure are never folded: they are where it happens.</summary>
    private const int KeepAtEnd = 12;

    /// <summary>Fewer repeated steps in a row than this stay as they are.</summary>
    private const int MinFold = 8;

    /// <summary>
    /// The timeline's rows. A step is uneventful when the same task did the same thing (op,
    /// location, value, line) within the last 64 steps: a spin or retry loop going round. Runs of
    /// at least <see cref="MinFold"/> of them fold into one row; wakeups, weak-memory behaviour,
    /// the ends of arrows and the last steps before the failure are never folded.
    /// </summary>
    private static List<Row> Rows(IReadOnlyList<Step> steps, Func<int, int> extraHeight)
    {
        var pinned = new bool[steps.Count];
        for (var i = 0; i < steps.Count; i++)
        {
            var s = steps[i];
            if (s.Wakes != null || IsWeak(s.Memory) || i >= steps.Count - KeepAtEnd)
                pinned[i] = true;
            if (s.Wakes != null && NextStepOf(steps, s.Wakes, i) is { } woken)
                pinned[woken] = true;
            if (StaleSource(s) is { } from)
                pinned[from - 1] = true;
        }

        var lastSeen = new Dictionary<(string, string, string?, string?, string, int), int>();
        var repeated = new bool[steps.Count];
        for (var i = 0; i < steps.Count; i++)
        {
            var s = steps[i];
            var key = (s.Task, s.Op, s.Target, s.Value, s.File, s.Line);
            repeated[i] = !pinned[i] && lastSeen.TryGetValue(key, out var j) && i - j <= 64;
            lastSeen[key] = i;
        }

        var rows = new List<Row>();
        var y = HeaderHeight;
        for (var i = 0; i < steps.Count;)
        {
            var end = i;
            while (end < steps.Count && repeated[end])
                end++;
            if (end - i >= MinFold)
            {
                rows.Add(new Row(i, end - 1, y, FoldHeight));
                y += FoldHeight;
                i = end;
                continue;
            }

            var h = RowHeight + extraHeight(i);
            rows.Add(new Row(i, i, y, h));
            y += h;
            i++;
        }

        return rows;
    }

    /// <summary>A folded run: how many steps, by whom, and where to see them all.</summary>
    private static void Fold(StringBuilder sb, IReadOnlyList<Step> steps, Row row, int width)
    {
        var run = Enumerable.Range(row.First, row.Last - row.First + 1).Select(i => steps[i]).ToList();
        var who = string.Join(", ", run.GroupBy(s => s.Task).Select(g => $"{g.Key} ×{g.Count()}"));
        var ops = string.Join(", ", run.Select(s => s.Op).Distinct().Take(4));
        var text = $"⋯ steps {run[0].Index}–{run[^1].Index} folded: {run.Count} repeated steps ({who}; {ops}); every step is in report.md";
        sb.Append(CultureInfo.InvariantCulture, $"<g class=\"fold\" id=\"fold-{run[0].Index}\"><title>{E(text)}</title>");
        sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Gutter + 8}\" y=\"{row.Y + 3}\" width=\"{width - 16}\" height=\"{row.Height - 6}\" rx=\"4\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Gutter + 16}\" y=\"{row.Y + 18}\">{E(Clip(text, (int)((width - 32) / 7.3)))}</text></g>");
    }

    private static int?[] NextStepOfSameTask(IReadOnlyList<Step> steps)
    {
        var next = new int?[steps.Count];
        var seen = new Dictionary<string, int>();
        for (var row = steps.Count - 1; row >= 0; row--)
        {
            next[row] = seen.TryGetValue(steps[row].Task, out var n) ? n : null;
            seen[steps[row].Task] = row;
        }

        return next;
    }

    private static int? NextStepOf(IReadOnlyList<Step> steps, string task, int after)
    {
        for (var row = after + 1; row < steps.Count; row++)
        {
            if (steps[row].Task == task)
                return row;
        }

        return null;
    }

    private static void Arrow(StringBuilder sb, string kind, int fromLaneX, int fromWidth, int fromY, int fromHeight,
        int toLaneX, int toWidth, int toY, int toHeight, string title)
    {
        var leftToRight = toLaneX >= fromLaneX;
        var x1 = fromLaneX + (leftToRight ? fromWidth - 10 : 10);
        var x2 = toLaneX + (leftToRight ? 10 : toWidth - 10);
        if (fromLaneX == toLaneX)
            x2 = x1;
        var y1 = fromY + fromHeight / 2;
        var y2 = toY + toHeight / 2;
        sb.Append(CultureInfo.InvariantCulture,
            $"<line class=\"{kind}\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" marker-end=\"url(#arrow-{kind})\"><title>{E(title)}</title></line>");
    }

    private static void Marker(StringBuilder sb, string kind, string color) =>
        sb.Append($"<marker id=\"arrow-{kind}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{color}\"/></marker>");

    private static void Legend(StringBuilder sb) => sb.Append(
        "<p class=\"legend\"><span class=\"k-wake\">&#8594; wakeup</span> <span class=\"k-rf\">&#8594; a stale load reads this older store (weak memory; SC would read the newest)</span> " +
        "<span class=\"k-wait\">┆ waiting</span> <span class=\"k-fold\">⋯ repeated steps folded (report.md has them all)</span></p>\n");

    private static void Meta(StringBuilder sb, string key, string value) => sb.Append($"<tr><th>{E(key)}</th><td>{E(value)}</td></tr>");

    private static string OpText(Step s)
    {
        var target = s.Target is null ? "" : $"({s.Target})";
        var value = s.Value is null ? "" : $" = {s.Value}";
        return $"{s.Op}{target}{value}";
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

    /// <summary>The end of a text that fits (the innermost calls of a chain, and the file:line).</summary>
    private static string ClipLeft(string s, int max) => s.Length <= max || max < 2 ? s : "…" + s[^(max - 1)..];

    /// <summary>Height of a box's line of 12 px text.</summary>
    private const int LineHeight = 14;

    /// <summary>A step box's height above one line of operation and one of source: wrapped text and the weak-memory note.</summary>
    private static int ExtraHeight(Step s, int chars) =>
        (Wrap(OpText(s), chars).Count - 1) * LineHeight
        + (IsWeak(s.Memory) ? Wrap(s.Memory!, (int)(chars * 1.2)).Count * NoteHeight : 0);

    /// <summary>Lines of at most <paramref name="max"/> characters, broken after a space or comma where one is near.</summary>
    internal static List<string> Wrap(string s, int max)
    {
        max = Math.Max(max, 8);
        var lines = new List<string>();
        while (s.Length > max)
        {
            var cut = s.LastIndexOfAny([' ', ','], max - 1);
            cut = cut >= max / 2 ? cut + 1 : max;
            lines.Add(s[..cut].TrimEnd());
            s = s[cut..];
        }

        lines.Add(s);
        return lines;
    }

    /// <summary>Every step in full: its whole value, weak-memory note and call chain (the timeline folds loops).</summary>
    private static void StepsTable(StringBuilder sb, IReadOnlyList<Step> steps)
    {
        sb.Append("<h2>Steps</h2>\n<table class=\"steps\" id=\"steps\"><tr><th>#</th><th>task</th><th>operation</th><th>memory</th><th>call chain</th><th>at</th></tr>\n");
        foreach (var s in steps)
        {
            var op = OpText(s) + (s.Wakes != null ? $" → wakes {s.Wakes}" : "");
            sb.Append(CultureInfo.InvariantCulture,
                $"<tr id=\"row-{s.Index}\"><td>{s.Index}</td><td>{E(s.Task)}</td><td><code>{E(op)}</code></td><td>{E(s.Memory ?? "")}</td><td>{E(s.Chain ?? s.Function)}</td><td>{E(s.Where)}</td></tr>\n");
        }

        sb.Append("</table>\n");
    }

    /// <summary>The headline of a failure: a hang's first line only announces the list that follows, so take that too.</summary>
    private static string FirstLine(string s)
    {
        var lines = s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0)
            return "";
        return lines[0].EndsWith(':') && lines.Length > 1 ? $"{lines[0]} {lines[1]}" : lines[0];
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    /// <summary>A weak-memory note names the store a load read as "#N".</summary>
    [GeneratedRegex(@"#(\d+)")]
    private static partial Regex ReadsFrom();

    private const string Css = """
        body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
        h1 { font-size: 20px; margin: 0 0 10px; }
        .failure { background: #d62728; color: #fff; padding: 10px 14px; border-radius: 6px; font-size: 15px; margin-bottom: 12px; }
        .failure .at { opacity: .85; font-family: ui-monospace, monospace; }
        table.meta { border-collapse: collapse; margin-bottom: 8px; }
        table.meta th { text-align: left; padding: 2px 14px 2px 0; font-weight: 600; }
        code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
        code { background: #f3f3f3; padding: 2px 5px; border-radius: 4px; }
        .timeline { overflow-x: auto; border: 1px solid #ddd; border-radius: 6px; }
        svg text { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
        .lane-title { fill: #fff; font-size: 14px; font-weight: 600; text-anchor: middle; font-family: system-ui, sans-serif; }
        .lane-line { stroke-width: 2; opacity: .25; }
        .step rect { fill: #fafafa; stroke-width: 1.5; }
        .step .op { font-size: 12px; fill: #111; }
        .step .src { font-size: 10px; fill: #666; }
        .step .mem { font-size: 10px; fill: #ef6c00; font-weight: 600; }
        .fold rect { fill: #f0f0f0; stroke: #bbb; stroke-dasharray: 4 3; }
        .fold text { font-size: 11px; fill: #555; font-style: italic; }
        .idx { font-size: 11px; fill: #888; text-anchor: end; }
        line.wake { stroke: #1565c0; stroke-width: 2; }
        line.rf { stroke: #ef6c00; stroke-width: 2; stroke-dasharray: 6 3; }
        line.wait { stroke: #999; stroke-width: 3; stroke-dasharray: 2 4; }
        .fail { fill: #fff; font-size: 13px; font-weight: 600; }
        pre.failure-end { background: #fdecea; border-left: 6px solid #d62728; padding: 10px; white-space: pre-wrap; }
        .legend span { margin-right: 18px; }
        table.steps { border-collapse: collapse; font-size: 12px; }
        table.steps th, table.steps td { border-bottom: 1px solid #eee; padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
        table.steps code { background: none; padding: 0; white-space: pre-wrap; word-break: break-all; }
        .k-wake { color: #1565c0; } .k-rf { color: #ef6c00; } .k-wait { color: #777; } .k-fold { color: #555; }
        """;
}
