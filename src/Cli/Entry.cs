using System.CommandLine;
using Kmc.Checks.Framework;
using Microsoft.Extensions.Logging;

namespace Kmc.Cli;

/// <summary>
/// kmc's entry: exit 0 no bug; 1 bug found or reproduced (or a suite mismatch); 2 bad input,
/// as one line on stderr. Tests and <c>kmc fuzz</c> call it in-process.
/// </summary>
public static class Entry
{
    public static int Run(string[] args)
    {
        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => o.SingleLine = true)
            .SetMinimumLevel(Environment.GetEnvironmentVariable("KMC_LOG") is { Length: > 0 } lvl && Enum.TryParse<LogLevel>(lvl, true, out var l) ? l : LogLevel.Warning));
        if (Console.IsOutputRedirected)
        {
            var profile = Spectre.Console.AnsiConsole.Profile;
            profile.Width = 200; // logs and CI: do not wrap tables at 80 columns
            // No terminal escapes in a file or pipe, whatever the Spectre.Console version restored
            // guesses from TERM (0.54 colours redirected output where 0.55 does not).
            profile.Capabilities.Ansi = false;
            profile.Capabilities.ColorSystem = Spectre.Console.ColorSystem.NoColors;
        }
        var commands = new Commands(loggerFactory.CreateLogger("kmc"));
        var root = commands.Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
            return Refuse(parse.Errors[0].Message);

        try
        {
            foreach (var path in parse.GetValue(Commands.Assembly) ?? [])
                KmcAssemblies.AddFile(path);
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (KmcInputException e)
        {
            return Refuse(e.Message);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A path that cannot be read or written (a folder where a file should be, no permission, a full disk).
            return Refuse(InputFiles.OneLine(e.Message));
        }
    }

    private static int Refuse(string message)
    {
        Console.Error.WriteLine($"kmc: {InputFiles.OneLine(message)}");
        return 2;
    }
}
