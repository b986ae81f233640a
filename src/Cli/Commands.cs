using System.CommandLine;
using System.Diagnostics;
using Kmc.Checks.Framework;
using Kmc.Cli.Fuzz;
using Kmc.Models.Scheduling;
using Kmc.Models.Scheduling.Reduction;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>The kmc command line: list, run, replay, ci, bench.</summary>
public sealed class Commands(ILogger log)
{
    private readonly Option<string?> _driver = new("--driver") { Description = "native (coroutines, fast, exhaustive search) or coyote" };
    private readonly Option<string?> _strategy = new("--strategy") { Description = "native: random, pct, dfs; coyote: portfolio, random, probabilistic, pct, fair-pct, delay-bounding, qlearning" };
    private readonly Option<int?> _iterations = new("--iterations") { Description = "schedules to explore" };
    private readonly Option<ulong?> _seed = new("--seed") { Description = "seed of the search (same seed, same result)" };
    private readonly Option<int?> _maxSteps = new("--max-steps") { Description = "scheduling points per execution before it is cut" };
    private readonly Option<double?> _timeout = new("--timeout") { Description = "seconds to search at most" };
    private readonly Option<int?> _pctDepth = new("--pct-depth") { Description = "PCT bug depth" };
    private readonly Option<int?> _preemptions = new("--preemption-bound") { Description = "exhaustive search: most preemptions per execution (-1: none)" };
    private readonly Option<bool> _noReduction = new("--no-reduction") { Description = "exhaustive search: explore every interleaving, without partial-order reduction (source-DPOR)" };
    private readonly Option<bool> _noSymmetry = new("--no-symmetry") { Description = "exhaustive search: explore every renaming of the tasks a check declares interchangeable (Execution.Symmetric), not one of each" };
    private readonly Option<bool> _noSpinPruning = new("--no-spin-pruning") { Description = "native driver: run marked spin loops' repeated zero-effect iterations instead of making the task wait (SpinLoop); a weak model may then re-read a stale store until the step bound" };
    private readonly Option<string?> _stateCache = new("--state-cache") { Description = "exhaustive search: on prunes states seen before (a plain dfs with a visited set of 128-bit fingerprints, in place of source-DPOR; scenarios it cannot fingerprint run without it, with a note); off (default) does not" };
    private readonly Option<bool> _noFirstPass = new("--no-first-pass") { Description = "unbounded exhaustive search (dfs, preemption bound -1): skip the first passes, plain dfs with preemption bounds 0, 1 and 2 of at most 2,000 executions each that look for shallow bugs before the full search" };
    private readonly Option<int?> _staleBound = new("--stale-bound") { Description = "exhaustive search under tso/lkmm: most weak-memory choices per execution that are not what SC would do (stale reads, late stores, undrained store buffers; -1: none)" };
    private readonly Option<string?> _memoryModel = new("--memory-model") { Description = "memory model: sc, tso or lkmm" };
    private readonly Option<bool> _noMinimize = new("--no-minimize") { Description = "report the failing schedule as found, without shortening it" };
    private readonly Option<int?> _workers = new("--workers") { Description = $"worker processes to split the search over (default: the number of cores; at most {Workers.PerCore} per core: more only adds processes that wait)" };
    private readonly Option<string?> _shard = new("--shard") { Description = "run only part i of N of the campaign (i/N), for a CI matrix; combine with kmc merge" };
    private readonly Option<string?> _config = new("--config") { Description = "config file (default: coyote.runtimeconfig.json in . or above)" };
    private readonly Option<string?> _faults = new("--faults") { Description = "dynamic fault query, e.g. 'class memory choose' or 'file Genradix.cs line 206 oneshot' (\"\": no faults)" };

    /// <summary>A user's check assemblies, loaded before any command looks for a check.</summary>
    public static readonly Option<string[]> Assembly = new("--assembly")
    {
        Description = "a .NET assembly with checks of your own (repeatable); every command then sees them as it sees kmc's",
        Recursive = true,
        AllowMultipleArgumentsPerToken = false,
    };

    public RootCommand Build()
    {
        var root = new RootCommand("kmc: a kernel-semantics model checker on Coyote");
        root.Options.Add(Assembly);
        root.Subcommands.Add(ListCommand());
        root.Subcommands.Add(RunCommand());
        root.Subcommands.Add(ReplayCommand());
        root.Subcommands.Add(CiCommand());
        root.Subcommands.Add(WeakenCommand());
        root.Subcommands.Add(MutateCommand());
        root.Subcommands.Add(BenchCommand());
        root.Subcommands.Add(RegressCommand());
        root.Subcommands.Add(MergeCommand());
        root.Subcommands.Add(WorkerCommand());
        root.Subcommands.Add(FaultsCommand());
        root.Subcommands.Add(LitmusCommands.Build());
        root.Subcommands.Add(FuzzCommand());
        return root;
    }

    private Command ListCommand()
    {
        var cmd = new Command("list", "list the checks and their variants with the expected outcomes under the memory model in force")
            { _memoryModel, _config };
        cmd.SetAction(p =>
        {
            var model = p.GetValue(_memoryModel) ?? KmcConfig.Load(p.GetValue(_config)).DefaultMemoryModel;
            MemoryModels.Validate(model, "command line");
            var table = new Table().AddColumns("check", "variant", $"expected ({model})", "under the other models, where different", "description");
            foreach (var c in CheckRegistry.All)
            {
                foreach (var v in c.Variants)
                {
                    var expected = v.ExpectedUnder(model);
                    var others = string.Join(", ", MemoryModels.Names.Where(m => m != model && v.ExpectedUnder(m) != expected)
                        .Select(m => $"{m}: {v.ExpectedUnder(m)}"));
                    table.AddRow(Markup.Escape(c.Name), Markup.Escape(v.Name), Markup.Escape(expected.ToString()), Markup.Escape(others), Markup.Escape(v.Description));
                }
            }

            AnsiConsole.Write(table);
            Console.WriteLine($"expected outcomes under {model}, the memory model kmc run and kmc ci use here (--memory-model for another)");
            if (MemoryModels.PortLimitation(model) is { } limit)
                Console.WriteLine($"note: {limit}");
            return 0;
        });
        return cmd;
    }

    private void AddExploreOptions(Command cmd)
    {
        foreach (var o in new Option[] { _driver, _strategy, _iterations, _seed, _maxSteps, _timeout, _pctDepth, _preemptions, _staleBound, _noReduction, _noSymmetry, _noSpinPruning, _stateCache, _noFirstPass, _memoryModel, _noMinimize, _config, _faults })
            cmd.Options.Add(o);
    }

    private SettingsOverride Overrides(ParseResult p) => new()
    {
        Driver = p.GetValue(_driver),
        Strategy = p.GetValue(_strategy),
        Iterations = p.GetValue(_iterations),
        Seed = p.GetValue(_seed),
        MaxSteps = p.GetValue(_maxSteps),
        Timeout = p.GetValue(_timeout),
        PctDepth = p.GetValue(_pctDepth),
        PreemptionBound = p.GetValue(_preemptions),
        StaleBound = p.GetValue(_staleBound),
        Reduction = p.GetValue(_noReduction) ? false : null,
        SpinPruning = p.GetValue(_noSpinPruning) ? false : null,
        Symmetry = p.GetValue(_noSymmetry) ? false : null,
        StateCache = p.GetValue(_stateCache) switch
        {
            null => null,
            "on" => true,
            "off" => false,
            var other => throw new KmcInputException($"--state-cache: expected on or off (got '{other}')"),
        },
        FirstPass = p.GetValue(_noFirstPass) ? false : null,
        MemoryModel = p.GetValue(_memoryModel),
        Minimize = p.GetValue(_noMinimize) ? false : null,
        Faults = p.GetValue(_faults),
    };

    private Command RunCommand()
    {
        var check = new Argument<string>("check") { Description = "the check to run (see kmc list)" };
        var variant = new Option<string?>("--variant") { Description = "variant to run (default: the first, the fixed code)" };
        var summary = new Option<string?>("--summary") { Description = "also write the outcome as a summary.json file (for kmc merge)" };
        var eachFault = new Option<bool>("--each-fault") { Description = "switch the check's fault sites on one at a time and say, per site, whether the check still held" };
        var faultMode = new Option<string?>("--fault-mode") { Description = $"with --each-fault: the action for the site switched on (default '{EachFault.DefaultMode}': the explorer decides at each hit)" };
        var cmd = new Command("run", "explore one check on one variant") { check, variant, _workers, _shard, summary, eachFault, faultMode };
        AddExploreOptions(cmd);
        cmd.SetAction(p =>
        {
            TempFiles.Sweep(ReportWriter.ReportsRoot());
            var config = KmcConfig.Load(p.GetValue(_config));
            var c = CheckRegistry.Get(p.GetValue(check)!);
            var v = p.GetValue(variant) is { } vn ? c.GetVariant(vn) : c.Variants[0];
            var settings = Overrides(p).ApplyTo(config.For(c.Name, p.GetValue(_memoryModel))).Validate("command line");
            if (p.GetValue(eachFault))
            {
                if (p.GetValue(_faults) != null)
                    throw new KmcInputException("--each-fault chooses the fault query itself: drop --faults");
                return PrintEachFault(c, v, settings, p.GetValue(faultMode) ?? EachFault.DefaultMode);
            }

            if (p.GetValue(faultMode) != null)
                throw new KmcInputException("--fault-mode only applies with --each-fault");
            FaultQueries.RequireSites(c, v, config.OwnFaults(settings), p.GetValue(_faults) != null ? "--faults" : $"{config.Source}: checks.{c.Name}");
            var shard = p.GetValue(_shard) is { } sh ? Shard.Parse(sh) : null;
            var workers = WorkerCount(p, shard);
            if (shard != null)
                settings = shard.Part(settings);
            log.LogInformation("exploring {Check}/{Variant} with {Settings}", c.Name, v.Name, settings);
            var watch = Stopwatch.StartNew();
            CheckRun run;
            string? header = null;
            if (workers is > 1 && settings is { Strategy: "dfs", StateCache: true })
                throw new KmcInputException($"--workers {workers}: a state-cached search does not split: a state one part prunes may have been explored only in another part's share (drop --workers, or --state-cache off)");
            else if (workers is > 1 && settings is { Driver: "native", Strategy: "dfs" })
            {
                // Plain dfs and source-DPOR alike (see CheckRunner.RunSplit): threads of this process.
                run = CheckRunner.RunSplit(c, v, settings, workers.Value);
            }
            else if (workers is > 1 && settings.Strategy != "dfs" && settings.Iterations >= workers)
                (run, header) = RunOnWorkers(c, v, settings, workers.Value);
            else if (workers == null && settings is { Driver: "native", Strategy: not "dfs" })
                (run, header) = RunHereThenOnWorkers(c, v, settings);
            else if (settings.Strategy == "dfs")
                // An exhaustive search has no iteration count to show a bar against: it says how far it is on stderr.
                run = CheckRunner.Run(c, v, settings, searchProgress: s => Console.Error.WriteLine(s));
            else
                run = WithProgress($"{c.Name}/{v.Name}", settings.Iterations, progress => CheckRunner.Run(c, v, settings, progress));
            if (p.GetValue(summary) is { } path)
            {
                var row = Suite.Row(run, report: null);
                Suite.WriteSummaryJson(path, [row], watch.Elapsed, shard: shard);
            }

            return PrintRun(run, header);
        });
        return cmd;
    }

    /// <summary>The per-site table of an --each-fault run; 1 when some site broke the check.</summary>
    private static int PrintEachFault(Check c, Variant v, RunSettings settings, string mode)
    {
        var watch = Stopwatch.StartNew();
        var rows = Status($"{c.Name}/{v.Name}: each fault site in turn", () => EachFault.Run(c, v, settings, mode));
        Console.WriteLine($"{c.Name}/{v.Name}: {rows.Count} fault site(s), each switched on alone with '{mode}' ({settings.Driver}/{settings.Strategy}, seed {settings.Seed}, {settings.Iterations} executions per site, {watch.Elapsed.TotalSeconds:F2} s)");
        var table = new Table().AddColumns("site", "class", "file:line", "function", "check", "executions", "verdict");
        foreach (var r in rows)
        {
            var executions = r.Run.Result.Failure != null ? $"{r.Run.Result.FailingExecution}" : $"{r.Run.Result.Executions}";
            table.AddRow(Markup.Escape(r.Site.Name), Markup.Escape(r.Site.Class), Markup.Escape(r.Site.Where), Markup.Escape(r.Site.Function),
                r.Held ? "[green]held[/]" : "[red]FAILED[/]", executions, Markup.Escape(r.Verdict));
        }

        AnsiConsole.Write(table);
        foreach (var r in rows.Where(r => !r.Held))
            Console.WriteLine($"to see it: kmc run {c.Name} --variant {v.Name} --seed {settings.Seed} --faults \"{r.Query}\"");
        Console.WriteLine($"{rows.Count(r => r.Held)} of {rows.Count} site(s): the check held");
        return rows.All(r => r.Held) ? 0 : 1;
    }

    private Command FaultsCommand()
    {
        var check = new Argument<string?>("check") { Description = "the check whose sites to list (default: every check)", Arity = ArgumentArity.ZeroOrOne };
        var variant = new Option<string?>("--variant") { Description = "variant to run to find the sites (default: the first)" };
        var list = new Command("list", "list the dynamic fault sites a check reaches: name, class, file:line, function, module, state") { check, variant, _faults, _config };
        list.SetAction(p =>
        {
            var config = KmcConfig.Load(p.GetValue(_config));
            var checks = p.GetValue(check) is { } name ? [CheckRegistry.Get(name)] : CheckRegistry.All;
            var table = new Table().AddColumns("check", "name", "class", "file:line", "function", "module", "state");
            var total = 0;
            foreach (var c in checks)
            {
                var v = p.GetValue(variant) is { } vn ? c.GetVariant(vn) : c.Variants[0];
                var settings = new SettingsOverride { Faults = p.GetValue(_faults) }.ApplyTo(config.For(c.Name)).Validate("command line");
                foreach (var row in FaultDiscovery.List(c, v, settings))
                {
                    total++;
                    var s = row.Site;
                    table.AddRow(Markup.Escape(c.Name), Markup.Escape(s.Name), Markup.Escape(s.Class), Markup.Escape(s.Where),
                        Markup.Escape(s.Function), Markup.Escape(s.Module), Markup.Escape(row.State));
                }
            }

            AnsiConsole.Write(table);
            Console.WriteLine($"{total} site(s)");
            return 0;
        });
        var cmd = new Command("faults", "dynamic fault injection: the sites and their state");
        cmd.Subcommands.Add(list);
        return cmd;
    }

    /// <summary>The --workers count; null when kmc decides (see <see cref="Workers"/>); 1 for a shard.</summary>
    private int? WorkerCount(ParseResult p, Shard? shard)
    {
        var workers = p.GetValue(_workers) ?? (shard != null ? 1 : null);
        if (workers < 1 || workers > Workers.Max)
            throw new KmcInputException($"--workers must be between 1 and {Workers.Max} ({Workers.PerCore} per core on this machine's {Environment.ProcessorCount}; got {workers})");
        return workers;
    }

    /// <summary>
    /// The default for a native sampling search: run here for <paramref name="slice"/> seconds
    /// (at least one execution); what is left goes to workers only if, at the rate seen so far,
    /// they would finish it sooner than this process (<paramref name="split"/>: always, for tests).
    /// Executions keep their indices, so the result is a single run's.
    /// </summary>
    public static (CheckRun Run, string? Header) RunHereThenOnWorkers(Check c, Variant v, RunSettings settings,
        double slice = Workers.InProcessSeconds, int? workerCount = null, bool split = false)
    {
        var watch = Stopwatch.StartNew();
        Stopwatch? sliceWatch = null;
        // The explorer asks before each execution; the clock starts at the first question, so a
        // slow start (JIT, a loaded machine) cannot end the slice before anything ran.
        bool SliceOver()
        {
            if (sliceWatch != null)
                return sliceWatch.Elapsed.TotalSeconds >= slice;
            sliceWatch = Stopwatch.StartNew();
            return false;
        }

        var first = WithProgress($"{c.Name}/{v.Name}", settings.Iterations,
            progress => CheckRunner.Run(c, v, settings, progress, SliceOver));
        var done = first.Result.Executions;
        if (first.Result.Failure != null || first.Result.TimedOut || done >= settings.Iterations || done == 0)
            return (first, null);
        var rest = settings with
        {
            FirstExecution = settings.FirstExecution + done,
            Iterations = settings.Iterations - done,
            TimeoutSeconds = settings.TimeoutSeconds - watch.Elapsed.TotalSeconds,
        };
        if (rest.TimeoutSeconds is <= 0)
            return (first, null);
        var workers = Math.Min(workerCount ?? Workers.Default, rest.Iterations);
        var remaining = first.Result.Elapsed.TotalSeconds / done * rest.Iterations;
        if (!split && !Workers.WorthSplitting(remaining, workers))
        {
            // Go on here from where the first slice stopped (same execution indices).
            var more = WithProgress($"{c.Name}/{v.Name}", rest.Iterations, progress => CheckRunner.Run(c, v, rest, progress));
            return (Combine(first, more, settings), null);
        }

        var (run, header) = RunOnWorkers(c, v, rest, workers);
        if (run.Result.Failure != null)
            return (run, $"{header}, after {done} here");
        var combined = Combine(first, run, settings);
        return (combined, combined.Result.Inconclusive != null ? null
            : $"no failure in {combined.Result.Executions} executions ({done} here, the rest on {workers} workers)");
    }

    /// <summary>A search run in two consecutive slices as one result; a failure can only be in the second.</summary>
    private static CheckRun Combine(CheckRun first, CheckRun second, RunSettings whole)
    {
        var a = first.Result;
        var b = second.Result;
        var result = b with
        {
            Executions = a.Executions + b.Executions,
            StepBoundHits = a.StepBoundHits + b.StepBoundHits,
            Decisions = a.Decisions + b.Decisions,
            Steps = a.Steps + b.Steps,
            Elapsed = a.Elapsed + b.Elapsed,
        };
        return second with { Settings = b.Failure != null ? second.Settings : whole, Result = result };
    }

    /// <summary>
    /// Splits the search into parts on worker processes; the earliest failure over all parts is the
    /// one a single run would find. That one execution is then re-run here to record, minimise and
    /// report it.
    /// </summary>
    private static (CheckRun, string) RunOnWorkers(Check c, Variant v, RunSettings settings, int workers)
    {
        var parts = Enumerable.Range(1, workers).Select(k => new Shard(k, workers).Part(settings)).ToList();
        var rows = Status($"{c.Name}/{v.Name} on {workers} workers",
            () => Workers.Run(parts.Select(part => new WorkerJob([new WorkerCase(c.Name, v.Name, part)], WriteReports: false)).ToList()));
        var merged = Suite.Merge(rows).Single();
        if (!merged.Observed.StartsWith("bug", StringComparison.Ordinal))
        {
            // An inconclusive merge: no part checked anything (none ran, or every execution was cut).
            var result = new ExplorationResult
            {
                Driver = settings.Driver, Strategy = settings.Strategy, Executions = merged.Executions,
                StepBoundHits = merged.Observed == Suite.Inconclusive ? merged.Executions : 0,
                TimedOut = merged.Observed == Suite.Inconclusive && merged.Executions == 0,
                Elapsed = TimeSpan.FromSeconds(rows.Max(r => r.Seconds)),
            };
            var clean = new CheckRun(c, v, settings, result, v.ExpectedUnder(settings.MemoryModel), null);
            return (clean, result.Inconclusive != null ? $"{result.Verdict()} ({workers} workers)" : $"no failure in {merged.Executions} executions ({workers} workers)");
        }

        // Native: re-run from the failing execution to the end of the campaign; it stops at that
        // first execution, and the trace records the campaign's budget as a single run would.
        // Coyote: re-run the part that found it, with its own seed.
        var f = merged.Executions;
        var again = settings.Driver == "native"
            ? settings with { FirstExecution = f - 1, Iterations = settings.FirstExecution + settings.Iterations - (f - 1) }
            : parts[Enumerable.Range(0, parts.Count).Where(i => rows[i].Observed.StartsWith("bug", StringComparison.Ordinal)).MinBy(i => (rows[i].Executions, i))];
        var run = CheckRunner.Run(c, v, again);
        var kind = run.Result.Failure?.Kind.ToString() ?? "no failure";
        return (run, $"{kind} found in execution {f} ({workers} workers)");
    }

    private static int PrintRun(CheckRun run, string? verdict = null)
    {
        var r = run.Result;
        var s = run.Settings;
        Console.WriteLine($"{run.Check.Name}/{run.Variant.Name}: {verdict ?? r.Verdict()} ({s.Driver}/{s.Strategy}, seed {s.Seed}, memory model {s.MemoryModel}, {r.Elapsed.TotalSeconds:F2} s)");
        Console.WriteLine($"  expected: {run.Expected}; {(run.MatchesExpectation ? "as expected" : "NOT as expected")}");
        if (MemoryModels.PortLimitation(s.MemoryModel) is { } limit)
            Console.WriteLine($"  note: {limit}");
        if (r.Inconclusive != null)
        {
            // Not a pass: the options left nothing checked.
            Console.Error.WriteLine($"kmc: {run.Mismatch()}");
            return 2;
        }

        if (run.Trace == null)
            return 0;
        var folder = ReportWriter.Write(run.Trace);
        Console.WriteLine();
        Console.WriteLine($"{run.Trace.Failure.Kind}: {run.Trace.Failure.Message}");
        if (run.Trace.Failure.Location != null)
            Console.WriteLine($"  at {run.Trace.Failure.Location}");
        Console.WriteLine();
        if (run.Trace.Minimization is { } m)
            Console.WriteLine($"Minimised {ReportWriter.MinimizationText(m)}.");
        Console.WriteLine($"Interleaving ({run.Trace.Steps.Count} steps):");
        foreach (var line in ReportWriter.Lines(run.Trace.Steps))
            Console.WriteLine("  " + line);
        Console.WriteLine();
        Console.WriteLine($"report: {Path.Combine(folder, "report.md")} and report.html");
        Console.WriteLine($"replay: {ReportWriter.ReplayCommand(Path.Combine(folder, "trace.json"), run.Trace.Check)}");
        return 1;
    }

    private Command ReplayCommand()
    {
        var trace = new Argument<string>("trace") { Description = "a trace.json written by kmc run" };
        var variant = new Option<string?>("--variant") { Description = "replay the schedule on another variant of the same check" };
        var step = new Option<bool>("--step") { Description = "print the interleaving one step at a time with the touched variables' values (Enter for the next step on a terminal)" };
        var cmd = new Command("replay", "replay a trace exactly and print its interleaving") { trace, variant, step };
        cmd.SetAction(p =>
        {
            var t = TraceFile.Load(p.GetValue(trace)!);
            var outcome = TraceReplayer.Replay(t, p.GetValue(variant));
            Console.WriteLine($"{t.Check}/{p.GetValue(variant) ?? t.Variant} ({t.Driver}/{t.Strategy}, seed {t.Seed}): {outcome.Summary}");
            if (p.GetValue(step))
            {
                StepThrough(outcome);
                return outcome.Reproduced ? 1 : 0;
            }

            foreach (var line in ReportWriter.Lines(outcome.Steps))
                Console.WriteLine("  " + line);
            return outcome.Reproduced ? 1 : 0;
        });
        return cmd;
    }

    /// <summary>One step, then the variables it and the steps before touched; waits for Enter on a terminal.</summary>
    private static void StepThrough(ReplayOutcome outcome)
    {
        var interactive = !Console.IsInputRedirected && !Console.IsOutputRedirected;
        if (interactive)
            Console.WriteLine("Enter: next step, q: show the rest");
        foreach (var (s, state) in StepWalker.Walk(outcome.Steps))
        {
            Console.WriteLine($"  {s}");
            if (s.Chain != null)
                Console.WriteLine($"      in: {s.Chain}");
            if (s.Memory != null)
                Console.WriteLine($"      memory: {s.Memory}");
            if (state.Count > 0)
                Console.WriteLine($"      state: {StepWalker.Format(state)}");
            if (interactive && Console.ReadLine()?.Trim() == "q")
                interactive = false;
        }

        if (outcome.Failure != null)
            Console.WriteLine($"  then: {outcome.Failure}");
    }

    private Command CiCommand()
    {
        var quick = new Option<bool>("--quick") { Description = "a tenth of the budget, for pull requests" };
        var budget = new Option<double?>("--budget") { Description = "scale every iteration budget by this factor" };
        var only = new Option<string[]>("--check") { Description = "run only these checks (repeat --check, or separate names with commas)" };
        var output = new Option<string?>("--out") { Description = "folder for this run's summary.md and summary.json (default: reports/last/, not tracked)" };
        var update = new Option<bool>("--update-summary") { Description = "also write the committed reports/summary.md and summary.json (summary-MODEL.* under another model)" };
        var cmd = new Command("ci", "run every check and variant with the configured budgets; exit 0 only when every outcome is as expected")
            { quick, budget, only, _memoryModel, _workers, _shard, _config, output, update };
        cmd.SetAction(p =>
        {
            TempFiles.Sweep(ReportWriter.ReportsRoot());
            var config = KmcConfig.Load(p.GetValue(_config));
            var factor = p.GetValue(budget) ?? 1.0;
            if (!double.IsFinite(factor) || factor <= 0)
                throw new KmcInputException($"--budget must be a finite number above 0 (got {factor})");
            var scale = (p.GetValue(quick) ? 0.1 : 1.0) * factor;
            var shard = p.GetValue(_shard) is { } sh ? Shard.Parse(sh) : null;
            var named = CheckList(p.GetValue(only));
            if (p.GetValue(update) && (shard != null || named.Count > 0 || scale != 1.0))
                throw new KmcInputException("--update-summary records the whole suite at its configured budgets: drop --shard, --check, --quick and --budget");
            var workers = WorkerCount(p, shard);
            var checks = named.Count > 0 ? named.Select(CheckRegistry.Get).ToList() : CheckRegistry.All;
            // A model other than the configured one gets its own summary (summary-lkmm.md), so the default run's stays.
            var memoryModel = p.GetValue(_memoryModel);
            if (memoryModel != null)
                MemoryModels.Validate(memoryModel, "command line");
            var stem = memoryModel is null || memoryModel == config.DefaultMemoryModel ? "summary" : $"summary-{memoryModel}";
            var cases = Suite.Cases(checks).Select(c =>
            {
                var s = config.For(c.Check.Name, memoryModel);
                var iterations = Math.Floor(s.Iterations * scale);
                if (iterations > int.MaxValue)
                    throw new KmcInputException($"--budget {factor} scales {c.Check.Name}'s {s.Iterations} iterations past {int.MaxValue}");
                return new WorkerCase(c.Check.Name, c.Variant.Name, s with { Iterations = Math.Max(1, (int)iterations) });
            }).ToList();
            if (shard != null)
                cases = shard.Take(cases).ToList();
            foreach (var c in cases)
            {
                var check = CheckRegistry.Get(c.Check);
                FaultQueries.RequireSites(check, check.GetVariant(c.Variant), config.OwnFaults(c.Settings), $"{config.Source}: checks.{c.Check}");
            }

            var watch = Stopwatch.StartNew();
            var progress = new CaseProgress(cases.Count);
            var rows = RunCases(cases, workers, progress);

            // The corpus replays in well under a second: one shard of a matrix does it for all.
            var regressions = shard == null || shard.Index == 1
                ? ReplayCorpus()
                : [];
            // A run writes where git does not look; the committed summary changes only on request.
            var dir = p.GetValue(output) ?? ReportWriter.LastRunDir();
            Suite.WriteSummary(rows, dir, watch.Elapsed, regressions, shard, stem);
            if (p.GetValue(update))
                Suite.WriteSummary(rows, ReportWriter.ReportsRoot(), watch.Elapsed, regressions, shard, stem);

            var code = PrintSuite(rows, regressions);
            Console.WriteLine($"summary: {Path.Combine(dir, stem + ".md")} ({watch.Elapsed.TotalSeconds:F1} s{(shard != null ? $", shard {shard}" : "")}{(progress.Workers > 1 ? $", {progress.Workers} workers" : "")})");
            return code;
        });
        return cmd;
    }

    /// <summary>The checks --check names, each once in the order first given: repeated options and comma-separated lists alike.</summary>
    internal static IReadOnlyList<string> CheckList(string[]? values)
    {
        var names = new List<string>();
        foreach (var value in values ?? [])
        {
            foreach (var part in value.Split(','))
            {
                var name = part.Trim();
                if (name.Length == 0)
                    throw new KmcInputException($"--check '{value}' has an empty check name");
                if (!names.Contains(name))
                    names.Add(name);
            }
        }

        return names;
    }

    private Command WeakenCommand()
    {
        var only = new Option<string?>("--check") { Description = "one benchmark (weaken.qspinlock, or just qspinlock)" };
        var update = new Option<bool>("--update-report") { Description = "also rewrite the committed reports/weaken.md (the report goes to reports/last/weaken.md)" };
        var cmd = new Command("weaken", "the weakened-barrier benchmark: every ordered call of each lock's fixed code relaxed in turn, under sc, tso and lkmm (or --memory-model); writes reports/weaken.md")
            { only, _memoryModel, _workers, _config, update };
        cmd.SetAction(p =>
        {
            var config = KmcConfig.Load(p.GetValue(_config));
            var checks = WeakenReport.Checks(p.GetValue(only));
            var models = p.GetValue(_memoryModel) is { } m ? [m] : WeakenReport.Models;
            foreach (var model in models)
                MemoryModels.Validate(model, "command line");
            var cases = models.SelectMany(model => Suite.Cases(checks).Select(c => new WorkerCase(c.Check.Name, c.Variant.Name, config.For(c.Check.Name, model)))).ToList();
            var workers = WorkerCount(p, null);
            var watch = Stopwatch.StartNew();
            var progress = new CaseProgress(cases.Count);
            var rows = RunCases(cases, workers, progress);
            var markdown = WeakenReport.Markdown(checks, rows, watch.Elapsed);
            // Like ci: the run's report goes where git does not look; the committed one only on request.
            var path = Path.Combine(ReportReady(ReportWriter.LastRunDir()), "weaken.md");
            Suite.WriteAtomically(path, markdown);
            if (p.GetValue(update))
                Suite.WriteAtomically(Path.Combine(ReportReady(ReportWriter.ReportsRoot()), "weaken.md"), markdown);
            var tallies = WeakenReport.Tally(checks, rows);
            var table = new Table().AddColumns(["primitive", "sites", .. models.Select(x => $"detected ({x})"), "harmless", "not detected (known misses)", "not as declared"]);
            foreach (var t in tallies)
            {
                table.AddRow([Markup.Escape(t.Primitive), t.Sites.ToString(), .. models.Select(x => t.Detected[x].ToString()),
                    Markup.Escape(WeakenReport.List(t.Harmless)), Markup.Escape(WeakenReport.List(t.Missed)), t.Mismatches == 0 ? "[green]0[/]" : $"[red]{t.Mismatches}[/]"]);
            }

            AnsiConsole.Write(table);
            foreach (var t in tallies)
            {
                foreach (var u in t.Undeclared)
                    Console.WriteLine($"UNDECLARED {t.Check}: site {u} has no declared expectation");
                foreach (var s in t.Stale)
                    Console.WriteLine($"STALE {t.Check}: declared site {s} is not reached by the fixed code");
            }

            foreach (var r in rows.Where(r => !r.Matches))
                Console.WriteLine($"MISMATCH {r.Mismatch}");
            Console.WriteLine($"report: {path} ({watch.Elapsed.TotalSeconds:F1} s)");
            return WeakenReport.Ok(tallies) && rows.All(r => r.Matches) ? 0 : 1;
        });
        return cmd;
    }

    /// <summary>
    /// kmc mutate: a mutation score per primitive, built on kmc weaken's site discovery (see
    /// <see cref="MutationScore"/>). kmc weaken stays the declared benchmark ci runs; mutate is the
    /// undeclared sweep that also makes READ_ONCE()/WRITE_ONCE() plain.
    /// </summary>
    private Command MutateCommand()
    {
        var names = new Argument<string[]>("check") { Description = "benchmarks to mutate (weaken.ticket-spinlock, or just ticket-spinlock; default: every one)", Arity = ArgumentArity.ZeroOrMore };
        // A variadic argument takes an unknown option (--workers) as a name: say it is not one.
        names.Validators.Add(r =>
        {
            foreach (var t in r.Tokens.Where(t => t.Value.StartsWith('-')))
                r.AddError($"kmc mutate has no option '{t.Value}' (see kmc mutate --help)");
        });
        var summary = new Option<bool>("--summary") { Description = "print only the score per primitive" };
        var cmd = new Command("mutate", "weaken each ordering site and each READ_ONCE/WRITE_ONCE of a primitive's fixed code in turn (from the port's own calls), run the check under sc, tso and lkmm, and print killed/survived per site")
            { names, summary, _config };
        cmd.SetAction(p =>
        {
            var config = KmcConfig.Load(p.GetValue(_config));
            var only = p.GetValue(names) ?? [];
            var checks = only.Length == 0 ? WeakenReport.Checks() : only.SelectMany(n => WeakenReport.Checks(n.StartsWith("weaken.", StringComparison.Ordinal) ? n : "weaken." + n)).Distinct().ToList();
            var results = new List<MutantResult>();
            foreach (var check in checks)
            {
                var mutants = MutationScore.Mutants(check);
                foreach (var stale in check.HarmlessPlain.Select(d => d.Site).Except(mutants.Select(m => m.Site.Name)))
                    Console.WriteLine($"STALE {check.Name}: {stale} is declared harmless when plain but is not a READ_ONCE/WRITE_ONCE site of the fixed code");
                foreach (var m in mutants)
                {
                    var r = MutationScore.Run(check, m, model => config.For(check.Name, model));
                    results.Add(r);
                    if (!p.GetValue(summary))
                        Console.WriteLine($"{check.Primitive,-16} {m.Site.Name,-56} {m.Weakening,-40} {r.Outcome,-11} {r.Detail}");
                }
            }

            var table = new Table().AddColumns("primitive", "mutants", "killed", "survived", "harmless", "intentional", "score (killed / scored)");
            foreach (var g in results.GroupBy(r => r.Mutant.Primitive))
            {
                int Count(MutantOutcome o) => g.Count(r => r.Outcome == o);
                var scored = Count(MutantOutcome.Killed) + Count(MutantOutcome.Survived);
                table.AddRow(Markup.Escape(g.Key), g.Count().ToString(), Count(MutantOutcome.Killed).ToString(), Count(MutantOutcome.Survived).ToString(),
                    Count(MutantOutcome.Harmless).ToString(), Count(MutantOutcome.Intentional).ToString(),
                    scored == 0 ? "-" : $"{Count(MutantOutcome.Killed)}/{scored} ({100.0 * Count(MutantOutcome.Killed) / scored:F0}%)");
            }

            AnsiConsole.Write(table);
            if (!p.GetValue(summary))
            {
                foreach (var r in results.Where(r => r.Outcome == MutantOutcome.Survived))
                    Console.WriteLine($"SURVIVED {r.Mutant.Primitive}: {r.Mutant.Site.Name} ({r.Mutant.Weakening} at {r.Mutant.Site.Site.FileName}:{r.Mutant.Site.Site.Line})");
            }

            return 0;
        });
        return cmd;
    }

    private static string ReportReady(string dir)
    {
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Runs the cases in this process, one after the other, until <paramref name="stop"/> says so.</summary>
    private static List<SuiteRow> RunCasesHere(IReadOnlyList<WorkerCase> cases, CaseProgress progress, Func<bool>? stop = null)
    {
        var rows = new List<SuiteRow>();
        foreach (var c in cases)
        {
            if (stop?.Invoke() == true)
                break;
            var check = CheckRegistry.Get(c.Check);
            var row = Suite.RunCase(check, check.GetVariant(c.Variant), c.Settings, writeReports: true);
            rows.Add(row);
            progress.Done(row);
        }

        return rows;
    }

    /// <summary>
    /// The default: cases run here for <see cref="Workers.InProcessSeconds"/>; the rest go to
    /// workers only if, at the pace seen so far, they would finish sooner. Each case runs whole
    /// wherever it runs, so its row does not depend on where.
    /// </summary>
    private static List<SuiteRow> RunCasesHereThenOnWorkers(IReadOnlyList<WorkerCase> cases, CaseProgress progress)
    {
        var watch = Stopwatch.StartNew();
        var rows = RunCasesHere(cases, progress, () => watch.Elapsed.TotalSeconds > Workers.InProcessSeconds);
        var rest = cases.Skip(rows.Count).ToList();
        if (rest.Count == 0)
            return rows;
        var workers = Math.Min(Workers.Default, rest.Count);
        var remaining = watch.Elapsed.TotalSeconds / rows.Count * rest.Count;
        rows.AddRange(Workers.WorthSplitting(remaining, workers) ? RunCasesOnWorkers(rest, workers, progress) : RunCasesHere(rest, progress));
        return Suite.Merge(rows).ToList();
    }

    /// <summary>The cases on the workers asked for, or (none asked for) here first and then where kmc decides.</summary>
    private static List<SuiteRow> RunCases(IReadOnlyList<WorkerCase> cases, int? workers, CaseProgress progress) => workers switch
    {
        > 1 when cases.Count > 1 => RunCasesOnWorkers(cases, workers.Value, progress),
        null => RunCasesHereThenOnWorkers(cases, progress),
        _ => RunCasesHere(cases, progress),
    };

    /// <summary>Deals the cases round-robin to worker processes; each writes its own bug reports.</summary>
    private static List<SuiteRow> RunCasesOnWorkers(IReadOnlyList<WorkerCase> cases, int workers, CaseProgress progress)
    {
        var jobs = Enumerable.Range(1, workers).Select(k => new WorkerJob(new Shard(k, workers).Take(cases).ToList(), WriteReports: true))
            .Where(j => j.Cases.Count > 0).ToList();
        progress.Workers = jobs.Count;
        return Suite.Merge(Workers.Run(jobs, progress.Done)).ToList();
    }

    /// <summary>The regression corpus, announced first: it replays after the cases, and a log should say what is running.</summary>
    private static List<RegressionRow> ReplayCorpus()
    {
        var count = RegressionCorpus.Files().Count;
        if (count == 0)
            return [];
        Console.WriteLine($"replaying the regression corpus ({count} traces)");
        var watch = Stopwatch.StartNew();
        var rows = RegressionCorpus.CheckAll();
        Console.WriteLine($"replayed {count} traces in {watch.Elapsed.TotalSeconds:F1} s: {rows.Count(r => r.Ok)} ok");
        return rows;
    }

    /// <summary>The suite table, a line per mismatch, the count line; 0 when every outcome is as expected.</summary>
    private static int PrintSuite(IReadOnlyList<SuiteRow> rows, IReadOnlyList<RegressionRow> regressions)
    {
        var table = new Table().AddColumns("check", "variant", "expected", "observed", "ok", "schedules", "time (s)", "driver/strategy", "seed");
        foreach (var r in rows)
        {
            table.AddRow(Markup.Escape(r.Check), Markup.Escape(r.Variant), Markup.Escape(r.Expected), Markup.Escape(r.Observed),
                r.Matches ? "[green]yes[/]" : "[red]NO[/]", r.Executions.ToString(), r.Seconds.ToString("F2"),
                Markup.Escape($"{r.Driver}/{r.Strategy}"), r.Seed.ToString());
        }

        AnsiConsole.Write(table);
        PrintRegressions(regressions);
        var bad = rows.Where(r => !r.Matches).ToList();
        foreach (var r in bad)
            Console.WriteLine($"MISMATCH {r.Mismatch}");
        var failed = bad.Count + regressions.Count(r => !r.Ok);
        Console.WriteLine($"{rows.Count + regressions.Count - failed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    private Command MergeCommand()
    {
        var files = new Argument<string[]>("summaries") { Description = "summary.json files of shards or workers", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--out") { Description = "folder for the merged summary.md and summary.json (default: reports/last/, not tracked)" };
        var cmd = new Command("merge", "combine the summary.json files of CI shards into one suite table") { files, output };
        cmd.SetAction(p =>
        {
            var read = p.GetValue(files)!.Select(f => (f, Suite.ReadSummary(f))).ToList();
            Suite.CheckMergeable(read);
            var dir = p.GetValue(output) ?? ReportWriter.LastRunDir();
            if (File.Exists(dir))
                throw new KmcInputException($"--out '{dir}' is a file; it names the folder for summary.md and summary.json");
            var summaries = read.Select(s => s.Item2).ToList();
            var rows = Suite.Merge(summaries.SelectMany(s => s.Rows));
            var regressions = summaries.SelectMany(s => s.Regressions).GroupBy(r => r.File, StringComparer.Ordinal)
                .Select(g => g.FirstOrDefault(r => !r.Ok) ?? g.First()).OrderBy(r => r.File, StringComparer.Ordinal).ToList();
            var elapsed = TimeSpan.FromSeconds(summaries.Max(s => s.Seconds));
            Suite.WriteSummary(rows, dir, elapsed, regressions);
            var code = PrintSuite(rows, regressions);
            Console.WriteLine($"merged {summaries.Count} summaries: {Path.Combine(dir, "summary.md")}");
            return code;
        });
        return cmd;
    }

    private static Command WorkerCommand()
    {
        var job = new Argument<string>("job");
        var output = new Argument<string>("out");
        var cmd = new Command("worker", "(internal) run a job file for a parent kmc") { job, output };
        cmd.Hidden = true;
        cmd.SetAction(p => Workers.Serve(p.GetValue(job)!, p.GetValue(output)!));
        return cmd;
    }

    private Command RegressCommand()
    {
        var cmd = new Command("regress", "the saved-trace corpus in reports/regressions/");
        var trace = new Argument<string>("trace") { Description = "a trace.json that reproduces a bug" };
        var add = new Command("add", "add a trace (it must replay to its failure)") { trace };
        add.SetAction(p =>
        {
            Console.WriteLine($"added {RegressionCorpus.Add(p.GetValue(trace)!)}");
            return 0;
        });
        var refresh = new Command("refresh", "re-record traces whose model code changed (same check, variant and seed)");
        refresh.SetAction(_ =>
        {
            foreach (var line in RegressionCorpus.Refresh())
                Console.WriteLine(line);
            return 0;
        });
        var check = new Command("check", "replay every trace: it must fail on its variant and not on the fixed one");
        check.SetAction(_ => PrintRegressions(RegressionCorpus.CheckAll()) ? 0 : 1);
        cmd.Subcommands.Add(add);
        cmd.Subcommands.Add(refresh);
        cmd.Subcommands.Add(check);
        return cmd;
    }

    private static bool PrintRegressions(IReadOnlyList<RegressionRow> results)
    {
        foreach (var r in results)
            Console.WriteLine($"regression {r.File}: {(r.Ok ? "ok" : $"MISMATCH {r.Problem}")}; on fixed: {r.OnFixed}");
        return results.All(r => r.Ok);
    }

    private static Command FuzzCommand()
    {
        var cases = new Option<int?>("--cases") { Description = "mutated inputs per format (default 2000)" };
        var seed = new Option<ulong?>("--seed") { Description = "seed of the mutations (same seed, same cases; default 1)" };
        var targets = new Option<string[]>("--target") { Description = $"formats to fuzz (repeatable; default all: {string.Join(", ", FuzzTargets.Names)})", AllowMultipleArgumentsPerToken = true };
        var keep = new Option<string?>("--keep") { Description = "folder to keep each failing input in (default: kmc-fuzz-failures)" };
        var cmd = new Command("fuzz", "mutate valid traces, summaries, configs, fault queries and litmus files and check that each is refused in one line or gives a valid result") { cases, seed, targets, keep };
        cmd.SetAction(p =>
        {
            var n = p.GetValue(cases) ?? 2000;
            if (n < 1)
                throw new KmcInputException($"--cases must be at least 1 (got {n})");
            var wanted = p.GetValue(targets) ?? [];
            foreach (var t in wanted.Where(t => !FuzzTargets.Names.Contains(t)))
                throw new KmcInputException($"unknown fuzz target '{t}' (use {string.Join(", ", FuzzTargets.Names)})");
            var report = FuzzCampaign.Run(n, p.GetValue(seed) ?? 1, wanted, Path.GetFullPath(p.GetValue(keep) ?? "kmc-fuzz-failures"));
            var table = new Table().AddColumns("format", "cases", "refused (exit 2, one line)", "valid result", "failed", "time (s)");
            foreach (var t in report.Tallies)
            {
                table.AddRow(t.Target, t.Cases.ToString(), t.Refused.ToString(), t.Accepted.ToString(),
                    report.Failures.Count(f => f.Target == t.Target).ToString(), t.Elapsed.TotalSeconds.ToString("F1"));
            }

            AnsiConsole.Write(table);
            foreach (var f in report.Failures)
                Console.WriteLine($"FAILED {f.Case}: {f.Problem} (input: {f.Input}; kmc {string.Join(' ', f.Args.Select(a => a.Contains(' ') ? $"'{a}'" : a))})");
            Console.WriteLine($"{report.Cases} cases, {report.Failures.Count} failed");
            return report.Failures.Count == 0 ? 0 : 1;
        });
        return cmd;
    }

    private Command BenchCommand()
    {
        var models = new Option<bool>("--memory-models") { Description = "instead: what tso and lkmm cost against sc (dfs executions, time per random execution) on passing checks" };
        var checks = new Option<string[]>("--check") { Description = "with --memory-models: the checks to measure (repeatable; default: a built-in set)", AllowMultipleArgumentsPerToken = true };
        var exhaustive = new Option<bool>("--exhaustive") { Description = "instead: the exhaustive search with partial-order reduction against the plain search (executions, time, verdicts)" };
        var benchTimeout = new Option<double>("--timeout") { Description = "with --exhaustive or --split: seconds each search may take (default 60; the race-analysis table takes at most 20 per search)", DefaultValueFactory = _ => 60 };
        var dporRaces = new Option<bool>("--dpor-races") { Description = "instead: source-DPOR's race analysis over every step of each execution against the incremental one (executions per CPU-second, same executions; part of --exhaustive too)" };
        var readsFrom = new Option<bool>("--reads-from") { Description = "instead: source-DPOR under lkmm with sleep sets and races over a load's reads-from choice against task-level ones (executions, CPU time, verdicts; part of --exhaustive too)" };
        var workers = new Option<bool>("--workers") { Description = "instead: a worker process's fixed cost, and the default worker choice against 1 worker and every core" };
        var races = new Option<bool>("--races") { Description = "instead: what the data-race property costs per execution (random schedules with it on and off, per model) on passing checks" };
        var leave = new Option<bool>("--leave") { Description = "instead: what use-after-leave checking of static queue nodes costs (dfs executions and time per random execution, on and off, per model) on the fixed OSQ, MCS and qspinlock" };
        var invariants = new Option<bool>("--invariants") { Description = "instead: what the closures' and genradix's structural step invariants cost (configured search per model, with and without)" };
        var split = new Option<bool>("--split") { Description = "instead: source-DPOR on 1 thread against the same search split over --parts threads (executions, time, overhead, verdicts)" };
        var parts = new Option<int?>("--parts") { Description = "with --split: threads to split over (default: the number of cores, at least 2)" };
        var depth = new Option<int?>("--depth") { Description = $"with --split: branching decisions above the split (default {DporSplit.DefaultDepth})" };
        var cmd = new Command("bench", "schedules/s and decisions/s of each driver on fixed 2-task and 4-task workloads") { models, checks, exhaustive, benchTimeout, workers, races, leave, invariants, dporRaces, readsFrom, split, parts, depth };
        cmd.SetAction(p =>
        {
            double BenchTimeout()
            {
                var limit = p.GetValue(benchTimeout);
                if (!double.IsFinite(limit) || limit <= 0)
                    throw new KmcInputException($"--timeout must be a positive number of seconds (got {limit})");
                return limit;
            }

            // The timed searches of the exhaustive benches: the built-in defaults, one seed.
            RunSettings SearchDefaults() => KmcConfig.Load(null).For("counter") with { Seed = 1 };

            if (!p.GetValue(split) && (p.GetValue(parts) != null || p.GetValue(depth) != null))
                throw new KmcInputException("--parts and --depth only apply with --split");
            if (p.GetValue(split))
            {
                if (p.GetValue(models) || p.GetValue(exhaustive) || p.GetValue(workers) || p.GetValue(races) || p.GetValue(leave) || p.GetValue(invariants) || p.GetValue(dporRaces))
                    throw new KmcInputException("--split is a bench of its own: drop --memory-models, --exhaustive, --workers, --races, --leave, --invariants and --dpor-races");
                var n = p.GetValue(parts) ?? Math.Max(2, Environment.ProcessorCount);
                if (n < 2 || n > Workers.Max)
                    throw new KmcInputException($"--parts must be between 2 and {Workers.Max} (got {n})");
                var k = p.GetValue(depth) ?? DporSplit.DefaultDepth;
                if (k < 0)
                    throw new KmcInputException($"--depth must be 0 or more (got {k})");
                var limit = BenchTimeout();
                SplitBench.Run(n, limit, k, p.GetValue(checks) is { Length: > 0 } named ? named : null);
            }
            else if (p.GetValue(invariants))
            {
                if (p.GetValue(models) || p.GetValue(exhaustive) || p.GetValue(workers) || p.GetValue(races) || p.GetValue(checks) is { Length: > 0 })
                    throw new KmcInputException("--invariants is a bench of its own: drop --memory-models, --exhaustive, --workers, --races and --check");
                InvariantBench.Run(KmcConfig.Load(null));
            }
            else if (p.GetValue(leave))
            {
                if (p.GetValue(models) || p.GetValue(exhaustive) || p.GetValue(workers) || p.GetValue(races))
                    throw new KmcInputException("--leave is a bench of its own: drop --memory-models, --exhaustive, --workers and --races");
                LeaveBench.Run(p.GetValue(checks) is { Length: > 0 } named ? named : LeaveBench.DefaultChecks);
            }
            else if (p.GetValue(races))
            {
                if (p.GetValue(models) || p.GetValue(exhaustive) || p.GetValue(workers))
                    throw new KmcInputException("--races is a bench of its own: drop --memory-models, --exhaustive and --workers");
                RaceBench.Run(p.GetValue(checks) is { Length: > 0 } named ? named : RaceBench.DefaultChecks);
            }
            else if (p.GetValue(workers))
            {
                if (p.GetValue(models) || p.GetValue(exhaustive) || p.GetValue(checks) is { Length: > 0 })
                    throw new KmcInputException("--workers is a bench of its own: drop --memory-models, --exhaustive and --check");
                WorkerBench.Run(Console.Out);
            }
            else if (p.GetValue(readsFrom))
            {
                if (p.GetValue(models) || p.GetValue(exhaustive) || p.GetValue(dporRaces))
                    throw new KmcInputException("--reads-from is a bench of its own (and part of --exhaustive): drop --memory-models, --exhaustive and --dpor-races");
                var limit = BenchTimeout();
                ReadsFromBench.Run(SearchDefaults(), limit, p.GetValue(checks) is { Length: > 0 } named ? named : null);
            }
            else if (p.GetValue(dporRaces))
            {
                if (p.GetValue(models) || p.GetValue(exhaustive))
                    throw new KmcInputException("--dpor-races is a bench of its own (and part of --exhaustive): drop --memory-models and --exhaustive");
                var limit = BenchTimeout();
                DporRaceBench.Run(SearchDefaults(), Math.Min(limit, DporRaceBench.MaxBudgetSeconds), p.GetValue(checks) is { Length: > 0 } named ? named : null);
            }
            else if (p.GetValue(exhaustive))
            {
                if (p.GetValue(models))
                    throw new KmcInputException("--exhaustive and --memory-models are benches of their own: pick one");
                var limit = BenchTimeout();
                ExhaustiveBench.Run(SearchDefaults(), limit, p.GetValue(checks) is { Length: > 0 } named ? named : null);
            }
            else if (p.GetValue(models))
                ModelBench.Run(p.GetValue(checks) is { Length: > 0 } named ? named : ModelBench.DefaultChecks, new RunSettings());
            else if (p.GetValue(checks) is { Length: > 0 })
                throw new KmcInputException("--check only applies with --memory-models, --exhaustive, --dpor-races, --reads-from, --split, --races or --leave");
            else
                Bench.Run(Console.Out);
            return 0;
        });
        return cmd;
    }

    /// <summary>A live progress display on a terminal; plain output elsewhere (CI logs).</summary>
    private static void Progress(Action<ProgressContext?> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
        {
            work(null);
            return;
        }

        AnsiConsole.Progress().AutoClear(true).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx => work(ctx));
    }

    /// <summary>A spinner on a terminal while worker processes run; nothing in logs.</summary>
    private static T Status<T>(string label, Func<T> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
            return work();
        T result = default!;
        AnsiConsole.Status().Start(Markup.Escape(label), _ => result = work());
        return result;
    }

    private static T WithProgress<T>(string label, int max, Func<Action<int>, T> work)
    {
        T result = default!;
        Progress(ctx =>
        {
            var task = ctx?.AddTask(Markup.Escape(label), maxValue: max);
            result = work(n => task?.Value(n));
        });
        return result;
    }
}
