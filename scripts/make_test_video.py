#!/usr/bin/python3
"""Renders a lossless test video from still images, with its ground truth.

  make_test_video.py --out clip.mkv [--codec ffv1] [--container mkv] [--fps 10]
                     [--frames-per-image 5] [--letterbox WxH] [--colorimetry bt709]
                     [--no-verify] IMAGE...
  make_test_video.py --survey --out-dir DIR IMAGE...    # every codec/container: the table below
                                                        # (exit 1: huffyuv-y42b in AVI is not exact)

Each image is shown for N frames, in the order given. Images must all have the
same size: nothing is scaled or padded behind the caller's back. --letterbox WxH
fits each image into WxH (Pillow BICUBIC, aspect kept) centred on black, and
writes the frames actually encoded as PNGs into OUT.frames/.

Next to the video, OUT.json holds the ground truth: per frame its index, pts
(ns, as GStreamer's appsrc stamped it: index * 1e9 * fps_d / fps_n), duration
and the image shown (source and the exact RGB reference PNG), plus what the
verification found. Unless --no-verify, the video is decoded back with
`filesrc ! decodebin ! videoconvert ! video/x-raw,format=RGB ! appsink` and
compared with the references: exactly for the RGB-lossless codecs, and for the
YUV ones with what GStreamer's videoconvert makes of the same RGB->YUV->RGB
round trip (scripts/reference/gst_frames.py). A mismatch exits 1.

What Debian 12's GStreamer 1.22 (base/good/bad/libav) encodes losslessly and how
`decodebin` hands it back (measured with --survey on chelsea.png and coffee.png
cropped to 448x300, 10 and 30000/1001 fps). "exact": every decoded frame, through
videoconvert to RGB, equals the expected RGB; "colorimetry": what the decoded
caps announce (0:1:0:0 = RGB with unknown range, i.e. none given).

  codec         encoder (input)             container  decoder        decoded caps  colorimetry  exact
  ffv1          avenc_ffv1 (BGRx)           mkv        avdec_ffv1     BGRx          sRGB         yes
  ffv1-bgra     avenc_ffv1 (BGRA)           mkv        avdec_ffv1     BGRA          sRGB         yes
  ffv1-yuv444   avenc_ffv1 (Y444)           mkv        avdec_ffv1     Y444          bt709        yes (*)
  ffv1-i420     avenc_ffv1 (I420)           mkv        avdec_ffv1     I420          bt709        yes (*)
  huffyuv       avenc_huffyuv (RGB)         mkv        avdec_huffyuv  BGRx          sRGB         yes
  huffyuv       avenc_huffyuv (RGB)         avi        avdec_huffyuv  BGRx          0:1:0:0      yes
  huffyuv-bgra  avenc_huffyuv (BGRA)        mkv / avi  avdec_huffyuv  BGRA          sRGB / 0:1:0:0  yes
  huffyuv-y42b  avenc_huffyuv (Y42B)        mkv        avdec_huffyuv  Y42B          bt709        yes (*)
  huffyuv-y42b  avenc_huffyuv (Y42B)        avi        avdec_huffyuv  Y42B          bt601        NO: AVI drops the
                                                                                    colorimetry, the decoder guesses BT.601
  png           pngenc (RGB)                mov / avi  pngdec         RGB           0:1:0:0      yes
  avpng         avenc_png (RGB)             mov / avi  pngdec         RGB           0:1:0:0      yes
  raw           none (RGB)                  mkv / mov  (demuxer)      RGB           sRGB         yes
  raw           none (BGR)                  avi        (demuxer)      BGR           sRGB         yes
  x265          x265enc lossless, no B (Y444)  mkv / mp4  avdec_h265  Y444          bt709        yes (*)
  vp9           vp9enc q=0 (Y444)           mkv / webm vp9dec         Y444          bt709        yes (*)

(*) RGB->YUV is itself lossy (up to 8 levels for Y444, 66 for I420 on these
images); what is exact is the decoded RGB against gst_frames.videoconvert_rgb(
image, format, colorimetry), i.e. the YUV comes back bit for bit and means what
its caps say. Matroska stores pts in milliseconds: at 30000/1001 fps the decoded
pts are up to 0.47 ms off the nominal ones (ground truth keeps both); at 10 fps
every container gives them exactly. x265 needs bframes=0 in mp4 (with B-frames
qtmux's output decodes 2 frames late). Not usable: avenc_utvideo, avenc_magicyuv
and avenc_jpegls have no src caps (nothing can mux them); avenc_ffvhuff's
video/x-gst-av-ffvhuff fits no muxer; avenc_qtrle's video/x-rle and avenc_zmbv's
fit none installed; x264enc is not packaged in these plugin sets.

Run with Debian's /usr/bin/python3 (python3-gst-1.0, numpy, Pillow).
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
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
import gst_frames  # noqa: E402

# codec -> encoder element, its properties, the raw format fed to it, an
# optional parser, whether RGB survives exactly, and containers that take it.
CODECS = {
    "ffv1": ("avenc_ffv1", {}, "BGRx", None, True, ["mkv"]),
    "ffv1-bgra": ("avenc_ffv1", {}, "BGRA", None, True, ["mkv"]),
    "ffv1-yuv444": ("avenc_ffv1", {}, "Y444", None, False, ["mkv"]),
    "ffv1-i420": ("avenc_ffv1", {}, "I420", None, False, ["mkv"]),
    "huffyuv": ("avenc_huffyuv", {}, "RGB", None, True, ["mkv", "avi"]),
    "huffyuv-bgra": ("avenc_huffyuv", {}, "BGRA", None, True, ["mkv", "avi"]),
    "huffyuv-y42b": ("avenc_huffyuv", {}, "Y42B", None, False, ["mkv", "avi"]),
    "png": ("pngenc", {}, "RGB", None, True, ["mov", "avi"]),
    "avpng": ("avenc_png", {}, "RGB", None, True, ["mov", "avi"]),
    "raw": (None, {}, "RGB", None, True, ["mkv", "mov", "avi"]),
    # No B-frames: with them the MP4 (qtmux) decodes two frames late.
    "x265": ("x265enc", {"option-string": "lossless=1:bframes=0"}, "Y444", "h265parse", False, ["mkv", "mp4"]),
    # libvpx switches VP9 to its lossless mode when the quantizer is 0;
    # deadline 1 (realtime) keeps encoding quick.
    "vp9": ("vp9enc", {"min-quantizer": 0, "max-quantizer": 0, "end-usage": "q", "cq-level": 0,
                       "deadline": 1}, "Y444", None, False, ["mkv", "webm"]),
}
# avimux stores uncompressed RGB bottom-up as BGR: it takes BGR, not RGB.
RAW_FORMAT_IN = {"avi": "BGR"}
MUXERS = {"mkv": "matroskamux", "mov": "qtmux", "mp4": "mp4mux", "avi": "avimux", "webm": "webmmux"}


class VideoError(RuntimeError):
    pass


def _make(factory, name=None, **props):
    e = Gst.ElementFactory.make(factory, name)
    if e is None:
        raise VideoError(f"GStreamer element '{factory}' is not installed")
    for k, v in props.items():
        e.set_property(k.replace("_", "-"), v)
    return e


def _set_props(e, props):
    for k, v in props.items():
        # Gst.util_set_object_arg parses enums by nick, like gst-launch.
        Gst.util_set_object_arg(e, k, str(v))


def parse_size(text):
    try:
        w, h = (int(x) for x in text.lower().split("x"))
        if w > 0 and h > 0:
            return w, h
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"size must be WxH, not '{text}'")


def letterbox(img, size):
    """Fits img into size keeping its aspect (Pillow BICUBIC), centred on black."""
    w, h = size
    scale = min(w / img.width, h / img.height)
    nw, nh = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    out = Image.new("RGB", (w, h))
    out.paste(img.resize((nw, nh), Image.BICUBIC), ((w - nw) // 2, (h - nh) // 2))
    return out


def load_frames(paths, size, frames_dir):
    """The RGB arrays to encode and the PNG that holds each exactly. Sizes
    must match unless letterboxed into `size`."""
    images, refs = [], []
    for k, path in enumerate(paths):
        img = Image.open(path).convert("RGB")
        if size is not None:
            img = letterbox(img, size)
        images.append(np.asarray(img, dtype=np.uint8))
        if size is not None or not path.lower().endswith(".png"):
            os.makedirs(frames_dir, exist_ok=True)
            ref = os.path.join(frames_dir, f"{k:03d}_{os.path.splitext(os.path.basename(path))[0]}.png")
            img.save(ref)
            refs.append(os.path.abspath(ref))
        else:
            refs.append(os.path.abspath(path))
    shapes = {a.shape for a in images}
    if len(shapes) != 1:
        sizes = ", ".join(f"{p} {a.shape[1]}x{a.shape[0]}" for p, a in zip(paths, images))
        raise VideoError(f"images differ in size ({sizes}): make them equal, or pass --letterbox WxH")
    return images, refs


def _run(pipeline, what, timeout_s=300):
    """Runs a pipeline to EOS; raises with the first ERROR."""
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        msg = bus.timed_pop_filtered(timeout_s * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None:
            raise VideoError(f"{what}: no EOS after {timeout_s} s")
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            raise VideoError(f"{what}: {msg.src.get_name()}: {err.message} ({dbg})")
    finally:
        pipeline.set_state(Gst.State.NULL)


def frame_pts(i, fps):
    n, d = fps
    return Gst.util_uint64_scale(i, Gst.SECOND * d, n)


def encode(out, images, codec, container, fps, frames_per_image, colorimetry):
    """appsrc (RGB) ! videoconvert ! <codec input format> ! encoder [! parser] ! muxer ! filesink.
    Returns the ground-truth frame list."""
    encoder, props, fmt, parser, rgb_exact, containers = CODECS[codec]
    if container not in containers:
        raise VideoError(f"codec {codec} goes into {', '.join(containers)}, not {container}")
    if codec == "raw":
        fmt = RAW_FORMAT_IN.get(container, fmt)
    h, w, _ = images[0].shape
    pipeline = Gst.Pipeline.new("encode")
    src = _make("appsrc", "src")
    src.set_property("caps", Gst.Caps.from_string(
        f"video/x-raw,format=RGB,width={w},height={h},framerate={fps[0]}/{fps[1]},"
        "pixel-aspect-ratio=1/1,colorimetry=sRGB"))
    src.set_property("format", Gst.Format.TIME)
    # Not block=true: a push blocked on a full queue never returns when the
    # pipeline stops on an error. The loop below keeps the queue short.
    src.set_property("block", False)
    caps = f"video/x-raw,format={fmt}"
    if not rgb_exact and colorimetry:
        caps += f",colorimetry={colorimetry}"
    chain = [src, _make("videoconvert", "convert", dither=0),
             _make("capsfilter", "encfmt", caps=Gst.Caps.from_string(caps))]
    if encoder:
        enc = _make(encoder, "encoder")
        _set_props(enc, props)
        chain.append(enc)
    if parser:
        chain.append(_make(parser, "parser"))
    chain += [_make(MUXERS[container], "mux"), _make("filesink", "sink", location=out)]
    for e in chain:
        pipeline.add(e)
    for a, b in zip(chain, chain[1:]):
        if not a.link(b):
            raise VideoError(f"cannot link {a.get_name()} to {b.get_name()} for {codec} in {container}")
    bus = pipeline.get_bus()

    def failure(wait_ns=0):
        # The first ERROR on the bus, e.g. filesink unable to open OUT.
        msg = bus.timed_pop_filtered(wait_ns, Gst.MessageType.ERROR)
        if msg is None:
            return None
        err, dbg = msg.parse_error()
        return f"encoding {codec} into {container}: {msg.src.get_name()}: {err.message}"

    try:
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise VideoError(failure() or f"encoding {codec} into {container}: the pipeline did not start")
        frames, i = [], 0
        for k, rgb in enumerate(images):
            # GStreamer pads RGB rows to 4 bytes: build the buffer with that stride.
            stride = (w * 3 + 3) & ~3
            padded = np.zeros((h, stride), dtype=np.uint8)
            padded[:, :w * 3] = rgb.reshape(h, w * 3)
            data = padded.tobytes()
            for _ in range(frames_per_image):
                buf = Gst.Buffer.new_wrapped(data)
                buf.pts = buf.dts = frame_pts(i, fps)
                buf.duration = frame_pts(i + 1, fps) - buf.pts
                frames.append({"index": i, "pts": buf.pts, "duration": buf.duration, "image": k})
                err = failure()
                while err is None and src.get_property("current-level-buffers") >= 4:
                    err = failure(10 * Gst.MSECOND)
                if err or src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                    raise VideoError(err or failure() or f"encoding {codec} into {container}: push failed")
                i += 1
        src.emit("end-of-stream")
        msg = bus.timed_pop_filtered(300 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None or msg.type == Gst.MessageType.ERROR:
            err = msg.parse_error()[0].message if msg else "no EOS after 300 s"
            raise VideoError(f"encoding {codec} into {container}: {err}")
    finally:
        pipeline.set_state(Gst.State.NULL)
    return frames, fmt


def decode(path):
    """filesrc ! decodebin ! videoconvert ! RGB ! appsink: the frames, their
    pts, the caps decodebin produced and the elements it used."""
    pipeline = Gst.parse_launch(
        "filesrc name=src ! decodebin name=dec ! videoconvert name=conv dither=none ! "
        "video/x-raw,format=RGB,colorimetry=sRGB ! appsink name=sink sync=false")
    pipeline.get_by_name("src").set_property("location", path)
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    frames, pts, decoded_caps = [], [], None
    try:
        while True:
            sample = sink.try_pull_sample(60 * Gst.SECOND)
            if sample is None:
                break
            if decoded_caps is None:
                decoded_caps = pipeline.get_by_name("conv").get_static_pad("sink").get_current_caps()
            frames.append(gst_frames._rgb_array(sample))
            pts.append(sample.get_buffer().pts)
        msg = pipeline.get_bus().timed_pop_filtered(0, Gst.MessageType.ERROR)
        if msg is not None:
            err, dbg = msg.parse_error()
            raise VideoError(f"decoding {path}: {msg.src.get_name()}: {err.message}")
        used = [e.get_factory().get_name() for e in pipeline.get_by_name("dec").iterate_recurse()
                if e.get_factory() is not None]
    finally:
        pipeline.set_state(Gst.State.NULL)
    return frames, pts, decoded_caps, used


def verify(path, frames, refs, codec, enc_fmt, colorimetry):
    """Decodes the video and compares every frame with its expected RGB."""
    decoded, pts, caps, used = decode(path)
    rgb_exact = CODECS[codec][4]
    expected = {}
    for k, ref in enumerate(refs):
        if rgb_exact:
            expected[k] = gst_frames.videoconvert_rgb(ref, "RGB")
        else:
            # Whatever RGB->YUV lost, decoding must give back the same YUV.
            expected[k] = gst_frames.videoconvert_rgb(ref, enc_fmt, colorimetry if colorimetry else None)
    source = {k: gst_frames.videoconvert_rgb(ref, "RGB") for k, ref in enumerate(refs)}
    max_diff, max_src_diff, mismatched, max_pts_err = 0, 0, 0, 0
    for f, got, p in zip(frames, decoded, pts):
        exp = expected[f["image"]]
        if got.shape != exp.shape:
            mismatched += 1
            max_diff = 255
            continue
        d = int(np.abs(got.astype(np.int16) - exp.astype(np.int16)).max())
        max_diff = max(max_diff, d)
        max_src_diff = max(max_src_diff, int(np.abs(got.astype(np.int16) - source[f["image"]]).max()))
        mismatched += d != 0
        f["decoded_pts"] = p
        max_pts_err = max(max_pts_err, abs(p - f["pts"]) if p != Gst.CLOCK_TIME_NONE else 1 << 62)
    info = GstVideo.VideoInfo.new_from_caps(caps) if caps is not None else None
    demuxers = {"matroskademux", "qtdemux", "avidemux"}
    decoders = [u for u in used if u not in ("typefind", "multiqueue") and u not in demuxers
                and not u.endswith("parse") and u != "capsfilter"]
    return {
        "decoder": ",".join(decoders) or "none",
        "elements": used,
        "format": info.finfo.name if info else None,
        "colorimetry": info.colorimetry.to_string() if info else None,
        "caps": caps.to_string() if caps else None,
        "frames": len(decoded),
        "expected_frames": len(frames),
        "compared_to": "source RGB" if rgb_exact else f"videoconvert RGB->{enc_fmt}->RGB"
                       + (f" ({colorimetry})" if colorimetry else ""),
        "max_abs_diff": max_diff,
        "max_abs_diff_vs_source": max_src_diff,
        "mismatched_frames": mismatched,
        "chroma_site": gst_frames._chroma_site_name(info.chroma_site) if info else None,
        "max_pts_error_ns": max_pts_err,
        "exact": len(decoded) == len(frames) and mismatched == 0,
        # Containers round pts (Matroska to 1 ms); within half a frame every
        # frame still maps to its image.
        "pts_ok": len(decoded) == len(frames) and max_pts_err * 2 < min(f["duration"] for f in frames),
    }


def make_video(out, paths, codec="ffv1", container=None, fps=(10, 1), frames_per_image=5,
               letterbox_size=None, colorimetry="bt709", check=True):
    """Writes the video and OUT.json; returns the ground truth dict."""
    if codec not in CODECS:
        raise VideoError(f"unknown codec '{codec}' (one of {', '.join(CODECS)})")
    container = container or CODECS[codec][5][0]
    images, refs = load_frames(paths, letterbox_size, out + ".frames")
    frames, enc_fmt = encode(out, images, codec, container, fps, frames_per_image, colorimetry)
    for f in frames:
        f["source"] = os.path.abspath(paths[f["image"]])
        f["reference"] = refs[f["image"]]
    rgb_exact = CODECS[codec][4]
    truth = {
        "video": os.path.abspath(out), "codec": codec, "container": container,
        "encoder": CODECS[codec][0] or "none", "encoded_format": enc_fmt,
        "colorimetry": None if rgb_exact else colorimetry,
        "rgb_lossless": rgb_exact, "fps": list(fps),
        "width": int(images[0].shape[1]), "height": int(images[0].shape[0]),
        "frames_per_image": frames_per_image, "letterbox": list(letterbox_size) if letterbox_size else None,
        "images": [{"source": os.path.abspath(p), "reference": r} for p, r in zip(paths, refs)],
        "frames": frames,
    }
    if check:
        truth["decoded"] = verify(out, frames, refs, codec, enc_fmt, None if rgb_exact else colorimetry)
    with open(out + ".json", "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1, ensure_ascii=False)
    return truth


def survey(out_dir, paths, fps, frames_per_image, letterbox_size, colorimetry):
    """Every codec in every container it fits: prints the table, returns
    True when each one decoded as expected."""
    os.makedirs(out_dir, exist_ok=True)
    print(f"{'codec':13} {'container':9} {'encoder(input)':24} {'decoder':14} {'decoded':8} "
          f"{'colorimetry':11} {'exact':5} {'max diff':8} {'vs src':6} {'frames':7} {'pts err':7} size")
    ok = True
    for codec, (encoder, _, fmt, _, rgb_exact, containers) in CODECS.items():
        for container in containers:
            out = os.path.join(out_dir, f"{codec}.{container}")
            try:
                t = make_video(out, paths, codec, container, fps, frames_per_image, letterbox_size,
                               colorimetry)
            except VideoError as exc:
                print(f"{codec:13} {container:9} FAILED: {exc}")
                ok = False
                continue
            d = t["decoded"]
            ok &= d["exact"] and d["pts_ok"]
            print(f"{codec:13} {container:9} {(encoder or 'none') + '(' + t['encoded_format'] + ')':24} "
                  f"{d['decoder']:14} {d['format'] or '-':8} {d['colorimetry'] or '-':11} "
                  f"{'yes' if d['exact'] else 'NO':5} {d['max_abs_diff']:<8} "
                  f"{d['max_abs_diff_vs_source']:<6} {str(d['frames']) + '/' + str(d['expected_frames']):7} "
                  f"{d['max_pts_error_ns']:<7} {os.path.getsize(out)}", flush=True)
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="the video file to write (OUT.json is written next to it)")
    ap.add_argument("--codec", default="ffv1", choices=list(CODECS))
    ap.add_argument("--container", choices=list(MUXERS), help="default: the codec's first")
    ap.add_argument("--fps", default="10/1", help="N or N/D (default 10/1: pts exact in every container)")
    ap.add_argument("--frames-per-image", type=int, default=5)
    ap.add_argument("--letterbox", type=parse_size, metavar="WxH",
                    help="fit every image into WxH on black instead of requiring equal sizes")
    ap.add_argument("--colorimetry", default="bt709",
                    help="for the YUV codecs: the colorimetry of the encoded YUV (default bt709)")
    ap.add_argument("--no-verify", action="store_true", help="skip decoding the video back")
    ap.add_argument("--survey", action="store_true", help="every codec and container, as a table")
    ap.add_argument("--out-dir", help="where --survey writes its videos")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args(argv)
    num, _, den = args.fps.partition("/")
    fps = (int(num), int(den or 1))
    if fps[0] <= 0 or fps[1] <= 0 or args.frames_per_image <= 0:
        ap.error("fps and --frames-per-image must be positive")
    Gst.init(None)
    try:
        if args.survey:
            if not args.out_dir:
                ap.error("--survey needs --out-dir")
            return 0 if survey(args.out_dir, args.images, fps, args.frames_per_image, args.letterbox,
                               args.colorimetry) else 1
        if not args.out:
            ap.error("give --out VIDEO (or --survey)")
        t = make_video(args.out, args.images, args.codec, args.container, fps, args.frames_per_image,
                       args.letterbox, args.colorimetry, not args.no_verify)
    except (VideoError, gst_frames.GstFramesError, OSError) as exc:
        print(f"make_test_video.py: {exc}", file=sys.stderr)
        return 1
    summary = {"video": t["video"], "ground_truth": t["video"] + ".json", "frames": len(t["frames"]),
               "codec": t["codec"], "container": t["container"]}
    if "decoded" in t:
        d = t["decoded"]
        summary.update({k: d[k] for k in ("decoder", "format", "colorimetry", "exact", "max_abs_diff",
                                          "pts_ok", "max_pts_error_ns")})
    print(json.dumps(summary, ensure_ascii=False))
    d = t.get("decoded", {"exact": True, "pts_ok": True})
    return 0 if d["exact"] and d["pts_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
