namespace Kmc.Tests;

/// <summary>
/// templates/kmc-check as a user gets it: installed (in a private template hive, so the user's
/// own is untouched), instantiated, its xunit tests run with dotnet test, and its buggy variant
/// found by the kmc command. Built against kmc's assemblies rather than packages, so the test
/// needs no pack and no feed.
/// </summary>
public class TemplateTests
{
    [Fact]
    public void TheTemplateInstantiatesItsTestsPassAndKmcFindsItsBuggyVariant()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-template").FullName;
        try
        {
            var hive = Path.Combine(dir, "hive");
            var install = ExampleProjectTests.Dotnet(dir, "new", "install", TestPaths.InRepo("templates", "kmc-check"), "--debug:custom-hive", hive);
            Assert.True(install.Code == 0, install.Output);
            var created = ExampleProjectTests.Dotnet(dir, "new", "kmc-check", "-n", "Spin", "-o", "Spin", "--debug:custom-hive", hive);
            Assert.True(created.Code == 0, created.Output);
            var project = Path.Combine(dir, "Spin");
            Assert.Contains("\"spin-check\"", File.ReadAllText(Path.Combine(project, "Spin", "SpinCheck.cs")));
            Assert.False(File.Exists(Path.Combine(project, "nuget.config")), "no feed was given, so no nuget.config");

            var test = ExampleProjectTests.Dotnet(project, "test", "--disable-build-servers", $"-p:KmcAssemblies={ExampleProjectTests.KmcAssemblies}");
            Assert.True(test.Code == 0, test.Output);
            Assert.Contains("Passed:     5", test.Output);

            var dll = Path.Combine(project, "Spin", "bin", "Debug", "net10.0", "Spin.dll");
            var buggy = CliTests.Run(project, "run", "spin-check", "--variant", "test-then-set", "--assembly", dll);
            Assert.True(buggy.Code == 1, buggy.Out + buggy.Err);
            Assert.Contains("test-then-set: Assertion found", buggy.Out);
            // Under lkmm (the default) the first find may be a lost update: the spin may end on
            // an older 0 of the lock word (a stale read), so a later holder reads the counter
            // stale without overlapping the earlier one. Under sc it is the two holders.
            var both = CliTests.Run(project, "run", "spin-check", "--variant", "test-then-set", "--assembly", dll, "--memory-model", "sc");
            Assert.True(both.Code == 1, both.Out + both.Err);
            Assert.Contains("holds the lock with 1 other holder(s)", both.Out);
            var fixedRun = CliTests.Run(project, "run", "spin-check", "--assembly", dll);
            Assert.True(fixedRun.Code == 0, fixedRun.Out + fixedRun.Err);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
