using System.Runtime.CompilerServices;

namespace Kmc.Models;

/// <summary>Marks a port: the kernel file and version it follows, and its own source file.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class KernelPortAttribute(string kernelFile, string version, [CallerFilePath] string file = "") : Attribute
{
    public string KernelFile { get; } = kernelFile;
    public string Version { get; } = version;
    public string File { get; } = file;
}
