using Kmc.Checks.Framework;

namespace Kmc.Tests;

public class RegressionCorpusTests
{
    public static TheoryData<string> Traces()
    {
        var data = new TheoryData<string>();
        foreach (var f in RegressionCorpus.Files())
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Fact]
    public void CorpusIsNotEmpty() => Assert.NotEmpty(RegressionCorpus.Files());

    [Theory]
    [MemberData(nameof(Traces))]
    public void SavedTraceStillFailsOnItsVariantAndNotOnTheFixedOne(string file)
    {
        var r = RegressionCorpus.Check(Path.Combine(RegressionCorpus.Dir(), file));
        Assert.True(r.Ok, r.Problem);
        Assert.True(r.StillFails);
    }

    [Fact]
    public void ATraceThatNoLongerFailsIsReported()
    {
        var src = RegressionCorpus.Files().First(f => f.EndsWith("counter__no-lock.json"));
        var t = TraceFile.Load(src);

        // Cut the schedule so that the replay diverges: the corpus check must say so, not pass.
        var broken = t with { Schedule = t.Schedule!.Take(1).ToArray() };
        var path = Path.Combine(Directory.CreateTempSubdirectory("kmc-corpus").FullName, "broken.json");
        File.WriteAllText(path, broken.ToJson());
        var r = RegressionCorpus.Check(path);
        Assert.False(r.Ok);
    }
}
