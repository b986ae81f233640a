using Kmc.Checks.Framework;

namespace Kmc.Tests;

/// <summary>Bug report folders: one per memory model, and whole under concurrent runs of the same case.</summary>
public class ReportFolderTests
{
    private static TraceFile Trace(string model)
    {
        var check = CheckRegistry.Get("counter");
        var run = CheckRunner.Run(check, check.GetVariant("no-lock"), new RunSettings { Seed = 3, MemoryModel = model });
        return run.Trace ?? throw new InvalidOperationException("counter/no-lock should fail");
    }

    [Fact]
    public void Runs_under_different_models_get_their_own_folders()
    {
        var runs = Directory.CreateTempSubdirectory("kmc-runs").FullName;
        var sc = ReportWriter.Write(Trace("sc"), runs);
        var lkmm = ReportWriter.Write(Trace("lkmm"), runs);
        Assert.NotEqual(sc, lkmm);
        Assert.EndsWith("counter__no-lock__native-random-sc-seed3", sc);
        Assert.EndsWith("counter__no-lock__native-random-lkmm-seed3", lkmm);
        Assert.Equal("sc", TraceFile.Load(Path.Combine(sc, "trace.json")).Options.MemoryModel);
        Assert.Equal("lkmm", TraceFile.Load(Path.Combine(lkmm, "trace.json")).Options.MemoryModel);
    }

    [Fact]
    public async Task Concurrent_writers_of_one_case_leave_one_whole_report_and_no_leftovers()
    {
        var runs = Directory.CreateTempSubdirectory("kmc-runs").FullName;
        var trace = Trace("lkmm");
        var expected = trace.ToJson();
        var writers = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 15; i++)
                ReportWriter.Write(trace, runs);
        })).ToArray();
        await Task.WhenAll(writers);

        var folder = Assert.Single(Directory.GetDirectories(runs));
        Assert.Equal(["report.html", "report.md", "trace.json"], Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(expected, File.ReadAllText(Path.Combine(folder, "trace.json")));
        Assert.Empty(Directory.GetFileSystemEntries(runs, ".*"));
    }

    [Fact]
    public async Task Two_kmc_processes_running_the_same_case_at_once_both_succeed()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-same-case").FullName;
        for (var round = 0; round < 3; round++)
        {
            var a = Task.Run(() => CliTests.Run(dir, "run", "counter", "--variant", "no-lock", "--workers", "1"));
            var b = Task.Run(() => CliTests.Run(dir, "run", "counter", "--variant", "no-lock", "--workers", "1"));
            foreach (var r in await Task.WhenAll(a, b))
            {
                Assert.True(r.Code == 1, r.Out + r.Err);
                Assert.DoesNotContain("Exception", r.Err + r.Out);
            }
        }

        var runs = Path.Combine(dir, "reports", "runs");
        Assert.Single(Directory.GetDirectories(runs));
        Assert.Empty(Directory.GetFileSystemEntries(runs, ".*"));
    }
}
