#!/usr/bin/python3
"""Writes the seed corpus of the image fuzz target (fuzz/corpus/image/): small
PNGs of every colour type, bit depth and interlacing, and JPEGs of the
layouts libjpeg decodes differently (baseline, progressive, grey, 4:4:4,
4:2:0, 4:1:1, CMYK, restart markers, optimised tables), plus a few
near-misses. Tiny on purpose (at most 33 x 17 pixels): the fuzzer mutates
from there. Needs Pillow: run with Debian's /usr/bin/python3 from anywhere."""
import io
import os
import struct
import zlib

from PIL import Image

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "image")


def put(name, data):
    os.makedirs(HERE, exist_ok=True)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width, height, depth, ctype, rows, interlace=0, extra=b""):
    """A PNG written by hand from raw filtered rows (filter byte included)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def adam7(width, height, bits_per_pixel):
    """Filtered rows of the seven Adam7 passes (filter 0), a pattern of bytes."""
    out = b""
    for xs, ys, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
                           (0, 1, 1, 2)):
        pw, ph = (width - xs + dx - 1) // dx, (height - ys + dy - 1) // dy
        if pw > 0 and ph > 0:
            row_bytes = (pw * bits_per_pixel + 7) // 8
            out += b"".join(b"\x00" + bytes((i * 29 + y * 3) % 256 for i in range(row_bytes)) for y in range(ph))
    return out


def pattern(width, height):
    img = Image.new("RGB", (width, height))
    img.putdata([((x * 37 + y * 11) % 256, (x * 5 + y * 53) % 256, (x * y * 7) % 256)
                 for y in range(height) for x in range(width)])
    return img


def saved(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def main():
    rgb = pattern(33, 17)
    # PNG through Pillow: the common modes, interlaced too.
    for mode in ("RGB", "RGBA", "L", "LA", "P", "1", "I;16"):
        img = rgb.convert(mode) if mode != "I;16" else rgb.convert("L").point(lambda v: v * 256, "I").convert("I;16")
        put(f"png_{mode.replace(';', '')}.png", saved(img, "PNG"))
    put("png_p_transparency.png", saved(rgb.convert("P"), "PNG", transparency=3))
    # PNG by hand: the bit depths Pillow does not write, 16-bit RGB, a short palette.
    w, h = 9, 5
    put("png_grey2.png", png(w, h, 2, 0, b"".join(b"\x00" + bytes([0x1B, 0xE4, 0x40]) for _ in range(h))))
    put("png_grey4_interlaced.png", png(w, h, 4, 0, adam7(w, h, 4), interlace=1))
    put("png_rgb_interlaced.png", png(11, 7, 8, 2, adam7(11, 7, 24), interlace=1))
    put("png_palette1_interlaced.png", png(13, 3, 1, 3, adam7(13, 3, 1), interlace=1, extra=chunk(b"PLTE", bytes(6))))
    put("png_rgb16.png", png(w, h, 16, 2, b"".join(b"\x00" + bytes(range(6)) * w for _ in range(h))))
    put("png_rgba16_filters.png", png(w, h, 16, 6, b"".join(bytes([y % 5]) + bytes((i * 7) % 256 for i in range(8 * w))
                                                            for y in range(h))))
    plte = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0]))
    put("png_palette4_short.png", png(w, h, 4, 3, b"".join(b"\x00" + bytes([0x01, 0x23, 0x45, 0x67, 0x80])
                                                           for _ in range(h)), extra=plte))
    put("png_truncated.png", saved(rgb, "PNG")[:60])
    # JPEG: sampling, progressive, grey, CMYK, restart intervals, optimised tables.
    put("jpeg_420.jpg", saved(rgb, "JPEG", quality=80))
    put("jpeg_444.jpg", saved(rgb, "JPEG", quality=95, subsampling=0))
    put("jpeg_422_progressive.jpg", saved(rgb, "JPEG", quality=70, subsampling=1, progressive=True))
    put("jpeg_grey.jpg", saved(rgb.convert("L"), "JPEG", quality=85))
    put("jpeg_cmyk.jpg", saved(rgb.convert("CMYK"), "JPEG", quality=85))
    put("jpeg_optimized_restart.jpg", saved(rgb, "JPEG", quality=60, optimize=True, restart_marker_blocks=1))
    put("jpeg_progressive_grey.jpg", saved(rgb.convert("L"), "JPEG", progressive=True))
    put("jpeg_truncated.jpg", saved(rgb, "JPEG", quality=80)[:300])
    put("jpeg_soi_only.jpg", b"\xff\xd8\xff")


if __name__ == "__main__":
    main()
