using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: TestCollectionOrderer("Kmc.Tests.LongestFirst", "Kmc.Tests")]

namespace Kmc.Tests;

/// <summary>
/// Starts the test classes that take minutes first, then the rest in xunit's default order.
/// xunit runs one class at a time per thread (2 threads on a 2-core CI machine), so a
/// many-minute class drawn last runs on alone while the other thread idles; started first, the
/// many short classes fill the other thread around it. This is longest-processing-time-first list
/// scheduling (Graham, "Bounds on multiprocessing timing anomalies", SIAM J. Appl. Math. 1969).
/// It only orders classes: every test still runs, in its own class's order.
/// </summary>
public sealed class LongestFirst : ITestCollectionOrderer
{
    /// <summary>The longest classes, longest first (serial minutes in a Debug `dotnet test`: 15, 13, 11, 7, 2).</summary>
    public static readonly Type[] Classes =
    [
        typeof(ReductionTests), typeof(ReadmeCommandsTests), typeof(StateCacheTests), typeof(OperationalLitmusTests), typeof(FoundationTests),
    ];

    private readonly DefaultTestCollectionOrderer _default = new();

    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections)
    {
        var all = testCollections.ToList();
        var rank = Classes.Select((t, i) => (Name: CollectionName(t), i)).ToDictionary(x => x.Name, x => x.i, StringComparer.Ordinal);
        var first = all.Where(c => rank.ContainsKey(c.DisplayName)).OrderBy(c => rank[c.DisplayName]);
        var rest = _default.OrderTestCollections(all.Where(c => !rank.ContainsKey(c.DisplayName)));
        return first.Concat(rest).ToList();
    }

    /// <summary>The collection xunit makes for a class with no [Collection] of its own.</summary>
    public static string CollectionName(Type testClass) => $"Test collection for {testClass.FullName}";
}
