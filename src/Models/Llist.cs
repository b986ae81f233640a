// Port of include/linux/llist.h and lib/llist.c (Linux v6.6): lock-less NULL-terminated lists.
using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>struct llist_node, embedded in a container object (container_of is <see cref="Container"/>).</summary>
public sealed class LlistNode : INamed
{
    public LlistNode(object container, string name)
    {
        Container = container;
        Next = new Loc<LlistNode?>(name + ".next");
        DisplayName = name;
    }

    public object Container { get; }
    public Loc<LlistNode?> Next { get; }
    public string DisplayName { get; }
}

/// <summary>struct llist_head</summary>
public sealed class LlistHead
{
    public LlistHead(string name) => First = new Loc<LlistNode?>(name + ".first");

    public Loc<LlistNode?> First { get; }
}

public static partial class Kernel
{
    /// <summary>llist_add_batch(): returns whether the list was empty before.</summary>
    public static async ValueTask<bool> LlistAddBatch(LlistNode newFirst, LlistNode newLast, LlistHead head,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var first = await ReadOnce(head.First, fn, file, line);
        for (;;)
        {
            await WriteOnce(newLast.Next, first, fn, file, line);
            var (ok, found) = await TryCmpxchg(head.First, first, newFirst, fn, file, line);
            if (ok)
                return first == null;
            first = found;
        }
    }

    /// <summary>llist_add()</summary>
    public static ValueTask<bool> LlistAdd(LlistNode node, LlistHead head,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => LlistAddBatch(node, node, head, fn, file, line);

    /// <summary>llist_del_all(): take the whole list (newest first).</summary>
    public static ValueTask<LlistNode?> LlistDelAll(LlistHead head,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => Xchg(head.First, null, fn, file, line);

    /// <summary>llist_del_first(): only one consumer may run it at a time, as in the kernel.</summary>
    public static async ValueTask<LlistNode?> LlistDelFirst(LlistHead head,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var entry = await ReadOnce(head.First, fn, file, line);
        for (;;)
        {
            if (entry == null)
                return null;
            var next = await ReadOnce(entry.Next, fn, file, line);
            var (ok, found) = await TryCmpxchg(head.First, entry, next, fn, file, line);
            if (ok)
                return entry;
            entry = found;
        }
    }

    /// <summary>llist_empty()</summary>
    public static async ValueTask<bool> LlistEmpty(LlistHead head,
        [CallerMemberName] string fn = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
        => await ReadOnce(head.First, fn, file, line) == null;

    /// <summary>llist_reverse_order(): on a list already taken private, so no shared accesses.</summary>
    public static LlistNode? LlistReverseOrder(LlistNode? head)
    {
        LlistNode? newHead = null;
        while (head != null)
        {
            var tmp = head;
            Scheduling.StateCache.Touch(head.Next.Key);
            head = head.Next.Value;
            tmp.Next.Value = newHead;
            newHead = tmp;
        }

        return newHead;
    }

    /// <summary>Walks a private list (llist_for_each_safe) without scheduling points.</summary>
    public static IEnumerable<LlistNode> LlistForEach(LlistNode? node)
    {
        while (node != null)
        {
            Scheduling.StateCache.Touch(node.Next.Key);
            var next = node.Next.Value;
            yield return node;
            node = next;
        }
    }
}

/// <summary>DEFINE_PER_CPU: one instance per CPU.</summary>
public sealed class PerCpu<T>
{
    private readonly T[] _slots;

    public PerCpu(int cpus, Func<int, T> init)
    {
        _slots = new T[cpus];
        for (var i = 0; i < cpus; i++)
            _slots[i] = init(i);
    }

    public int Count => _slots.Length;

    /// <summary>per_cpu_ptr(p, cpu)</summary>
    public T PerCpuPtr(int cpu) => _slots[cpu];

    /// <summary>this_cpu_ptr(p)</summary>
    public T ThisCpuPtr() => _slots[Kernel.SmpProcessorId()];
}
