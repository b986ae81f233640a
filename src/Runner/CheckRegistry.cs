using System.Reflection;
using System.Security.Cryptography;
using System.Text;

namespace Kmc.Checks.Framework;

/// <summary>Every check in the loaded assemblies, found by their [Check] attribute.</summary>
public static class CheckRegistry
{
    private static Lazy<IReadOnlyList<Check>> s_all = new(Discover);

    public static IReadOnlyList<Check> All => s_all.Value;

    public static Check Get(string name) =>
        All.FirstOrDefault(c => c.Name == name)
        ?? throw new KmcInputException($"unknown check '{name}' (run 'kmc list' to see the checks; a check of your own needs --assembly path/to/YourChecks.dll)");

    /// <summary>Forgets the discovered checks: an assembly was added after the first look.</summary>
    internal static void Reset() => s_all = new(Discover);

    private static IReadOnlyList<Check> Discover()
    {
        var checks = KmcAssemblies.Loaded()
            .SelectMany(SafeTypes)
            .Where(t => t is { IsAbstract: false } && typeof(Check).IsAssignableFrom(t) && t.GetCustomAttribute<CheckAttribute>() != null)
            .Select(Create)
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
        var dup = checks.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup != null)
            throw new KmcInputException($"two checks are named '{dup.Key}': {string.Join(" and ", dup.Select(c => c.GetType().FullName + " in " + c.GetType().Assembly.GetName().Name))}");
        return checks;
    }

    /// <summary>A user's check class is input: one that cannot be made is refused in one line.</summary>
    private static Check Create(Type t)
    {
        try
        {
            return (Check)Activator.CreateInstance(t)!;
        }
        catch (Exception e) when (e is TargetInvocationException or MissingMethodException or MemberAccessException)
        {
            throw new KmcInputException($"check class {t.FullName} cannot be created: {(e.InnerException ?? e).Message}");
        }
    }

    internal static IEnumerable<Type> SafeTypes(Assembly a)
    {
        try
        {
            return a.GetTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            return e.Types.Where(t => t != null)!;
        }
    }
}

/// <summary>
/// A hash of the model code a check's verdict depends on: all of src/Models plus the check's
/// own file and its ports. The sources are embedded in the assemblies at build time.
/// </summary>
public static class ModelHash
{
    private static Lazy<Dictionary<string, byte[]>> s_sources = new(LoadSources);

    internal static void Reset() => s_sources = new(LoadSources);

    public static string Of(Check check)
    {
        var sources = s_sources.Value;
        var files = sources.Keys.Where(k => k.StartsWith("src/Models/", StringComparison.Ordinal))
            .Concat(check.SourceFiles().Select(Normalize))
            .Distinct()
            .OrderBy(f => f, StringComparer.Ordinal);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var f in files)
        {
            sha.AppendData(Encoding.UTF8.GetBytes(f + "\n"));
            if (sources.TryGetValue(f, out var text))
                sha.AppendData(text);
        }

        return Convert.ToHexString(sha.GetHashAndReset())[..16].ToLowerInvariant();
    }

    /// <summary>CallerFilePath is repo-relative ("./src/...") thanks to the build's PathMap.</summary>
    private static string Normalize(string path)
    {
        path = path.Replace('\\', '/');
        if (path.StartsWith("./", StringComparison.Ordinal))
            path = path[2..];
        var i = path.IndexOf("src/", StringComparison.Ordinal);
        return i > 0 ? path[i..] : path;
    }

    private static Dictionary<string, byte[]> LoadSources()
    {
        var result = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var a in KmcAssemblies.Loaded())
        {
            foreach (var name in a.GetManifestResourceNames().Where(n => n.StartsWith("src/", StringComparison.Ordinal)))
            {
                using var s = a.GetManifestResourceStream(name)!;
                using var ms = new MemoryStream();
                s.CopyTo(ms);
                // Line endings are normalised so a checkout's autocrlf does not change the hash.
                var text = Encoding.UTF8.GetString(ms.ToArray()).Replace("\r\n", "\n");
                result[name] = Encoding.UTF8.GetBytes(text);
            }
        }

        return result;
    }
}
