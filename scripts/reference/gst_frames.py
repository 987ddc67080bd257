#!/usr/bin/python3
"""What a raw video frame means, according to GStreamer itself.

The `clip` element converts YUV and other raw formats to RGB on the device.
Checking that conversion needs a reference the element did not produce:
this module asks GStreamer's own pngdec and videoconvert.

  videoconvert_rgb(image, fmt, colorimetry=None, color_range=None)
      -> uint8 numpy array (H, W, 3): the PNG decoded by pngdec, converted
         by videoconvert to raw `fmt` and back to RGB. What a correct
         reader of that `fmt` frame should see.
  raw_frame(image, fmt, width=None, height=None, colorimetry=None, ...)
      -> RawFrame: the bytes of the converted frame and its layout
         (strides, offsets, size, caps), for appsrc or GstHarness tests.

Both run videoconvert with dither=none (its default, bayer, adds an
ordered pattern that is not part of what the frame means), full matrix
conversion and no gamma or primaries conversion (videoconvert's defaults:
only the YUV matrix and range change the values). `colorimetry` is any
GStreamer colorimetry string ("bt601", "bt709", "bt2020", "smpte240m",
"2:4:7:1", ...); `color_range` ("full" or "limited") overrides its range.
Without them videoconvert picks (for YUV from an sRGB PNG, 1.22 picks
2:4:7:1: limited range, BT.601 matrix); the result says what was used.

CLI (run with Debian's /usr/bin/python3, which has python3-gst-1.0):

  gst_frames.py rgb --format I420 [--colorimetry bt709] [--range full] --out OUT.png IMAGE
  gst_frames.py raw --format NV12 [--width W --height H] --out FRAME.raw IMAGE

Each prints one JSON line describing what it wrote (caps, colorimetry,
strides, offsets; for `rgb` also the largest difference from the PNG).
The PNGs `rgb` writes can be given to clip_torch.py embed-image/probs to
get the reference result for a frame of that format.
"""

import argparse
import json
import os
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp, GstVideo  # noqa: E402,F401  (GstApp: appsink's methods)

import numpy as np  # noqa: E402

_TIMEOUT_NS = 30 * Gst.SECOND


class GstFramesError(RuntimeError):
    """A pipeline failed (its error message) or produced no frame."""


def _init():
    if not Gst.is_initialized():
        Gst.init(None)


def colorimetry_string(colorimetry=None, color_range=None):
    """Normalises a colorimetry name plus an optional range override into the
    string caps carry, or None to let videoconvert choose."""
    if colorimetry is None and color_range is None:
        return None
    _init()
    c = GstVideo.VideoColorimetry()
    # A range alone applies to BT.601, videoconvert's own pick for YUV.
    if not c.from_string(colorimetry or "bt601"):
        raise ValueError(f"unknown colorimetry '{colorimetry}'")
    if color_range is not None:
        ranges = {"full": 1, "limited": 2}  # GST_VIDEO_COLOR_RANGE_0_255 / _16_235
        if color_range not in ranges:
            raise ValueError(f"color range must be full or limited, not '{color_range}'")
        c.range = GstVideo.VideoColorRange(ranges[color_range])
    return c.to_string()


def _raw_caps(fmt, width=None, height=None, colorimetry=None, chroma_site=None):
    s = f"video/x-raw,format={fmt}"
    if width is not None or height is not None:
        if width is None or height is None:
            raise ValueError("give both width and height, or neither")
        # Square pixels, so that videoscale does not keep the display aspect
        # by changing the pixel aspect ratio instead of the size.
        s += f",width={int(width)},height={int(height)},pixel-aspect-ratio=1/1"
    if colorimetry is not None:
        s += f",colorimetry={colorimetry}"
    if chroma_site is not None:
        s += f",chroma-site={chroma_site}"
    caps = Gst.Caps.from_string(s)
    if caps is None:
        raise ValueError(f"bad caps '{s}'")
    return caps


def _pull_one(elements, timeout_ns=_TIMEOUT_NS):
    """Builds filesrc ! pngdec ! elements... ! appsink, all linked statically,
    and returns (sample, {name: caps on that element's sink pad})."""
    pipeline = Gst.Pipeline.new("gst-frames")
    sink = Gst.ElementFactory.make("appsink", "sink")
    sink.set_property("sync", False)
    sink.set_property("max-buffers", 1)
    chain = list(elements) + [sink]
    for e in chain:
        pipeline.add(e)
    for a, b in zip(chain, chain[1:]):
        if not a.link(b):
            raise GstFramesError(f"cannot link {a.get_name()} to {b.get_name()}")
    pipeline.set_state(Gst.State.PLAYING)
    try:
        sample = sink.try_pull_sample(timeout_ns)
        if sample is None:
            msg = pipeline.get_bus().timed_pop_filtered(0, Gst.MessageType.ERROR)
            if msg is not None:
                err, dbg = msg.parse_error()
                raise GstFramesError(f"{msg.src.get_name()}: {err.message} ({dbg})")
            raise GstFramesError("the pipeline produced no frame")
        caps = {}
        for e in chain:
            pad = e.get_static_pad("sink")
            if pad is not None and pad.get_current_caps() is not None:
                caps[e.get_name()] = pad.get_current_caps().to_string()
        return sample, caps
    finally:
        pipeline.set_state(Gst.State.NULL)


def _head(image_path, width=None, height=None):
    """filesrc ! pngdec [! videoscale]: the decoded PNG, optionally scaled
    (videoscale's default method, in pngdec's RGB, before any YUV)."""
    if not os.path.isfile(image_path):
        raise FileNotFoundError(image_path)
    src = Gst.ElementFactory.make("filesrc", "src")
    src.set_property("location", image_path)  # a property, so any path works
    out = [src, Gst.ElementFactory.make("pngdec", "dec")]
    if width is not None or height is not None:
        out.append(Gst.ElementFactory.make("videoscale", "scale"))
    return out


def _convert(name, dither):
    conv = Gst.ElementFactory.make("videoconvert", name)
    conv.set_property("dither", dither)
    return conv


def _capsfilter(name, caps):
    f = Gst.ElementFactory.make("capsfilter", name)
    f.set_property("caps", caps)
    return f


def _layout(buf, caps):
    """Strides and offsets: the buffer's GstVideoMeta when it has one, else
    GstVideoInfo's defaults for the caps (what videoconvert allocated)."""
    info = GstVideo.VideoInfo.new_from_caps(caps)
    n = info.finfo.n_planes
    meta = GstVideo.buffer_get_video_meta(buf)
    if meta is not None:
        strides, offsets = list(meta.stride)[:n], list(meta.offset)[:n]
    else:
        strides, offsets = list(info.stride)[:n], list(info.offset)[:n]
    return info, strides, offsets


def _buffer_bytes(buf):
    ok, m = buf.map(Gst.MapFlags.READ)
    if not ok:
        raise GstFramesError("cannot map the buffer")
    try:
        return bytes(m.data)
    finally:
        buf.unmap(m)


def _rgb_array(sample):
    buf, caps = sample.get_buffer(), sample.get_caps()
    info, strides, offsets = _layout(buf, caps)
    data = np.frombuffer(_buffer_bytes(buf), dtype=np.uint8)
    h, w, stride = info.height, info.width, strides[0]
    rows = data[offsets[0]:offsets[0] + stride * h].reshape(h, stride)
    return np.ascontiguousarray(rows[:, :w * 3].reshape(h, w, 3))


def _chroma_site_name(site):
    # Caps without chroma-site leave it unknown (0); videoconvert's chroma
    # resampler then treats the samples as centred, like chroma-site=jpeg.
    return GstVideo.video_chroma_site_to_string(site) or f"unknown ({int(site)})"


def videoconvert_rgb_info(image_path, fmt, colorimetry=None, color_range=None,
                          width=None, height=None, dither="none", chroma_site=None):
    """videoconvert_rgb, plus a dict saying what was used: the caps of the
    `fmt` frame (its colorimetry and chroma siting as negotiated)."""
    _init()
    cim = colorimetry_string(colorimetry, color_range)
    elements = _head(image_path, width, height)
    elements += [_convert("to_fmt", dither), _capsfilter("fmt", _raw_caps(fmt, width, height, cim, chroma_site)),
                 _convert("to_rgb", dither),
                 # Full-range RGB out, whatever the YUV range was.
                 _capsfilter("rgb", _raw_caps("RGB", colorimetry="sRGB"))]
    sample, caps = _pull_one(elements)
    fmt_caps = Gst.Caps.from_string(caps["to_rgb"])
    info = GstVideo.VideoInfo.new_from_caps(fmt_caps)
    return _rgb_array(sample), {
        "format": fmt, "caps": caps["to_rgb"], "colorimetry": info.colorimetry.to_string(),
        "chroma_site": _chroma_site_name(info.chroma_site),
        "width": info.width, "height": info.height, "dither": dither}


def videoconvert_rgb(image_path, fmt, colorimetry=None, color_range=None,
                     width=None, height=None, dither="none", chroma_site=None):
    """The RGB8 array (H, W, 3) of the PNG decoded by pngdec, converted by
    videoconvert to raw `fmt` and back to RGB (full range)."""
    return videoconvert_rgb_info(image_path, fmt, colorimetry, color_range, width, height, dither,
                                 chroma_site)[0]


class RawFrame:
    """One converted frame: data (bytes) and its GstVideoInfo-like layout."""

    def __init__(self, data, caps, info, strides, offsets):
        self.data = data
        self.caps = caps.to_string()
        self.format = info.finfo.name
        self.width, self.height = info.width, info.height
        self.strides, self.offsets = strides, offsets
        self.size = len(data)
        self.n_planes = len(strides)
        self.colorimetry = info.colorimetry.to_string()

    def gst_caps(self):
        return Gst.Caps.from_string(self.caps)

    def describe(self):
        return {"format": self.format, "width": self.width, "height": self.height,
                "strides": self.strides, "offsets": self.offsets, "size": self.size,
                "colorimetry": self.colorimetry, "caps": self.caps}


def raw_frame(image_path, fmt, width=None, height=None, colorimetry=None, color_range=None,
              dither="none", chroma_site=None):
    """The PNG converted by videoconvert to raw `fmt` (scaled first by
    videoscale when width/height are given): a RawFrame."""
    _init()
    cim = colorimetry_string(colorimetry, color_range)
    elements = _head(image_path, width, height)
    elements += [_convert("to_fmt", dither), _capsfilter("fmt", _raw_caps(fmt, width, height, cim, chroma_site))]
    sample, _ = _pull_one(elements)
    buf, caps = sample.get_buffer(), sample.get_caps()
    info, strides, offsets = _layout(buf, caps)
    return RawFrame(_buffer_bytes(buf), caps, info, strides, offsets)


def _write_png(array, path):
    from PIL import Image
    Image.fromarray(array, "RGB").save(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("rgb", "raw"):
        p = sub.add_parser(name)
        p.add_argument("--format", required=True, help="GStreamer raw format: I420, NV12, RGB, BGRx, ...")
        p.add_argument("--colorimetry", help="bt601, bt709, bt2020, 2:4:7:1, ... (default: videoconvert's pick)")
        p.add_argument("--range", dest="color_range", choices=["full", "limited"])
        p.add_argument("--chroma-site", help="jpeg, mpeg2, dv, ... (default: none in the caps)")
        p.add_argument("--width", type=int)
        p.add_argument("--height", type=int)
        p.add_argument("--dither", default="none", help="videoconvert dither (default none)")
        p.add_argument("--out", required=True, help="PNG (rgb) or raw bytes (raw)")
        p.add_argument("image", help="PNG file")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "rgb":
            rgb, used = videoconvert_rgb_info(args.image, args.format, args.colorimetry, args.color_range,
                                              args.width, args.height, args.dither, args.chroma_site)
            _write_png(rgb, args.out)
            used["out"] = args.out
            if args.width is None:
                # How far the round trip moved the pixels from pngdec's.
                src = videoconvert_rgb(args.image, "RGB")
                diff = np.abs(rgb.astype(np.int16) - src.astype(np.int16))
                used["max_abs_diff"] = int(diff.max())
                used["mean_abs_diff"] = float(diff.mean())
            print(json.dumps(used))
        else:
            frame = raw_frame(args.image, args.format, args.width, args.height, args.colorimetry,
                              args.color_range, args.dither, args.chroma_site)
            with open(args.out, "wb") as f:
                f.write(frame.data)
            d = frame.describe()
            d["out"] = args.out
            print(json.dumps(d))
    except (GstFramesError, ValueError, OSError) as exc:
        print(f"gst_frames.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
