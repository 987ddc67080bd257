"""Test videos for the archive commands, drawn here with Pillow (not the
training renderer), with what each sampled instant shows.

Each video is a list of scenes (start, end, draw) at 320x240, 10 frames a
second; encoded through GStreamer's appsrc as VP8 in Matroska or as Motion
JPEG in AVI, so that indexing goes through two containers and two codecs."""

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT, FPS = 320, 240, 10
COLOURS = {"red": (220, 30, 30), "green": (40, 170, 60), "blue": (40, 70, 210), "yellow": (240, 210, 40),
           "white": (255, 255, 255), "gray": (128, 128, 128), "black": (0, 0, 0)}


def shape_frame(shape, colour, background, dx=0):
    img = Image.new("RGB", (WIDTH, HEIGHT), COLOURS[background])
    d = ImageDraw.Draw(img)
    cx, cy, r = WIDTH // 2 + dx, HEIGHT // 2, 80
    fill = COLOURS[colour]
    if shape == "square":
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == "triangle":
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    elif shape == "star":
        points = []
        for i in range(10):
            radius = r if i % 2 == 0 else r * 0.42
            angle = -np.pi / 2 + i * np.pi / 5
            points.append((cx + radius * np.cos(angle), cy + radius * np.sin(angle)))
        d.polygon(points, fill=fill)
    return np.asarray(img)


def flat_frame(colour):
    return np.full((HEIGHT, WIDTH, 3), COLOURS[colour], np.uint8)


# Scenes: (start s, end s, frame function of the time t since the video's start).
VIDEO_A = [  # VP8 in Matroska
    (0.0, 3.0, lambda t: shape_frame("square", "red", "white", int(t * 4))),
    (3.0, 5.0, lambda t: flat_frame("black")),
    (5.0, 8.0, lambda t: shape_frame("triangle", "green", "gray", int((t - 5) * 4))),
    # a fade to black: full at 8.0, 3% at 9.0, black from 9.5
    (8.0, 9.5, lambda t: (shape_frame("triangle", "green", "gray", 12) * max(0.0, 1 - 0.97 * (t - 8))).astype(np.uint8)),
    (9.5, 10.0, lambda t: flat_frame("black")),
]
VIDEO_B = [  # Motion JPEG in AVI
    (0.0, 3.0, lambda t: shape_frame("circle", "blue", "white", -int(t * 4))),
    (3.0, 6.0, lambda t: shape_frame("star", "yellow", "black", int((t - 3) * 4))),
]
VIDEO_C = [  # a third video for the kill and concurrency runs
    (0.0, 2.0, lambda t: shape_frame("circle", "red", "gray", int(t * 4))),
    (2.0, 4.0, lambda t: shape_frame("square", "blue", "white", int(t * 4))),
]

ENCODERS = {
    "mkv": "videoconvert ! video/x-raw,format=I420 ! vp8enc deadline=0 threads=1 keyframe-max-dist=10 "
           "target-bitrate=800000 ! matroskamux",
    "avi": "videoconvert ! video/x-raw,format=I420 ! jpegenc quality=90 ! avimux",
}


def frames_of(scenes):
    end = scenes[-1][1]
    count = int(round(end * FPS))
    out = []
    for i in range(count):
        t = i / FPS
        for start, stop, draw in scenes:
            if start <= t < stop:
                out.append(draw(t))
                break
    return out


def encode(frames, path, kind):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time caps=video/x-raw,format=RGB,width={WIDTH},height={HEIGHT},framerate={FPS}/1 "
        f"! {ENCODERS[kind]} ! filesink location=\"{path}\"")
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    duration = Gst.SECOND // FPS
    for i, frame in enumerate(frames):
        buf = Gst.Buffer.new_wrapped(np.ascontiguousarray(frame).tobytes())
        buf.pts, buf.duration = i * duration, duration
        if src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
            raise RuntimeError("the encoder refused a frame")
    src.emit("end-of-stream")
    msg = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        raise RuntimeError(f"encoding {path} failed: {msg.parse_error()[0].message if msg else 'timed out'}")


def channel_stddev(frame):
    """The largest per-channel standard deviation of an RGB frame (0-255)."""
    return float(frame.reshape(-1, 3).astype(np.float64).std(axis=0).max())
