using Xunit.Abstractions;
using Xunit.Sdk;

namespace Kmc.Tests;

/// <summary>The collection orderer of this assembly (<see cref="LongestFirst"/>) loses no class and starts the long ones first.</summary>
public class LongestFirstTests
{
    private static readonly TestAssembly Assembly = new(Reflector.Wrap(typeof(LongestFirstTests).Assembly));

    /// <summary>Every test class's collection, as xunit's per-class factory names it.</summary>
    private static List<ITestCollection> Collections()
    {
        var factory = new CollectionPerClassTestCollectionFactory(Assembly, new NullMessageSink());
        return typeof(LongestFirstTests).Assembly.GetTypes()
            .Where(t => t.IsPublic && t.GetMethods().Any(m => m.IsDefined(typeof(FactAttribute), true)))
            .Select(t => factory.Get(Reflector.Wrap(t)))
            .ToList();
    }

    [Fact]
    public void The_long_classes_come_first_in_their_order_and_every_other_class_follows_once()
    {
        var collections = Collections();
        Assert.True(collections.Count > 40, $"only {collections.Count} test classes found");
        var ordered = new LongestFirst().OrderTestCollections(collections).ToList();

        Assert.Equal(LongestFirst.Classes.Select(LongestFirst.CollectionName), ordered.Take(LongestFirst.Classes.Length).Select(c => c.DisplayName));
        Assert.Equal(collections.Select(c => c.DisplayName).Order(), ordered.Select(c => c.DisplayName).Order());
    }

    [Fact]
    public void Without_a_long_class_the_order_is_xunits_default()
    {
        var collections = Collections().Where(c => !LongestFirst.Classes.Select(LongestFirst.CollectionName).Contains(c.DisplayName)).ToList();
        var ordered = new LongestFirst().OrderTestCollections(collections);
        var byDefault = new DefaultTestCollectionOrderer().OrderTestCollections(collections);
        Assert.Equal(byDefault.Select(c => c.DisplayName), ordered.Select(c => c.DisplayName));
    }
}
