using System.Text.RegularExpressions;

namespace Kmc.Checks.Litmus;

/// <summary>The atomic_*() and xchg/cmpxchg calls a litmus thread may make: the operation and its ordering suffix.</summary>
public static partial class AtomicCall
{
    /// <summary>atomic_add_return_acquire is ("add_return", "_acquire"); a bare add or fetch_add is no kernel call, only xchg and cmpxchg come without the atomic_ prefix.</summary>
    public static bool TryParse(string name, out string op, out string order)
    {
        var m = Name().Match(name);
        op = m.Groups["op"].Value;
        order = m.Groups["ord"].Value;
        return m.Success && (m.Groups[1].Success || op is "xchg" or "cmpxchg");
    }

    [GeneratedRegex(@"^(atomic_)?(?<op>xchg|cmpxchg|add|sub|inc|dec|and|or|xor|fetch_add|fetch_sub|fetch_inc|fetch_dec|fetch_and|fetch_or|fetch_xor|add_return|sub_return|inc_return|dec_return)(?<ord>_relaxed|_acquire|_release)?$")]
    private static partial Regex Name();
}
