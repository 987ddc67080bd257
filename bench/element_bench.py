#!/usr/bin/python3
"""The element against the bare engine, side by side in one run.

  bench/element_bench.py [--model DIR] [--batch 8] [--frames 240] [--vkclip build/tools/vkclip]

1. `vkclip bench` at the batch size: the image tower alone on random input
   (no decode, no upload, no preprocessing, no readback).
2. `filesrc ! decodebin ! clip mode=archive` on a lossless FFV1 video made
   here (640x480, changing content): frames/s from the first batch leaving
   the element to the last, so model loading and the classifier build are
   not counted. Decode, upload, preprocessing and readback are hidden only
   if this comes close to (1).
   The engine and the pipeline run alternately, --rounds times; each round
   gives a ratio, and the median ratio is the figure (the machine's speed
   drifts between runs, by 30% or more on shared machines). CPU seconds
   per image (the process's, all threads) are compared too: on lavapipe
   every bit of device work is CPU work, and CPU time drifts less. Decoding
   alone (`decodebin ! fakesink`) is timed too: on lavapipe decode, upload
   and preprocessing share the CPU cores with the shaders, so they cannot
   be hidden there the way they are behind a GPU.
3. Live mode at batch 1 on a live 30 fps source: latency from a frame
   entering the element to the first buffer that carries its result.

Prints one line per figure and the ratio pipeline / engine. The model
defaults to models/vit-b32-f32 (a random ViT-B/32, made when absent).
GST_PLUGIN_PATH must find libgstclip.so (default: build/gst).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup_environment(args):
    os.environ.setdefault("GST_PLUGIN_PATH", os.path.join(ROOT, args.build, "gst"))
    os.environ.setdefault("VK_ICD_FILENAMES", "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json")


def engine_rate(args):
    """(images/s, CPU seconds per image) of `vkclip bench`."""
    out = subprocess.run([args.vkclip, "bench", "--model", args.model, "--batch", str(args.batch),
                          "--seconds", str(args.seconds)], check=True, capture_output=True, text=True).stdout
    figures = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        figures[key] = value.strip()
    if "images/s" not in figures or "cpu seconds per image" not in figures:
        raise SystemExit("vkclip bench printed no images/s line:\n" + out)
    return float(figures["images/s"]), float(figures["cpu seconds per image"])


def make_video(Gst, path, frames, size):
    # FFV1 keeps every pixel; the ball and the SMPTE bars change each frame so
    # no decoder shortcut makes frames free.
    launch = (f"videotestsrc num-buffers={frames} pattern=ball ! "
              f"video/x-raw,format=I420,width={size[0]},height={size[1]},framerate=30/1 ! "
              f"avenc_ffv1 ! matroskamux ! filesink location=\"{path}\"")
    run_to_eos(Gst, Gst.parse_launch(launch))


def run_to_eos(Gst, pipeline):
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(30 * 60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None:
        raise SystemExit("the pipeline did not finish")
    if msg.type == Gst.MessageType.ERROR:
        err, debug = msg.parse_error()
        raise SystemExit(f"pipeline error: {err.message} ({debug})")


def decode_rate(Gst, video):
    pipeline = Gst.parse_launch(f"filesrc location=\"{video}\" ! decodebin ! fakesink name=s sync=false")
    times = []
    pipeline.get_by_name("s").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, lambda pad, info: times.append(time.monotonic()) or Gst.PadProbeReturn.OK)
    run_to_eos(Gst, pipeline)
    return (len(times) - 1) / (times[-1] - times[0])


def pipeline_rate(Gst, args, video):
    pipeline = Gst.parse_launch(
        f"filesrc location=\"{video}\" ! decodebin ! clip name=c mode=archive post-messages=false "
        f"batch-size={args.batch} labels=\"a ball;a test pattern;a person\" ! fakesink sync=false")
    clip = pipeline.get_by_name("c")
    clip.set_property("model", args.model)
    times, cpu = [], []

    def on_buffer(pad, info):
        times.append(time.monotonic())
        cpu.append(time.process_time())  # all of this process's threads, lavapipe's included
        return Gst.PadProbeReturn.OK

    clip.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    run_to_eos(Gst, pipeline)
    # Buffers leave a batch at a time: count from the end of the first batch.
    frames = len(times) - args.batch
    if frames <= 0:
        raise SystemExit(f"only {len(times)} frames came out")
    first = args.batch - 1
    return frames / (times[-1] - times[first]), (cpu[-1] - cpu[first]) / frames, len(times)


def live_latency(Gst, args):
    pipeline = Gst.parse_launch(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1 ! "
        "clip name=c mode=live labels=\"a ball;a test pattern\" ! fakesink sync=false")
    clip = pipeline.get_by_name("c")
    clip.set_property("model", args.model)
    arrived, latencies, done = {}, [], threading.Event()

    def on_sink(pad, info):
        arrived[info.get_buffer().pts] = time.monotonic()
        return Gst.PadProbeReturn.OK

    def on_src(pad, info):
        meta = info.get_buffer().get_custom_meta("GstClipMeta")
        if meta:
            s = meta.get_structure()
            if s.get_value("inferred"):
                latencies.append(time.monotonic() - arrived[s.get_value("timestamp")])
                if len(latencies) >= args.live_results:
                    done.set()
        return Gst.PadProbeReturn.OK

    clip.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_sink)
    clip.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, on_src)
    pipeline.set_state(Gst.State.PLAYING)
    finished = done.wait(timeout=600)
    pipeline.set_state(Gst.State.NULL)
    if not finished:
        raise SystemExit(f"live mode: only {len(latencies)} results in 600 s")
    latencies = latencies[1:]  # the first includes warm-up
    return statistics.median(latencies), max(latencies), len(arrived)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=os.path.join(ROOT, "models", "vit-b32-f32"))
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--frames", type=int, default=240)
    p.add_argument("--size", default="640x480", help="the video's frame size, WxH")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--live-results", type=int, default=12)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--build", default="build")
    p.add_argument("--vkclip", default=None)
    args = p.parse_args()
    args.vkclip = args.vkclip or os.path.join(ROOT, args.build, "tools", "vkclip")
    args.model = os.path.abspath(args.model)
    if not os.path.exists(os.path.join(args.model, "config.json")):
        subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "scripts", "make_random_clip.py"),
                        "--shape", "B/32", "--out", args.model], check=True)
    setup_environment(args)
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)

    engines, rates, engine_cpu, pipeline_cpu = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        video = os.path.join(tmp, "bench video.mkv")
        make_video(Gst, video, args.frames, [int(v) for v in args.size.split("x")])
        decode = decode_rate(Gst, video)
        for _ in range(args.rounds):
            rate, cpu = engine_rate(args)
            engines.append(rate)
            engine_cpu.append(cpu)
            rate, cpu, frames = pipeline_rate(Gst, args, video)
            rates.append(rate)
            pipeline_cpu.append(cpu)
    engine, rate = statistics.mean(engines), statistics.mean(rates)
    median, worst, seen = live_latency(Gst, args)
    print(f"model: {args.model}")
    print(f"batch: {args.batch}")
    print(f"engine (vkclip bench), images/s: {engine:.2f} (rounds: {', '.join(f'{v:.2f}' for v in engines)})")
    print(f"pipeline (filesrc ! decodebin ! clip mode=archive, {frames} frames {args.size} I420 FFV1), "
          f"frames/s: {rate:.2f} (rounds: {', '.join(f'{v:.2f}' for v in rates)})")
    print(f"decoding alone (filesrc ! decodebin ! fakesink), frames/s: {decode:.1f}")
    ratios = [r / e for r, e in zip(rates, engines)]
    print(f"pipeline / engine: {statistics.median(ratios):.2f} (median of rounds: "
          f"{', '.join(f'{v:.2f}' for v in ratios)})")
    # CPU seconds per image drift less than wall time where the machine's
    # speed changes under us; on lavapipe all device work is CPU work.
    cpu_ratios = [e / p for e, p in zip(engine_cpu, pipeline_cpu)]
    print(f"CPU seconds per image, engine / pipeline: {statistics.median(cpu_ratios):.2f} (median of rounds: "
          f"{', '.join(f'{e:.3f}/{p:.3f}' for e, p in zip(engine_cpu, pipeline_cpu))})")
    print(f"live latency at batch 1, frame in to result out: median {median * 1000:.0f} ms, "
          f"worst {worst * 1000:.0f} ms ({args.live_results} results, {seen} frames seen)")


if __name__ == "__main__":
    main()
