using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CsCheck;

namespace Kmc.Cli.Fuzz;

/// <summary>What one mutation does to a valid seed file.</summary>
public enum MutationKind
{
    // On a JSON node chosen by position (structure-aware).
    DropField,
    Nullify,
    Retype,
    HugeNumber,
    NonFinite,
    EmptyValue,
    DuplicateElement,

    // On the text (any format).
    Truncate,
    FlipByte,
    DropLine,
    DuplicateLine,
    ReplaceNumber,
}

/// <summary>
/// One mutation: its kind and two random words that pick the place and the new value. A case
/// is a few of them applied in turn to one seed, so a case is a small value CsCheck generates
/// and prints.
/// </summary>
public readonly record struct Mutation(MutationKind Kind, uint Where, uint What)
{
    public override string ToString() => $"{Kind}@{Where % 10000}/{What % 100}";
}

/// <summary>
/// Seed mutation in the style of grammar-unaware fuzzers (AFL's bit flips, truncation, "interesting"
/// integers) plus structure-aware JSON edits (drop, null, retype a member), after Zalewski's AFL
/// and the JSON-aware mutators of Godefroid et al., "Learn&amp;Fuzz" (2017).
/// </summary>
public static class Mutations
{
    private static readonly MutationKind[] s_json = Enum.GetValues<MutationKind>();
    private static readonly MutationKind[] s_text =
        [MutationKind.Truncate, MutationKind.FlipByte, MutationKind.DropLine, MutationKind.DuplicateLine, MutationKind.ReplaceNumber];

    /// <summary>The numbers that break parsers and arithmetic: bounds of each width, zero, negatives, overflow.</summary>
    public static readonly string[] Interesting =
    [
        "0", "-1", "1", "2147483647", "2147483648", "-2147483649", "4294967296", "9223372036854775807",
        "9223372036854775808", "18446744073709551616", "1e308", "1e309", "-1e309", "1e-320", "0.5", "1e10",
        "99999999999999999999999999999",
    ];

    /// <summary>Not JSON numbers at all: what a hand-written file or another tool might put there.</summary>
    public static readonly string[] NonFinite = ["NaN", "Infinity", "-Infinity", "\"NaN\"", "\"Infinity\"", "1e999"];

    public static Gen<Mutation[]> Generator(bool json)
    {
        var kinds = json ? s_json : s_text;
        var one = Gen.Select(Gen.Int[0, kinds.Length - 1], Gen.UInt, Gen.UInt,
            (k, where, what) => new Mutation(kinds[k], where, what));
        return one.Array[1, 3];
    }

    public static string Apply(string text, IEnumerable<Mutation> mutations, bool json)
    {
        foreach (var m in mutations)
            text = json && (int)m.Kind <= (int)MutationKind.DuplicateElement ? ApplyJson(text, m) : ApplyText(text, m);
        return text;
    }

    private static string ApplyText(string text, Mutation m)
    {
        switch (m.Kind)
        {
            case MutationKind.Truncate:
                return text.Length == 0 ? text : text[..(int)(m.Where % text.Length)];
            case MutationKind.FlipByte:
            {
                var bytes = Encoding.UTF8.GetBytes(text);
                if (bytes.Length == 0)
                    return text;
                bytes[m.Where % bytes.Length] ^= (byte)(1 + m.What % 255);
                return Encoding.UTF8.GetString(bytes);
            }
            case MutationKind.DropLine:
            case MutationKind.DuplicateLine:
            {
                var lines = text.Split('\n').ToList();
                var i = (int)(m.Where % lines.Count);
                if (m.Kind == MutationKind.DropLine)
                    lines.RemoveAt(i);
                else
                    lines.Insert(i, lines[i]);
                return string.Join('\n', lines);
            }
            default:
            {
                // ReplaceNumber (and JSON kinds on text that no longer parses): the n-th run of digits.
                var runs = System.Text.RegularExpressions.Regex.Matches(text, @"\d+");
                if (runs.Count == 0)
                    return text;
                var run = runs[(int)(m.Where % runs.Count)];
                var all = Interesting.Concat(NonFinite).ToArray();
                return text[..run.Index] + all[m.What % all.Length] + text[(run.Index + run.Length)..];
            }
        }
    }

    private static string ApplyJson(string text, Mutation m)
    {
        try
        {
            return ApplyToTree(text, m);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            // Text an earlier mutation left unparseable, or with a member twice: mutate it as text.
            return ApplyText(text, m with { Kind = MutationKind.ReplaceNumber });
        }
    }

    private static string ApplyToTree(string text, Mutation m)
    {
        var root = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });

        if (root == null)
            return text;
        var nodes = new List<(JsonNode? Parent, string? Name, int Index, JsonNode? Node)>();
        Walk(root, nodes);
        if (nodes.Count == 0)
            return text;
        var (parent, name, index, node) = nodes[(int)(m.Where % nodes.Count)];
        JsonNode? replacement;
        switch (m.Kind)
        {
            case MutationKind.DropField:
                if (parent is JsonObject po && name != null)
                    po.Remove(name);
                else if (parent is JsonArray pa)
                    pa.RemoveAt(index);
                return root.ToJsonString();
            case MutationKind.Nullify:
                replacement = null;
                break;
            case MutationKind.Retype:
                replacement = node switch
                {
                    JsonObject => new JsonArray(),
                    JsonArray => JsonValue.Create("list"),
                    JsonValue v when v.GetValueKind() == JsonValueKind.String => JsonValue.Create(m.What % 2 == 0 ? 7 : 1.5),
                    JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => JsonValue.Create("yes"),
                    _ => m.What % 2 == 0 ? JsonValue.Create(node?.ToJsonString() ?? "null") : new JsonObject(),
                };
                break;
            case MutationKind.HugeNumber:
                replacement = JsonNode.Parse(Interesting[m.What % Interesting.Length]);
                break;
            case MutationKind.NonFinite:
                // Not representable in a JsonNode: splice the token into the text.
                return Splice(root, parent, name, index, NonFinite[m.What % NonFinite.Length]);
            case MutationKind.EmptyValue:
                replacement = node switch
                {
                    JsonObject => new JsonObject(),
                    JsonArray => new JsonArray(),
                    _ => JsonValue.Create(m.What % 2 == 0 ? "" : " "),
                };
                break;
            default: // DuplicateElement
                if (parent is JsonArray arr)
                    arr.Insert(index, node?.DeepClone());
                else if (parent is JsonObject obj && name != null)
                    obj[name + "_"] = node?.DeepClone();
                return root.ToJsonString();
        }

        if (parent is JsonObject o && name != null)
            o[name] = replacement;
        else if (parent is JsonArray a)
            a[index] = replacement;
        else
            return replacement?.ToJsonString() ?? "null";
        return root.ToJsonString();
    }

    /// <summary>Puts a raw token (not valid JSON, like NaN) where a node was.</summary>
    private static string Splice(JsonNode root, JsonNode? parent, string? name, int index, string token)
    {
        const string marker = "\"\u0001kmc-fuzz\u0001\"";
        if (parent is JsonObject o && name != null)
            o[name] = JsonValue.Create("\u0001kmc-fuzz\u0001");
        else if (parent is JsonArray a)
            a[index] = JsonValue.Create("\u0001kmc-fuzz\u0001");
        else
            return token;
        return root.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping })
            .Replace(marker.Replace("\u0001", "\\u0001"), token).Replace(marker, token);
    }

    /// <summary>Every node with its parent, in document order (a member's value; an array's element).</summary>
    private static void Walk(JsonNode node, List<(JsonNode? Parent, string? Name, int Index, JsonNode? Node)> into)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o.ToList())
                {
                    into.Add((o, k, -1, v));
                    if (v != null)
                        Walk(v, into);
                }

                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    into.Add((a, null, i, a[i]));
                    if (a[i] is { } child)
                        Walk(child, into);
                }

                break;
        }
    }
}
