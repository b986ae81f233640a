using System.Collections.Concurrent;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>
/// The port-level call chain of a recorded step ("Build → DioWrite → InvalidateRange → LockPage"),
/// built only while an execution is recorded: the explorers' search never pays for it.
/// </summary>
/// <remarks>
/// A task of the native explorer is a chain of suspended async methods, so its callers are not on
/// the thread's stack once it has been resumed. They are read from the async state machines
/// instead: each suspended method's box holds the continuation of the method awaiting it, which
/// is that caller's box, up to the task body. Steps then add what the real stack shows above the
/// resumed method (synchronous callees, or callers resumed when a callee completed). Under the
/// Coyote driver every await completes synchronously and the real stack alone has the chain.
/// Frames of the simulated kernel (Kmc.Models), the runtime and the drivers are left out; a lambda
/// or local function is shown as the method that declares it.
/// </remarks>
internal static class CallChain
{
    public const string Separator = " → ";

    /// <summary>A frame of the chain: the method as a port names it, and its type (to tell apart same-named methods).</summary>
    internal readonly record struct Frame(Type Type, string Name);

    private static readonly Assembly ModelsAssembly = typeof(CallChain).Assembly;
    private static readonly ConcurrentDictionary<Type, Func<object, object?>?> NextOf = new();
    private static readonly ConcurrentDictionary<Type, Frame?> FrameOfBox = new();

    /// <summary>The awaiting chain of a continuation about to be resumed, outermost first.</summary>
    public static Frame[] OfContinuation(Action resume)
    {
        var frames = new List<Frame>();
        object? box = resume.Target;
        // A parked memory access resumes the port's method after it runs: the chain starts there.
        if (box is IParkedAccess parked)
            box = parked.Awaiter;
        // A chain longer than this is a cycle, which a well-formed await chain never has.
        for (var depth = 0; box != null && depth < 256; depth++)
        {
            if (BoxFrame(box) is { } f && IsCode(f.Type))
                frames.Add(f);
            box = Next(box);
        }

        frames.Reverse();
        return frames.ToArray();
    }

    /// <summary>The chain of the step being recorded: the resumed chain, then what the real stack adds.</summary>
    // Never inlined, like Recorder.Add: the two frames skipped below must be these two, or a
    // tiered-up (inlined) caller shifts the stack and the recorded chain changes mid-process.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static string? Now(Frame[]? resumed, string function)
    {
        var chain = new List<Frame>(resumed ?? []);
        var st = new StackTrace(2, false);
        // Only what runs on the task's behalf: above the driver that resumed or started it.
        var top = 0;
        while (top < st.FrameCount && !IsTaskEntry(st.GetFrame(top)?.GetMethod()))
            top++;
        // Bottom of the stack first: each frame either returns into the chain (a caller resumed by
        // its callee's completion: it is below the callee on the real stack, but the callee returned)
        // or calls deeper. Kernel frames take part, so a kernel helper resuming drops the port
        // method that returned to it; they are left out of what is shown.
        for (var i = top - 1; i >= 0; i--)
        {
            if (st.GetFrame(i)?.GetMethod() is not { } m || FrameOf(m) is not { } f || !IsCode(f.Type))
                continue;
            var at = chain.LastIndexOf(f);
            if (at >= 0)
                chain.RemoveRange(at + 1, chain.Count - at - 1);
            else
                chain.Add(f);
        }

        // A lambda shown as its declaring method can follow that method: one frame says it.
        var names = new List<string>();
        foreach (var f in chain)
        {
            if (f.Type.Assembly == ModelsAssembly)
                continue;
            if (names.Count == 0 || names[^1] != f.Name)
                names.Add(f.Name);
        }

        // A method that only returned a kernel call's ValueTask is off every stack by the time the
        // access runs; the step's own caller name still says where it was.
        if (function.Length > 0 && (names.Count == 0 || names[^1] != function))
            names.Add(function);
        return string.Join(Separator, names);
    }

    /// <summary>Where a task's own code begins on the real stack: the task runner, or a driver resuming it.</summary>
    private static bool IsTaskEntry(MethodBase? m)
    {
        if (m?.DeclaringType is not { } t || t.Assembly != ModelsAssembly)
            return false;
        if (t.Namespace?.StartsWith("Kmc.Models.Scheduling", StringComparison.Ordinal) ?? false)
            return true;
        return Outer(t) == typeof(Execution) && FrameOf(m)?.Name == nameof(Execution.RunTask);
    }

    private static bool IsCode(Type t)
    {
        var name = t.Assembly.GetName().Name ?? "";
        return !(name.StartsWith("System", StringComparison.Ordinal) || name.StartsWith("Microsoft", StringComparison.Ordinal)
                 || name.StartsWith("xunit", StringComparison.Ordinal) || name == "netstandard" || name == "mscorlib");
    }

    /// <summary>A method of the real stack as a frame: a state machine's MoveNext is the async method it runs.</summary>
    private static Frame? FrameOf(MethodBase m)
    {
        var type = m.DeclaringType;
        if (type is null)
            return null;
        if (typeof(IAsyncStateMachine).IsAssignableFrom(type))
            return StateMachineFrame(type);
        // A method that only returns another's task (SmpStoreRelease's caller UnlockPage, say) is
        // off the stack once that task suspends under the native explorer; leaving it out always
        // gives both drivers the same chain.
        if (m is MethodInfo { ReturnType: var r } && (typeof(Task).IsAssignableFrom(r) || r == typeof(ValueTask)
                || (r.IsGenericType && r.GetGenericTypeDefinition() == typeof(ValueTask<>))))
            return null;
        return new Frame(Outer(type), SourceName(m.Name));
    }

    private static Frame? StateMachineFrame(Type stateMachine) =>
        stateMachine.DeclaringType is { } owner ? new Frame(Outer(owner), SourceName(stateMachine.Name)) : null;

    /// <summary>The type a compiler-generated closure class belongs to (lambdas capture into nested display classes).</summary>
    private static Type Outer(Type t)
    {
        while (t.DeclaringType != null && t.Name.StartsWith('<'))
            t = t.DeclaringType;
        return t;
    }

    /// <summary>
    /// The source name of a compiler-generated name: "&lt;DioWrite&gt;d__12" is DioWrite,
    /// "&lt;&lt;Build&gt;b__0_1&gt;d" and "&lt;Build&gt;g__Local|0_2" are Build.
    /// </summary>
    internal static string SourceName(string name)
    {
        while (name.StartsWith('<'))
        {
            var end = name.IndexOf('>');
            var depth = 0;
            for (var i = 0; i < name.Length; i++)
            {
                if (name[i] == '<')
                    depth++;
                else if (name[i] == '>' && --depth == 0)
                {
                    end = i;
                    break;
                }
            }

            if (end <= 1)
                return name;
            name = name[1..end];
        }

        return name;
    }

    private static Frame? BoxFrame(object box) => FrameOfBox.GetOrAdd(box.GetType(), static t =>
    {
        var sm = t.GetField("StateMachine", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)?.FieldType;
        return sm is null ? null : StateMachineFrame(sm);
    });

    /// <summary>The box of the method awaiting this one, or null at the task body.</summary>
    private static object? Next(object box)
    {
        var next = NextOf.GetOrAdd(box.GetType(), Reader)?.Invoke(box);
        return next is Action a ? a.Target : next;
    }

    /// <summary>
    /// How to read the awaiting continuation out of a box: a Task-based box (AsyncTaskMethodBuilder,
    /// and AsyncValueTaskMethodBuilder once it suspends) keeps it in Task.m_continuationObject; a
    /// pooled ValueTask box in its ManualResetValueTaskSourceCore's continuation state.
    /// </summary>
    private static Func<object, object?>? Reader(Type boxType)
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;
        if (typeof(Task).IsAssignableFrom(boxType))
        {
            var f = typeof(Task).GetField("m_continuationObject", all);
            return f is null ? null : box => f.GetValue(box);
        }

        var source = boxType.GetField("_valueTaskSource", all);
        if (source is null)
            return null;
        var state = source.FieldType.GetField("_continuationState", all);
        return state is null ? null : box => state.GetValue(source.GetValue(box));
    }
}
