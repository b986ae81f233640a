using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using System.Text.RegularExpressions;

namespace Kmc.Checks.Framework;

/// <summary>A value read from a file that checks itself once, with the path of each field it checks.</summary>
public interface IValidatedInput
{
    /// <summary>Throws a <see cref="KmcInputException"/> naming the file and JSON path of the first bad field.</summary>
    void Validate(InputPath at);
}

/// <summary>
/// The one place where files kmc reads (trace.json, summary.json, the config, worker jobs)
/// become well-typed values: text that is not JSON, a field of the wrong type, a missing or
/// null field, a null list element, a number out of range all end as one line naming the file
/// and the JSON path. Everything past <see cref="ReadJson{T}"/> can trust what it gets.
/// </summary>
public static partial class InputFiles
{
    /// <summary>Larger than any trace or summary kmc writes by two orders of magnitude; a bigger file is not one of them.</summary>
    public const long MaxBytes = 64L << 20;

    /// <summary>
    /// Serializer options that refuse what a record's C# type refuses: null for a non-nullable
    /// member and a missing constructor parameter (System.Text.Json accepts both by default).
    /// </summary>
    public static JsonSerializerOptions Strict(JsonSerializerOptions options) => new(options)
    {
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        MaxDepth = 64,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { OptionalWhenNullable } },
    };

    /// <summary>A nullable constructor parameter may be absent: kmc's writers leave nulls out.</summary>
    private static void OptionalWhenNullable(JsonTypeInfo type)
    {
        foreach (var p in type.Properties)
        {
            if (p.AssociatedParameter is { IsNullable: true })
                p.IsRequired = false;
        }
    }

    /// <summary>A file's text, or one line on why it cannot be read.</summary>
    public static string ReadText(string path, string what)
    {
        if (Directory.Exists(path))
            throw new KmcInputException($"{what} '{path}' is a folder, not a file");
        if (!File.Exists(path))
            throw new KmcInputException($"{what} '{path}' does not exist");
        try
        {
            if (new FileInfo(path).Length > MaxBytes)
                throw new KmcInputException($"{path}: larger than {MaxBytes >> 20} MB, not a kmc {what}");
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KmcInputException($"{path}: cannot read the {what}: {OneLine(e.Message)}");
        }
    }

    /// <summary>Reads, deserialises and validates a JSON file into <typeparamref name="T"/>.</summary>
    public static T ReadJson<T>(string path, string what, JsonSerializerOptions json) where T : class, IValidatedInput =>
        ParseJson<T>(ReadText(path, what), path, what, json);

    public static T ParseJson<T>(string text, string path, string what, JsonSerializerOptions json) where T : class, IValidatedInput
    {
        T? value;
        try
        {
            value = JsonSerializer.Deserialize<T>(text, json);
        }
        catch (JsonException e)
        {
            throw new KmcInputException($"{path}: not a kmc {what}: {e.Path ?? "$"}: {Reason(e.Message)}");
        }
        catch (Exception e) when (e is NotSupportedException or InvalidOperationException or FormatException or OverflowException or ArgumentException)
        {
            // Members the serializer cannot bind from this text (e.g. an interface-typed value); still bad input.
            throw new KmcInputException($"{path}: not a kmc {what}: {OneLine(e.Message)}");
        }

        var root = new InputPath(path, "$");
        var present = root.Present(value, $"is null, not a kmc {what}");
        present.Validate(root);
        return present;
    }

    /// <summary>The first sentence of a serializer message, without the path and position it repeats.</summary>
    private static string Reason(string message)
    {
        var line = OneLine(message);
        var at = line.IndexOf(" Path: ", StringComparison.Ordinal);
        line = at > 0 ? line[..at] : line;
        if (line.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
            return "is not a field this file has";
        if (line.Contains("doesn't allow setting null values", StringComparison.Ordinal) || line.Contains("doesn't allow null values", StringComparison.Ordinal))
            return "must not be null";
        var missing = MissingMembers().Match(line);
        if (missing.Success)
            return $"missing required field(s) {missing.Groups[1].Value.Trim().TrimEnd('.')}";
        return TypeNames().Replace(line, "");
    }

    [GeneratedRegex(@"missing required properties,? including:?\s*(.*)$")]
    private static partial Regex MissingMembers();

    /// <summary>The CLR type names the serializer mentions mean nothing to someone editing a file.</summary>
    [GeneratedRegex(@" (to|on type) '?(System|Kmc)\.[\w.`\[\], ]+'?")]
    private static partial Regex TypeNames();

    public static string OneLine(string s) => s.Split('\n')[0].Trim();
}

/// <summary>Where in which file a value sits, for one-line errors (<c>trace.json: $.steps[3].task: ...</c>).</summary>
public readonly record struct InputPath(string File, string Path)
{
    public InputPath this[string member] => new(File, $"{Path}.{member}");

    public InputPath this[int index] => new(File, $"{Path}[{index}]");

    public void Require(bool ok, string why)
    {
        if (!ok)
            throw Error(why);
    }

    /// <summary>The value, or an error here when it is null: the one way past a deserialised null.</summary>
    public T Present<T>(T? value, string why = "is null") where T : class => value ?? throw Error(why);

    public KmcInputException Error(string why) => new($"{this}: {why}");

    public override string ToString() => $"{File}: {Path}";

    /// <summary>Rejects null elements (the serializer does not check a list's element nullability) and validates the rest.</summary>
    public void Each<T>(IReadOnlyList<T?> items, Action<T, InputPath> validate) where T : class
    {
        for (var i = 0; i < items.Count; i++)
            validate(this[i].Present(items[i]), this[i]);
    }

    public void Each<T>(IReadOnlyList<T?> items) where T : class, IValidatedInput => Each(items, (item, at) => item.Validate(at));

    public void NonEmpty(string? value, string member) => this[member].Require(!string.IsNullOrWhiteSpace(value), "must be a non-empty string");

    public void AtLeast(long value, long min, string member) => this[member].Require(value >= min, $"must be at least {min} (got {value})");

    /// <summary>JSON has no NaN or infinity, but a number too large for a double reads as one on some paths; and negatives mean nothing here.</summary>
    public void FiniteNonNegative(double value, string member) =>
        this[member].Require(double.IsFinite(value) && value >= 0, $"must be a finite number at least 0 (got {value})");

    public void Defined<TEnum>(TEnum value, string member) where TEnum : struct, Enum =>
        this[member].Require(Enum.IsDefined(value), $"'{value}' is not one of {string.Join(", ", Enum.GetNames<TEnum>())}");
}
