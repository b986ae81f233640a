using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Kmc.Models;

namespace Kmc.Checks.Framework;

/// <summary>
/// report.html: one self-contained page (inline CSS and SVG, no scripts, nothing fetched) with a
/// swimlane timeline of the interleaving: a lane per task, a row per step, wakeups and
/// weak-memory reads-from as arrows, waits as dashed lane segments, and the failure at the end.
/// </summary>
public static partial class HtmlReport
{
    /// <summary>Lane header colours, in lane order; tests look for them in a screenshot.</summary>
    public static readonly IReadOnlyList<string> LaneColors =
        ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

    /// <summary>The failure banner's colour.</summary>
    public const string FailureColor = "#d62728";

    private const int LaneWidth = 320;
    private const int RowHeight = 40;
    private const int Gutter = 56;
    private const int HeaderHeight = 44;

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
        sb.Append($"<p>Replay: <code id=\"replay\">{E(ReportWriter.ReplayCommand(tracePath))}</code></p>\n");
        sb.Append("<h2>Timeline</h2>\n<div class=\"timeline\">");
        Timeline(sb, t, lanes, cpuOf);
        sb.Append("</div>\n");
        sb.Append($"<pre class=\"failure-end\" id=\"failure-end\">{t.Failure.Kind}: {E(t.Failure.Message)}</pre>\n");
        Legend(sb);
        sb.Append("</body></html>\n");
        return sb.ToString();
    }

    private static void Timeline(StringBuilder sb, TraceFile t, List<string> lanes, Dictionary<string, int> cpuOf)
    {
        var steps = t.Steps;
        var width = Gutter + lanes.Count * LaneWidth + 10;
        var failureRow = steps.Count;
        var height = HeaderHeight + (failureRow + 1) * RowHeight + 20;
        int X(string task) => Gutter + lanes.IndexOf(task) * LaneWidth;
        int Y(int row) => HeaderHeight + row * RowHeight;

        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"interleaving\">");
        sb.Append("<defs>");
        Marker(sb, "wake", "#1565c0");
        Marker(sb, "rf", "#ef6c00");
        sb.Append("</defs>");

        for (var i = 0; i < lanes.Count; i++)
        {
            var x = Gutter + i * LaneWidth;
            var color = LaneColors[i % LaneColors.Count];
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"lane\" data-task=\"{E(lanes[i])}\">");
            sb.Append(CultureInfo.InvariantCulture, $"<rect class=\"lane-head\" x=\"{x + 4}\" y=\"4\" width=\"{LaneWidth - 8}\" height=\"{HeaderHeight - 10}\" rx=\"5\" fill=\"{color}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"lane-title\" x=\"{x + LaneWidth / 2}\" y=\"{HeaderHeight / 2 + 4}\">{E(lanes[i])} · CPU{cpuOf[lanes[i]]}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<line class=\"lane-line\" x1=\"{x + LaneWidth / 2}\" y1=\"{HeaderHeight}\" x2=\"{x + LaneWidth / 2}\" y2=\"{Y(failureRow)}\" stroke=\"{color}\"/>");
            sb.Append("</g>");
        }

        var nextOfTask = NextStepOfSameTask(steps);
        for (var row = 0; row < steps.Count; row++)
        {
            var s = steps[row];
            var x = X(s.Task);
            if (WaitOps.Contains(s.Op) && nextOfTask[row] is { } next && next > row + 1)
            {
                sb.Append(CultureInfo.InvariantCulture,
                    $"<line class=\"wait\" x1=\"{x + LaneWidth / 2}\" y1=\"{Y(row) + RowHeight - 4}\" x2=\"{x + LaneWidth / 2}\" y2=\"{Y(next)}\"><title>{E(s.Task)} waits</title></line>");
            }

            var color = LaneColors[lanes.IndexOf(s.Task) % LaneColors.Count];
            sb.Append(CultureInfo.InvariantCulture, $"<g class=\"step\" id=\"step-{s.Index}\"><title>{E(s.ToString())}{(s.Memory != null ? "\n" + E(s.Memory) : "")}</title>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"idx\" x=\"{Gutter - 8}\" y=\"{Y(row) + 22}\">{s.Index}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x + 8}\" y=\"{Y(row) + 3}\" width=\"{LaneWidth - 16}\" height=\"{RowHeight - 6}\" rx=\"4\" stroke=\"{color}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"op\" x=\"{x + 14}\" y=\"{Y(row) + 17}\">{E(Clip(OpText(s), 44))}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<text class=\"src\" x=\"{x + 14}\" y=\"{Y(row) + 31}\">{E(Clip($"{s.Function} {s.Where}", 50))}</text>");
            sb.Append("</g>");
        }

        // Arrows last, so they are drawn over the boxes. A task reading its own store needs no arrow.
        for (var row = 0; row < steps.Count; row++)
        {
            var s = steps[row];
            if (s.Wakes != null && lanes.Contains(s.Wakes))
            {
                var target = NextStepOf(steps, s.Wakes, row) ?? row;
                Arrow(sb, "wake", X(s.Task), Y(row), X(s.Wakes), Y(target), $"{s.Task} wakes {s.Wakes}");
            }

            if (s.Memory != null && ReadsFrom().Match(s.Memory) is { Success: true } match
                && int.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, out var from) && from >= 1 && from < s.Index
                && steps[from - 1].Task != s.Task)
            {
                Arrow(sb, "rf", X(steps[from - 1].Task), Y(from - 1), X(s.Task), Y(row), $"#{s.Index} reads from #{from}: {s.Memory}");
            }
        }

        var fx = lanes.Count > 0 ? Gutter + 8 : 8;
        sb.Append(CultureInfo.InvariantCulture, $"<g class=\"failure-box\"><rect x=\"{fx}\" y=\"{Y(failureRow) + 3}\" width=\"{Math.Max(LaneWidth, lanes.Count * LaneWidth) - 16}\" height=\"{RowHeight - 2}\" rx=\"4\" fill=\"{FailureColor}\"/>");
        sb.Append(CultureInfo.InvariantCulture, $"<text class=\"fail\" x=\"{fx + 10}\" y=\"{Y(failureRow) + 26}\">{t.Failure.Kind}: {E(Clip(FirstLine(t.Failure.Message), 40 * Math.Max(1, lanes.Count)))}</text></g>");
        sb.Append("</svg>");
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

    private static void Arrow(StringBuilder sb, string kind, int fromLaneX, int fromY, int toLaneX, int toY, string title)
    {
        var leftToRight = toLaneX >= fromLaneX;
        var x1 = fromLaneX + (leftToRight ? LaneWidth - 10 : 10);
        var x2 = toLaneX + (leftToRight ? 10 : LaneWidth - 10);
        if (fromLaneX == toLaneX)
            x2 = x1;
        var y1 = fromY + RowHeight / 2;
        var y2 = toY + RowHeight / 2;
        sb.Append(CultureInfo.InvariantCulture,
            $"<line class=\"{kind}\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" marker-end=\"url(#arrow-{kind})\"><title>{E(title)}</title></line>");
    }

    private static void Marker(StringBuilder sb, string kind, string color) =>
        sb.Append($"<marker id=\"arrow-{kind}\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"{color}\"/></marker>");

    private static void Legend(StringBuilder sb) => sb.Append(
        "<p class=\"legend\"><span class=\"k-wake\">&#8594; wakeup</span> <span class=\"k-rf\">&#8594; load reads this store (weak memory)</span> " +
        "<span class=\"k-wait\">┆ waiting</span></p>\n");

    private static void Meta(StringBuilder sb, string key, string value) => sb.Append($"<tr><th>{E(key)}</th><td>{E(value)}</td></tr>");

    private static string OpText(Step s)
    {
        var target = s.Target is null ? "" : $"({s.Target})";
        var value = s.Value is null ? "" : $" = {s.Value}";
        return $"{s.Op}{target}{value}";
    }

    private static string Clip(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";

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
        .idx { font-size: 11px; fill: #888; text-anchor: end; }
        line.wake { stroke: #1565c0; stroke-width: 2; }
        line.rf { stroke: #ef6c00; stroke-width: 2; stroke-dasharray: 6 3; }
        line.wait { stroke: #999; stroke-width: 3; stroke-dasharray: 2 4; }
        .fail { fill: #fff; font-size: 13px; font-weight: 600; }
        pre.failure-end { background: #fdecea; border-left: 6px solid #d62728; padding: 10px; white-space: pre-wrap; }
        .legend span { margin-right: 18px; }
        .k-wake { color: #1565c0; } .k-rf { color: #ef6c00; } .k-wait { color: #777; }
        """;
}
