// Port of generic radix trees: lib/generic-radix-tree.c + include/linux/generic-radix-tree.h.
//
// Two named versions (GenradixVersion):
//   V2018   the lock-free version of Kent Overstreet's 2018 series (bcachefs-tools 35fca2f,
//           koverstreet/bcachefs lib/generic-radix-tree.c @ 420be96, first merged upstream):
//           depth encoded in the root pointer, cmpxchg_release() installs root and children,
//           page-sized nodes, genradix_free() with READ_ONCE + a plain store.
//   Current torvalds/linux today: GENRADIX_NODE_SIZE kzalloc'd nodes, inlined lookup, the
//           preallocated-node argument, xchg() in genradix_free(), and the fixes
//             "lib/generic-radix-tree.c: Fix rare race in __genradix_ptr_alloc()" (b2f11c6f3e1f):
//               a lost root cmpxchg clears new_node->children[0];
//             "lib/generic-radix-tree.c: Don't overflow in peek()" (9492261ff246);
//           plus bcachefs-tools aa5bd95 (2025): __idx_to_offset() checks for overflow.
// Historical bugs and own mutations are GenradixBug flags that differ only where a fix did.
// Written from reading the kernel code; no code copied.
//
// Model notes:
// * Memory is 8-byte words (a 64-bit machine). A node is NodeSize/8 word locations: an interior
//   node's children[] and a leaf's data[] are the same words (the C union), so a stale child
//   pointer left in a node later used as a leaf shows up as non-zero data. Element sizes are
//   multiples of the word; offsets are byte offsets (size_t = ulong, wrapping as in C).
// * The root is one location holding a (node, depth) pair: the C's node address with the depth
//   in its low bits. cmpxchg compares both, as it compares the tagged pointer.
// * Node size is a parameter (NodeShift): tiny nodes (16 bytes: 2 children, 2 objects of 8
//   bytes) make depth changes happen with a handful of indices.
using Kmc.Models;
using static Kmc.Models.Kernel;

namespace Kmc.Primitives.Genradix;

public enum GenradixVersion
{
    /// <summary>The 2018 series' lock-free version (first merged upstream).</summary>
    V2018,

    /// <summary>Current upstream (with bcachefs-tools' 2025 index overflow check).</summary>
    Current,
}

/// <summary>Differences from the version's code: historical fixes undone and own mutations.</summary>
[Flags]
public enum GenradixBug
{
    None = 0,

    /// <summary>Before b2f11c6f: a lost root cmpxchg keeps new_node->children[0] = old root (V2018 has it).</summary>
    StaleChildOnLostRootRace = 1,

    /// <summary>Before 9492261ff246: peek()/advance() let the offset wrap past SIZE_MAX (V2018 has it).</summary>
    PeekOverflow = 2,

    /// <summary>Before aa5bd95: idx * obj_size wraps instead of failing (V2018 has it).</summary>
    NoIdxOverflowCheck = 4,

    /// <summary>Own mutation: the unused spare node is not freed at the end of __genradix_ptr_alloc().</summary>
    LeakSpare = 8,

    /// <summary>Own mutation: a child is installed with READ_ONCE + WRITE_ONCE instead of cmpxchg_release().</summary>
    PlainChildInstall = 16,

    /// <summary>Own mutation (error path): on allocation failure, free the node this call installed last.</summary>
    FreeInstalledOnEnomem = 32,
}

/// <summary>One word of memory: a pointer to a node, or data bits.</summary>
public readonly record struct GenradixWord(GenradixNode? Node, ulong Bits)
{
    public static GenradixWord Data(ulong bits) => new(null, bits);

    public static GenradixWord Ptr(GenradixNode? node) => new(node, 0);

    /// <summary>The word read as data: a pointer reads as its (non-zero) address.</summary>
    public ulong AsData => Node is null ? Bits : Node.Address;

    public override string ToString() => Node is not null ? Node.DisplayName : Bits == 0 ? "0" : $"0x{Bits:x}";
}

/// <summary>struct genradix_root *: the root node's address with the depth in its low bits.</summary>
public readonly record struct GenradixRoot(GenradixNode? Node, int Depth)
{
    public override string ToString() => Node is null ? "NULL" : $"{Node.DisplayName}|depth {Depth}";
}

/// <summary>struct genradix_node: the union of children[GENRADIX_ARY] and data[GENRADIX_NODE_SIZE].</summary>
public sealed class GenradixNode : KObject
{
    public GenradixNode(string name, int serial, int words)
    {
        Serial = serial;
        Words = new Loc<GenradixWord>[words];
        for (var i = 0; i < words; i++)
            Words[i] = new Loc<GenradixWord>($"{name}.node{serial}[{i}]");
    }

    public int Serial { get; }
    public Loc<GenradixWord>[] Words { get; }

    /// <summary>A made-up kernel address: what a stale pointer looks like when read as data.</summary>
    public ulong Address => 0xffff_8880_0000_0000UL + (ulong)Serial * 0x200;

    public override string DisplayName => $"node{Serial}";
}

/// <summary>A pointer into a leaf: &amp;n->data[offset].</summary>
public readonly record struct GenradixPtr(GenradixNode Leaf, ulong Offset)
{
    public override string ToString() => $"&{Leaf.DisplayName}->data[{Offset}]";
}

/// <summary>struct genradix_iter</summary>
public sealed class GenradixIter
{
    public ulong Offset;
    public ulong Pos;
}

/// <summary>GENRADIX(type): a generic radix tree of objects of ObjSize bytes.</summary>
[KernelPort("lib/generic-radix-tree.c", "2018 series (bcachefs-tools 35fca2f) and current torvalds/linux")]
public sealed class Genradix
{
    public const int WordSize = 8;
    public const int ENOMEM = 12;

    private int _serial;

    public Genradix(string name, int objSize, GenradixVersion version = GenradixVersion.Current, GenradixBug bugs = GenradixBug.None, int nodeShift = 4)
    {
        if (nodeShift < 4 || nodeShift > 12)
            throw new ArgumentOutOfRangeException(nameof(nodeShift), "nodes of 16 bytes to a page");
        if (objSize <= 0 || objSize % WordSize != 0 || objSize > 1 << nodeShift)
            throw new ArgumentOutOfRangeException(nameof(objSize), $"object size must be a multiple of {WordSize} bytes and at most a node");
        Name = name;
        ObjSize = objSize;
        Version = version;
        Bugs = bugs | (version == GenradixVersion.V2018
            ? GenradixBug.StaleChildOnLostRootRace | GenradixBug.PeekOverflow | GenradixBug.NoIdxOverflowCheck
            : GenradixBug.None);
        NodeShift = nodeShift;
        AryShift = nodeShift - 3;
        Root = new Loc<GenradixRoot>(name + ".root");
    }

    public string Name { get; }
    public int ObjSize { get; }
    public GenradixVersion Version { get; }
    public GenradixBug Bugs { get; }

    /// <summary>GENRADIX_NODE_SHIFT (PAGE_SHIFT in the 2018 version).</summary>
    public int NodeShift { get; }

    public int NodeSize => 1 << NodeShift;

    /// <summary>GENRADIX_ARY_SHIFT: log2 of the pointers per node.</summary>
    public int AryShift { get; }

    public int Ary => 1 << AryShift;

    /// <summary>GENRADIX_MAX_DEPTH: the depth that addresses all of size_t.</summary>
    public int MaxDepth => (64 - NodeShift + AryShift - 1) / AryShift;

    public int ObjsPerNode => NodeSize / ObjSize;

    public Loc<GenradixRoot> Root { get; }

    /// <summary>
    /// Not upstream: kmc's proposed fix for a wrap left in genradix_iter_advance(): with objects
    /// whose size is not a power of two, round_up(offset, GENRADIX_NODE_SIZE) past the last node
    /// wraps to 0 (the peek() fix checked only the two additions).
    /// </summary>
    public bool ProposedAdvanceRoundUpFix { get; init; }

    private bool Has(GenradixBug b) => (Bugs & b) != 0;

    public int DepthShift(int depth) => NodeShift + AryShift * depth;

    public ulong DepthSize(int depth)
    {
        BugOn(DepthShift(depth) >= 64, "genradix_depth_size() past BITS_PER_LONG");
        return 1UL << DepthShift(depth);
    }

    /// <summary>ilog2(), with ilog2(0) == -1 as fls_long(0) - 1.</summary>
    public static int Ilog2(ulong v) => v == 0 ? -1 : 63 - System.Numerics.BitOperations.LeadingZeroCount(v);

    private static bool IsPowerOf2(int v) => (v & (v - 1)) == 0;

    /// <summary>__idx_to_offset(): true on overflow (the 2025 check); without it, the product wraps.</summary>
    public bool IdxToOffset(ulong idx, out ulong offset)
    {
        BugOn(ObjSize > NodeSize, "obj_size > GENRADIX_NODE_SIZE");
        var check = !Has(GenradixBug.NoIdxOverflowCheck);
        ulong node, nodeOffset;
        if (!IsPowerOf2(ObjSize))
        {
            var objsPerPage = (ulong)ObjsPerNode;
            var overflow = MulOverflows(idx / objsPerPage, (ulong)NodeSize, out node)
                | MulOverflows(idx % objsPerPage, (ulong)ObjSize, out nodeOffset);
            offset = unchecked(node + nodeOffset);
            return check && (overflow || offset < node);
        }

        var ovf = MulOverflows(idx, (ulong)ObjSize, out offset);
        return check && ovf;
    }

    private static bool MulOverflows(ulong a, ulong b, out ulong product)
    {
        product = unchecked(a * b);
        return a != 0 && product / a != b;
    }

    private GenradixNode? AllocNode() =>
        KzallocOrNull(() => new GenradixNode(Name, ++_serial, NodeSize / WordSize), "genradix_node");

    // ---- lookup ------------------------------------------------------------------------------

    /// <summary>genradix_ptr(radix, idx): the entry, or null if it is not allocated.</summary>
    public async ValueTask<GenradixPtr?> GenradixPtr(ulong idx)
    {
        if (IdxToOffset(idx, out var offset))
            return null;
        return await __GenradixPtr(offset);
    }

    /// <summary>__genradix_ptr() (the inlined walk of the current version; the same reads as the 2018 loop).</summary>
    public async ValueTask<GenradixPtr?> __GenradixPtr(ulong offset)
    {
        var r = await ReadOnce(Root);
        var n = r.Node;
        var level = r.Depth;
        if (Ilog2(offset) >= DepthShift(level))
            return null;
        while (n != null && level > 0)
        {
            level--;
            n = (await PlainRead(n.Words[(int)(offset >> DepthShift(level))])).Node;
            offset &= DepthSize(level) - 1;
        }

        return n != null ? new GenradixPtr(n, offset) : null;
    }

    // ---- allocation --------------------------------------------------------------------------

    /// <summary>genradix_ptr_alloc(radix, idx, gfp): the entry, allocating it (zeroed) if needed; null on failure.</summary>
    public async ValueTask<GenradixPtr?> GenradixPtrAlloc(ulong idx, GenradixPrealloc? preallocated = null)
    {
        if (IdxToOffset(idx, out var offset))
            return null;
        return await __GenradixPtrAlloc(offset, preallocated);
    }

    public async ValueTask<GenradixPtr?> __GenradixPtrAlloc(ulong offset, GenradixPrealloc? preallocated = null)
    {
        var v = await ReadOnce(Root);
        GenradixNode? n, newNode = null;
        GenradixNode? installed = null;
        int level;

        if (preallocated != null && Version == GenradixVersion.Current)
            (newNode, preallocated.Node) = (preallocated.Node, newNode);

        // Increase tree depth if necessary:
        while (true)
        {
            var r = v;
            n = r.Node;
            level = r.Depth;
            if (n != null && Ilog2(offset) < DepthShift(level))
                break;

            if (newNode == null)
            {
                // The 2018 version calls __get_free_page() here and again below: two fault sites.
                newNode = Version == GenradixVersion.V2018
                    ? KzallocOrNull(() => new GenradixNode(Name, ++_serial, NodeSize / WordSize), "genradix_node")
                    : AllocNode();
                if (newNode == null)
                    return await Enomem(installed);
            }

            await PlainWrite(newNode.Words[0], GenradixWord.Ptr(n));
            var newRoot = new GenradixRoot(newNode, n != null ? level + 1 : 0);
            BugOn(newRoot.Depth > MaxDepth, "depth > GENRADIX_MAX_DEPTH");

            v = await CmpxchgRelease(Root, r, newRoot);
            if (v == r)
            {
                v = newRoot;
                installed = newNode;
                newNode = null;
            }
            else if (!Has(GenradixBug.StaleChildOnLostRootRace))
            {
                await PlainWrite(newNode.Words[0], default);
            }
        }

        while (level-- > 0)
        {
            var p = n!.Words[(int)(offset >> DepthShift(level))];
            offset &= DepthSize(level) - 1;

            n = (await ReadOnce(p)).Node;
            if (n == null)
            {
                if (newNode == null)
                {
                    newNode = Version == GenradixVersion.V2018
                        ? KzallocOrNull(() => new GenradixNode(Name, ++_serial, NodeSize / WordSize), "genradix_node")
                        : AllocNode();
                    if (newNode == null)
                        return await Enomem(installed);
                }

                if (Has(GenradixBug.PlainChildInstall))
                {
                    // Check, then store: another task's node installed in between is overwritten.
                    n = (await ReadOnce(p)).Node;
                    if (n == null)
                        await WriteOnce(p, GenradixWord.Ptr(newNode));
                }
                else
                {
                    n = (await CmpxchgRelease(p, default, GenradixWord.Ptr(newNode))).Node;
                }

                if (n == null)
                {
                    (n, newNode) = (newNode, null);
                    installed = n;
                }
            }
        }

        if (newNode != null && !Has(GenradixBug.LeakSpare))
            await Kfree(newNode);

        return new GenradixPtr(n!, offset);
    }

    /// <summary>The allocation-failure return: NULL (the mutation also frees what it installed, which is still linked).</summary>
    private async ValueTask<GenradixPtr?> Enomem(GenradixNode? installed)
    {
        if (Has(GenradixBug.FreeInstalledOnEnomem) && installed != null)
            await Kfree(installed);
        return null;
    }

    /// <summary>genradix_prealloc(radix, nr, gfp): 0, or -ENOMEM.</summary>
    public async ValueTask<int> GenradixPrealloc(ulong nr)
    {
        if (IdxToOffset(nr + 1, out var size))
            return -ENOMEM;
        for (ulong offset = 0; offset < size; offset += (ulong)NodeSize)
        {
            if (await __GenradixPtrAlloc(offset) == null)
                return -ENOMEM;
        }

        return 0;
    }

    // ---- iteration ---------------------------------------------------------------------------

    /// <summary>genradix_iter_init(radix, idx)</summary>
    public GenradixIter GenradixIterInit(ulong idx)
    {
        IdxToOffset(idx, out var offset);
        return new GenradixIter { Pos = idx, Offset = offset };
    }

    /// <summary>genradix_iter_peek(): the first entry of an allocated node at or after the iterator.</summary>
    public async ValueTask<GenradixPtr?> GenradixIterPeek(GenradixIter iter)
    {
        var fixedPeek = !Has(GenradixBug.PeekOverflow);
        var objsPerPage = (ulong)ObjsPerNode;
        if (fixedPeek && iter.Offset == ulong.MaxValue)
            return null;

        restart:
        var r = await ReadOnce(Root);
        if (r.Node == null)
            return null;
        var n = r.Node;
        var level = r.Depth;
        if (Ilog2(iter.Offset) >= DepthShift(level))
            return null;

        while (level > 0)
        {
            level--;
            var i = (int)((iter.Offset >> DepthShift(level)) & (ulong)(Ary - 1));
            while ((await PlainRead(n.Words[i])).Node == null)
            {
                var objsPerPtr = DepthSize(level);
                if (fixedPeek && unchecked(iter.Offset + objsPerPtr) < iter.Offset)
                {
                    iter.Offset = ulong.MaxValue;
                    iter.Pos = ulong.MaxValue;
                    return null;
                }

                i++;
                iter.Offset = unchecked(iter.Offset + objsPerPtr) & ~(objsPerPtr - 1);
                iter.Pos = (iter.Offset >> NodeShift) * objsPerPage;
                if (i == Ary)
                    goto restart;
            }

            n = (await PlainRead(n.Words[i])).Node!;
        }

        return new GenradixPtr(n, iter.Offset & (ulong)(NodeSize - 1));
    }

    /// <summary>genradix_iter_advance()</summary>
    public void GenradixIterAdvance(GenradixIter iter)
    {
        var size = (ulong)ObjSize;
        if (!Has(GenradixBug.PeekOverflow) && unchecked(iter.Offset + size) < iter.Offset)
        {
            iter.Offset = ulong.MaxValue;
            iter.Pos = ulong.MaxValue;
            return;
        }

        iter.Offset = unchecked(iter.Offset + size);
        if (!IsPowerOf2(ObjSize) && (iter.Offset & (ulong)(NodeSize - 1)) + size > (ulong)NodeSize)
        {
            if (ProposedAdvanceRoundUpFix && iter.Offset > ulong.MaxValue - (ulong)NodeSize + 1)
            {
                iter.Offset = ulong.MaxValue;
                iter.Pos = ulong.MaxValue;
                return;
            }

            iter.Offset = unchecked(iter.Offset + (ulong)NodeSize - 1) & ~(ulong)(NodeSize - 1);
        }

        iter.Pos++;
    }

    // ---- free --------------------------------------------------------------------------------

    private async ValueTask GenradixFreeRecurse(GenradixNode? n, int level)
    {
        if (n == null)
            return;
        if (level > 0)
        {
            for (var i = 0; i < Ary; i++)
            {
                var child = (await PlainRead(n.Words[i])).Node;
                if (child != null)
                    await GenradixFreeRecurse(child, level - 1);
            }
        }

        await Kfree(n);
    }

    /// <summary>genradix_free(): not safe against concurrent users (a precondition, as in the C).</summary>
    public async ValueTask GenradixFree()
    {
        if (Version == GenradixVersion.V2018)
        {
            var r = await ReadOnce(Root);
            await GenradixFreeRecurse(r.Node, r.Depth);
            await PlainWrite(Root, default);
        }
        else
        {
            var r = await Xchg(Root, default);
            await GenradixFreeRecurse(r.Node, r.Depth);
        }
    }

    // ---- entries (what the user does through the returned pointer) ----------------------------

    /// <summary>The word locations of the object at p.</summary>
    public Loc<GenradixWord>[] EntryWords(GenradixPtr p)
    {
        var first = (int)(p.Offset / WordSize);
        return p.Leaf.Words[first..(first + ObjSize / WordSize)];
    }
}

/// <summary>The caller's preallocated node (struct genradix_node **preallocated).</summary>
public sealed class GenradixPrealloc
{
    public GenradixNode? Node;
}
