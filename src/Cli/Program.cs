using System.CommandLine;
using Kmc.Checks.Framework;
using Kmc.Cli;
using Microsoft.Extensions.Logging;

// kmc: exit 0 no bug; 1 bug found or reproduced (or a suite mismatch); 2 bad input.
using var loggerFactory = LoggerFactory.Create(b => b
    .AddSimpleConsole(o => o.SingleLine = true)
    .SetMinimumLevel(Environment.GetEnvironmentVariable("KMC_LOG") is { Length: > 0 } lvl && Enum.TryParse<LogLevel>(lvl, true, out var l) ? l : LogLevel.Warning));
if (Console.IsOutputRedirected)
    Spectre.Console.AnsiConsole.Profile.Width = 200; // logs and CI: do not wrap tables at 80 columns
var commands = new Commands(loggerFactory.CreateLogger("kmc"));
var root = commands.Build();
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    Console.Error.WriteLine($"kmc: {parse.Errors[0].Message}");
    return 2;
}

try
{
    return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (KmcInputException e)
{
    Console.Error.WriteLine($"kmc: {e.Message}");
    return 2;
}
