#!/usr/bin/python3
"""PyTorch CPU throughput of the CLIP image tower, the baseline for vkclip.

  torch_bench.py --model DIR [--batch N] [--seconds S] [--threads T]

Same weights and forward pass as scripts/reference/clip_torch.py, float32,
inference mode, random (seeded) pixels. Prints `images/s: X` as its last line.
Run with Debian's /usr/bin/python3.
"""

import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="model directory (Hugging Face layout)")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10.0, help="timed duration after warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    ap.add_argument("--show-config", action="store_true", help="print torch.__config__.show()")
    args = ap.parse_args()
    if args.batch < 1 or args.threads < 1 or args.seconds <= 0:
        raise SystemExit("torch_bench.py: --batch, --threads and --seconds must be positive")

    # Debian's torch runs GEMMs on OpenBLAS's own pthreads (libblas.so.3) and
    # the other ops on OpenMP: both pools are sized from the environment when
    # torch loads, and OpenMP's spinning workers starve OpenBLAS's unless they
    # sleep when idle (measured: 2-3x faster on 2 cores).
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "reference"))
    import clip_torch

    torch.set_num_threads(args.threads)
    if args.show_config:
        print(torch.__config__.show())
    model = clip_torch.Clip(args.model, torch.float32, fused_layer_norm=True)
    size = model.config["vision"]["image_size"]
    pixels = torch.randn(args.batch, 3, size, size, generator=torch.Generator().manual_seed(0))

    with torch.inference_mode():
        for _ in range(args.warmup):
            model.image_features(pixels)
        times = []
        start = time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            t0 = time.perf_counter()
            model.image_features(pixels)
            times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start

    times.sort()
    print(f"model {args.model}  batch {args.batch}  threads {args.threads}  "
          f"OMP_WAIT_POLICY {os.environ['OMP_WAIT_POLICY']}  "
          f"batches {len(times)}  median {times[len(times) // 2] * 1e3:.1f} ms  "
          f"min {times[0] * 1e3:.1f} ms")
    print(f"images/s: {len(times) * args.batch / elapsed:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
