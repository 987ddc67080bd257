#!/usr/bin/python3
"""I420 and NV12 frames against GStreamer's own videoconvert: the engine's
preprocessed tensor of a YUV frame must equal the tensor of the RGB that
`videoconvert ! video/x-raw,format=RGB` makes of the same frame.

  test_videoconvert.py FRAME_PREPROCESS

FRAME_PREPROCESS (frame_preprocess.c) maps each frame as the clip element
does (gst/gstclipframes.c: caps -> GstVideoInfo -> vkclip_frame, colorimetry
and chroma siting included) and runs vkclip_preprocess. The frames are made
by GStreamer (scripts/reference/gst_frames.py: pngdec, videoscale and
videoconvert to I420/NV12, and a few YV12) from the fixture photo and from a synthetic image
of saturated colour blocks (the edges where chroma interpolation matters),
in BT.601 and BT.709, limited and full range, with chroma-site jpeg, mpeg2
and none in the caps, at odd and even widths and heights, whole and cropped
at odd offsets; and with caps that carry no colorimetry at all (GstVideoInfo's
defaults, which depend on the height). The reference RGB is videoconvert's of
exactly those bytes and caps (appsrc ! videoconvert ! appsink).

Checks, per frame:
  - tensor of the YUV frame vs tensor of videoconvert's RGB (both through
    the engine; the RGB path is checked against Pillow by test_fixtures.py):
    >= 99.9% of values within 1 level, none beyond 2;
  - the RGB that tests/engine/yuv_reference.c (the C reference test_frames
    and test_encoder use) makes of the mapped frame is videoconvert's, bit
    for bit: the cross-check of that reference against GStreamer itself;
  - for the photo, the tensor vs Pillow/PyTorch preprocessing of
    videoconvert's RGB (clip_torch.preprocess) to the fixtures' tolerance.
Prints the figures of every frame and the totals.
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

WITHIN1_MIN = 0.999
MAX_LEVELS = 2.0

COLORIMETRIES = [("bt601", "limited"), ("bt601", "full"), ("bt709", "limited"), ("bt709", "full")]
SITES = ["jpeg", "mpeg2", None]


def synthetic_png(path, width, height):
    """Saturated colour blocks of odd sizes (edges at odd and even pixels)."""
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(20240611)
    palette = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [255, 0, 255], [0, 255, 255],
                        [255, 255, 255], [0, 0, 0], [128, 32, 200], [250, 120, 10]], dtype=np.uint8)
    ys = np.cumsum(rng.integers(3, 12, height))
    xs = np.cumsum(rng.integers(3, 12, width))
    yi = np.searchsorted(ys, np.arange(height), side="right")
    xi = np.searchsorted(xs, np.arange(width), side="right")
    idx = (yi[:, None] * 7 + xi[None, :] * 3 + (yi[:, None] * xi[None, :]) % 5) % len(palette)
    Image.fromarray(palette[idx], "RGB").save(path)


class Gst:
    """videoconvert of raw bytes with given caps, strides and offsets."""

    def __init__(self):
        import gi
        gi.require_version("Gst", "1.0")
        gi.require_version("GstVideo", "1.0")
        gi.require_version("GstApp", "1.0")
        from gi.repository import Gst as G, GstApp, GstVideo  # noqa: F401
        G.init(None)
        self.G, self.V = G, GstVideo

    def caps_without(self, caps, fields):
        s = self.G.Caps.from_string(caps).get_structure(0).copy()
        for f in fields:
            s.remove_field(f)
        out = self.G.Caps.new_empty()
        out.append_structure(s)
        text = out.to_string()
        if any(f"{f}=" in text for f in fields):
            raise RuntimeError(f"cannot remove {fields} from {caps}")
        return text

    def videoconvert_rgb(self, data, caps, strides, offsets):
        import numpy as np
        G, V = self.G, self.V
        info = V.VideoInfo.new_from_caps(G.Caps.from_string(caps))
        p = G.Pipeline.new("vc")
        src = G.ElementFactory.make("appsrc")
        conv = G.ElementFactory.make("videoconvert")
        filt = G.ElementFactory.make("capsfilter")
        sink = G.ElementFactory.make("appsink")
        src.set_property("caps", G.Caps.from_string(caps))
        src.set_property("format", G.Format.TIME)
        filt.set_property("caps", G.Caps.from_string("video/x-raw,format=RGB"))  # the user's pipeline
        sink.set_property("sync", False)
        for e in (src, conv, filt, sink):
            p.add(e)
        src.link(conv)
        conv.link(filt)
        filt.link(sink)
        p.set_state(G.State.PLAYING)
        try:
            buf = G.Buffer.new_wrapped(bytes(data))
            buf.pts = 0
            n = len(strides)
            V.buffer_add_video_meta_full(buf, V.VideoFrameFlags.NONE, info.finfo.format, info.width, info.height,
                                         n, list(offsets) + [0] * (4 - n), list(strides) + [0] * (4 - n))
            src.emit("push-buffer", buf)
            src.emit("end-of-stream")
            sample = sink.try_pull_sample(30 * G.SECOND)
            if sample is None:
                raise RuntimeError(f"videoconvert gave no frame for {caps}")
            out = sample.get_buffer()
            oinfo = V.VideoInfo.new_from_caps(sample.get_caps())
            meta = V.buffer_get_video_meta(out)
            stride = meta.stride[0] if meta is not None else oinfo.stride[0]
            ok, m = out.map(G.MapFlags.READ)
            raw = np.frombuffer(bytes(m.data), dtype=np.uint8)
            out.unmap(m)
        finally:
            p.set_state(G.State.NULL)
        h, w = oinfo.height, oinfo.width
        return np.ascontiguousarray(raw[:stride * h].reshape(h, stride)[:, :3 * w].reshape(h, w, 3))


def levels(a, b):
    """(fraction within 1 level, worst, mean) of two CHW tensors in 8-bit levels."""
    import numpy as np
    s = np.asarray(ec.CLIP_STD, dtype=np.float64)[:, None, None]
    d = np.abs(a.astype(np.float64) - b.astype(np.float64)) * s * 255
    return float(np.mean(d <= 1 + 1e-3)), float(d.max()), float(d.mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("frame_preprocess")
    args = ap.parse_args()
    fixtures = testlib.fixtures_dir()
    testlib.require_modules("numpy", "PIL.Image", "gi")
    try:
        gst = Gst()
    except (ImportError, ValueError) as exc:
        testlib.skip(f"no GStreamer Python bindings ({exc})")
    gst_frames = testlib.reference_module("gst_frames")
    clip_torch = testlib.reference_module("clip_torch")
    import numpy as np
    import torch
    from PIL import Image
    testlib.prepare_vkclip(args.frame_preprocess)
    model = os.path.join(fixtures, "clip-tiny-f32")
    pcfg = clip_torch.load_preprocessor_config(model)
    photo = os.path.join(fixtures, "images", "chelsea.png")  # 451 x 300: odd width
    c = testlib.Checker()
    print(gst.G.version_string())

    with tempfile.TemporaryDirectory(prefix="vkclip-videoconvert-") as tmp:
        blocks = os.path.join(tmp, "blocks.png")
        synthetic_png(blocks, 300, 225)  # even width, odd height
        # (label, frame bytes, caps, strides, offsets, crop or None, use torch)
        frames = []
        for image, crop in ((photo, (37, 21, 301, 229)), (blocks, (41, 23, 201, 151))):
            for fmt in ("I420", "NV12"):
                for matrix, rng in COLORIMETRIES:
                    for site in SITES:
                        f = gst_frames.raw_frame(image, fmt, colorimetry=matrix, color_range=rng, chroma_site=site)
                        label = (f"{os.path.basename(image)} {fmt} {f.width}x{f.height} {matrix} {rng} "
                                 f"chroma-site {site or 'none'}")
                        for cr in (None, crop):
                            frames.append((label + (f" crop {cr}" if cr else ""), f.data, f.caps, f.strides,
                                           f.offsets, cr, image == photo))
        # YV12 (I420 with the chroma planes swapped; the element swaps them back).
        for matrix, rng in COLORIMETRIES[::3]:
            f = gst_frames.raw_frame(photo, "YV12", colorimetry=matrix, color_range=rng, chroma_site="mpeg2")
            for cr in (None, (37, 21, 301, 229)):
                frames.append((f"chelsea.png YV12 {f.width}x{f.height} {matrix} {rng} chroma-site mpeg2"
                               + (f" crop {cr}" if cr else ""), f.data, f.caps, f.strides, f.offsets, cr, True))
        # Caps with neither colorimetry nor chroma-site: GstVideoInfo's
        # defaults (BT.601 and centred chroma up to 576 rows, BT.709 and
        # horizontally cosited chroma above).
        for fmt in ("I420", "NV12"):
            for w, h in ((451, 300), (1281, 721)):
                f = gst_frames.raw_frame(photo, fmt, width=w, height=h)
                caps = gst.caps_without(f.caps, ["colorimetry", "chroma-site"])
                frames.append((f"chelsea.png {fmt} {w}x{h} caps without colorimetry", f.data, caps, f.strides,
                               f.offsets, (3, 5, w - 10, h - 7), False))

        lines, jobs = [], []
        for i, (label, data, caps, strides, offsets, crop, use_torch) in enumerate(frames):
            raw = os.path.join(tmp, f"{i}.raw")
            with open(raw, "wb") as fh:
                fh.write(data)
            rgb = gst.videoconvert_rgb(data, caps, strides, offsets)
            h, w = rgb.shape[:2]
            rgb_raw = os.path.join(tmp, f"{i}.rgb")
            with open(rgb_raw, "wb") as fh:
                fh.write(rgb.tobytes())
            crop_arg = ",".join(map(str, crop)) if crop else "-"
            yuv_out, rgb_out, ref_out = (os.path.join(tmp, f"{i}.{k}") for k in ("yuv.f32", "rgb.f32", "ref.rgb"))
            join = lambda v: ",".join(map(str, v))  # noqa: E731
            lines.append("\t".join([raw, caps, join(strides), join(offsets), crop_arg, yuv_out, ref_out]))
            lines.append("\t".join([rgb_raw, f"video/x-raw,format=RGB,width={w},height={h},framerate=0/1",
                                    str(3 * w), "0", crop_arg, rgb_out]))
            png = None
            if use_torch:
                png = os.path.join(tmp, f"{i}.png")
                img = Image.fromarray(rgb, "RGB")
                (img.crop((crop[0], crop[1], crop[0] + crop[2], crop[1] + crop[3])) if crop else img).save(png)
            jobs.append((label, rgb, yuv_out, rgb_out, ref_out, png))
        listing = os.path.join(tmp, "frames.txt")
        with open(listing, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        r = subprocess.run([args.frame_preprocess, model, listing], capture_output=True, text=True, timeout=900)
        if not c.check(r.returncode == 0, f"frame_preprocess exits 0 (rc {r.returncode}): {r.stderr[-2000:]}"):
            c.finish()
        mapped = ec.parse_json_lines(r.stdout)

        worst_all, within_all, n_exact, ref_worst = 0.0, 1.0, 0, 0
        total_means = []
        with torch.inference_mode():
            for k, (label, rgb, yuv_out, rgb_out, ref_out, png) in enumerate(jobs):
                m = mapped[2 * k]
                ours = ec.read_f32(yuv_out, (3, 224, 224))
                want = ec.read_f32(rgb_out, (3, 224, 224))
                if not c.check(ours is not None and want is not None, f"{label}: both tensors written"):
                    continue
                within1, worst, mean = levels(ours, want)
                exact = bool(np.array_equal(ours, want))
                n_exact += exact
                worst_all, within_all = max(worst_all, worst), min(within_all, within1)
                total_means.append(mean)
                ref = np.fromfile(ref_out, dtype=np.uint8).reshape(rgb.shape)
                rdiff = int(np.abs(ref.astype(np.int16) - rgb.astype(np.int16)).max())
                ref_worst = max(ref_worst, rdiff)
                print(f"{label}: colorimetry {m['colorimetry']} chroma {m['chroma_site']}: "
                      f"within 1 level {within1 * 100:.4f}%, worst {worst:.3f}, mean {mean:.4f}"
                      f"{' (identical)' if exact else ''}; C reference vs videoconvert RGB: {rdiff}")
                c.check(within1 >= WITHIN1_MIN and worst <= MAX_LEVELS + 1e-3,
                        f"{label}: tensor vs videoconvert's RGB: {within1 * 100:.4f}% within 1 level "
                        f"(>= {WITHIN1_MIN * 100}%), worst {worst:.3f} (<= {MAX_LEVELS})")
                c.check(rdiff == 0, f"{label}: yuv_reference.c's RGB is videoconvert's (largest difference {rdiff})")
                if png:
                    ec.check_pixels(c, f"{label}: vs Pillow on videoconvert's RGB", ours,
                                    clip_torch.preprocess(png, pcfg).numpy())
        print(f"totals: {len(jobs)} frames, {n_exact} identical tensors; lowest within 1 level "
              f"{within_all * 100:.4f}%, worst {worst_all:.3f} levels, mean {np.mean(total_means):.4f}; "
              f"C reference vs videoconvert: largest difference {ref_worst}")
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
