using System.IO.Compression;

namespace Kmc.Tests;

/// <summary>Just enough of a PNG decoder to look at Chromium's screenshots: 8-bit RGB/RGBA, not interlaced.</summary>
public sealed class Png
{
    private readonly byte[] _rgba;

    private Png(int width, int height, byte[] rgba)
    {
        Width = width;
        Height = height;
        _rgba = rgba;
    }

    public int Width { get; }
    public int Height { get; }

    public (byte R, byte G, byte B) Pixel(int x, int y)
    {
        var i = (y * Width + x) * 4;
        return (_rgba[i], _rgba[i + 1], _rgba[i + 2]);
    }

    /// <summary>Pixels within <paramref name="tolerance"/> of a "#rrggbb" colour.</summary>
    public int Count(string hex, int tolerance = 4)
    {
        var r = Convert.ToInt32(hex[1..3], 16);
        var g = Convert.ToInt32(hex[3..5], 16);
        var b = Convert.ToInt32(hex[5..7], 16);
        var n = 0;
        for (var i = 0; i < _rgba.Length; i += 4)
        {
            if (Math.Abs(_rgba[i] - r) <= tolerance && Math.Abs(_rgba[i + 1] - g) <= tolerance && Math.Abs(_rgba[i + 2] - b) <= tolerance)
                n++;
        }

        return n;
    }

    public static Png Read(string path)
    {
        var data = File.ReadAllBytes(path);
        if (data.Length < 8 || data[1] != 'P' || data[2] != 'N' || data[3] != 'G')
            throw new InvalidDataException($"{path} is not a PNG");
        int width = 0, height = 0, colorType = 0;
        using var idat = new MemoryStream();
        for (var pos = 8; pos + 8 <= data.Length;)
        {
            var len = (data[pos] << 24) | (data[pos + 1] << 16) | (data[pos + 2] << 8) | data[pos + 3];
            var type = System.Text.Encoding.ASCII.GetString(data, pos + 4, 4);
            var body = pos + 8;
            if (type == "IHDR")
            {
                width = BigEndian(data, body);
                height = BigEndian(data, body + 4);
                if (data[body + 8] != 8 || data[body + 12] != 0)
                    throw new InvalidDataException("only 8-bit, non-interlaced PNGs");
                colorType = data[body + 9];
            }
            else if (type == "IDAT")
            {
                idat.Write(data, body, len);
            }

            pos = body + len + 4;
        }

        var channels = colorType switch { 2 => 3, 6 => 4, _ => throw new InvalidDataException($"PNG colour type {colorType}") };
        idat.Position = 0;
        using var z = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var bytes = raw.ToArray();
        var stride = width * channels;
        var rows = new byte[height * stride];
        for (var y = 0; y < height; y++)
        {
            var filter = bytes[y * (stride + 1)];
            var src = y * (stride + 1) + 1;
            var dst = y * stride;
            for (var x = 0; x < stride; x++)
            {
                int a = x >= channels ? rows[dst + x - channels] : 0;
                int b = y > 0 ? rows[dst - stride + x] : 0;
                int c = x >= channels && y > 0 ? rows[dst - stride + x - channels] : 0;
                var v = bytes[src + x];
                rows[dst + x] = filter switch
                {
                    0 => v,
                    1 => (byte)(v + a),
                    2 => (byte)(v + b),
                    3 => (byte)(v + (a + b) / 2),
                    4 => (byte)(v + Paeth(a, b, c)),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                };
            }
        }

        var rgba = new byte[width * height * 4];
        for (var i = 0; i < width * height; i++)
        {
            rgba[i * 4] = rows[i * channels];
            rgba[i * 4 + 1] = rows[i * channels + 1];
            rgba[i * 4 + 2] = rows[i * channels + 2];
            rgba[i * 4 + 3] = channels == 4 ? rows[i * channels + 3] : (byte)255;
        }

        return new Png(width, height, rgba);
    }

    private static int BigEndian(byte[] d, int i) => (d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3];

    private static int Paeth(int a, int b, int c)
    {
        var p = a + b - c;
        int pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
