using System.Diagnostics;
using System.Text.RegularExpressions;
using Kmc.Checks.Framework;
using Kmc.Models;

namespace Kmc.Tests;

public class HtmlReportTests
{
    private static TraceFile Synthetic() => new()
    {
        KmcVersion = "test",
        Check = "wakeup",
        Variant = "check-then-sleep",
        Driver = "native",
        Strategy = "random",
        Seed = 7,
        Options = new Kmc.Checks.Framework.TraceOptions(10, 100, 3, 2, "lkmm"),
        ModelHash = "0000",
        FailingExecution = 3,
        Failure = new Failure(FailureKind.Assertion, "r0 == 1 && r1 == 0", "./src/Checks/X.cs:10"),
        Schedule = [0, 1],
        Steps =
        [
            new Step(1, "writer", 0, "WRITE_ONCE", "x", "1", "P0", "./src/Checks/X.cs", 3),
            new Step(2, "writer", 0, "wake_up_process", "reader", "woken", "P0", "./src/Checks/X.cs", 4) { Wakes = "reader" },
            new Step(3, "reader", 1, "schedule", null, "sleeps", "P1", "./src/Checks/X.cs", 7),
            new Step(4, "reader", 1, "READ_ONCE", "x", "1", "P1", "./src/Checks/X.cs", 8) { Memory = "reads #1" },
            new Step(5, "writer", 0, "WRITE_ONCE", "y", "2", "P0", "./src/Checks/X.cs", 5),
            new Step(6, "writer", 0, "WRITE_ONCE", "y", "3", "P0", "./src/Checks/X.cs", 6),
            new Step(7, "reader", 1, "READ_ONCE", "y", "2", "P1", "./src/Checks/X.cs", 9) { Memory = "reads #5: stale, the newest is step 6" },
        ],
    };

    [Fact]
    public void The_page_has_a_lane_per_task_arrows_for_wakeups_and_reads_and_the_failure()
    {
        var html = HtmlReport.Render(Synthetic(), "reports/runs/x/trace.json");
        Assert.Equal(2, Regex.Matches(html, "<g class=\"lane\"").Count);
        Assert.Contains("data-task=\"writer\"", html);
        Assert.Contains("data-task=\"reader\"", html);
        Assert.Single(Regex.Matches(html, "<line class=\"wake\""));
        Assert.Equal(7, Regex.Matches(html, "<g class=\"step\"").Count);
        Assert.Contains("WRITE_ONCE(x) = 1", html);
        Assert.Contains("X.cs:8", html);
        Assert.Contains("r0 == 1 &amp;&amp; r1 == 0", html);
        Assert.Contains("kmc replay reports/runs/x/trace.json", html);
    }

    [Fact]
    public void A_long_value_wraps_in_its_box_and_is_never_cut()
    {
        var value = string.Join(" -> ", Enumerable.Range(0, 30).Select(i => $"0x{0x50000000 + i:x} (CLOSURE_WAITING|CLOSURE_RUNNING|remaining={i})"));
        var t = Synthetic() with
        {
            Steps = [new Step(1, "writer", 0, "atomic_set", "cl.remaining", value, "ClosureInit", "./src/X.cs", 3) { Chain = "Build → ClosureInit" }],
        };
        var html = HtmlReport.Render(t, "t.json");
        Assert.DoesNotContain("…", Regex.Match(html, "<g class=\"step\" id=\"step-1\">.*?</g>", RegexOptions.Singleline).Value);
        var lines = Regex.Matches(html, "<text class=\"op\"[^>]*>([^<]*)</text>").Select(m => System.Net.WebUtility.HtmlDecode(m.Groups[1].Value)).ToList();
        Assert.True(lines.Count > 5, $"{lines.Count} lines");
        Assert.Equal($"atomic_set(cl.remaining) = {value}".Replace(" ", ""), string.Concat(lines).Replace(" ", ""));
        Assert.Contains(System.Net.WebUtility.HtmlEncode(value), html[html.IndexOf("<table class=\"steps\"", StringComparison.Ordinal)..]);
        Assert.Contains("<td>Build → ClosureInit</td>", html);
    }

    [Fact]
    public void Only_a_stale_read_is_a_weak_memory_arrow_and_its_note_is_in_the_box()
    {
        var html = HtmlReport.Render(Synthetic(), "t.json");
        // Step 4 read the newest store (what SC does): no arrow, no note in the box. Step 7 read an older one.
        var rf = Assert.Single(Regex.Matches(html, "<line class=\"rf\"[^>]*><title>([^<]*)</title>"));
        Assert.StartsWith("#7 reads from #5", rf.Groups[1].Value);
        var note = Assert.Single(Regex.Matches(html, "<text class=\"mem\"[^>]*>([^<]*)</text>"));
        Assert.Equal("reads #5: stale, the newest is step 6", note.Groups[1].Value);
        Assert.Contains("stale", Regex.Match(html, "<g class=\"step\" id=\"step-7\">.*?</g>", RegexOptions.Singleline).Value);
    }

    [Fact]
    public void Lanes_fit_their_values_and_share_the_page()
    {
        var t = Synthetic();
        var html = HtmlReport.Render(t, "t.json");
        var width = int.Parse(Regex.Match(html, "<svg [^>]*width=\"(\\d+)\"").Groups[1].Value);
        Assert.True(width >= 1280, $"two lanes use {width} px of a 1280 px page");

        var value = "{ .next = 0xffff888003a1c0c0, .locked = 1, .cpu = 3 }";
        var wide = t with { Steps = [.. t.Steps, new Step(8, "reader", 1, "READ_ONCE", "node", value, "osq_wait_next", "./src/Primitives/Osq/OsqLock.cs", 120)] };
        var page = HtmlReport.Render(wide, "t.json");
        Assert.Contains($"READ_ONCE(node) = {System.Net.WebUtility.HtmlEncode(value)}</text>", page);
        var box = Regex.Match(page, "<g class=\"step\" id=\"step-8\"><title>[^<]*</title><text[^>]*>[^<]*</text><rect x=\"\\d+\" y=\"\\d+\" width=\"(\\d+)\"");
        Assert.True(int.Parse(box.Groups[1].Value) >= (value.Length + 18) * 7, "the box is narrower than its text");
    }

    [Fact]
    public void Long_repeated_stretches_fold_and_the_end_stays()
    {
        var steps = new List<Step> { new(1, "owner", 0, "spin_lock", "lock", "acquired", "Lock", "./src/Checks/X.cs", 3) };
        for (var i = 0; i < 1880; i++)
            steps.Add(new Step(steps.Count + 1, "waiter", 1, "READ_ONCE", "lock.owner", "1", "Spin", "./src/Checks/X.cs", 10));
        steps.Add(new Step(steps.Count + 1, "owner", 0, "spin_unlock", "lock", "released", "Unlock", "./src/Checks/X.cs", 4));
        for (var i = 0; i < 4; i++)
            steps.Add(new Step(steps.Count + 1, "waiter", 1, "READ_ONCE", "lock.owner", "0", "Spin", "./src/Checks/X.cs", 10));
        var t = Synthetic() with { Steps = steps };
        var html = HtmlReport.Render(t, "t.json");
        var height = int.Parse(Regex.Match(html, "<svg [^>]*height=\"(\\d+)\"").Groups[1].Value);
        Assert.True(height < 1500, $"a {steps.Count}-step trace of one spin is {height} px high");
        var fold = Assert.Single(Regex.Matches(html, "<g class=\"fold\" id=\"fold-(\\d+)\"><title>([^<]*)</title>"));
        Assert.Contains("repeated steps (waiter ×", System.Net.WebUtility.HtmlDecode(fold.Groups[2].Value));
        // The first pass round the loop, the unlock and the steps before the failure are drawn.
        foreach (var kept in new[] { 1, 2, 1882, steps.Count })
            Assert.Contains($"id=\"step-{kept}\"", html);
        Assert.DoesNotContain("id=\"step-1000\"", html);

        // A short trace folds nothing.
        Assert.DoesNotContain("class=\"fold\"", HtmlReport.Render(Synthetic(), "t.json"));
    }

    [Fact]
    public void The_page_is_self_contained()
    {
        var html = HtmlReport.Render(Synthetic(), "t.json");
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotMatch("(src|href)\\s*=", html);
        Assert.DoesNotContain("@import", html);
        Assert.DoesNotContain("url(http", html);
    }

    [Fact]
    public void Report_folders_get_a_report_html()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-html").FullName;
        var folder = ReportWriter.Write(Synthetic(), dir);
        Assert.True(File.Exists(Path.Combine(folder, "report.html")));
        Assert.True(File.Exists(Path.Combine(folder, "report.md")));
    }

    /// <summary>
    /// Renders a real bug's page in headless Chromium and looks at the screenshot: the lane headers
    /// (one colour per task) and the red failure banner must be on screen.
    /// </summary>
    [Fact]
    public void Chromium_renders_the_lanes_and_the_failure()
    {
        var chromium = Chromium.Path();
        var check = CheckRegistry.Get("osq-3cpu");
        var run = CheckRunner.Run(check, check.GetVariant("step-a-plain-store"), new RunSettings { Iterations = 200, Seed = 1 });
        Assert.NotNull(run.Trace);
        var dir = Directory.CreateTempSubdirectory("kmc-html").FullName;
        var folder = ReportWriter.Write(run.Trace!, dir);
        var shot = Path.Combine(dir, "report.png");
        Chromium.Screenshot(chromium, Path.Combine(folder, "report.html"), shot, dir);

        var artifacts = Path.Combine(RepoRoot(), "TestResults");
        Directory.CreateDirectory(artifacts);
        File.Copy(shot, Path.Combine(artifacts, "report-screenshot.png"), overwrite: true);

        var png = Png.Read(shot);
        var lanes = run.Trace!.Steps.Select(s => s.Task).Distinct().Count();
        Assert.Equal(3, lanes);
        for (var i = 0; i < lanes; i++)
            Assert.True(png.Count(HtmlReport.LaneColors[i]) > 2000, $"lane {i} header ({HtmlReport.LaneColors[i]}) is not on screen");
        Assert.True(png.Count(HtmlReport.LaneColors[lanes]) < 50, "a lane colour shows up for a task that does not exist");
        Assert.True(png.Count(HtmlReport.FailureColor) > 5000, "the failure banner is not on screen");
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Coyote.sln")))
                return d.FullName;
        }

        return Directory.GetCurrentDirectory();
    }
}

/// <summary>Debian's Chromium, installed on first use where it is missing (CI runs as root).</summary>
internal static class Chromium
{
    private const string Binary = "/usr/bin/chromium";
    private static readonly object s_lock = new();

    public static string Path()
    {
        lock (s_lock)
        {
            if (!File.Exists(Binary))
            {
                Run("apt-get", "update -q", 600);
                Run("apt-get", "install -y -q chromium", 900);
            }

            Assert.True(File.Exists(Binary), $"{Binary} is missing and could not be installed (apt-get install chromium)");
            return Binary;
        }
    }

    public static void Screenshot(string chromium, string html, string png, string profileDir)
    {
        var args = string.Join(' ',
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
            $"--user-data-dir={System.IO.Path.Combine(profileDir, "chromium-profile")}", "--window-size=1400,1000",
            $"--screenshot={png}", new Uri(html).AbsoluteUri);
        Run(chromium, args, 120);
        Assert.True(File.Exists(png), "chromium wrote no screenshot");
    }

    private static void Run(string file, string args, int seconds)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(seconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {args} did not finish in {seconds} s");
        }

        Task.WaitAll(stdout, stderr);
    }
}
