using Kmc.Checks.Litmus;

namespace Kmc.Tests;

/// <summary>
/// The two closure holes kmc's operational lkmm finds in the fixed closure code, restated as
/// litmus tests and judged by the axiomatic LKMM (an independent implementation of
/// linux-kernel.cat): each hole is allowed by the LKMM and by no stronger model, and the
/// acquire kmc proposes closes it.
/// </summary>
public class ClosureLitmusTests
{
    private static string Dir() => TestPaths.InRepo("tests", "Kmc.Tests", "ClosureLitmus");

    [Theory]
    [InlineData("closure-sync-nosleep-2018.litmus")]
    [InlineData("closure-sync-nosleep-upstream.litmus")]
    [InlineData("closure-sub-retry-fn.litmus")]
    public void HoleIsAllowedByTheLkmmOnly(string file)
    {
        var path = Path.Combine(Dir(), file);
        Assert.StartsWith("Sometimes", LitmusRunner.RunFile(path, "lkmm", null).Observed);
        Assert.StartsWith("Never", LitmusRunner.RunFile(path, "tso", null).Observed);
        Assert.StartsWith("Never", LitmusRunner.RunFile(path, "sc", null).Observed);
    }

    [Theory]
    [InlineData("closure-sync-nosleep-upstream-acquire.litmus")]
    [InlineData("closure-sub-retry-fn-acquire.litmus")]
    public void ProposedFixIsForbiddenByTheLkmm(string file)
    {
        var r = LitmusRunner.RunFile(Path.Combine(Dir(), file), "lkmm", null);
        Assert.Equal("Never", r.Observed);
        Assert.Equal(LitmusVerdict.Match, r.Verdict);
    }
}
