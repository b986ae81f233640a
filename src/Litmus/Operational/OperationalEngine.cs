using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;

namespace Kmc.Checks.Litmus.Operational;

/// <summary>What the operational model did with one test.</summary>
public sealed record OperationalObservation
{
    public required string Model { get; init; }
    public required OutcomeSpace Space { get; init; }

    /// <summary>The final states of the executions that completed (and that the filter keeps).</summary>
    public required IReadOnlySet<Outcome> Outcomes { get; init; }

    public long Executions { get; init; }

    /// <summary>Executions that ran every thread to its end.</summary>
    public long Completed { get; init; }

    /// <summary>Executions that went through a wild pointer or divided by zero: no execution at all, as for herd.</summary>
    public long Infeasible { get; init; }

    /// <summary>Executions in which no thread could move (a lock never released): they have no final state.</summary>
    public long Hangs { get; init; }

    /// <summary>Executions cut at the step bound.</summary>
    public long Cut { get; init; }

    /// <summary>Executions cut because a loop ran <see cref="OperationalThread.LoopBound"/> times.</summary>
    public long LoopCut { get; init; }

    /// <summary>Executions abandoned because a promise broke (<see cref="PromiseBrokenException"/>): not executions of the model.</summary>
    public long Unfulfilled { get; init; }

    /// <summary>Executions abandoned because every enabled task was asleep: an interleaving equivalent to one already run.</summary>
    public long Redundant { get; init; }

    public bool TimedOut { get; init; }

    /// <summary>
    /// With race detection on: whether an execution that completed and that the filter keeps had
    /// a data race by kmc's race detector (null: not asked).
    /// </summary>
    public bool? DataRace { get; init; }

    /// <summary>The first such race, as the detector reports it.</summary>
    public string? RaceWitness { get; init; }

    /// <summary>The construct the Models API cannot express, when the test has one.</summary>
    public string? Unsupported { get; init; }

    /// <summary>An execution failed in a way a litmus test should not make it (a spin_unlock() of a lock not held, say).</summary>
    public string? Error { get; init; }

    public string Verdict => Unsupported != null ? "unsupported" : Error != null ? "error" : TimedOut ? "timed out" : Space.Verdict((IReadOnlyCollection<Outcome>)Outcomes);
}

/// <summary>
/// Runs a litmus test on an operational memory model (sc, tso, lkmm from src/Models): each
/// thread becomes a simulated task on its own CPU whose body is the thread's code executed
/// through the kernel API (<see cref="OperationalThread"/>), and the native explorer's DFS
/// policy, with no preemption bound, enumerates every interleaving and every choice the
/// memory model makes (which store a load reads, where a store lands, when a buffer drains).
/// The set of final states is the model's answer.
/// </summary>
public static class OperationalEngine
{
    public const int MaxSteps = 10_000;

    public static readonly IReadOnlyList<string> ModelNames = ["sc", "tso", "lkmm"];

    /// <param name="reduce">sleep-set reduction (off: every interleaving, for checking the reduction itself)</param>
    /// <param name="promises">lkmm's value promises (off: load buffering by deferred loads only, to show what promises add)</param>
    /// <param name="races">run kmc's data-race detector too (<see cref="OperationalObservation.DataRace"/>); a race does not end the execution</param>
    /// <param name="prunePromises">
    /// drop the promises no store the thread can still reach would fulfil (<see cref="PromiseSites"/>)
    /// and the deferrals the next statement performs at once (OperationalThread.PerformedAtOnce);
    /// off: every such choice is offered, for checking the pruning itself
    /// </param>
    public static OperationalObservation Run(LitmusTest test, OutcomeSpace space, string model, TimeSpan? timeout, bool reduce = true, bool promises = true,
        bool races = false, bool prunePromises = true)
    {
        if (!ModelNames.Contains(model))
            throw new KmcInputException($"unknown memory model '{model}' (use sc, tso or lkmm)");
        var watch = Stopwatch.StartNew();
        if (StaticUnsupported(test) is { } why)
            return Empty(space, model) with { Unsupported = why };

        var layout = InitialLayout(test);
        while (true)
        {
            var (obs, relayout) = Explore(test, space, model, layout, watch, timeout, reduce, promises, races, prunePromises);
            if (relayout is not { } r)
                return obs;
            layout[r.Loc] = r.Kind;
        }
    }

    private static OperationalObservation Empty(OutcomeSpace space, string model) =>
        new() { Model = model, Space = space, Outcomes = new HashSet<Outcome>() };

    /// <summary>Calls the Models API cannot express, anywhere in the test (taken branch or not).</summary>
    private static string? StaticUnsupported(LitmusTest test)
    {
        foreach (var t in test.Threads)
        {
            foreach (var c in Calls(t.Body))
            {
                if (OperationalThread.Unsupported(c.Name) is { } why)
                    return why;
            }
        }

        return null;
    }

    private static IEnumerable<CallExpr> Calls(IEnumerable<Stmt> body) => body.SelectMany(Calls);

    private static IEnumerable<CallExpr> Calls(Stmt s) => s switch
    {
        BlockStmt b => Calls(b.Body),
        ExprStmt e => Calls(e.Expr),
        AssignStmt a => Calls(a.Target).Concat(Calls(a.Value)),
        IfStmt i => Calls(i.Cond).Concat(Calls(i.Then)).Concat(i.Else is null ? [] : Calls(i.Else)),
        BranchStmt b => Calls(b.Cond),
        LoopStmt l => new[] { l.Init, l.Step, l.Body }.OfType<Stmt>().SelectMany(Calls).Concat(l.Cond is null ? [] : Calls(l.Cond)),
        _ => [],
    };

    private static IEnumerable<CallExpr> Calls(Expr e) => e switch
    {
        CallExpr c => c.Args.SelectMany(Calls).Prepend(c),
        DerefExpr d => Calls(d.Pointer),
        AddrOfExpr a => Calls(a.Target),
        UnaryExpr u => Calls(u.Operand),
        BinaryExpr b => Calls(b.Left).Concat(Calls(b.Right)),
        CondExpr c => Calls(c.Cond).Concat(Calls(c.Then)).Concat(Calls(c.Else)),
        _ => [],
    };

    /// <summary>
    /// Pointers are the locations that start out holding an address, locks those a spin_*() call
    /// names directly; anything else found at run time restarts the search (<see cref="RelayoutException"/>).
    /// </summary>
    private static CellKind[] InitialLayout(LitmusTest test)
    {
        var layout = new CellKind[test.Locations.Count];
        foreach (var (loc, v) in test.InitialValues)
        {
            if (Values.IsAddress(v))
                layout[loc] = CellKind.Pointer;
        }

        foreach (var c in test.Threads.SelectMany(t => Calls(t.Body)))
        {
            if (c.Name.StartsWith("spin_", StringComparison.Ordinal) || c.Name.StartsWith("raw_spin_", StringComparison.Ordinal))
            {
                var name = c.Args.FirstOrDefault() switch
                {
                    NameExpr n => n.Name,
                    AddrOfExpr { Target: NameExpr n } => n.Name,
                    _ => null,
                };
                if (name != null && test.Locations.FirstOrDefault(l => l.Name == name) is { } l && !test.InitialValues.ContainsKey(l.Index))
                    layout[l.Index] = CellKind.Lock;
            }
        }

        return layout;
    }

    /// <summary>Why the current execution stopped early, set by the task that stopped it.</summary>
    private sealed class Stop
    {
        public bool Infeasible;
        public bool LoopBound;
        public bool PromiseBroken;
        public string? Unsupported;
        public string? ParseError;
        public RelayoutException? Relayout;

        public void Clear()
        {
            Infeasible = false;
            LoopBound = false;
            PromiseBroken = false;
            Unsupported = null;
            ParseError = null;
            Relayout = null;
        }
    }

    private static (OperationalObservation, RelayoutException?) Explore(LitmusTest test, OutcomeSpace space, string model, CellKind[] layout,
        Stopwatch watch, TimeSpan? timeout, bool reduce, bool promises, bool races, bool prune)
    {
        string? raceWitness = null;
        var byName = test.Locations.ToDictionary(l => l.Name, l => l.Index, StringComparer.Ordinal);
        var stop = new Stop();
        var outcomes = new HashSet<Outcome>();
        var threads = new OperationalThread[test.Threads.Count];
        var readers = test.Threads.Select(t => Calls(t.Body).Any(c => c.Name is "rcu_read_lock" or "rcu_read_unlock")).ToArray();
        var wmb = test.Threads.Select(t => Calls(t.Body).Any(c => c.Name == "smp_wmb")).ToArray();
        var promisable = model == "lkmm" && promises ? PromiseDomains(test, layout) : null;
        var sites = promisable != null && prune ? test.Threads.Select(t => new PromiseSites(test, t)).ToArray() : null;
        var scenario = new Scenario(test.Threads.Count, ex =>
        {
            var machine = new OperationalMachine(test, byName, layout, tso: model == "tso", loadBuffering: model == "lkmm", prune: prune);
            for (var i = 0; i < threads.Length; i++)
            {
                var thread = threads[i] = new OperationalThread(machine, test.Threads[i], readers[i], promisable?[i], wmb[i], sites?[i]);
                ex.Spawn($"P{i}", i, () => Body(thread, stop));
            }

            ex.AtEnd("outcome", () =>
            {
                var o = space.Make(v => v.Thread < 0 ? machine.Final(space.Test.LocationIndex(v.Name))
                    : threads[v.Thread].Registers.TryGetValue(v.Name, out var r) ? r : 0);
                if (!space.Kept(o))
                    return;
                outcomes.Add(o);
                // The axiomatic flag is over the executions the filter keeps: so is this one.
                if (ex.FirstRace is { } race)
                    raceWitness ??= race.Message;
            });
        });
        // A litmus test's data race is a verdict flag (as the axiomatic engine's), not the end of an execution.
        var options = new ExploreOptions
        {
            Strategy = "dfs", PreemptionBound = -1, MaxSteps = MaxSteps, Memory = MemoryModels.Factory(model), DetectRaces = races, RacesOnlyNoted = true,
        };
        var dfs = new SleepSetDfs(task => (threads[task].Pending, threads[task].Seq), reduce);
        var decisions = new List<int>();
        long executions = 0, completed = 0, infeasible = 0, hangs = 0, cut = 0, loopCut = 0, redundant = 0, unfulfilled = 0;
        var timedOut = false;
        string? error = null;
        string? unsupported = null;

        var saved = SynchronizationContext.Current;
        // Awaits in the simulated tasks must resume inline on this thread, as in NativeExplorer.
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            do
            {
                if (timeout is { } t && watch.Elapsed > t)
                {
                    timedOut = true;
                    break;
                }

                dfs.BeginExecution();
                decisions.Clear();
                stop.Clear();
                Execution ex;
                try
                {
                    ex = NativeExplorer.RunOnce(scenario, options, dfs, decisions, record: false);
                }
                catch (SleepBlockedException)
                {
                    redundant++;
                    continue;
                }
                catch (LitmusUnsupportedException e)
                {
                    // From the setup (a lock with an initial value).
                    unsupported = e.Construct;
                    break;
                }

                executions++;
                if (stop.Relayout is { } r)
                    return (Empty(space, model), r);
                if (stop.Unsupported != null)
                {
                    unsupported = stop.Unsupported;
                    break;
                }

                if (stop.ParseError != null)
                {
                    error = $"parse error: {stop.ParseError}";
                    break;
                }

                if (stop.Infeasible)
                    infeasible++;
                else if (stop.PromiseBroken)
                    unfulfilled++;
                else if (stop.LoopBound)
                    loopCut++;
                else if (ex.StepBoundHit)
                    cut++;
                else if (ex.Failure is { Kind: FailureKind.Hang or FailureKind.Livelock })
                    hangs++;
                else if (ex.Failure is { } f)
                {
                    error = f.Message;
                    break;
                }
                else
                    completed++;
            }
            while (dfs.Advance());
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(saved);
        }

        return (new OperationalObservation
        {
            Model = model, Space = space, Outcomes = outcomes, Executions = executions, Completed = completed, Infeasible = infeasible,
            Hangs = hangs, Cut = cut, LoopCut = loopCut, Redundant = redundant, Unfulfilled = unfulfilled, TimedOut = timedOut, Unsupported = unsupported, Error = error,
            DataRace = races ? raceWitness != null : null, RaceWitness = raceWitness,
        }, null);
    }

    /// <summary>
    /// What each thread may promise (<see cref="OperationalThread.Promisable"/>), over the value
    /// domains the axiomatic engine computes; for code that engine cannot run (loops), each
    /// location's initial value and the constants the threads store.
    /// </summary>
    private static IReadOnlyList<(int Loc, long Value, bool Grounded)>[] PromiseDomains(LitmusTest test, CellKind[] layout)
    {
        IReadOnlyList<long>[] domains;
        try
        {
            domains = LitmusEngine.ValueDomains(test);
        }
        catch (Exception e) when (e is LitmusUnsupportedException or InfeasibleRunException)
        {
            var stored = test.Threads.SelectMany(t => LitmusEngine.StoredConstants(t.Body)).ToList();
            domains = test.Locations.Select(l => (IReadOnlyList<long>)stored.Prepend(test.InitialValues.TryGetValue(l.Index, out var v) ? v : 0).Distinct().Order().ToList()).ToArray();
        }

        // The constants the final condition asks about join every domain: a value out of thin
        // air (LB+datas with 42) is then promised and must break, not just never tried.
        // Such a value is not grounded: no dependency may feed its store (Promise.Grounded).
        var asked = Constants(test.Condition).Where(v => !Values.IsAddress(v)).ToList();
        var all = domains.Select(d => (IReadOnlyList<long>)d.Concat(asked).Distinct().Order().ToList()).ToArray();
        return test.Threads.Select(t => OperationalThread.Promisable(test, t, layout, all, domains)).ToArray();
    }

    private static IEnumerable<long> Constants(Prop p) => p switch
    {
        EqProp { Other: null } e => [e.Value],
        NotProp n => Constants(n.Inner),
        AndProp a => Constants(a.Left).Concat(Constants(a.Right)),
        OrProp o => Constants(o.Left).Concat(Constants(o.Right)),
        _ => [],
    };

    /// <summary>
    /// A task's body: the thread's code, with the interpreter's ways of giving up turned into a
    /// failure that ends the execution (the explorer treats it like any other) plus a note of why.
    /// </summary>
    private static async ValueTask Body(OperationalThread thread, Stop stop)
    {
        try
        {
            await thread.Run();
        }
        catch (InfeasibleRunException)
        {
            stop.Infeasible = true;
            throw Ended("infeasible");
        }
        catch (PromiseBrokenException)
        {
            stop.PromiseBroken = true;
            throw Ended("promise broken");
        }
        catch (LoopBoundException)
        {
            stop.LoopBound = true;
            throw Ended("loop bound");
        }
        catch (LitmusUnsupportedException e)
        {
            stop.Unsupported ??= e.Construct;
            throw Ended("unsupported");
        }
        catch (LitmusParseException e)
        {
            stop.ParseError ??= e.Message;
            throw Ended("parse error");
        }
        catch (RelayoutException e)
        {
            stop.Relayout ??= e;
            throw Ended("relayout");
        }
    }

    private static KernelFailureException Ended(string why) => new(new Failure(FailureKind.Assertion, $"litmus: {why}"));
}
