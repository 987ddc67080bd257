#!/usr/bin/env python3
"""bench/gpu-check.sh's figures: one Markdown table of the image tower on the
Vulkan device (random full-size ViT-B/32, ViT-B/16 and ViT-L/14; images/s at
batch 1, 8, 64 and 256 in fp32 and fp16, as a fraction of the device's peak
arithmetic and of its memory bandwidth for the weights), the per-kernel
profile's top five, the kernel plans side by side (each variant of
VKCLIP_KERNELS against the device's own plan, so the next default is chosen
from data), the text tower (a Kinetics-700 classifier's prompts/s) and the
element in archive mode on a lossless video against the bare engine.

  gpu_check_bench.py --vkclip PATH [--gst-launch PATH] [--quick] [--seconds S] [--seconds-left T]

Peaks: --peak-fp16 and --peak-fp32 (TFLOP/s) and --peak-bandwidth (GB/s);
for a device whose name says H200 they default to its dense figures (989 with
tensor cores, 67, 4800). --seconds-left: rows not begun by then are skipped.
--quick: the tiny shape at batch 1 and 8 only, for trying the script on
lavapipe.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H200 = {"fp16": 989.0, "fp32": 67.0, "bandwidth": 4800.0}


def run(cmd, env=None, timeout=120):
    """cmd's result; one that outruns timeout comes back as a failure, so one
    slow kernel cannot take the whole check past its time."""
    e = dict(os.environ, **(env or {}))
    try:
        return subprocess.run(cmd, env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {timeout} s")


def field(text, name):
    found = re.findall(r"^%s: *(.*)$" % re.escape(name), text, re.M)
    return found[-1] if found else None


def vision_cost(model_dir):
    """FLOPs per image of the image tower's forward pass, and its weight count
    (each weight is read once per pass)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        v = json.load(f)["vision_config"]
    d, layers, p, side = v["hidden_size"], v["num_hidden_layers"], v["patch_size"], v["image_size"]
    mlp = v.get("intermediate_size", 4 * d)
    patches = (side // p) ** 2
    tokens = patches + 1
    per_layer = 2 * tokens * (4 * d * d + 2 * d * mlp) + 4 * tokens * tokens * d  # GEMMs + QK^T and AV
    flops = 2 * patches * 3 * p * p * d + layers * per_layer
    params = 3 * p * p * d + layers * (4 * d * d + 2 * d * mlp)
    return flops, params


def make_model(shape, out):
    if not os.path.isfile(os.path.join(out, "config.json")):
        r = run([sys.executable, os.path.join(ROOT, "scripts", "make_random_clip.py"), "--shape", shape, "--out", out])
        if r.returncode:
            raise SystemExit(f"gpu_check_bench.py: make_random_clip.py --shape {shape}: {r.stderr.strip()[-300:]}")
    return out


def bench(vkclip, model, batch, precision, seconds, env=None):
    r = run([vkclip, "bench", "--device", "vulkan", "--model", model, "--batch", str(batch), "--precision", precision,
             "--seconds", str(seconds)], env=env)
    ips = field(r.stdout, "images/s")
    if r.returncode or ips is None:
        return None, (r.stderr.strip().splitlines() or ["no output"])[-1][:120], r
    return float(ips), None, r


def weight_size(bench_output):
    """Bytes per weight as the device stores them: `vkclip bench` prints
    "weights: f16, activations: ..."."""
    kind = (field(bench_output, "weights") or "f32").split(",")[0].strip()
    return 2 if kind in ("f16", "bf16") else 4


def profile_top(text, n=5):
    """The last forward pass's profile block: its n costliest kernel kinds."""
    blocks = re.split(r"^profile: .*$", text, flags=re.M)
    rows = re.findall(r"^\s+(\S+)\s+(\d+) x\s+([\d.]+) ms\s+([\d.]+)%(?:\s+([\d.]+|-) GFLOP/s\s+([\d.]+) GB/s)?",
                      blocks[-1] if blocks else "", re.M)
    rows.sort(key=lambda r: -float(r[2]))
    return rows[:n]


# Each against the device's own plan (the first row), one item changed at a
# time, and two other GEMM tiles.
PLANS = ["", "gpu", "gpu,gemm=coopmat", "lavapipe", "gpu,gemm=shared:8x4", "gpu,gemm=shared:8x8", "gpu,gemm=shared:2x2", "gpu,gemm=register",
         "gpu,attention=split", "gpu,rows=thread", "gpu,rows=subgroup", "gpu,barriers=every"]


def compare_plans(args, model, batches, deadline):
    print()
    print(f"Kernel plans, {os.path.basename(model)}, fp16 (VKCLIP_KERNELS; ratio: images/s over the device's plan):")
    print()
    print("| VKCLIP_KERNELS | kernels | batch | images/s | ratio |")
    print("|---|---|---|---|---|")
    for batch in (batches[0], batches[-2] if len(batches) > 2 else batches[-1]):
        base = None
        for plan in PLANS:
            if deadline and time.monotonic() > deadline:
                print(f"| {plan or '(device)'} | | {batch} | not run: out of time | |", flush=True)
                continue
            ips, error, r = bench(args.vkclip, model, batch, "f16", min(args.seconds, 2), env={"VKCLIP_KERNELS": plan})
            kernels = field(r.stdout, "kernels") or "?"
            if ips is None:
                print(f"| {plan or '(device)'} | {kernels} | {batch} | failed: {error} | |", flush=True)
                continue
            base = ips if not plan else base
            ratio = f"{ips / base:.2f}" if base else "-"
            print(f"| {plan or '(device)'} | {kernels} | {batch} | {ips:.1f} | {ratio} |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vkclip", required=True)
    ap.add_argument("--gst-launch", default="gst-launch-1.0")
    ap.add_argument("--models", default=os.path.join(ROOT, "models"))
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--seconds-left", type=float, help="skip the table's rows not begun within this time")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--peak-fp16", type=float)
    ap.add_argument("--peak-fp32", type=float)
    ap.add_argument("--peak-bandwidth", type=float)
    args = ap.parse_args()

    info = run([args.vkclip, "info", "--device", "vulkan"]).stdout
    device = next((ln.split(":", 1)[1].replace("[chosen]", "").strip() for ln in info.splitlines() if "[chosen]" in ln),
                  "unknown device")
    known = H200 if "H200" in device else {}
    peak = {"fp16": args.peak_fp16 or known.get("fp16"), "fp32": args.peak_fp32 or known.get("fp32"),
            "bandwidth": args.peak_bandwidth or known.get("bandwidth")}
    print(f"device: {device}")
    print("peaks: " + (f"fp16 {peak['fp16']:g} TFLOP/s (dense, tensor cores), fp32 {peak['fp32']:g} TFLOP/s, "
                       f"memory {peak['bandwidth']:g} GB/s" if all(peak.values()) else "unknown (give --peak-*)"))
    print()

    shapes = [("tiny", "tiny")] if args.quick else [("B/32", "vit-b32-f32"), ("B/16", "vit-b16-f32"),
                                                    ("L/14", "vit-l14-f32")]
    batches = [1, 8] if args.quick else [1, 8, 64, 256]
    print("| model | precision | batch | images/s | batch latency (ms) | TFLOP/s | of peak | weights GB/s | of bandwidth |")
    print("|---|---|---|---|---|---|---|---|---|")
    models = {}
    deadline = time.monotonic() + args.seconds_left if args.seconds_left else None
    for shape, name in shapes:
        try:
            model = models[shape] = make_model(shape, os.path.join(args.models, name))
        except SystemExit as e:
            print(f"| ViT-{shape} | | | failed: {e} | | | | | |", flush=True)
            continue
        flops, weights = vision_cost(model)
        for precision in ("f32", "f16"):
            for batch in batches:
                if deadline and time.monotonic() > deadline:
                    print(f"| ViT-{shape} | {precision} | {batch} | not run: out of time | | | | | |", flush=True)
                    continue
                ips, error, r = bench(args.vkclip, model, batch, precision, args.seconds)
                if ips is None:
                    print(f"| ViT-{shape} | {precision} | {batch} | failed: {error} | | | | | |", flush=True)
                    continue
                tflops = ips * flops / 1e12
                gbps = ips / batch * weights * weight_size(r.stdout) / 1e9
                top = peak["fp16" if precision == "f16" else "fp32"]
                of_peak = f"{tflops / top:.3f}" if top else "-"
                of_bw = f"{gbps / peak['bandwidth']:.3f}" if peak["bandwidth"] else "-"
                print(f"| ViT-{shape} | {precision} | {batch} | {ips:.1f} | {1000 * batch / ips:.2f} | {tflops:.2f} | "
                      f"{of_peak} | {gbps:.1f} | {of_bw} |", flush=True)

    if not models:
        return 1
    first = next(iter(models.values()))
    print()
    profiled_batch = batches[-2] if len(batches) > 2 else batches[-1]
    _, _, r = bench(args.vkclip, first, profiled_batch, "f16", 1, env={"VKCLIP_PROFILE": "1"})
    print(f"Per-kernel profile, {os.path.basename(first)}, fp16, batch {profiled_batch} (one forward pass, top five):")
    print()
    print("| kernel | dispatches | ms | share | GFLOP/s | GB/s (least traffic) |")
    print("|---|---|---|---|---|---|")
    for name, count, ms, share, gflops, gbps in profile_top(r.stdout + r.stderr):
        print(f"| {name} | {count} | {ms} | {share}% | {gflops or '-'} | {gbps or '-'} |")

    compare_plans(args, first, batches, deadline)

    with tempfile.TemporaryDirectory() as tmp:
        labels = os.path.join(ROOT, "data", "prompts", "kinetics700-labels.txt")
        templates = os.path.join(ROOT, "data", "prompts", "kinetics700-templates.txt")
        count = sum(1 for ln in open(labels) if ln.strip()) * sum(1 for ln in open(templates) if ln.strip())
        image = os.path.join(tmp, "frame.png")
        made = run([args.gst_launch, "-q", "videotestsrc", "num-buffers=1", "!", "video/x-raw,width=224,height=224",
                    "!", "videoconvert", "!", "pngenc", "!", "filesink", f"location={image}"])
        r = run([args.vkclip, "classify", "--device", "vulkan", "--model", first, "--labels-file", labels,
                 "--templates-file", templates, image], env={"VKCLIP_CACHE_DIR": os.path.join(tmp, "cache")})
        m = re.search(r" in ([\d.]+) s$", r.stderr, re.M)
        print()
        if made.returncode or r.returncode or not m:
            print(f"text tower: failed: {(made.stderr + r.stderr).strip()[-200:]}")
        else:
            print(f"text tower of {os.path.basename(first)}, Kinetics-700 classifier: {count} prompts in {m.group(1)} s, "
                  f"{count / float(m.group(1)):.0f} prompts/s")

        # The element: `vkclip index` runs filesrc ! decodebin ! clip mode=archive.
        frames = 120 if args.quick else 1800
        video = os.path.join(tmp, "lossless.avi")
        made = run([args.gst_launch, "-q", "videotestsrc", "pattern=ball", f"num-buffers={frames}", "!",
                    "video/x-raw,format=I420,width=640,height=480,framerate=30/1", "!", "avimux", "!",
                    "filesink", f"location={video}"])
        batch = batches[-2] if len(batches) > 2 else batches[-1]
        ips, _, _ = bench(args.vkclip, first, batch, "f32", args.seconds)
        def index_fps(db, plan):
            r = run([args.vkclip, "index", "--db", os.path.join(tmp, db), "--model", first, "--device", "vulkan",
                     "--fps", "30", "--batch", str(batch), video], env={"VKCLIP_KERNELS": plan} if plan else None)
            m = re.search(r"([\d.]+) frames/s \(after", r.stderr)
            return (float(m.group(1)) if m and r.returncode == 0 else None), r.stderr
        own, err = index_fps("index.db", None)
        if made.returncode or not own or not ips:
            print(f"element: failed: {(made.stderr + err).strip()[-300:]}")
        else:
            print(f"element (vkclip index, archive mode, {frames} raw I420 640x480 frames, batch {batch}, fp32): "
                  f"{own:.1f} frames/s against vkclip bench {ips:.1f} images/s: {own / ips:.2f}")
            # Frames copied in the batch's own submission, not apart on the
            # transfer queue (where the device cannot map its memory).
            inline, _ = index_fps("inline.db", "gpu,upload=inline")
            if inline:
                print(f"element with VKCLIP_KERNELS=gpu,upload=inline: {inline:.1f} frames/s, "
                      f"upload=queue over inline: {own / inline:.2f}")

if __name__ == "__main__":
    sys.exit(main())
