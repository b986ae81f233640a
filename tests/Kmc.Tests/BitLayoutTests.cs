using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Primitives.Closures;
using Kmc.Primitives.Qspinlock;

namespace Kmc.Tests;

/// <summary>Flag words print in hex with their flag names where a port declares the word's bit layout.</summary>
public class BitLayoutTests
{
    [Theory]
    [InlineData(0x50000002, "0x50000002 (CLOSURE_WAITING|CLOSURE_RUNNING|remaining=2)")]
    [InlineData(0x40000001, "0x40000001 (CLOSURE_RUNNING|remaining=1)")]
    [InlineData(0x04000000, "0x4000000 (CLOSURE_DESTRUCTOR)")]
    [InlineData(0, "0")]
    // A guard bit (an over- or underflow) is named by nothing: it shows as leftover hex.
    [InlineData(0x08000001, "0x8000001 (remaining=1|0x8000000)")]
    [InlineData(-1, "0xffffffff (CLOSURE_DESTRUCTOR|CLOSURE_WAITING|CLOSURE_RUNNING|remaining=67108863|0xa8000000)")]
    public void ClosureRemainingPrintsItsFlags(int value, string expected) =>
        Assert.Equal(expected, Closure.RemainingLayout.Format(value));

    [Fact]
    public void QspinlockValFieldsFollowTheConfig()
    {
        var wide = QSpinlock.ValLayout(QspinlockConfig.PendingBits8);
        Assert.Equal("0x40101 (locked=1|pending=1|tail_cpu+1=1)", wide.Format(0x40101));
        Assert.Equal("0x90000 (tail_idx=1|tail_cpu+1=2)", wide.Format(0x90000));
        var narrow = QSpinlock.ValLayout(QspinlockConfig.PendingBits1);
        Assert.Equal("0x901 (locked=1|pending=1|tail_cpu+1=1)", narrow.Format(0x901));
    }

    [Fact]
    public void ALocationWithoutALayoutPrintsAsBefore()
    {
        var plain = new Loc<int>("x");
        Assert.Equal("1342177282", plain.FormatValue(0x50000002));
        var flags = new Loc<int>("y") { Layout = Closure.RemainingLayout };
        Assert.Equal("0x50000002 (CLOSURE_WAITING|CLOSURE_RUNNING|remaining=2)", flags.FormatValue(0x50000002));
        Assert.Throws<ArgumentException>(() => new BitLayout().Flag("EMPTY", 0));
    }

    [Fact]
    public void ClosureTracesShowRemainingWithItsFlags()
    {
        var check = CheckRegistry.Get("closure-sync");
        var run = CheckRunner.Run(check, check.GetVariant("sync-wakeup-race"), new RunSettings { MemoryModel = "sc", Iterations = 2000 });
        var steps = run.Trace!.Steps.Where(s => s.Target?.EndsWith(".remaining", StringComparison.Ordinal) == true).ToList();
        Assert.NotEmpty(steps);
        Assert.Contains(steps, s => s.Value!.Contains("0x40000001 (CLOSURE_RUNNING|remaining=1)"));
        Assert.All(steps, s => Assert.DoesNotContain("1073741825", s.Value));
    }
}
