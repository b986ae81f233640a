using Kmc.Checks.Closures;
using Kmc.Checks.Framework;
using Kmc.Checks.Genradix;
using Kmc.Models.Scheduling;
using Spectre.Console;

namespace Kmc.Cli;

/// <summary>
/// What a structural step invariant costs: each check that declares one, run with its configured
/// search per model, with the invariant and without it. Under the partial-order reduction an
/// invariant makes the writes it watches dependent (more dfs executions); under every search
/// it adds a check after each such step (more time per execution).
/// </summary>
public static class InvariantBench
{
    private sealed record Case(string Check, string Variant, Func<bool, Scenario> Build);

    private static readonly Case[] s_cases =
    [
        new("closure-wait-event", "sync-done-acquire",
            inv => ClosureWaitEventCheckBase.Scenario(new ClosureFlavor(false, ClosureVariants.SyncDoneAcquire), false, 1, inv)),
        new("closure-wait-event@upstream", "fixed",
            inv => ClosureWaitEventCheckBase.Scenario(new ClosureFlavor(true, ClosureVariants.UpstreamFixed), true, 1, inv)),
        new("closure-wait-event.2-waiters@upstream", "fixed",
            inv => ClosureWaitEventCheckBase.Scenario(new ClosureFlavor(true, ClosureVariants.UpstreamFixed), true, 2, inv)),
        new("genradix", "fixed", inv => GenradixConcurrentCheck.Build(GenradixVariants.Fixed, inv)),
        new("genradix.enomem", "fixed", inv => GenradixEnomemCheck.Build(GenradixVariants.Fixed, inv)),
    ];

    public static void Run(KmcConfig config)
    {
        var table = new Table().AddColumns("check", "variant", "model", "search", "without: executions / s", "with: executions / s", "executions with/without", "time with/without");
        foreach (var c in s_cases)
        {
            var check = CheckRegistry.Get(c.Check);
            // Warm both paths up (JIT) before anything is timed.
            Measure(check, c, inv: false, config.For(c.Check, "sc") with { Strategy = "random", Iterations = 50, Minimize = false });
            Measure(check, c, inv: true, config.For(c.Check, "sc") with { Strategy = "random", Iterations = 50, Minimize = false });
            foreach (var model in ModelBench.Models)
            {
                var settings = config.For(c.Check, model) with { Minimize = false };
                // Each side twice, interleaved, keeping the faster: one run is noisy on a shared machine.
                var off = Measure(check, c, inv: false, settings);
                var on = Measure(check, c, inv: true, settings);
                off = Faster(off, Measure(check, c, inv: false, settings));
                on = Faster(on, Measure(check, c, inv: true, settings));
                table.AddRow(c.Check, c.Variant, model, $"{settings.Strategy}{(settings.Strategy == "dfs" ? "" : " " + settings.Iterations)}",
                    $"{off.Executions:N0}{(off.Exhausted ? " (all)" : "")} / {off.Seconds:F2}", $"{on.Executions:N0}{(on.Exhausted ? " (all)" : "")} / {on.Seconds:F2}",
                    $"{(double)on.Executions / off.Executions:F2}x", $"{on.Seconds / off.Seconds:F2}x");
            }
        }

        AnsiConsole.Write(table);
    }

    private static (int Executions, bool Exhausted, double Seconds) Faster((int Executions, bool Exhausted, double Seconds) a, (int Executions, bool Exhausted, double Seconds) b) =>
        a.Seconds <= b.Seconds ? a : b;

    private static (int Executions, bool Exhausted, double Seconds) Measure(Check check, Case c, bool inv, RunSettings settings)
    {
        var run = CheckRunner.Run(new WithOrWithout(check, c.Build, inv), check.GetVariant(c.Variant), settings);
        if (run.Result.Failure is { } f)
            throw new KmcInputException($"bench: {c.Check}/{c.Variant} failed under {settings.MemoryModel} ({f.Kind}) {(inv ? "with" : "without")} its invariant; it is declared to pass");
        return (run.Result.Executions, run.Result.Exhausted, run.Result.Elapsed.TotalSeconds);
    }

    /// <summary>The check as it is, but built with or without its step invariant.</summary>
    private sealed class WithOrWithout(Check check, Func<bool, Scenario> build, bool invariant) : Check
    {
        public override string Name => check.Name;
        public override string Description => check.Description;
        public override IReadOnlyList<Variant> Variants => check.Variants;
        public override IReadOnlyList<Type> Primitives => check.Primitives;
        public override string? Faults => check.Faults;
        public override SettingsOverride? Settings(string memoryModel) => check.Settings(memoryModel);
        public override Scenario Build(Variant variant) => build(invariant);
    }
}
