using Kmc.Models;
using Kmc.Primitives.Genradix;
using GenradixTree = Kmc.Primitives.Genradix.Genradix;

namespace Kmc.Checks.Genradix;

/// <summary>
/// The generic radix tree's structural invariant, checked after every step that writes the root
/// or a word of a node in the tree,: every installed child is reachable
/// exactly once. Walking from the root (node and depth read together, as the tagged pointer),
/// no node is reached twice (a child pointer installed in two slots, or a stale children[0]
/// naming a node that is also reached elsewhere), a leaf's words hold no pointer, and a node
/// once reachable stays reachable (a child is never uninstalled: only genradix_free() takes
/// nodes out, and the scenario retires the invariant before it). A reachable node that is freed
/// is left to the allocator's use-after-free check, which reports it as the kernel fails (the
/// first access through the tree), as genradix.enomem's free-installed-on-enomem expects.
/// The end-of-run checks (the ghost's CheckShape(), the leak check) see the last state only: a
/// node whose install was overwritten there shows as a leak of an anonymous node at the end and
/// a lost slot only if its index is looked up again; here the overwriting store is the failing
/// step, with the node it unlinked. Nodes are allocated while the execution runs: the check
/// watches a node's words once it reaches it (from the step that installed it, which wrote a
/// watched word or the root).
/// </summary>
public sealed class GenradixTreeInvariant
{
    public const string Name = "genradix: every installed child is reachable exactly once";

    private readonly GenradixTree _g;
    private readonly HashSet<GenradixNode> _installed = new();
    private StepInvariant _inv = null!;
    private bool _retired;

    private GenradixTreeInvariant(GenradixTree g) => _g = g;

    public static GenradixTreeInvariant Declare(Execution ex, GenradixTree g)
    {
        var t = new GenradixTreeInvariant(g);
        t._inv = ex.Invariant(Name, t.Violation).Watch(g.Root);
        return t;
    }

    /// <summary>genradix_free() is next: it takes every node out (the 2018 version frees them while the root still names them).</summary>
    public void Retire() => _retired = true;

    private string? Violation()
    {
        if (_retired)
            return null;
        var r = _g.Root.Peek();
        var reached = new HashSet<GenradixNode>();
        if (r.Node != null && Walk(r.Node, r.Depth, _g.Root.Name, reached) is { } wrong)
            return wrong;
        foreach (var n in _installed)
        {
            if (!reached.Contains(n))
                return $"{n.DisplayName} was installed in the tree but is no longer reachable from {_g.Root.Name} == {r}: its install was lost";
        }

        _installed.UnionWith(reached);
        return null;
    }

    private string? Walk(GenradixNode n, int level, string from, HashSet<GenradixNode> reached)
    {
        if (!reached.Add(n))
            return $"{n.DisplayName} is reachable twice (again from {from}): a child installed in two places";
        foreach (var w in n.Words)
        {
            _inv.Watch(w);
            var v = w.Peek();
            if (v.Node == null)
                continue;
            if (level == 0)
                return $"leaf {n.DisplayName} holds the pointer {v.Node.DisplayName} in {w.Name}: a stale child pointer";
            if (Walk(v.Node, level - 1, w.Name, reached) is { } wrong)
                return wrong;
        }

        return null;
    }
}
