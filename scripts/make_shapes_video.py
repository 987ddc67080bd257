#!/usr/bin/python3
"""A short demo video for the shapes CLIP, and what is in each second of it.

  make_shapes_video.py                       # data/demo/shapes.mkv + data/demo/shapes.truth.json
  make_shapes_video.py --seed 3 --out /tmp/v.mkv --truth /tmp/v.json

One scene a second, drawn by the training renderer (shapes_render.py) at 640x480:
single shapes of trained combinations, several held-out ones (read from the
model's classes.json) and test patterns, each shape drifting and turning a little
within its second. VP8 (vp8enc, a keyframe at least once a second, so each scene
starts on one) in Matroska, through GStreamer's appsrc. The same seed gives the
same file: frames come from seeded generators, the encoder runs on one thread
with no time budget (deadline=0: its choices never depend on the clock), the
muxer's creation time is fixed and its random UIDs are replaced afterwards.
Run with Debian's /usr/bin/python3 (numpy, Pillow, python3-gst-1.0,
gstreamer1.0-plugins-good for vp8enc and matroskamux).
"""

import argparse
import copy
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes_render as R  # noqa: E402

WIDTH, HEIGHT = 640, 480
# What each second shows: a trained pair, a held-out pair or a named pattern.
SCHEDULE = ("seen", "held_out", "seen", "color_bars", "seen", "held_out", "seen", "black_screen",
            "held_out", "seen", "checkerboard", "held_out")


def read_held_out(model_dir):
    with open(os.path.join(model_dir, "classes.json")) as f:
        names = set(json.load(f)["held_out"])
    return [p for p in R.colour_shape_classes() if R.class_label(*p) in names]


def plan_scenes(seed, held_out):
    """[(scene, motion, truth)] in SCHEDULE's order; motion is (dx, dy, turn) over the second."""
    rng = np.random.default_rng(seed)
    seen = [p for p in R.colour_shape_classes() if p not in held_out]
    held_order = [held_out[i] for i in rng.permutation(len(held_out))]
    planned = []
    for second, what in enumerate(SCHEDULE):
        start, end = float(second), float(second + 1)
        if what in R.PATTERNS:
            scene = R.sample_pattern_scene(rng, what, WIDTH, HEIGHT)
            truth = {"start": start, "end": end, "kind": "pattern", "pattern": what, "label": R.PATTERNS[what][0]}
            planned.append((scene, (0.0, 0.0, 0.0), truth))
            continue
        pair = held_order.pop() if what == "held_out" else seen[rng.integers(len(seen))]
        scene = R.sample_shape_scene(rng, *pair, WIDTH, HEIGHT, size_range=(0.3, 0.6))
        motion = (rng.uniform(-0.12, 0.12), rng.uniform(-0.12, 0.12), rng.uniform(-10, 10))
        truth = {"start": start, "end": end, "kind": "shape", "colour": pair[0], "shape": pair[1],
                 "label": R.class_label(*pair), "held_out": what == "held_out"}
        planned.append((scene, motion, truth))
    return planned


def scene_at(scene, motion, t):
    """The scene t (0..1) into its second: the shape moved, kept inside the crop square."""
    if not scene.shapes:
        return scene
    moved = copy.deepcopy(scene)
    item, half = moved.shapes[0], moved.shapes[0].size / 2
    item.cx = float(np.clip(item.cx + motion[0] * t, half, 1 - half))
    item.cy = float(np.clip(item.cy + motion[1] * t, half, 1 - half))
    item.angle += motion[2] * t
    return moved


def encode(frames, fps, bitrate, out_path):
    """RGB frames (numpy HxWx3 uint8) to VP8 in Matroska."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-raw,format=RGB,width={WIDTH},height={HEIGHT},framerate={fps}/1 "
        f"! videoconvert ! video/x-raw,format=I420 "
        f"! vp8enc target-bitrate={bitrate} keyframe-max-dist={fps} deadline=0 threads=1 "
        f"! matroskamux name=mux writing-app=make_shapes_video.py ! filesink location={out_path}")
    pipeline.get_by_name("mux").set_property("creation-time", GLib.DateTime.new_utc(2026, 1, 1, 0, 0, 0))
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    duration = Gst.SECOND // fps
    for i, frame in enumerate(frames):
        buf = Gst.Buffer.new_wrapped(frame.tobytes())
        buf.pts, buf.duration = i * duration, duration
        if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
            raise SystemExit("make_shapes_video.py: the pipeline refused a frame")
    src.emit("end-of-stream")
    message = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if message is None or message.type == Gst.MessageType.ERROR:
        detail = message.parse_error()[0].message if message else "timed out"
        raise SystemExit(f"make_shapes_video.py: encoding failed: {detail}")


# Matroska elements matroskamux fills with random bytes: (EBML id + size byte, payload length).
RANDOM_UIDS = {"SegmentUID": (b"\x73\xa4\x90", 16), "TrackUID": (b"\x73\xc5\x88", 8)}


def fix_random_uids(path, seed):
    """Replaces the muxer's random SegmentUID and TrackUID (in the file's header)
    with values derived from the seed, so that the same seed gives the same bytes."""
    with open(path, "r+b") as f:
        head = bytearray(f.read(4096))
        for name, (marker, length) in RANDOM_UIDS.items():
            at = head.find(marker)
            if at < 0:
                raise SystemExit(f"make_shapes_video.py: no {name} in {path}'s header")
            uid = bytearray(hashlib.sha256(f"{name} {seed}".encode()).digest()[:length])
            uid[0] |= 1  # a UID must not be zero
            head[at + len(marker):at + len(marker) + length] = uid
        f.seek(0)
        f.write(head)


def main(argv=None):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fps", type=int, default=15)
    ap.add_argument("--bitrate", type=int, default=600000, help="bits per second")
    ap.add_argument("--model", default=os.path.join(here, "data", "shapes-clip"), help="for its held-out pairs")
    ap.add_argument("--out", default=os.path.join(here, "data", "demo", "shapes.mkv"))
    ap.add_argument("--truth", default=os.path.join(here, "data", "demo", "shapes.truth.json"))
    args = ap.parse_args(argv)

    planned = plan_scenes(args.seed, read_held_out(args.model))
    frames = [np.asarray(R.render(scene_at(scene, motion, k / args.fps)))
              for scene, motion, _ in planned for k in range(args.fps)]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    encode(frames, args.fps, args.bitrate, args.out)
    fix_random_uids(args.out, args.seed)
    truth = {"video": os.path.basename(args.out), "width": WIDTH, "height": HEIGHT, "fps": args.fps,
             "seed": args.seed, "templates": list(R.LABEL_TEMPLATES),
             "labels": [R.class_label(*p) for p in R.colour_shape_classes()] + [p[0] for p in R.PATTERNS.values()],
             "scenes": [truth for _, _, truth in planned]}
    with open(args.truth, "w") as f:
        json.dump(truth, f, indent=1)
    print(f"{args.out}: {len(frames)} frames, {len(planned)} scenes, {os.path.getsize(args.out) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
