using Kmc.Models.Scheduling.Reduction;
using Kmc.Checks.Framework;
using Kmc.Models;
using Kmc.Models.Scheduling;
using Kmc.Primitives.Genradix;
using GenradixTree = Kmc.Primitives.Genradix.Genradix;
using static Kmc.Models.Kernel;

namespace Kmc.Checks.Genradix;

/// <summary>The port's settings for each variant name the genradix checks use.</summary>
public static class GenradixVariants
{
    public static readonly Variant Fixed = Variant.Fixed(
        "current upstream lib/generic-radix-tree.c (with b2f11c6f 'Fix rare race', 9492261ff246 'Don't overflow in peek()' and bcachefs-tools aa5bd95 index overflow checks)");

    public static (GenradixVersion, GenradixBug) Of(Variant v) => v.Name switch
    {
        "fixed" => (GenradixVersion.Current, GenradixBug.None),
        "v2018" => (GenradixVersion.V2018, GenradixBug.None),
        "rare-race-stale-child" => (GenradixVersion.Current, GenradixBug.StaleChildOnLostRootRace),
        "peek-overflow" => (GenradixVersion.Current, GenradixBug.PeekOverflow),
        "no-idx-overflow-check" => (GenradixVersion.Current, GenradixBug.NoIdxOverflowCheck),
        "leak-spare-on-lost-race" => (GenradixVersion.Current, GenradixBug.LeakSpare),
        "plain-child-install" => (GenradixVersion.Current, GenradixBug.PlainChildInstall),
        "free-installed-on-enomem" => (GenradixVersion.Current, GenradixBug.FreeInstalledOnEnomem),
        _ => throw new KmcInputException($"genradix: unknown variant '{v.Name}'"),
    };

    public static GenradixTree New(Variant v, string name, int objSize, int nodeShift = 4)
    {
        var (version, bugs) = Of(v);
        return new GenradixTree(name, objSize, version, bugs, nodeShift);
    }
}

/// <summary>
/// What the genradix checks know about the tree outside the kernel: which task allocated which
/// index and which slot it got. Each (task, index) owns one bit of the entry's first word, set
/// with a cmpxchg loop, so a slot's contents show exactly who wrote it: a missing bit is a lost
/// slot, a foreign bit an aliased one.
/// </summary>
public sealed class GenradixGhost(GenradixTree g)
{
    private readonly Dictionary<ulong, GenradixPtr> _slot = new();
    private readonly Dictionary<ulong, ulong> _bits = new();
    private readonly long _key = Footprints.NewKey();

    public IEnumerable<ulong> Allocated => _bits.Keys.Order();

    public static ulong Bit(int task, ulong idx) => 1UL << (int)(idx * 3 + (ulong)task);

    public static ulong Mask(ulong idx) => 7UL << (int)(idx * 3);

    /// <summary>Records a successful genradix_ptr_alloc(): the same index must always give the same slot.</summary>
    public void Allocated_(ulong idx, GenradixPtr p)
    {
        Footprints.Write(_key);
        if (_slot.TryGetValue(idx, out var prev))
            Assert(prev == p, $"{Current.Name}: genradix_ptr_alloc({idx}) = {p}, but it returned {prev} before: two slots for one index");
        else
            _slot[idx] = p;
    }

    /// <summary>The user's write through the returned pointer: sets this task's bit for idx.</summary>
    public async ValueTask SetBit(GenradixPtr p, ulong idx, int task)
    {
        var w = g.EntryWords(p)[0];
        while (true)
        {
            var old = await ReadOnce(w);
            Assert(old.Node == null, $"entry {idx} at {p} holds the pointer {old.Node?.DisplayName}: a node was reused with a stale child pointer");
            Assert((old.Bits & ~Mask(idx)) == 0, $"entry {idx} at {p} holds 0x{old.Bits:x}, bits of another index: the slot is aliased");
            if (await Cmpxchg(w, old, GenradixWord.Data(old.Bits | Bit(task, idx))) == old)
                break;
        }

        Footprints.Write(_key);
        _bits[idx] = (_bits.TryGetValue(idx, out var b) ? b : 0) | Bit(task, idx);
    }

    /// <summary>genradix_ptr(idx) must still find the slot the allocation returned.</summary>
    public async ValueTask CheckReachable(ulong idx)
    {
        var q = await g.GenradixPtr(idx);
        Assert(q == _slot[idx], $"{Current.Name}: genradix_ptr({idx}) = {Show(q)}, but genradix_ptr_alloc({idx}) returned {_slot[idx]}: the slot is no longer reachable at its index");
    }

    private static string Show(GenradixPtr? p) => p?.ToString() ?? "NULL";

    /// <summary>The tree outside the kernel: every node reachable once, no pointer in a leaf.</summary>
    public void CheckShape()
    {
        var r = g.Root.Peek();
        var seen = new HashSet<GenradixNode>();
        void Walk(GenradixNode n, int level)
        {
            Assert(seen.Add(n), $"{n.DisplayName} is reachable twice from the root: the tree is corrupt");
            foreach (var w in n.Words)
            {
                var v = w.Peek();
                if (level == 0)
                    Assert(v.Node == null, $"leaf {n.DisplayName} holds the pointer {v.Node?.DisplayName} in its data: a node was reused with a stale child pointer");
                else if (v.Node != null)
                    Walk(v.Node, level - 1);
                else
                    Assert(v.Bits == 0, $"interior {n.DisplayName} holds data 0x{v.Bits:x}");
            }
        }

        if (r.Node != null)
            Walk(r.Node, r.Depth);
    }

    /// <summary>
    /// Every allocated index reachable with exactly its writers' bits, then genradix_for_each:
    /// strictly increasing positions, each allocated index visited once, no foreign bits.
    /// </summary>
    public async ValueTask CheckContentsAndIteration()
    {
        foreach (var idx in Allocated)
        {
            await CheckReachable(idx);
            var v = (await ReadOnce(g.EntryWords(_slot[idx])[0])).AsData;
            Assert(v == _bits[idx], $"entry {idx} holds 0x{v:x}, its writers set 0x{_bits[idx]:x}: contents lost or aliased");
        }

        var visited = new HashSet<ulong>();
        ulong? prev = null;
        var iter = g.GenradixIterInit(0);
        var limit = 4 * g.ObjsPerNode * (visited.Count + _bits.Count + 4);
        for (var p = await g.GenradixIterPeek(iter); p is { } e; g.GenradixIterAdvance(iter), p = await g.GenradixIterPeek(iter))
        {
            Assert(prev == null || iter.Pos > prev, $"genradix_for_each went from index {prev} back to {iter.Pos}: an entry is visited again");
            Assert(visited.Count < limit, "genradix_for_each does not end");
            prev = iter.Pos;
            visited.Add(iter.Pos);
            var v = (await ReadOnce(g.EntryWords(e)[0])).AsData;
            var expected = _bits.TryGetValue(iter.Pos, out var b) ? b : 0;
            Assert(v == expected, $"genradix_for_each: entry {iter.Pos} holds 0x{v:x}, expected 0x{expected:x}");
        }

        foreach (var idx in Allocated)
            Assert(visited.Contains(idx), $"genradix_for_each never visited allocated index {idx}");
    }
}

/// <summary>
/// Three tasks allocate (genradix_ptr_alloc) overlapping and disjoint indices of a tree of
/// 16-byte nodes (2 children, 2 objects of 8 bytes), so that each grows the tree in depth, then
/// look their indices up again. A last task waits for them, checks the tree, iterates it and
/// frees it. Properties: one slot per index, whichever task asks; every allocated slot stays
/// reachable at its index; contents never lost or aliased; iteration visits every allocated
/// index once and in order; no leak (lost cmpxchg races free their spare node).
/// </summary>
[Check]
public sealed class GenradixConcurrentCheck : Check
{
    private static readonly ulong[][] s_indices = [[0, 6], [6, 3], [12, 2]];

    public override string Name => "genradix";

    public override string Description =>
        "3 tasks genradix_ptr_alloc() overlapping/disjoint indices, growing the tree, then look them up; a 4th checks, iterates and frees";

    public override IReadOnlyList<Type> Primitives => [typeof(GenradixTree)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        GenradixVariants.Fixed,
        new("v2018", "the 2018 series' lock-free version as first merged (before b2f11c6f): a lost root cmpxchg leaves "
            + "new_node->children[0] pointing at the old root, and that node is then used as a child or leaf", Expectation.Bug(FailureKind.Assertion)),
        new("rare-race-stale-child", "current code without only b2f11c6f 'lib/generic-radix-tree.c: Fix rare race in "
            + "__genradix_ptr_alloc()': the spare node of a lost depth-increase race keeps its stale children[0]", Expectation.Bug(FailureKind.Assertion)),
        new("leak-spare-on-lost-race", "own mutation: the spare node left over from a lost cmpxchg race is not freed",
            Expectation.Bug(FailureKind.Leak)),
        new("plain-child-install", "own mutation: a missing child is installed with READ_ONCE + WRITE_ONCE instead of "
            + "cmpxchg_release(), so a concurrent install is overwritten and its slot lost; the relaxed WRITE_ONCE() also publishes "
            + "the child without release, so a reader's plain walk through the slot is a data race: whichever a search meets first",
            Expectation.AnyBug),
    ];

    public override Scenario Build(Variant variant) => Build(variant, treeInvariant: true);

    /// <summary>The scenario, with or without <see cref="GenradixTreeInvariant"/> (kmc bench --invariants measures what it costs).</summary>
    public static Scenario Build(Variant variant, bool treeInvariant) => new(3, ex =>
    {
        var g = GenradixVariants.New(variant, "gr", objSize: 8);
        var ghost = new GenradixGhost(g);
        var tree = treeInvariant ? GenradixTreeInvariant.Declare(ex, g) : null;
        // The users' last step is a fully ordered atomic and the waiter reads it with acquire, as a
        // completion would order them: the final checks see everything the users did, under any
        // memory model.
        var done = new Atomic("users done");
        for (var t = 0; t < s_indices.Length; t++)
        {
            var task = t;
            ex.Spawn($"T{t}", t, async () =>
            {
                foreach (var idx in s_indices[task])
                {
                    var p = await g.GenradixPtrAlloc(idx);
                    Assert(p != null, $"genradix_ptr_alloc({idx}) failed with no fault injected");
                    ghost.Allocated_(idx, p!.Value);
                    await ghost.SetBit(p.Value, idx, task);
                }

                foreach (var idx in s_indices[task])
                    await ghost.CheckReachable(idx);
                await AtomicIncReturn(done);
            });
        }

        ex.Spawn("teardown", 0, async () =>
        {
            await SmpCondLoadAcquire(done, n => n == s_indices.Length);
            ghost.CheckShape();
            await ghost.CheckContentsAndIteration();
            tree?.Retire();
            await g.GenradixFree();
        });
    });
}

/// <summary>
/// A lockless reader iterates (genradix_for_each) while two tasks allocate indices that grow the
/// tree under it. The reader's view: positions strictly increase, and every entry it is shown
/// holds zero or bits of its own index only (never another index's bits, never a pointer). The
/// end state is checked as in the "genradix" check.
/// </summary>
[Check]
public sealed class GenradixReaderCheck : Check
{
    private static readonly ulong[][] s_indices = [[1, 6], [6, 12]];

    public override string Name => "genradix.reader";

    public override string Description => "a lockless genradix_for_each() reader while two tasks grow the tree: increasing positions, no foreign or stale contents";

    public override IReadOnlyList<Type> Primitives => [typeof(GenradixTree)];

    /// <summary>
    /// A kernel finding: genradix_iter_peek() walks n->children[] with plain loads while
    /// __genradix_ptr_alloc() installs children with cmpxchg_release(). A lockless reader and a
    /// grower race on the child pointer (the LKMM's data race, a KCSAN report); the kernel's
    /// __genradix_ptr() has the same plain load (a READ_ONCE() for it was proposed on the list).
    /// </summary>
    public override IReadOnlyList<Variant> Variants { get; } =
    [
        GenradixVariants.Fixed with { Expected = Expectation.Bug(FailureKind.DataRace) },
        new("rare-race-stale-child", "without b2f11c6f: the spare node of a lost depth-increase race keeps its stale children[0]",
            Expectation.AnyBug),
        new("plain-child-install", "own mutation: children installed with READ_ONCE + WRITE_ONCE instead of cmpxchg_release()",
            Expectation.AnyBug),
    ];

    public override Scenario Build(Variant variant) => Build(variant, treeInvariant: true);

    /// <summary>The scenario, with or without <see cref="GenradixTreeInvariant"/> (kmc bench --invariants measures what it costs).</summary>
    public static Scenario Build(Variant variant, bool treeInvariant) => new(3, ex =>
    {
        var g = GenradixVariants.New(variant, "gr", objSize: 8);
        var ghost = new GenradixGhost(g);
        var tree = treeInvariant ? GenradixTreeInvariant.Declare(ex, g) : null;
        // The users' last step is a fully ordered atomic and the waiter reads it with acquire, as a
        // completion would order them: the final checks see everything the users did, under any
        // memory model.
        var done = new Atomic("users done");
        for (var t = 0; t < s_indices.Length; t++)
        {
            var task = t;
            ex.Spawn($"T{t}", t, async () =>
            {
                foreach (var idx in s_indices[task])
                {
                    var p = await g.GenradixPtrAlloc(idx);
                    Assert(p != null, $"genradix_ptr_alloc({idx}) failed with no fault injected");
                    ghost.Allocated_(idx, p!.Value);
                    await ghost.SetBit(p.Value, idx, task);
                }

                await AtomicIncReturn(done);
            });
        }

        ex.Spawn("reader", 2, async () =>
        {
            ulong? prev = null;
            var visits = 0;
            var iter = g.GenradixIterInit(0);
            for (var p = await g.GenradixIterPeek(iter); p is { } e; g.GenradixIterAdvance(iter), p = await g.GenradixIterPeek(iter))
            {
                Assert(prev == null || iter.Pos > prev, $"the reader's genradix_for_each went from index {prev} back to {iter.Pos}");
                Assert(++visits <= 64, "the reader's genradix_for_each does not end");
                prev = iter.Pos;
                var w = await ReadOnce(g.EntryWords(e)[0]);
                Assert(w.Node == null, $"the reader sees the pointer {w.Node?.DisplayName} as entry {iter.Pos}: a node was reused with a stale child pointer");
                Assert((w.Bits & ~GenradixGhost.Mask(iter.Pos)) == 0, $"the reader sees 0x{w.Bits:x} in entry {iter.Pos}: bits of another index");
            }

            await SmpCondLoadAcquire(done, n => n == s_indices.Length);
            ghost.CheckShape();
            await ghost.CheckContentsAndIteration();
            tree?.Retire();
            await g.GenradixFree();
        });
    });
}

/// <summary>
/// "lib/generic-radix-tree.c: Don't overflow in peek()" (9492261ff246), sequential: a tree that
/// spans all of size_t (64-byte nodes, depth 20) with entries at index 0, at byte offset 2^63 and
/// at the very last index. Iterating it must end: before the fix, skipping the empty siblings
/// after offset 2^63 and advancing past the last entry wrap the offset to 0 and the iteration
/// starts again from the beginning.
/// </summary>
[Check]
public sealed class GenradixPeekOverflowCheck : Check
{
    public override string Name => "genradix.peek-overflow";

    public override string Description => "iterate a tree spanning all of size_t: genradix_for_each visits each entry once and ends";

    public override IReadOnlyList<Type> Primitives => [typeof(GenradixTree)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        GenradixVariants.Fixed,
        new("peek-overflow", "before 'lib/generic-radix-tree.c: Don't overflow in peek()': iter->offset wraps in peek() and advance(), "
            + "so genradix_for_each() restarts from index 0", Expectation.Bug(FailureKind.Assertion)),
        new("v2018", "the 2018 series' version (no overflow checks in peek()/advance())", Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) => new(1, ex =>
    {
        ex.Spawn("T0", 0, async () =>
        {
            foreach (var last in new[] { (1UL << 63) / 8, ulong.MaxValue / 8 })
            {
                var g = GenradixVariants.New(variant, "gr", objSize: 8, nodeShift: 6);
                var ghost = new GenradixGhost(g);
                foreach (var idx in new[] { 0UL, last })
                {
                    var p = await g.GenradixPtrAlloc(idx);
                    Assert(p != null, $"genradix_ptr_alloc({idx}) failed");
                    ghost.Allocated_(idx, p!.Value);
                }

                await GenradixEnds.IterateBothNodes(g, "the offset wrapped around SIZE_MAX");
                await g.GenradixFree();
            }
        });
    });
}

/// <summary>
/// What kmc found past the peek() fix: genradix_iter_advance() with objects whose size is not a
/// power of two (24 bytes in 64-byte nodes) rounds the offset up to the next node, and after the
/// last node of size_t that wraps to 0, so genradix_for_each() over a tree with an entry in the
/// last node starts again at index 0. Current upstream ("upstream") fails this check; kmc's proposed fix checks
/// the round-up for wrap the way the peek() fix checked the additions (the "fixed" variant here is kmc's proposal).
/// </summary>
[Check]
public sealed class GenradixAdvanceNonPow2Check : Check
{
    public override string Name => "genradix.advance-nonpow2";

    public override string Description => "iterate a tree of 24-byte objects with an entry in the last node of size_t: genradix_for_each visits each entry once and ends";

    public override IReadOnlyList<Type> Primitives => [typeof(GenradixTree)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        Variant.Fixed("kmc's proposed fix (not upstream): advance() ends the iteration (offset = pos = SIZE_MAX) when the round-up would wrap"),
        new("upstream", "current upstream genradix_iter_advance(): round_up(offset, GENRADIX_NODE_SIZE) wraps to 0 after the last node "
            + "(no upstream fix known: found by kmc)", Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) => new(1, ex =>
    {
        ex.Spawn("T0", 0, async () =>
        {
            var g = new GenradixTree("gr", 24, GenradixVersion.Current, nodeShift: 6) { ProposedAdvanceRoundUpFix = variant.Name == "fixed" };
            // The last node of size_t holds indices 2^59 - 2 and 2^59 - 1 (two 24-byte objects per 64-byte node).
            var last = (1UL << 59) - 1;
            foreach (var idx in new[] { 0UL, last })
            {
                var p = await g.GenradixPtrAlloc(idx);
                Assert(p != null, $"genradix_ptr_alloc({idx}) failed");
            }

            await GenradixEnds.IterateBothNodes(g, "advance() rounded the offset up past SIZE_MAX");
            await g.GenradixFree();
        });
    });
}

/// <summary>
/// The index-to-offset overflow check (bcachefs-tools aa5bd95, 2025), sequential: an index whose
/// byte offset does not fit in size_t (an inode number times the object size) must be refused
/// (NULL), not wrapped onto a small index. Both __idx_to_offset() paths: power-of-two objects
/// (16 bytes) and objects that do not divide the node (24 bytes in 64-byte nodes).
/// </summary>
[Check]
public sealed class GenradixIdxOverflowCheck : Check
{
    public override string Name => "genradix.idx-overflow";

    public override string Description => "genradix_ptr_alloc() of an index whose offset overflows size_t returns NULL instead of aliasing a small index";

    public override IReadOnlyList<Type> Primitives => [typeof(GenradixTree)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        GenradixVariants.Fixed,
        new("no-idx-overflow-check", "before bcachefs-tools aa5bd95 'check for overflow' in __idx_to_offset(): idx * obj_size wraps, "
            + "so a huge index aliases a small one", Expectation.Bug(FailureKind.Assertion)),
        new("v2018", "the 2018 series' version (no overflow check)", Expectation.Bug(FailureKind.Assertion)),
    ];

    public override Scenario Build(Variant variant) => new(1, ex =>
    {
        ex.Spawn("T0", 0, async () =>
        {
            // 16 * (2^60 + 1) wraps to 16 (index 1); (2^60 + 2) / 2 * 64 wraps to 64 (index 2).
            foreach (var (objSize, nodeShift, small, huge) in new[] { (16, 5, 1UL, (1UL << 60) + 1), (24, 6, 2UL, (1UL << 60) + 2) })
            {
                var g = GenradixVariants.New(variant, $"gr{objSize}", objSize, nodeShift);
                var ghost = new GenradixGhost(g);
                var p = await g.GenradixPtrAlloc(small);
                Assert(p != null, $"genradix_ptr_alloc({small}) failed");
                ghost.Allocated_(small, p!.Value);
                await ghost.SetBit(p.Value, small, 0);

                var q = await g.GenradixPtrAlloc(huge);
                if (q != null)
                {
                    Assert(q.Value != p.Value, $"genradix_ptr_alloc({huge}) with {objSize}-byte objects returned {q}, the slot of index {small}: the offset wrapped");
                    ghost.Allocated_(huge, q.Value);
                }

                await ghost.CheckContentsAndIteration();
                await g.GenradixFree();
            }
        });
    });
}

/// <summary>
/// Error paths under allocation failure: two tasks genradix_ptr_alloc() and genradix_prealloc()
/// while the explorer fails node allocations at will (fault query "class memory choose"). A
/// failed call must return NULL / -ENOMEM cleanly: what was allocated stays reachable with its
/// contents, nothing is freed that is still linked (no use-after-free), nothing leaks.
/// </summary>
[Check]
public sealed class GenradixEnomemCheck : Check
{
    private static readonly ulong[][] s_indices = [[0, 5], [5, 9]];

    public override string Name => "genradix.enomem";

    public override string Description => "genradix_ptr_alloc()/genradix_prealloc() under injected allocation failures: NULL/-ENOMEM, no UAF, no leak";

    public override string? Faults => "class memory choose";

    public override IReadOnlyList<Type> Primitives => [typeof(GenradixTree)];

    public override IReadOnlyList<Variant> Variants { get; } =
    [
        GenradixVariants.Fixed,
        new("free-installed-on-enomem", "own mutation of the error path: when an allocation fails, __genradix_ptr_alloc() frees the "
            + "node it installed earlier in the same call (rolling back the depth increase), which is already linked into the tree",
            Expectation.Bug(FailureKind.UseAfterFree)),
    ];

    public override Scenario Build(Variant variant) => Build(variant, treeInvariant: true);

    /// <summary>The scenario, with or without <see cref="GenradixTreeInvariant"/> (kmc bench --invariants measures what it costs).</summary>
    public static Scenario Build(Variant variant, bool treeInvariant) => new(2, ex =>
    {
        var g = GenradixVariants.New(variant, "gr", objSize: 8);
        var ghost = new GenradixGhost(g);
        var tree = treeInvariant ? GenradixTreeInvariant.Declare(ex, g) : null;
        // The users' last step is a fully ordered atomic and the waiter reads it with acquire, as a
        // completion would order them: the final checks see everything the users did, under any
        // memory model.
        var done = new Atomic("users done");
        for (var t = 0; t < s_indices.Length; t++)
        {
            var task = t;
            ex.Spawn($"T{t}", t, async () =>
            {
                foreach (var idx in s_indices[task])
                {
                    var p = await g.GenradixPtrAlloc(idx);
                    if (p == null)
                    {
                        Note($"genradix_ptr_alloc({idx}) = NULL: -ENOMEM");
                        continue;
                    }

                    ghost.Allocated_(idx, p.Value);
                    await ghost.SetBit(p.Value, idx, task);
                    await RaceFault();
                }

                var ret = await g.GenradixPrealloc(3);
                Assert(ret is 0 or -GenradixTree.ENOMEM, $"genradix_prealloc() returned {ret}");
                await AtomicIncReturn(done);
            });
        }

        ex.Spawn("teardown", 0, async () =>
        {
            await SmpCondLoadAcquire(done, n => n == s_indices.Length);
            ghost.CheckShape();
            await ghost.CheckContentsAndIteration();
            tree?.Retire();
            await g.GenradixFree();
        });
    });
}

/// <summary>The overflow checks' tree: an entry in the first node and one in the last node of size_t.</summary>
internal static class GenradixEnds
{
    /// <summary>genradix_for_each() must go strictly up and visit exactly the two nodes' entries.</summary>
    public static async ValueTask IterateBothNodes(GenradixTree g, string wrapCause)
    {
        var visits = 0;
        ulong? prev = null;
        var iter = g.GenradixIterInit(0);
        for (var p = await g.GenradixIterPeek(iter); p != null; g.GenradixIterAdvance(iter), p = await g.GenradixIterPeek(iter))
        {
            Assert(prev == null || iter.Pos > prev, $"genradix_for_each went from index {prev} back to {iter.Pos}: {wrapCause}");
            prev = iter.Pos;
            visits++;
        }

        Assert(visits == 2 * g.ObjsPerNode, $"genradix_for_each visited {visits} entries, the two allocated nodes hold {2 * g.ObjsPerNode}");
    }
}
