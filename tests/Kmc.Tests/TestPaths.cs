namespace Kmc.Tests;

/// <summary>Folders the tests read, found by walking up from the test binaries.</summary>
internal static class TestPaths
{
    /// <summary>The first <paramref name="relative"/> folder above the binaries (in the repository, or beside it); null where there is none.</summary>
    public static string? Above(params string[] relative)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        {
            var candidate = Path.Combine([d.FullName, .. relative]);
            if (Directory.Exists(candidate))
                return candidate;
        }

        return null;
    }

    /// <summary>A folder of the repository, which every checkout has.</summary>
    public static string InRepo(params string[] relative) =>
        Above(relative) ?? throw new InvalidOperationException($"{string.Join('/', relative)} not found above {AppContext.BaseDirectory}");
}
