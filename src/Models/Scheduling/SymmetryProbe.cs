namespace Kmc.Models.Scheduling;

/// <summary>
/// Tries a scenario's declared task symmetry (<see cref="Execution.Symmetric"/>) before the
/// reduced search relies on it. A few random executions under sequential consistency are run
/// again with two interchangeable tasks' roles swapped: every scheduling pick of one becomes a
/// pick of the other, recorded choices stay as they were. If the tasks are interchangeable, that
/// is an execution too, and each task in it does exactly what its counterpart did (the same
/// kernel operations from the same lines of code, the same failure). Code that singles out a CPU
/// (an <c>if (cpu == 0)</c>, a loop over CPUs in a fixed order, a choice that names a CPU) mostly
/// fails this; the search then explores every renaming and its verdict says why. Passing proves
/// nothing (it samples): the declaration stays the check's promise.
/// </summary>
public static class SymmetryProbe
{
    /// <summary>Random executions tried, each against one swapped pair.</summary>
    public const int Probes = 8;

    /// <summary>What contradicts the declared symmetry (null: nothing seen, or nothing declared).</summary>
    public static string? Violation(Scenario scenario, ExploreOptions options)
    {
        var probe = options with { Symmetry = false, Memory = null, AllOutcomes = false };
        for (var i = 0; i < Probes; i++)
        {
            var recording = new Recording(new Rng(0x5359_4D4D_4554_5259UL + (ulong)i));
            var original = Run(scenario, probe, recording, out var diverged);
            if (diverged != null)
                return null; // not a question of symmetry: the scenario itself fails to run
            var declared = original.Execution.DeclaredSymmetric;
            if (declared == null)
                return null;
            var a = declared[i % declared.Count];
            var b = declared[(i + 1) % declared.Count];
            var swap = Enumerable.Range(0, original.Execution.Tasks.Count).ToArray();
            (swap[a.Id], swap[b.Id]) = (b.Id, a.Id);
            var renamed = Run(scenario, probe, new Renamed(recording.Log, swap), out diverged);
            var what = $"random execution {i + 1} under sc with {a.Name} and {b.Name} swapped";
            if (diverged != null)
                return $"{what} is no execution ({diverged})";
            if (renamed.Execution.Tasks.Count != original.Execution.Tasks.Count)
                return $"{what} has {renamed.Execution.Tasks.Count} tasks, not {original.Execution.Tasks.Count}";
            if (original.Failure != renamed.Failure)
                return $"{what} ends in {renamed.Failure?.ToString() ?? "no failure"}, not {original.Failure?.ToString() ?? "no failure"}";
            foreach (var t in original.Execution.Tasks)
            {
                var counterpart = original.Execution.Tasks[swap[t.Id]];
                if (Difference(original.Steps[t.Id], renamed.Steps[swap[t.Id]]) is { } differs)
                    return $"{what}: {counterpart.Name} does not do what {t.Name} did ({differs})";
            }
        }

        return null;
    }

    /// <summary>The first operation in which two tasks' runs differ, or null.</summary>
    private static string? Difference(List<Step> mine, List<Step> theirs)
    {
        for (var k = 0; k < Math.Max(mine.Count, theirs.Count); k++)
        {
            if (k >= mine.Count || k >= theirs.Count)
                return $"{Math.Min(mine.Count, theirs.Count)} operations against {Math.Max(mine.Count, theirs.Count)}";
            var (m, t) = (mine[k], theirs[k]);
            // The code location, not the operation's words: those may name the CPU (vcpu_is_preempted(1)).
            if (m.File != t.File || m.Line != t.Line || m.Function != t.Function)
                return $"operation {k + 1}: {t.Op} at {t.Where} where it was {m.Op} at {m.Where}";
        }

        return null;
    }

    private sealed record ProbeRun(Execution Execution, FailureKind? Failure, List<Step>[] Steps);

    private static ProbeRun Run(Scenario scenario, ExploreOptions options, ISchedulePolicy policy, out string? diverged)
    {
        Execution ex;
        try
        {
            ex = NativeExplorer.RunOnce(scenario, options, policy, new List<int>(), record: true);
        }
        catch (ReplayDivergedException e)
        {
            diverged = e.Message;
            return new ProbeRun(null!, null, []);
        }

        diverged = ex.Diverged?.Message;
        var steps = ex.Tasks.Select(_ => new List<Step>()).ToArray();
        var byName = ex.Tasks.ToDictionary(t => t.Name, t => t.Id);
        foreach (var s in ex.Recorder!.Steps)
        {
            if (byName.TryGetValue(s.Task, out var id))
                steps[id].Add(s);
        }

        return new ProbeRun(ex, ex.Failure?.Kind, steps);
    }

    /// <summary>Random picks, remembered in order (a task pick as the task's id, a choice as its value).</summary>
    private sealed class Recording(Rng rng) : ISchedulePolicy
    {
        public readonly List<(bool Task, int Value)> Log = new();

        public SimTask PickTask(List<SimTask> enabled, SimTask? last)
        {
            var t = enabled[rng.Next(enabled.Count)];
            Log.Add((true, t.Id));
            return t;
        }

        public int PickChoice(int n)
        {
            var v = rng.Next(n);
            Log.Add((false, v));
            return v;
        }
    }

    /// <summary>A recording's picks with tasks renamed by <c>swap</c> (choices as they were).</summary>
    private sealed class Renamed(List<(bool Task, int Value)> log, int[] swap) : ISchedulePolicy
    {
        private int _pos;

        public SimTask PickTask(List<SimTask> enabled, SimTask? last)
        {
            var id = swap[Next(task: true)];
            return enabled.FirstOrDefault(t => t.Id == id)
                   ?? throw new ReplayDivergedException($"the renamed pick {id} cannot run (runnable: {string.Join(", ", enabled.Select(t => t.Name))})");
        }

        public int PickChoice(int n)
        {
            var v = Next(task: false);
            return v < n ? v : throw new ReplayDivergedException($"choice {v} of {n} options");
        }

        private int Next(bool task)
        {
            if (_pos >= log.Count || log[_pos].Task != task)
                throw new ReplayDivergedException($"at decision {_pos + 1} the renamed run asks for {(task ? "a task pick" : "a choice")} where the original made {(_pos >= log.Count ? "none" : log[_pos].Task ? "a task pick" : "a choice")}");
            return log[_pos++].Value;
        }
    }
}
