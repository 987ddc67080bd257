#!/usr/bin/python3
"""End-to-end test of the `clip` element through the scripts in pipelines/.

  test_pipelines.py            (meson sets VKCLIP_FIXTURES, VKCLIP_SOURCE_ROOT,
                                GST_PLUGIN_PATH_1_0; by hand, clip-json.py's own
                                search for build*/gst/libgstclip.so applies)

1. clip-json.py turns `clip` bus messages into JSON lines: checked on messages
   posted by a stand-in element, so that this part needs no clip.
2. Two fixture images cropped to a common 448x300 become a lossless video
   (scripts/make_test_video.py): FFV1 of RGB (decodes to BGRx, exact), and
   FFV1 of I420 (decodes to I420: the element's YUV path).
3. clip-json.py runs the element on each video; every frame's top-k labels
   and scores must match the PyTorch reference (scripts/reference/clip_torch.py:
   softmax(exp(logit_scale) * cos) over the labels, template "{}") within 0.01,
   and each result's pts must be a frame's and give the image shown there.
   For the I420 video the reference image is what GStreamer's videoconvert
   makes of that I420 frame (scripts/reference/gst_frames.py), not the PNG.
   Once more with no `model` given and $VKCLIP_MODEL naming the model: the
   element's default.
4. tag-file.sh prints a message line per frame; tag-camera.sh refuses a
   missing camera with a clear message.

Exit 0 pass, 1 fail (figures printed), 77 skip: no fixtures, no torch or
python3-gst, or no functional element yet (`gst-inspect-1.0 clip` lists no
`model` property).
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import testlib  # noqa: E402

TOLERANCE = 0.01
TOP_K = 3
FRAMES_PER_IMAGE = 3
CROP = (448, 300)  # fits both chelsea.png (451x300) and coffee.png (600x400)
# Some of texts.txt's prompts: plain, punctuation, runs of spaces and a tab,
# accents, emoji. None holds a ';', the element's label separator.
LABEL_LINES = [0, 1, 2, 5, 7, 9]
RUN_TIMEOUT = 240


def check_message_conversion(c, clip_json):
    """A stand-in element posts `clip` messages as the contract describes;
    clip_json.run must print them as documented."""
    from gi.repository import Gst
    pipeline = Gst.parse_launch("videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48,framerate=10/1 ! "
                                "identity name=fake ! fakesink sync=false")
    fake = pipeline.get_by_name("fake")

    def post(pad, info):
        buf = info.get_buffer()
        s = Gst.Structure.from_string(
            f'clip, timestamp=(guint64){buf.pts}, stream-time=(guint64){buf.pts}, '
            f'running-time=(guint64){buf.pts}, duration=(guint64){buf.duration}, '
            'labels=(string)<"naïve café", "a \\"cat\\"; 🐱">, scores=(double)<0.75, 0.25>, '
            'indices=(int)<1, 0>, embedding=(float)<0.5, -0.25>')[0]
        if buf.pts >= 200000000:
            region = Gst.Structure.from_string(
                'region, id=(int)7, x=(int)1, y=(int)2, width=(int)30, height=(int)20, '
                'labels=(string)<"ü">, scores=(double)<0.5>, indices=(int)<0>')[0]
            s.set_value("regions", Gst.ValueArray([region]))
        fake.post_message(Gst.Message.new_element(fake, s))
        return Gst.PadProbeReturn.OK

    fake.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, post)
    out, err = io.StringIO(), io.StringIO()
    rc = clip_json.run(pipeline, out=out, err=err, timeout_s=30)
    c.check(rc == 0, f"clip-json.run on a stand-in source exits 0 (rc {rc}, stderr {err.getvalue()[:300]!r})")
    try:
        lines = [json.loads(x) for x in out.getvalue().splitlines()]
    except ValueError as exc:
        c.check(False, f"clip-json.run prints JSON lines ({exc}): {out.getvalue()[:300]!r}")
        return
    c.check(len(lines) == 3, f"one line per message: {len(lines)} for 3")
    if len(lines) != 3:
        return
    first, last = lines[0], lines[2]
    c.check(first == {"pts": 0.0, "stream_time": 0.0, "running_time": 0.0, "duration": 0.1,
                      "labels": ["naïve café", 'a "cat"; 🐱'], "scores": [0.75, 0.25], "indices": [1, 0],
                      "embedding": [0.5, -0.25]},
            f"fields converted as documented: {first}")
    c.check(abs(lines[1]["pts"] - 0.1) < 1e-12, f"pts in seconds: {lines[1]['pts']} for 100000000 ns")
    c.check(last.get("regions") == [{"id": 7, "x": 1, "y": 2, "width": 30, "height": 20, "labels": ["ü"],
                                     "scores": [0.5], "indices": [0]}],
            f"regions converted: {last.get('regions')}")


def element_functional():
    """(ok, what gst-inspect-1.0 said)."""
    try:
        p = subprocess.run(["gst-inspect-1.0", "clip"], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    text = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        return False, f"gst-inspect-1.0 clip: rc {p.returncode} {p.stderr.decode('utf-8', 'replace').strip()[:200]}"
    ok = any(line.startswith("  model ") for line in text.splitlines())
    return ok, "has a model property" if ok else "the element has no model property (placeholder)"


def crop_images(fixtures, out_dir):
    """Centre crops of both fixture images to CROP, as PNGs (the references)."""
    from PIL import Image
    paths = []
    for name in ("chelsea", "coffee"):
        img = Image.open(os.path.join(fixtures, "images", name + ".png")).convert("RGB")
        w, h = CROP
        left, top = (img.width - w) // 2, (img.height - h) // 2
        path = os.path.join(out_dir, f"{name} {w}x{h}.png")
        img.crop((left, top, left + w, top + h)).save(path)
        paths.append(path)
    return paths


def reference_probs(model_dir, images, labels):
    """PyTorch reference: softmax over labels of exp(logit_scale) * cos, with
    the labels themselves as prompts (template "{}"), float64."""
    clip_torch = testlib.reference_module("clip_torch")
    import torch
    with torch.inference_mode():
        model = clip_torch.Clip(model_dir)
        ids = clip_torch.tokenize_texts(model_dir, labels)
        probs = clip_torch.zero_shot_probs(model, clip_torch.embed_images(model, images),
                                           clip_torch.embed_texts(model, ids))
    return [[float(x) for x in row] for row in probs]


def check_result(c, what, line, ref_row, labels):
    """Top-k labels and scores against the reference row, allowing near ties
    (within the tolerance) to come in either order."""
    got_labels, got_scores = line.get("labels"), line.get("scores")
    got_indices = line.get("indices")
    if not c.check(isinstance(got_labels, list) and isinstance(got_scores, list)
                   and len(got_labels) == len(got_scores) == TOP_K,
                   f"{what}: {TOP_K} labels and scores ({got_labels}, {got_scores})"):
        return
    order = sorted(range(len(labels)), key=lambda i: -ref_row[i])
    kth = ref_row[order[TOP_K - 1]]
    problems = []
    for rank, (label, score) in enumerate(zip(got_labels, got_scores)):
        if label not in labels:
            problems.append(f"unknown label {label!r}")
            continue
        i = labels.index(label)
        if abs(score - ref_row[i]) > TOLERANCE:
            problems.append(f"{label!r}: score {score:.5f} vs reference {ref_row[i]:.5f}")
        # In the reference's top k, or tied with its k-th within the tolerance.
        if ref_row[i] < kth - TOLERANCE:
            problems.append(f"{label!r} (reference {ref_row[i]:.5f}) is not in the reference top {TOP_K}")
        if got_indices is not None and (rank >= len(got_indices) or got_indices[rank] != i):
            problems.append(f"index of {label!r} is {got_indices[rank] if rank < len(got_indices) else None}, "
                            f"not {i}")
    if any(a < b for a, b in zip(got_scores, got_scores[1:])):
        problems.append(f"scores not best first: {got_scores}")
    ref_top = ", ".join(f"{labels[i]!r} {ref_row[i]:.4f}" for i in order[:TOP_K])
    c.check(not problems, f"{what}: {', '.join(f'{l!r} {s:.4f}' for l, s in zip(got_labels, got_scores))} "
            f"vs reference {ref_top}" + (": " + "; ".join(problems) if problems else ""))


def check_video(c, root, env, model_dir, labels, video_label, images, codec, workdir, default_model=False):
    """Makes the video, runs clip-json.py on it, compares with the reference.
    default_model: no `model` given; the element's default must find the
    model through $VKCLIP_MODEL."""
    video = os.path.join(workdir, f"two images {codec}.mkv")
    p = subprocess.run([sys.executable, os.path.join(root, "scripts", "make_test_video.py"), "--out", video,
                        "--codec", codec, "--fps", "10", "--frames-per-image", str(FRAMES_PER_IMAGE)] + images,
                       capture_output=True, env=env, timeout=RUN_TIMEOUT)
    if not c.check(p.returncode == 0, f"{video_label}: make_test_video.py --codec {codec} exits 0 "
                   f"({p.stdout.decode('utf-8', 'replace').strip()[:300]} "
                   f"{p.stderr.decode('utf-8', 'replace').strip()[:300]})"):
        return None
    with open(video + ".json", encoding="utf-8") as f:
        truth = json.load(f)
    decoded = truth["decoded"]
    c.check(decoded["exact"], f"{video_label}: decodes as encoded ({decoded['decoder']} -> {decoded['format']}, "
            f"{decoded['colorimetry']})")

    if truth["rgb_lossless"]:
        ref_images = [im["reference"] for im in truth["images"]]
    else:
        # What the YUV frames mean: GStreamer's own YUV->RGB of them.
        gst_frames = testlib.reference_module("gst_frames")
        from PIL import Image
        ref_images = []
        for k, im in enumerate(truth["images"]):
            rgb = gst_frames.videoconvert_rgb(im["reference"], truth["encoded_format"], truth["colorimetry"])
            path = os.path.join(workdir, f"{codec} frame {k}.png")
            Image.fromarray(rgb, "RGB").save(path)
            ref_images.append(path)
    probs = reference_probs(model_dir, ref_images, labels)
    # Only if the two images score apart does a right answer prove the frame
    # was matched to the right image.
    apart = max(abs(a - b) for a, b in zip(probs[0], probs[1]))
    c.check(apart > 2 * TOLERANCE, f"{video_label}: the images' reference scores differ by up to {apart:.4f} "
            f"(> {2 * TOLERANCE}), so each frame's result identifies its image")

    cmd = [sys.executable, os.path.join(root, "pipelines", "clip-json.py"), video,
           "--labels", ";".join(labels), "--templates", "{}", "--top-k", str(TOP_K),
           "--timeout", str(RUN_TIMEOUT)]
    if default_model:
        env = dict(env, VKCLIP_MODEL=model_dir)
    else:
        cmd += ["--model", model_dir]
    try:
        p = subprocess.run(cmd, capture_output=True, env=env, timeout=RUN_TIMEOUT + 30)
    except subprocess.TimeoutExpired:
        c.check(False, f"{video_label}: clip-json.py finished within {RUN_TIMEOUT + 30} s")
        return None
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    if not c.check(p.returncode == 0, f"{video_label}: clip-json.py exits 0 (rc {p.returncode}, "
                   f"stderr {err.strip()[:600]!r})"):
        return None
    try:
        lines = [json.loads(x) for x in out.splitlines() if x.strip()]
    except ValueError as exc:
        c.check(False, f"{video_label}: clip-json.py prints JSON lines ({exc}): {out[:300]!r}")
        return None
    frames = truth["frames"]
    c.check(len(lines) == len(frames), f"{video_label}: {len(lines)} results for {len(frames)} frames (interval 1)")
    seen = set()
    for n, line in enumerate(lines):
        pts = line.get("pts")
        # The frame whose pts this is (Matroska keeps milliseconds).
        match = [f for f in frames if pts is not None and abs(pts * 1e9 - f["pts"]) <= 1e6]
        if not c.check(len(match) == 1, f"{video_label}: result {n} pts {pts} s is one frame's"):
            continue
        f = match[0]
        c.check(f["index"] not in seen, f"{video_label}: frame {f['index']} reported once")
        seen.add(f["index"])
        c.check(line.get("stream_time") is not None and abs(line["stream_time"] - pts) < 1e-6,
                f"{video_label}: frame {f['index']} stream_time {line.get('stream_time')} == pts (segment from 0)")
        check_result(c, f"{video_label}: frame {f['index']} (pts {pts:.3f} s, "
                        f"{os.path.basename(images[f['image']])})", line, probs[f["image"]], labels)
    return video


def check_scripts(c, root, env, video, model_dir, labels):
    """tag-file.sh prints one message line per frame; tag-camera.sh names a
    missing camera."""
    cmd = ["bash", os.path.join(root, "pipelines", "tag-file.sh"), video, model_dir, ";".join(labels),
           "top-k=2", "templates={}"]
    try:
        p = subprocess.run(cmd, capture_output=True, env=env, timeout=RUN_TIMEOUT)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        n = sum(1 for x in out.splitlines() if x.startswith('Got message #') and 'from element "clip"' in x)
        c.check(p.returncode == 0 and n == 2 * FRAMES_PER_IMAGE,
                f"tag-file.sh: rc {p.returncode}, {n} clip message lines for {2 * FRAMES_PER_IMAGE} frames"
                + ("" if p.returncode == 0 else f" (stderr {err.strip()[:300]!r})"))
    except subprocess.TimeoutExpired:
        c.check(False, f"tag-file.sh finished within {RUN_TIMEOUT} s")
    p = subprocess.run(["bash", os.path.join(root, "pipelines", "tag-camera.sh"), "/dev/no-such-camera",
                        model_dir], capture_output=True, env=env, timeout=60)
    err = p.stderr.decode("utf-8", "replace")
    c.check(p.returncode != 0 and "no camera" in err and "/dev/no-such-camera" in err,
            f"tag-camera.sh without a camera: rc {p.returncode}, {err.strip()!r}")


def main():
    fixtures = testlib.fixtures_dir()
    testlib.require_modules("numpy", "torch", "PIL.Image", "gi")
    Gst = testlib.gst_on_lavapipe()
    root = testlib.source_root()
    clip_json = testlib.clip_json_module()
    chosen = clip_json.find_plugin_path()  # meson's GST_PLUGIN_PATH_1_0 wins when set
    Gst.init(None)
    c = testlib.Checker()

    check_message_conversion(c, clip_json)
    ok, why = element_functional()
    if not ok:
        if c.failures:
            c.finish()
        plugin = chosen or os.environ.get("GST_PLUGIN_PATH_1_0") or os.environ.get("GST_PLUGIN_PATH")
        testlib.skip(f"no functional clip element yet ({why}; plugin path {plugin})")

    model_dir = os.path.join(fixtures, "clip-tiny-f32")
    with open(os.path.join(fixtures, "texts.txt"), encoding="utf-8") as f:
        texts = f.read().split("\n")
    labels = [texts[i] for i in LABEL_LINES]
    env = dict(os.environ)
    # A folder name with a space and a non-ASCII letter: the scripts must cope.
    workdir = tempfile.mkdtemp(prefix="vkclip pipelines é ")
    try:
        images = crop_images(fixtures, workdir)
        video = check_video(c, root, env, model_dir, labels, "FFV1 RGB", images, "ffv1", workdir)
        # The engine reads I420 directly, repeating each chroma sample over its
        # 2x2 pixels, where videoconvert interpolates: on these images up to
        # 5 levels apart, and scores up to 0.008 apart, inside the tolerance.
        check_video(c, root, env, model_dir, labels, "FFV1 I420", images, "ffv1-i420", workdir)
        check_video(c, root, env, model_dir, labels, "FFV1 RGB, no model property ($VKCLIP_MODEL)", images,
                    "ffv1", workdir, default_model=True)
        if video:
            check_scripts(c, root, env, video, model_dir, labels)
    finally:
        if c.failures and os.environ.get("VKCLIP_KEEP_TEST_FILES"):
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except Exception:  # noqa: BLE001 - a crash of the test is a failure, never a pass
        import traceback
        traceback.print_exc()
        print("FAIL: the test stopped on an unexpected error")
        sys.exit(1)
