using Kmc.Checks.Framework;
using Kmc.Models;

namespace MyLock.Tests;

/// <summary>kmc's verdicts on the port, asserted from xunit: each call explores and throws with the interleaving when the verdict is not the asserted one.</summary>
public class MyLockTests
{
    [Fact]
    public void TheFixedLockHasNoBugIn2000RandomExecutions() =>
        KmcTest.NoBug<MyLockCheck>("fixed", new RunSettings { Iterations = 2000, Seed = 1 });

    [Fact]
    public void TheFixedLockHasNoBugInAnyInterleaving() =>
        KmcTest.Exhaustive<MyLockCheck>("fixed");

    [Fact]
    public void TestThenSetIsFound() =>
        KmcTest.FindsBug<MyLockCheck>("test-then-set", FailureKind.Assertion);

    [Theory]
    [InlineData("fixed")]
    [InlineData("test-then-set")]
    public void EveryVariantMeetsItsExpectation(string variant) =>
        KmcTest.AsExpected<MyLockCheck>(variant);
}
