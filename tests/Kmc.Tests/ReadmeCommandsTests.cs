using System.Diagnostics;

namespace Kmc.Tests;

/// <summary>
/// The README's commands, run as written (with `kmc` the built command) in a fresh clone's
/// layout: only the files git would check out, nothing built or run before. None may fail as bad
/// input or crash, each does what its comment says, and together they change no tracked file.
/// </summary>
public class ReadmeCommandsTests
{
    private static readonly string Kmc = Path.Combine(AppContext.BaseDirectory, "kmc.dll");

    /// <summary>The bash block that starts with the kmc alias, and the fault-injection block.</summary>
    public static IReadOnlyList<string> Commands(string readme)
    {
        var commands = new List<string>();
        var lines = readme.Split('\n');
        var inBlock = false;
        foreach (var raw in lines)
        {
            var line = raw.TrimEnd();
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = line == "```bash" && !inBlock;
                continue;
            }

            if (!inBlock || !line.StartsWith("kmc ", StringComparison.Ordinal))
                continue;
            var comment = line.IndexOf("  #", StringComparison.Ordinal);
            commands.Add((comment >= 0 ? line[..comment] : line).Trim());
        }

        return commands;
    }

    private static string Git(string dir, params string[] args)
    {
        var psi = new ProcessStartInfo("git") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-c", "user.name=kmc", "-c", "user.email=kmc@localhost", "-c", "core.autocrlf=false" }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"git {string.Join(' ', args)}: {err.Result}");
        return output.Result;
    }

    /// <summary>The repository's files as a clone would have them (tracked, plus new files git does not ignore), committed in a repository of their own.</summary>
    private static string FreshClone()
    {
        var repo = Path.GetDirectoryName(TestPaths.InRepo("src", "Cli"))!;
        repo = Path.GetDirectoryName(repo)!;
        var clone = Directory.CreateTempSubdirectory("kmc-clone").FullName;
        foreach (var file in Git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var from = Path.Combine(repo, file);
            if (!File.Exists(from))
                continue; // deleted in the working tree
            var to = Path.Combine(clone, file);
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(from, to);
        }

        Git(clone, "init", "-q");
        Git(clone, "add", "-A");
        Git(clone, "commit", "-q", "-m", "clone");
        return clone;
    }

    private static (int Code, string Out, string Err) Bash(string dir, string command)
    {
        var psi = new ProcessStartInfo("bash") { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"kmc() {{ dotnet \"$KMC_DLL\" \"$@\"; }}\n{command}");
        psi.Environment["KMC_DLL"] = Kmc;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    [Fact]
    public void Every_readme_command_runs_as_written_in_a_fresh_clone()
    {
        var clone = FreshClone();
        var commands = Commands(File.ReadAllText(Path.Combine(clone, "README.md")));
        Assert.Contains("kmc merge shard*/summary.json", commands);
        Assert.Contains("kmc litmus litmus/kernel", commands);
        Assert.True(commands.Count >= 20, $"only {commands.Count} commands found in the README");

        // What each command must do beyond not failing: bugs found where the README shows one.
        var bug = new[] { "kmc run counter --variant no-lock", "kmc replay reports/runs/" };
        var failures = new List<string>();
        foreach (var command in commands)
        {
            var (code, output, err) = Bash(clone, command);
            var expected = bug.Any(b => command.StartsWith(b, StringComparison.Ordinal)) ? new[] { 1 } : [0, 1];
            if (!expected.Contains(code) || err.Contains("Unhandled", StringComparison.Ordinal) || (output + err).Contains("   at ", StringComparison.Ordinal))
                failures.Add($"{command}: exit {code}: {err.Trim()}{output[Math.Max(0, output.Length - 400)..]}");
        }

        Assert.Empty(failures);
        Assert.True(File.Exists(Path.Combine(clone, "shard2", "summary.json")));
        Assert.True(File.Exists(Path.Combine(clone, "reports", "last", "summary.md")));
        // Neither the suite nor anything else in the README changed a tracked file.
        Assert.Equal("", Git(clone, "status", "--porcelain", "--untracked-files=no"));
    }
}
