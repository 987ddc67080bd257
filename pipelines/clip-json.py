#!/usr/bin/python3
"""Runs a `clip` pipeline and prints its results as JSON lines.

  clip-json.py VIDEO --model DIR --labels "a cat;a dog" [clip options]
  clip-json.py --pipeline "videotestsrc num-buffers=30 ! clip name=c ! fakesink" --model DIR --labels ...

VIDEO runs as `filesrc ! decodebin ! clip ! fakesink sync=false`: clip takes
what decoders hand out (GBR, Y444, Y42B... it converts on the CPU with
GStreamer's converter); --convert puts a videoconvert in front, to compare. With --pipeline the launch line is used as
given, and the clip options given here are set on every `clip` element in it.

Every option is set as a property, never pasted into a launch line, so paths
with spaces and labels with quotes, commas or non-ASCII characters arrive as
typed. One JSON object per `clip` element message on stdout (UTF-8):

  {"pts": s, "stream_time": s, "running_time": s, "duration": s,
   "labels": [...], "scores": [...], "indices": [...]}

times in seconds (null for GST_CLOCK_TIME_NONE), plus "embedding" or "regions"
(a list of objects with id, x, y, width, height, labels, scores, indices) when
the message has them, and "element" when the pipeline has several. Exits 0 at
EOS, 1 with the message on stderr on an ERROR (or a timeout), 2 on bad usage.

The plugin: $GST_PLUGIN_PATH / $GST_PLUGIN_PATH_1_0 when either is set, else the
newest build*/gst/libgstclip.so under the repository root that loads (an ASan
build does not), else the installed one.
"""

import argparse
import glob
import json
import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# clip's properties that get an option of their own (name, help).
CLIP_OPTIONS = [
    ("model", "model directory (Hugging Face layout)"),
    ("labels", "labels, ';'-separated"),
    ("labels-file", "labels, one a line"),
    ("templates", "prompt templates with {}, ';'-separated"),
    ("templates-file", "templates, one a line"),
    ("top-k", "labels per result"),
    ("threshold", "lowest score reported"),
    ("interval", "infer every Nth frame"),
    ("mode", "live, archive or auto"),
    ("batch-size", "frames per inference batch"),
    ("device", "Vulkan device index (-1: automatic)"),
    ("precision", "f32 or f16"),
    ("inference-region", "full-frame or roi-list"),
    ("examples-dir", "few-shot: a folder of one folder of example images per label"),
    ("examples-weight", "the examples' share against the prompts (0 to 1)"),
]


def find_plugin_path():
    """Points GST_PLUGIN_PATH at the newest loadable build*/gst/libgstclip.so
    unless the caller chose a path; must run before Gst.init. Returns the
    folder chosen (or None)."""
    if os.environ.get("GST_PLUGIN_PATH") or os.environ.get("GST_PLUGIN_PATH_1_0"):
        return None
    builds = glob.glob(os.path.join(REPO_ROOT, "build*", "gst", "libgstclip.so"))
    # Several build trees register the same plugin name, so only one goes on
    # the path: the newest that loads here (an ASan build does not load into
    # an uninstrumented process, so `gst-inspect-1.0 FILE` tells).
    for path in sorted(builds, key=os.path.getmtime, reverse=True):
        try:
            ok = subprocess.run(["gst-inspect-1.0", path], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, timeout=120).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            os.environ["GST_PLUGIN_PATH"] = os.path.dirname(path)
            return os.path.dirname(path)
    return None


def _seconds(ns):
    if ns is None or ns < 0 or ns >= (1 << 64) - 1:
        return None
    return ns / 1e9


def to_python(value):
    """GValue contents (GstValueArray, GstStructure, ...) as JSON-able data."""
    from gi.repository import Gst
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, Gst.Structure):
        return {value.nth_field_name(i): to_python(value.get_value(value.nth_field_name(i)))
                for i in range(value.n_fields())}
    if isinstance(value, (Gst.ValueArray, Gst.ValueList, list, tuple)):
        return [to_python(v) for v in value]
    return str(value)


def message_to_json(structure):
    """One `clip` message structure as the dict printed."""
    fields = to_python(structure)
    out = {"pts": _seconds(fields.pop("timestamp", None)),
           "stream_time": _seconds(fields.pop("stream-time", None)),
           "running_time": _seconds(fields.pop("running-time", None)),
           "duration": _seconds(fields.pop("duration", None))}
    for key in ("labels", "scores", "indices"):
        if key in fields:
            out[key] = fields.pop(key)
    # embedding, regions and anything the element adds later, as they are.
    out.update(fields)
    return out


def run(pipeline, out=None, err=None, timeout_s=None):
    """Plays the pipeline to EOS, writing a line per `clip` message. Returns
    the exit status (0 at EOS, 1 on an ERROR or a timeout)."""
    from gi.repository import Gst
    out = out or sys.stdout
    err = err or sys.stderr
    clips = [e for e in pipeline.iterate_recurse()
             if e.get_factory() is not None and e.get_factory().get_name() == "clip"]
    bus = pipeline.get_bus()
    wanted = Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.ELEMENT | Gst.MessageType.WARNING
    status = 1
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # The ERROR message that says why is on the bus; fall through to it.
        timeout_s = 5
    deadline = None if timeout_s is None else Gst.util_get_timestamp() + int(timeout_s * Gst.SECOND)
    try:
        while True:
            wait = Gst.CLOCK_TIME_NONE if deadline is None else max(0, deadline - Gst.util_get_timestamp())
            msg = bus.timed_pop_filtered(wait, wanted)
            if msg is None:
                print(f"clip-json.py: timed out after {timeout_s} s", file=err)
                break
            if msg.type == Gst.MessageType.EOS:
                status = 0
                break
            if msg.type == Gst.MessageType.ERROR:
                e, dbg = msg.parse_error()
                print(f"clip-json.py: ERROR from {msg.src.get_path_string()}: {e.message}"
                      + (f" ({dbg})" if dbg else ""), file=err)
                break
            if msg.type == Gst.MessageType.WARNING:
                w, _ = msg.parse_warning()
                print(f"clip-json.py: warning from {msg.src.get_name()}: {w.message}", file=err)
                continue
            s = msg.get_structure()
            if s is None or s.get_name() != "clip":
                continue
            line = message_to_json(s)
            if len(clips) > 1:
                line["element"] = msg.src.get_name()
            try:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                out.flush()
            except BrokenPipeError:
                # The reader (head, a closed pipe) has all it wanted.
                status = 0
                break
    finally:
        pipeline.set_state(Gst.State.NULL)
    return status


def parse_value(spec, text):
    """text as a value of the property's type, the way gst-launch reads it
    (enums by nick, name or number; booleans as true/false/yes/no/1/0);
    raises ValueError for text that is not one, or out of the range."""
    from gi.repository import GObject, Gst
    if spec.value_type == GObject.TYPE_STRING:
        # As is: deserialising would unquote "..." and turn NULL into None.
        return text
    # GstStructure's parser deserialises a typed field; util_set_object_arg
    # would do the same but ignore a bad value in silence.
    try:
        parsed = Gst.Structure.from_string(f"p, v=({spec.value_type.name}){text}")
    except TypeError:
        parsed = None
    s = parsed[0] if parsed else None
    if s is None or not s.has_field("v"):
        raise ValueError(f"'{text}' is not a valid {spec.value_type.name} for property '{spec.name}'")
    value = s.get_value("v")
    lo, hi = getattr(spec, "minimum", None), getattr(spec, "maximum", None)
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise ValueError(f"property '{spec.name}': {text} is outside [{lo}, {hi}]")
    return value


def set_clip_properties(element, props):
    """Sets each (name, text) on the element; raises ValueError naming a
    property it lacks or a value that does not fit."""
    for name, text in props:
        spec = element.find_property(name)
        if spec is None:
            raise ValueError(f"element {element.get_name()} ({element.get_factory().get_name()}) "
                             f"has no property '{name}'")
        element.set_property(name, parse_value(spec, text))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", help="video file (any path; decodebin finds the decoder)")
    ap.add_argument("--pipeline", help="a gst-launch line with clip element(s) instead of VIDEO")
    for name, what in CLIP_OPTIONS:
        ap.add_argument("--" + name, dest=name.replace("-", "_"), help=what)
    ap.add_argument("--embedding", action="store_true", help="also print each frame's image embedding")
    ap.add_argument("--set", action="append", default=[], metavar="PROP=VALUE",
                    help="any other clip property (repeat)")
    ap.add_argument("--convert", action="store_true", help="a videoconvert between decodebin and clip")
    ap.add_argument("--timeout", type=float, help="give up (exit 1) after this many seconds")
    args = ap.parse_args(argv)
    if (args.video is None) == (args.pipeline is None):
        ap.error("give VIDEO or --pipeline, not both")

    props = [(name, getattr(args, name.replace("-", "_"))) for name, _ in CLIP_OPTIONS
             if getattr(args, name.replace("-", "_")) is not None]
    if args.embedding:
        props.append(("embedding", "true"))
    for item in args.set:
        name, eq, value = item.partition("=")
        if not eq or not name:
            ap.error(f"--set wants PROP=VALUE, not '{item}'")
        props.append((name, value))

    chosen = find_plugin_path()
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst, GLib
    Gst.init(None)
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")  # labels print as UTF-8 whatever the locale

    if Gst.ElementFactory.find("clip") is None:
        where = chosen or os.environ.get("GST_PLUGIN_PATH") or os.environ.get("GST_PLUGIN_PATH_1_0") \
            or f"no build*/gst/libgstclip.so under {REPO_ROOT}"
        print(f"clip-json.py: GStreamer has no 'clip' element (plugin path: {where}); build the plugin "
              "(meson setup build && ninja -C build) or set GST_PLUGIN_PATH to its folder", file=sys.stderr)
        return 1
    try:
        if args.pipeline:
            pipeline = Gst.parse_launch(args.pipeline)
        else:
            if not os.path.isfile(args.video):
                print(f"clip-json.py: {args.video}: no such file", file=sys.stderr)
                return 1
            convert = "videoconvert ! " if args.convert else ""
            pipeline = Gst.parse_launch(f"filesrc name=src ! decodebin ! {convert}clip name=clip ! "
                                        "fakesink sync=false")
            pipeline.get_by_name("src").set_property("location", args.video)
        if not isinstance(pipeline, Gst.Pipeline):
            # A launch line of one element comes back bare.
            bin_ = Gst.Pipeline.new("pipeline")
            bin_.add(pipeline)
            pipeline = bin_
        clips = [e for e in pipeline.iterate_recurse()
                 if e.get_factory() is not None and e.get_factory().get_name() == "clip"]
        if not clips:
            print("clip-json.py: the pipeline has no clip element", file=sys.stderr)
            return 1
        for e in clips:
            set_clip_properties(e, props)
    except (GLib.Error, ValueError) as exc:
        print(f"clip-json.py: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    status = run(pipeline, timeout_s=args.timeout)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    # No second complaint from the interpreter about a closed stdout.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return status


if __name__ == "__main__":
    sys.exit(main())
