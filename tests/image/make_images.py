#!/usr/bin/python3
"""Writes test images into DIR and, for each, Pillow's Image.open(p).convert("RGB")
bytes (the reference the C decoder must equal bit for bit).

usage: make_images.py DIR [EXTRA_IMAGE ...]

DIR/images.tsv: image path, reference .rgb path, width, height (one a line).
DIR/damaged.tsv: damaged file, text the decoder's error must contain, and
whether Pillow also refuses it (1/0, for information).
Images named c_*.jpg already in DIR (written by the C test with libjpeg) and
the EXTRA_IMAGE paths get references too. Exits 77 when Pillow or numpy is
missing."""
import io
import os
import struct
import sys
import warnings
import zlib

try:
    import numpy as np
    from PIL import Image
except ImportError as e:
    print(f"make_images.py: needs Pillow and numpy: {e}", file=sys.stderr)
    sys.exit(77)

warnings.simplefilter("ignore")  # Pillow's advice on palette transparency
OUT = sys.argv[1]
images = []   # (image path, rgb path, w, h)
damaged = []  # (path, expected error text, pillow refuses)


def path(name):
    return os.path.join(OUT, name)


def reference(image_path, rgb_name=None):
    """Record Pillow's convert("RGB") of image_path as the expected output."""
    with Image.open(image_path) as im:
        rgb = im.convert("RGB")
    rgb_path = path((rgb_name or os.path.basename(image_path)) + ".rgb")
    with open(rgb_path, "wb") as f:
        f.write(rgb.tobytes())
    images.append((image_path, rgb_path, rgb.width, rgb.height))


def pillow_save(name, im, **options):
    im.save(path(name), **options)
    reference(path(name))


# ---------------------------------------------------------------- content

def pattern(h, w, seed):
    """Gradient + solid rectangles with sharp edges + a noise patch + 1-pixel
    lines: the things decoders get wrong (chroma edges, borders, odd sizes)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                    (x + y) * 255 // max(w + h - 2, 1)], -1).astype(np.uint8)
    for _ in range(12):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = rng.integers(y0, h) + 1, rng.integers(x0, w) + 1
        img[y0:y1, x0:x1] = rng.integers(0, 256, 3)
    y0, x0 = rng.integers(0, h), rng.integers(0, w)
    patch = img[y0:y0 + h // 3 + 1, x0:x0 + w // 3 + 1]
    patch[...] = rng.integers(0, 256, patch.shape)
    img[:, ::7] = [255, 0, 0]
    img[::5, :] = [0, 0, 255]
    return img


def pattern16(h, w, seed):
    """16-bit samples: the full range, plus a block of small values (0..400)
    where keeping the high byte and clipping to 255 give different results."""
    rng = np.random.default_rng(seed)
    v = rng.integers(0, 65536, (h, w), dtype=np.uint32)
    v[: h // 2, : w // 2] = rng.integers(0, 401, (h // 2, w // 2))
    v[-1, :] = np.arange(w) * 65535 // max(w - 1, 1)
    return v.astype(np.uint16)


SIZES = [(451, 300), (1, 1), (3, 517), (517, 3), (17, 9), (33, 31), (64, 48)]

# ---------------------------------------------------------------- PNG by Pillow

for i, (w, h) in enumerate(SIZES):
    rgb = pattern(h, w, i)
    pillow_save(f"png_pil_rgb_{w}x{h}.png", Image.fromarray(rgb))
    alpha = np.random.default_rng(100 + i).integers(0, 256, (h, w, 1), dtype=np.uint8)
    pillow_save(f"png_pil_rgba_{w}x{h}.png", Image.fromarray(np.concatenate([rgb, alpha], 2)))
    pillow_save(f"png_pil_l_{w}x{h}.png", Image.fromarray(rgb).convert("L"))

w, h = 451, 300
base = Image.fromarray(pattern(h, w, 7))
pillow_save("png_pil_la.png", base.convert("LA"))
pillow_save("png_pil_1bit.png", base.convert("1"))
for colors in (2, 4, 16, 256):  # Pillow picks 1/2/4/8-bit palettes from this
    pillow_save(f"png_pil_p{colors}.png", base.quantize(colors))
pillow_save("png_pil_p_trns.png", base.quantize(64), transparency=3)
pillow_save("png_pil_rgb_trns.png", base, transparency=(255, 0, 0))
pillow_save("png_pil_l_trns.png", base.convert("L"), transparency=128)
pillow_save("png_pil_i16.png", Image.fromarray(pattern16(h, w, 8)))
pillow_save("png_pil_icc.png", base, icc_profile=b"not really a profile" * 20)
pillow_save("png_pil_store.png", base, compress_level=0)
pillow_save("png_pil_optimize.png", base, optimize=True)

# ---------------------------------------------------------------- PNG by hand
# Pillow cannot write 16-bit colour, 2/4-bit grey, Adam7 or odd chunks, so
# these are written here from the PNG specification.


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_row(samples, depth):
    """One scanline of samples (uint values) as PNG bytes."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // depth
    s = samples.astype(np.uint8)
    s = np.concatenate([s, np.zeros((-len(s)) % per_byte, np.uint8)]).reshape(-1, per_byte)
    shifts = np.arange(per_byte - 1, -1, -1) * depth
    return (s << shifts).sum(1).astype(np.uint8).tobytes()


def filter_rows(rows, bpp, first_filter):
    """Filter each row (all five filter types, cycling) as an encoder would."""
    out, prev = b"", None
    for n, row in enumerate(rows):
        raw = np.frombuffer(row, np.uint8).astype(np.int32)
        up = prev if prev is not None else np.zeros_like(raw)
        left = np.concatenate([np.zeros(bpp, np.int32), raw[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        ftype = (first_filter + n) % 5
        if ftype == 0:
            pred = np.zeros_like(raw)
        elif ftype == 1:
            pred = left
        elif ftype == 2:
            pred = up
        elif ftype == 3:
            pred = (left + up) // 2
        else:
            p = left + up - upleft
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        out += bytes([ftype]) + ((raw - pred) & 255).astype(np.uint8).tobytes()
        prev = raw
    return out


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_bytes(samples, depth, ctype, interlace=False, before_idat=b"", after_idat=b"",
              idat_piece=None, iend=True):
    """samples: (h, w, channels) array of sample values."""
    h, w, ch = samples.shape
    bits = depth * ch
    bpp = max(1, bits // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    data = b""
    for k, (x0, y0, dx, dy) in enumerate(passes):
        sub = samples[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue  # empty passes have no scanlines at all
        rows = [pack_row(r.reshape(-1), depth) for r in sub]
        data += filter_rows(rows, bpp, k)
    z = zlib.compress(data, 9)
    pieces = [z] if idat_piece is None else [z[i:i + idat_piece] for i in range(0, len(z), idat_piece)]
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + before_idat
    out += b"".join(chunk(b"IDAT", p) for p in pieces) + after_idat
    return out + (chunk(b"IEND", b"") if iend else b"")


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def raw_png(name, samples, depth, ctype, **kw):
    write(name, png_bytes(samples, depth, ctype, **kw))
    reference(path(name))


def samples_for(ctype, depth, h, w, seed):
    rng = np.random.default_rng(seed)
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    if depth == 16:
        return np.stack([pattern16(h, w, seed + c) for c in range(channels)], -1)
    if depth < 8:
        return rng.integers(0, 1 << depth, (h, w, channels))
    rgb = pattern(h, w, seed)
    if ctype == 2:
        return rgb
    if ctype == 0 or ctype == 3:
        return rgb[..., :1]
    extra = rng.integers(0, 256, (h, w, 1), dtype=np.uint8)
    return np.concatenate([rgb[..., :channels - 1], extra], -1)


def palette_chunk(n, seed):
    return chunk(b"PLTE", np.random.default_rng(seed).integers(0, 256, 3 * n, dtype=np.uint8).tobytes())


COMBOS = [(0, 1), (0, 2), (0, 4), (0, 8), (0, 16), (2, 8), (2, 16), (3, 1), (3, 2), (3, 4), (3, 8),
          (4, 8), (4, 16), (6, 8), (6, 16)]
for ctype, depth in COMBOS:
    for interlace in (False, True):
        for w, h in [(37, 23), (1, 1), (3, 2), (9, 1), (1, 9)] if interlace else [(37, 23), (1, 1)]:
            s = samples_for(ctype, depth, h, w, 31 * ctype + depth)
            plte = palette_chunk(1 << depth, depth) if ctype == 3 else b""
            raw_png(f"png_raw_c{ctype}_d{depth}_{'adam7' if interlace else 'flat'}_{w}x{h}.png",
                    s, depth, ctype, interlace=interlace, before_idat=plte)

# Adam7 written here must decode (by Pillow) to the same pixels as flat.
for ctype, depth in COMBOS:
    with Image.open(path(f"png_raw_c{ctype}_d{depth}_flat_37x23.png")) as a, \
            Image.open(path(f"png_raw_c{ctype}_d{depth}_adam7_37x23.png")) as b:
        assert np.array_equal(np.array(a.convert("RGB")), np.array(b.convert("RGB"))), (ctype, depth)

w, h = 41, 29
rgb = pattern(h, w, 50)
idx = np.random.default_rng(51).integers(0, 256, (h, w, 1))
idx4 = np.random.default_rng(52).integers(0, 16, (h, w, 1))
# Indices past a short PLTE: Pillow reads its grey ramp there.
raw_png("png_raw_short_plte.png", idx, 8, 3, before_idat=palette_chunk(10, 53))
raw_png("png_raw_short_plte_4bit.png", idx4, 4, 3, before_idat=palette_chunk(5, 54))
raw_png("png_raw_short_plte_trns.png", idx, 8, 3,
        before_idat=palette_chunk(100, 55) + chunk(b"tRNS", bytes(range(0, 250, 7))))
raw_png("png_raw_rgb_trns_adam7.png", rgb, 8, 2, interlace=True,
        before_idat=chunk(b"tRNS", struct.pack(">HHH", *rgb[0, 0])))
raw_png("png_raw_grey16_trns.png", samples_for(0, 16, h, w, 56), 16, 0,
        before_idat=chunk(b"tRNS", struct.pack(">H", 100)))
raw_png("png_raw_grey2_trns.png", samples_for(0, 2, h, w, 57), 2, 0,
        before_idat=chunk(b"tRNS", struct.pack(">H", 1)))
# Colour-management chunks that a decoder could apply (Pillow does not).
colour_chunks = (chunk(b"gAMA", struct.pack(">I", 20000)) +
                 chunk(b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)) +
                 chunk(b"sBIT", bytes([5, 6, 5])))
raw_png("png_raw_gamma.png", rgb, 8, 2, before_idat=colour_chunks)
raw_png("png_raw_gamma16.png", samples_for(2, 16, h, w, 58), 16, 2, before_idat=colour_chunks)
raw_png("png_raw_srgb.png", rgb, 8, 2, before_idat=chunk(b"sRGB", b"\x00") + chunk(b"gAMA", struct.pack(">I", 45455)))
raw_png("png_raw_iccp.png", rgb, 8, 2,
        before_idat=chunk(b"iCCP", b"junk\x00\x00" + zlib.compress(b"\x00" * 300)))
raw_png("png_raw_text_chunks.png", rgb, 8, 2,
        before_idat=chunk(b"tEXt", b"Comment\x00hello") + chunk(b"zTXt", b"Title\x00\x00" + zlib.compress(b"x" * 99))
        + chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1)) + chunk(b"vpAg", b"\x00" * 9)
        + chunk(b"bKGD", struct.pack(">HHH", 1, 2, 3)),
        after_idat=chunk(b"tEXt", b"After\x00data"))
raw_png("png_raw_many_idat.png", rgb, 8, 2, idat_piece=7)
raw_png("png_raw_no_iend.png", rgb, 8, 2, iend=False)
write("png_raw_trailing_garbage.png", png_bytes(rgb, 8, 2) + b"garbage after IEND" * 10)
reference(path("png_raw_trailing_garbage.png"))
write("png_raw_named_like.jpg", png_bytes(rgb, 8, 2))  # content decides, not the name
reference(path("png_raw_named_like.jpg"))

# ---------------------------------------------------------------- JPEG by Pillow

qualities = [30, 75, 95, 100]
n = 0
for i, (w, h) in enumerate(SIZES):
    im = Image.fromarray(pattern(h, w, 200 + i))
    for sub in (0, 1, 2):  # 4:4:4, 4:2:2, 4:2:0
        for progressive in (False, True):
            q = qualities[n % len(qualities)]
            n += 1
            pillow_save(f"jpg_pil_{w}x{h}_s{sub}_q{q}{'_prog' if progressive else ''}.jpg", im,
                        quality=q, subsampling=sub, progressive=progressive)
    pillow_save(f"jpg_pil_{w}x{h}_grey.jpg", im.convert("L"), quality=90)
    pillow_save(f"jpg_pil_{w}x{h}_grey_prog.jpg", im.convert("L"), quality=60, progressive=True)
    pillow_save(f"jpg_pil_{w}x{h}_cmyk.jpg", im.convert("CMYK"), quality=85)

im = Image.fromarray(pattern(300, 451, 300))
cmyk = np.random.default_rng(301).integers(0, 256, (300, 451, 4), dtype=np.uint8)
cmyk[:150, :200] = [0, 255, 20, 200]
pillow_save("jpg_pil_cmyk_random.jpg", Image.fromarray(cmyk, "CMYK"), quality=95)
pillow_save("jpg_pil_cmyk_prog.jpg", Image.fromarray(cmyk, "CMYK"), quality=70, progressive=True)
pillow_save("jpg_pil_optimize.jpg", im, quality=88, optimize=True)
for orientation in (6, 8):  # Pillow's convert() does not rotate; neither may we
    exif = Image.Exif()
    exif[0x0112] = orientation
    pillow_save(f"jpg_pil_exif_orientation{orientation}.jpg", im, quality=80, exif=exif.tobytes())
pillow_save("jpg_pil_icc.jpg", im, quality=80, icc_profile=b"\x00" * 3000)
pillow_save("jpg_pil_comment.jpg", im, quality=80, comment=b"a comment")
write("jpg_named_like.png", open(path("jpg_pil_optimize.jpg"), "rb").read())
reference(path("jpg_named_like.png"))

# Images written by the C test with libjpeg (restart markers, YCCK, ...).
for name in sorted(os.listdir(OUT)):
    if name.startswith("c_") and name.endswith(".jpg"):
        reference(path(name))
# The shared fixture images.
for extra in sys.argv[2:]:
    reference(extra, "fixture_" + os.path.basename(extra))

# ---------------------------------------------------------------- damaged files


def pillow_refuses(p):
    try:
        with Image.open(p) as im:
            im.convert("RGB")
        return 0
    except Exception:
        return 1


def damage(name, data, expect):
    write(name, data)
    damaged.append((path(name), expect, pillow_refuses(path(name))))


good_png = open(path("png_pil_rgb_451x300.png"), "rb").read()


def jpeg_bytes(image, **options):
    buf = io.BytesIO()
    image.save(buf, "JPEG", **options)
    return buf.getvalue()


good_jpg = jpeg_bytes(im, quality=80, subsampling=2)
good_prog = jpeg_bytes(im, quality=80, progressive=True)
idat = good_png.index(b"IDAT") - 4
idat_len = struct.unpack(">I", good_png[idat:idat + 4])[0]
idat_crc = idat + 8 + idat_len
UNSUPPORTED = "unsupported image format (only PNG and JPEG)"

damage("empty.png", b"", "empty file")
damage("text.png", b"hello, this is not an image\n", UNSUPPORTED)
for fmt, ext in [("GIF", "gif"), ("BMP", "bmp"), ("WEBP", "webp"), ("TIFF", "tif")]:
    buf = io.BytesIO()
    im.save(buf, fmt)
    damage(f"unsupported.{ext}", buf.getvalue(), UNSUPPORTED)
damage("png_signature_only.png", good_png[:8], "truncated")
damage("png_cut_in_ihdr.png", good_png[:20], "truncated")
damage("png_cut_before_idat.png", good_png[:idat], "truncated")
damage("png_cut_in_idat.png", good_png[:idat + 8 + idat_len // 2], "truncated")
damage("png_cut_before_idat_crc.png", good_png[:idat_crc], "truncated")
damage("png_bad_ihdr_crc.png", good_png[:29] + bytes([good_png[29] ^ 1]) + good_png[30:], "CRC")
damage("png_bad_idat_crc.png", good_png[:idat_crc] + bytes([good_png[idat_crc] ^ 1]) + good_png[idat_crc + 1:], "CRC")
damage("png_bad_text_crc.png", good_png[:33] + chunk(b"tEXt", b"k\x00v")[:-1] + b"\x00" + good_png[33:], "CRC")
broken = bytearray(good_png)
broken[idat + 8 + 100: idat + 8 + 140] = b"\xff" * 40  # zlib garbage, CRC fixed below
broken[idat_crc:idat_crc + 4] = struct.pack(">I", zlib.crc32(bytes(broken[idat + 4:idat_crc])))
damage("png_bad_zlib.png", bytes(broken), "bad PNG")
hdr = lambda w, h, d=8, c=2: chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, d, c, 0, 0, 0))
body = good_png[33:]
damage("png_huge.png", good_png[:8] + hdr(100000, 100000) + body, "too large")
damage("png_huge_row.png", good_png[:8] + hdr(0x7FFFFFFF, 1, 16, 6) + body, "too large")
damage("png_zero_width.png", good_png[:8] + hdr(0, 10) + body, "bad PNG")
damage("png_bad_depth.png", good_png[:8] + hdr(10, 10, 3, 2) + body, "bad PNG")
damage("png_palette_without_plte.png", png_bytes(idx, 8, 3), "bad PNG")
small = png_bytes(rgb, 8, 2)
short_data = b"\x89PNG\r\n\x1a\n" + hdr(w, h + 5) + small[33:]  # image data for 5 rows fewer
damage("png_not_enough_data.png", short_data, "bad PNG")

damage("jpg_soi_only.jpg", good_jpg[:3], "bad JPEG")
damage("jpg_cut_in_header.jpg", good_jpg[:200], "bad JPEG")
damage("jpg_cut_half.jpg", good_jpg[:len(good_jpg) // 2], "Premature end")
damage("jpg_cut_eoi.jpg", good_jpg[:-2], "Premature end")
damage("jpg_prog_cut_half.jpg", good_prog[:len(good_prog) // 2], "Premature end")
damage("jpg_prog_cut_eoi.jpg", good_prog[:-2], "Premature end")
sos = good_jpg.index(b"\xff\xda")
scan = sos + 2 + struct.unpack(">H", good_jpg[sos + 2:sos + 4])[0]
# A marker in the middle of the entropy-coded data cuts the scan short;
# libjpeg would pad the rest with grey.
damage("jpg_marker_in_scan.jpg", good_jpg[:scan + 500] + b"\xff\xd3" + good_jpg[scan + 502:],
       "Corrupt JPEG data")
# A run of stuffed 0xFF bytes is a string of 1 bits that no Huffman code
# matches. libjpeg-turbo's fast path decodes it as zeros without a warning, so
# the file decodes (to garbage) for Pillow as for us: it must match Pillow.
write("jpg_bad_huffman.jpg", good_jpg[:scan + 50] + b"\xff\x00" * 20 + good_jpg[scan + 90:])
reference(path("jpg_bad_huffman.jpg"))


def segment_end(data, sos):
    """End of the scan starting at SOS marker sos: the next marker that is not
    a stuffed 0xFF00 or a restart marker."""
    i = sos + 2 + struct.unpack(">H", data[sos + 2:sos + 4])[0]
    while not (data[i] == 0xFF and data[i + 1] != 0 and not 0xD0 <= data[i + 1] <= 0xD7):
        i += 1
    return i


# The first (DC) scan of a progressive file repeated 600 times: legal enough
# for libjpeg to keep going, so only a scan limit stops such files.
first_sos = good_prog.index(b"\xff\xda")
dc_scan = good_prog[first_sos:segment_end(good_prog, first_sos)]
damage("jpg_too_many_scans.jpg", good_prog[:-2] + dc_scan * 600 + b"\xff\xd9", "scans")
sof = good_jpg.index(b"\xff\xc0")
huge = bytearray(good_jpg)
huge[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
damage("jpg_huge.jpg", bytes(huge), "too large")
zero = bytearray(good_jpg)
zero[sof + 5:sof + 7] = struct.pack(">H", 0)
damage("jpg_zero_height.jpg", bytes(zero), "bad JPEG")
two = bytearray(good_jpg)
two[sof + 9] = 2  # claim two components
damage("jpg_two_components.jpg", bytes(two), "bad JPEG")

with open(path("images.tsv"), "w") as f:
    for row in images:
        f.write("\t".join(map(str, row)) + "\n")
with open(path("damaged.tsv"), "w") as f:
    for row in damaged:
        f.write("\t".join(map(str, row)) + "\n")
print(f"make_images.py: {len(images)} images, {len(damaged)} damaged files in {OUT}")
