using Kmc.Models;
using Kmc.Models.Scheduling;
using static Kmc.Models.Kernel;
using Assert = Xunit.Assert;

namespace Kmc.Tests;

/// <summary>
/// Objects kmc cannot track for use-after-free are refused with a misuse error rather than
/// freed silently: only locations created inside the Kmalloc/OnStack lambda point back at it.
/// </summary>
public class OwnershipTests
{
    public static TheoryData<string> Drivers => new() { "native", "coyote" };

    private static IExplorer Explorer(string driver) => driver == "native" ? new NativeExplorer() : new CoyoteExplorer();

    private static ExplorationResult Run(string driver, Scenario s) =>
        Explorer(driver).Explore(s, new ExploreOptions { Strategy = "random", Iterations = 20, Seed = 1 });

    private sealed class Pair : KObject
    {
        public Scenarios.Buffer Inner { get; } = new();
        public Loc<int> Count { get; } = new("pair->count");
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void ObjectBuiltOutsideTheLambdaThenFreedAndUsedIsNeverSilent(string driver)
    {
        var r = Run(driver, new Scenario(1, ex => ex.Spawn("T0", 0, async () =>
        {
            var built = new Scenarios.Buffer();
            var buf = Kmalloc(() => built, "buf");
            await Kfree(buf);
            await ReadOnce(buf.Data);
        })));
        Assert.NotNull(r.Failure);
        Assert.Equal(FailureKind.ModelCrash, r.Failure!.Kind);
        Assert.Contains("kmc misuse: Kmalloc(buf) at ./tests/Kmc.Tests/OwnershipTests.cs:", r.Failure.Message);
        Assert.Contains("the Buffer was constructed outside any allocation", r.Failure.Message);
        Assert.Contains("Kmalloc(() => new Buffer(...))", r.Failure.Message);
    }

    [Fact]
    public void ObjectBuiltOutsideTheLambdaInSetupIsRefused()
    {
        var e = Assert.Throws<ModelMisuseException>(() => Run("native", new Scenario(1, ex =>
        {
            var built = new Scenarios.Buffer();
            Kmalloc(() => built, "buf");
        })));
        Assert.Contains("constructed outside any allocation", e.Message);
    }

    [Fact]
    public void ObjectBuiltOutsideAnOnStackLambdaIsRefused()
    {
        var r = Run("native", new Scenario(1, ex => ex.Spawn("T0", 0, async () =>
        {
            var built = new Scenarios.Buffer();
            var s = OnStack(() => built, "frame");
            FrameReturn(s);
            await ReadOnce(s.Data);
        })));
        Assert.Equal(FailureKind.ModelCrash, r.Failure?.Kind);
        Assert.Contains("OnStack(frame)", r.Failure!.Message);
        Assert.Contains("OnStack(() => new Buffer(...))", r.Failure.Message);
    }

    [Fact]
    public void AnEmbeddedMemberAllocatedOnItsOwnIsRefused()
    {
        var r = Run("native", new Scenario(1, ex => ex.Spawn("T0", 0, async () =>
        {
            var pair = Kmalloc(() => new Pair(), "pair");
            Kmalloc(() => pair.Inner, "inner");
            await Kfree(pair);
        })));
        Assert.Equal(FailureKind.ModelCrash, r.Failure?.Kind);
        Assert.Contains("constructed inside another allocation (pair (kmalloc at", r.Failure!.Message);
    }

    [Fact]
    public void AnObjectAllocatedTwiceIsRefused()
    {
        var r = Run("native", new Scenario(1, ex => ex.Spawn("T0", 0, async () =>
        {
            var buf = Kmalloc(() => new Scenarios.Buffer(), "buf");
            Kmalloc(() => buf, "again");
            await Kfree(buf);
        })));
        Assert.Equal(FailureKind.ModelCrash, r.Failure?.Kind);
        Assert.Contains("Kmalloc(again)", r.Failure!.Message);
        Assert.Contains("already buf (kmalloc at", r.Failure.Message);
    }

    [Fact]
    public void FrameReturnOfAHeapObjectIsRefusedRatherThanFreeingIt()
    {
        var r = Run("native", new Scenario(1, ex => ex.Spawn("T0", 0, async () =>
        {
            var buf = Kmalloc(() => new Scenarios.Buffer(), "buf");
            FrameReturn(buf);
            await Kfree(buf);
        })));
        Assert.Equal(FailureKind.ModelCrash, r.Failure?.Kind);
        Assert.Contains("only an object made with OnStack has a frame to return from", r.Failure!.Message);
    }

    [Theory]
    [MemberData(nameof(Drivers))]
    public void AnEmbeddedMemberOfAFreedObjectIsCheckedToo(string driver)
    {
        var r = Run(driver, new Scenario(1, ex => ex.Spawn("T0", 0, async () =>
        {
            var pair = Kmalloc(() => new Pair(), "pair");
            await Kfree(pair);
            await ReadOnce(pair.Inner.Data);
        })));
        Assert.Equal(FailureKind.UseAfterFree, r.Failure?.Kind);
        Assert.Contains("READ_ONCE of buf->data by T0 after free: pair", r.Failure!.Message);
    }

    [Fact]
    public void StaticObjectsAreNotFreeable()
    {
        var r = Run("native", new Scenario(1, ex =>
        {
            var global = new Scenarios.Buffer();
            ex.Spawn("T0", 0, async () => await Kfree(global));
        }));
        Assert.Equal(FailureKind.Assertion, r.Failure?.Kind);
        Assert.Contains("which was not kmalloc'd", r.Failure!.Message);
    }
}
