using System.Reflection;

namespace Kmc.Checks.Framework;

/// <summary>
/// The assemblies kmc looks in for checks and for the embedded sources of the model hash: those
/// loaded, the entry assembly, kmc's own next to the program, those a user named with
/// <c>--assembly</c>, and every Kmc.* assembly they reference. References are loaded eagerly:
/// the runtime loads an assembly only when one of its types is first touched, and a check is
/// looked for before any of its types is.
/// </summary>
public static class KmcAssemblies
{
    private static readonly List<Assembly> s_added = [];
    private static readonly List<string> s_files = [];

    /// <summary>The files given to <see cref="AddFile"/>, for worker processes to load too.</summary>
    public static IReadOnlyList<string> AddedFiles
    {
        get
        {
            lock (s_added)
                return s_files.ToList();
        }
    }

    /// <summary>Adds a user's check assembly (loaded from <paramref name="path"/>) before discovery.</summary>
    public static Assembly AddFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
            throw new KmcInputException($"no such assembly: {path}");
        Assembly a;
        try
        {
            a = Assembly.LoadFrom(full);
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException)
        {
            throw new KmcInputException($"{path}: not a .NET assembly kmc can load ({e.GetType().Name})");
        }

        Add(a);
        lock (s_added)
        {
            if (!s_files.Contains(full))
                s_files.Add(full);
        }

        return a;
    }

    /// <summary>Adds an assembly whose [Check] classes join the registry.</summary>
    public static void Add(Assembly a)
    {
        lock (s_added)
        {
            if (s_added.Contains(a))
                return;
            s_added.Add(a);
        }

        CheckRegistry.Reset();
        ModelHash.Reset();
    }

    /// <summary>The file a check came from when a user named it with --assembly, else null (kmc's own).</summary>
    public static string? FileOf(string check)
    {
        var c = CheckRegistry.All.FirstOrDefault(x => x.Name == check);
        if (c == null)
            return null;
        var location = c.GetType().Assembly.Location;
        lock (s_added)
            return s_files.Contains(location) ? location : null;
    }

    public static IReadOnlyList<Assembly> Loaded()
    {
        var roots = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic)
            .Append(typeof(KmcAssemblies).Assembly);
        if (Assembly.GetEntryAssembly() is { } entry)
            roots = roots.Append(entry);
        roots = roots.Concat(Beside());
        lock (s_added)
            roots = roots.Concat(s_added).ToList();

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<Assembly>();
        var todo = new Queue<Assembly>(roots);
        while (todo.TryDequeue(out var a))
        {
            if (!seen.Add(a.FullName ?? a.GetName().Name!))
                continue;
            result.Add(a);
            foreach (var r in a.GetReferencedAssemblies().Where(IsKmc))
            {
                try
                {
                    todo.Enqueue(Assembly.Load(r));
                }
                catch (FileNotFoundException)
                {
                    // A reference the program never loads (not shipped next to it) holds no checks it can run.
                }
            }
        }

        return result;
    }

    /// <summary>
    /// kmc's own assemblies next to the program: the compiler drops a project reference whose
    /// types the program never names (the CLI names no check), so references alone miss them.
    /// </summary>
    private static IEnumerable<Assembly> Beside()
    {
        foreach (var file in Directory.EnumerateFiles(AppContext.BaseDirectory, "Kmc.*.dll").Order(StringComparer.Ordinal))
        {
            Assembly? a = null;
            try
            {
                a = Assembly.Load(AssemblyName.GetAssemblyName(file));
            }
            catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
            {
                // Not an assembly this program can load (a stale build output): it holds no check it runs.
            }

            if (a != null)
                yield return a;
        }
    }

    private static bool IsKmc(AssemblyName n) => n.Name?.StartsWith("Kmc.", StringComparison.Ordinal) == true;
}
