using System.Diagnostics;

namespace Kmc.Tests;

/// <summary>
/// examples/SeqLock as a user has it: copied out of kmc's tree, built against kmc's assemblies
/// (no project reference, no kmc source), its checks run by the kmc command with --assembly.
/// </summary>
public class ExampleProjectTests
{
    private const string Check = "example.seqlock";

    [Fact]
    public void TheExampleBuildsOutsideTheTreeAndKmcRunsReplaysAndHashesItsChecks()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-example").FullName;
        try
        {
            var project = CopyExample(dir);
            var dll = Build(project, dir);

            var list = CliTests.Run(dir, "list", "--assembly", dll);
            Assert.Equal(0, list.Code);
            Assert.Contains(Check, list.Out);
            Assert.Contains("raw-read-begin", list.Out);

            var buggy = CliTests.Run(dir, "run", Check, "--variant", "raw-read-begin", "--assembly", dll);
            Assert.True(buggy.Code == 1, buggy.Out + buggy.Err);
            Assert.Contains("read_seqretry() accepted a torn snapshot", buggy.Out);
            Assert.Contains($"--assembly {dll}", buggy.Out); // the replay command printed names the assembly

            var fixedRun = CliTests.Run(dir, "run", Check, "--assembly", dll);
            Assert.True(fixedRun.Code == 0, fixedRun.Out + fixedRun.Err);
            Assert.Contains("as expected", fixedRun.Out);

            var trace = Path.Combine(dir, "reports", "runs", $"{Check}__raw-read-begin__native-random-lkmm-seed1", "trace.json");
            Assert.Equal(1, CliTests.Run(dir, "replay", trace, "--assembly", dll).Code);
            var without = CliTests.Run(dir, "replay", trace);
            Assert.Equal(2, without.Code);
            Assert.Contains("needs --assembly", without.Err);

            // The trace hash covers the user's port (its sources are embedded by Kmc.Runner.targets):
            // the same trace is refused once the port changes.
            File.AppendAllText(Path.Combine(Path.GetDirectoryName(project)!, "Seqcount.cs"), "// edited\n");
            dll = Build(project, dir);
            var stale = CliTests.Run(dir, "replay", trace, "--assembly", dll);
            Assert.Equal(2, stale.Code);
            Assert.Contains("different model code", stale.Err);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string CopyExample(string dir)
    {
        var source = TestPaths.InRepo("examples", "SeqLock");
        var target = Path.Combine(dir, "SeqLock");
        Directory.CreateDirectory(target);
        foreach (var f in Directory.EnumerateFiles(source).Where(f => f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".csproj", StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        // An empty Directory.Build.props: nothing above the temp folder leaks into the build.
        File.WriteAllText(Path.Combine(dir, "Directory.Build.props"), "<Project />\n");
        return Path.Combine(target, "SeqLock.csproj");
    }

    /// <summary>dotnet build against the assemblies beside the tests (kmc's Models and Runner and Kmc.Runner.targets).</summary>
    private static string Build(string project, string dir)
    {
        var r = Dotnet(dir, "build", project, "-c", "Release", "--nologo", "--disable-build-servers", $"-p:KmcAssemblies={KmcAssemblies}");
        Assert.True(r.Code == 0, r.Output);
        var dll = Path.Combine(Path.GetDirectoryName(project)!, "bin", "Release", "net10.0", "SeqLock.dll");
        Assert.True(File.Exists(dll), dll);
        return dll;
    }

    /// <summary>The folder with kmc's assemblies and Kmc.Runner.targets: the tests' own output.</summary>
    internal static string KmcAssemblies => AppContext.BaseDirectory.TrimEnd('/', '\\');

    /// <summary>
    /// A dotnet command (build, test, new) as a user types it, without this test host's MSBuild
    /// and test-platform variables (they would point the nested command at this run's state), and
    /// with no build server left running after it.
    /// </summary>
    internal static (int Code, string Output) Dotnet(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k.StartsWith("VSTEST", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish in 4 minutes");
        }

        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
