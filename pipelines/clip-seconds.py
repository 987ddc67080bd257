#!/usr/bin/python3
"""Tags a video with the `clip` element and prints one line per second.

  clip-seconds.py VIDEO [--truth TRUTH.json] [clip-json.py options...]
  clip-seconds.py data/demo/shapes.mkv --truth data/demo/shapes.truth.json \\
      --labels-file data/shapes-clip/labels.txt --templates-file data/shapes-clip/templates.txt

Runs `filesrc ! decodebin ! clip ! fakesink` through clip-json.py (every other
option goes to it unchanged: --model, --labels, --templates-file, ...) and
reduces its per-frame results to seconds: a second's label is the top label
most of its frames have (ties go to the higher mean score), printed with
that mean score and how many of the second's frames agree.

With --truth (a JSON list of {"start", "end", "label"} objects, or an
object with such a list as "scenes", as scripts/make_shapes_video.py
writes), each line also shows what the second
really holds and whether the label matches it, and a last line counts the
seconds that match. Exits with clip-json.py's status: 0 at EOS, 1 on an
error, 2 on bad usage.
"""

import argparse
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_clip_json(video, options):
    """The per-frame JSON objects of clip-json.py, and its exit status."""
    cmd = [sys.executable, os.path.join(HERE, "clip-json.py"), video, "--top-k", "1", *options]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, encoding="utf-8")
    frames = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return frames, proc.returncode


def seconds_of(frames):
    """{second: (label, mean score, frames agreeing, frames)} from per-frame results."""
    by_second = collections.defaultdict(list)
    for f in frames:
        if f.get("pts") is not None and f.get("labels"):
            by_second[int(f["pts"])].append((f["labels"][0], f["scores"][0]))
    result = {}
    for second, results in sorted(by_second.items()):
        votes = collections.defaultdict(list)
        for label, score in results:
            votes[label].append(score)
        label, scores = max(votes.items(), key=lambda kv: (len(kv[1]), sum(kv[1]) / len(kv[1])))
        result[second] = (label, sum(scores) / len(scores), len(scores), len(results))
    return result


def truth_at(truth, second):
    """The ground-truth entry covering the middle of the second, or None."""
    middle = second + 0.5
    for entry in truth:
        if entry["start"] <= middle < entry["end"]:
            return entry
    return None


def print_table(seconds, truth, out):
    """Prints the seconds; returns (matching, judged)."""
    matching = judged = 0
    width = max([len(label) for label, *_ in seconds.values()] + [12])
    header = f"{'second':>6}  {'label':<{width}}  score  frames"
    if truth is not None:
        header += "  truth"
    print(header, file=out)
    for second, (label, score, agree, total) in seconds.items():
        line = f"{second:>6}  {label:<{width}}  {score:5.2f}  {agree:>2}/{total:<3}"
        entry = truth_at(truth, second) if truth is not None else None
        if entry is not None:
            judged += 1
            ok = entry["label"] == label
            matching += ok
            note = " (held out of training)" if entry.get("held_out") else ""
            line += f"  {entry['label']}{note}  {'ok' if ok else 'WRONG'}"
        print(line, file=out)
    return matching, judged


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    ap.add_argument("video")
    ap.add_argument("--truth", help="ground truth per second (JSON list of start, end, label)")
    args, options = ap.parse_known_args(argv)
    truth = None
    if args.truth:
        try:
            with open(args.truth, encoding="utf-8") as f:
                truth = json.load(f)
            if isinstance(truth, dict):
                truth = truth["scenes"]
        except (OSError, ValueError, KeyError) as exc:
            print(f"clip-seconds.py: {args.truth}: {exc}", file=sys.stderr)
            return 1
    frames, status = run_clip_json(args.video, options)
    if status != 0:
        return status
    seconds = seconds_of(frames)
    if not seconds:
        print(f"clip-seconds.py: {args.video}: no frame was tagged", file=sys.stderr)
        return 1
    matching, judged = print_table(seconds, truth, sys.stdout)
    if truth is not None:
        print(f"{matching} of {judged} seconds match the ground truth ({args.truth})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
