using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Tests;

/// <summary>
/// Coyote's parts and seeds must explore different schedules: Coyote derives each iteration's
/// randomness from its seed by small offsets, so seeds s and s + 1 used to give the same
/// executions shifted by one (workers and shards added no coverage), and only the low 32 bits
/// of the seed counted.
/// </summary>
public class CoyoteSeedTests
{
    /// <summary>Each execution's fingerprint: the values of four recorded choices of 10^6 and the order the tasks ran.</summary>
    private static List<string> Fingerprints(ulong seed, int part, int executions = 30)
    {
        var seen = new List<string>();
        var scenario = new Scenario(2, ex =>
        {
            var mine = new List<string>();
            lock (seen)
                seen.Add("");
            var index = seen.Count - 1;
            for (var i = 0; i < 2; i++)
            {
                var name = $"T{i}";
                ex.Spawn(name, i, async () =>
                {
                    for (var k = 0; k < 2; k++)
                    {
                        var v = Kernel.Choose(1_000_000, "v");
                        lock (seen)
                            seen[index] += $"{name}={v};";
                        await Kernel.WriteOnce(new Loc<int>("x" + name), v);
                    }
                });
            }
        });
        var options = new RunSettings { Driver = "coyote", Strategy = "random", Seed = seed, Part = part, Iterations = executions, MemoryModel = "sc" }.ToExploreOptions();
        var result = new CoyoteExplorer().Explore(scenario, options);
        Assert.Null(result.Failure);
        Assert.Equal(executions, seen.Count);
        return seen;
    }

    [Fact]
    public void Two_parts_of_one_search_explore_different_schedules()
    {
        var settings = new RunSettings { Driver = "coyote", Strategy = "random", Seed = 7, Iterations = 60 };
        var one = new Shard(1, 2).Part(settings);
        var two = new Shard(2, 2).Part(settings);
        Assert.Equal(7UL, two.Seed);
        var a = Fingerprints(one.Seed, one.Part);
        var b = Fingerprints(two.Seed, two.Part);
        Assert.Equal(a.Count, a.Distinct().Count());
        Assert.Empty(a.Intersect(b));
    }

    [Fact]
    public void Neighbouring_seeds_and_the_high_32_bits_give_different_schedules()
    {
        var seven = Fingerprints(7, 0);
        Assert.Equal(seven, Fingerprints(7, 0)); // same seed, same schedules
        Assert.Empty(seven.Intersect(Fingerprints(8, 0)));
        Assert.Empty(seven.Intersect(Fingerprints(7 + (1UL << 32), 0)));
    }

    [Fact]
    public void Coyote_workers_find_the_bug_in_schedules_of_their_own()
    {
        var dir = Directory.CreateTempSubdirectory("kmc-coyote-seeds").FullName;
        string Steps(string workers)
        {
            var r = CliTests.Run(dir, "run", "osq", "--variant", "step-a-plain-store", "--driver", "coyote", "--strategy", "random", "--seed", "7", "--workers", workers);
            Assert.True(r.Code == 1, r.Out + r.Err);
            var report = Directory.GetFiles(Path.Combine(dir, "reports", "runs"), "report.md", SearchOption.AllDirectories).Single();
            var steps = string.Join('\n', File.ReadLines(report).Where(l => l.StartsWith("| ") && char.IsDigit(l[2])));
            Directory.Delete(Path.Combine(dir, "reports"), recursive: true);
            return steps;
        }

        // Before the per-part seeds, 1, 2 and 3 workers found the bug at executions 12, 11 and 10 with identical steps.
        var one = Steps("1");
        var two = Steps("2");
        Assert.NotEqual(one, two);
    }
}
