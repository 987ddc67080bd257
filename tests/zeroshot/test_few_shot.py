#!/usr/bin/python3
"""Few-shot from examples (--examples DIR, the element's examples-dir) with the
built-in model, against numpy.

  test_few_shot.py VKCLIP

Example images of four labels and query images are drawn here with Pillow.
numpy computes what the classifier must be from the engine's own image and
text embeddings (`vkclip embed-image`, `vkclip embed-text`: each tested
against PyTorch elsewhere) and the checkpoint's logit_scale: label i's
weight normalise((1 - W) t_i + W m_i), m_i the normalised mean of its
examples' embeddings, scores softmax(scale * w . q). `vkclip classify
--examples DIR --examples-weight W` must give those scores (W = 0, 0.5, 1),
W = 0 must equal plain zero-shot, and the element with examples-dir gives the
same scores on the same images. Bad input: a folder naming no label, an
unreadable example image. Exit 0 pass, 1 fail, 77 skip."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "archive"))
import testlib  # noqa: E402

LABELS = ["red square", "green triangle", "blue circle", "yellow star"]
DRAW = {"red square": ("square", "red", "white"), "green triangle": ("triangle", "green", "gray"),
        "blue circle": ("circle", "blue", "white"), "yellow star": ("star", "yellow", "black")}


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    vkclip = os.path.abspath(sys.argv[1])
    testlib.prepare_vkclip(vkclip)
    testlib.require_modules("numpy", "PIL.Image")
    import numpy as np
    from PIL import Image
    import archive_videos as V
    c = testlib.Checker()
    work = tempfile.mkdtemp(prefix="vkclip few shot ")
    os.environ["VKCLIP_CACHE_DIR"] = os.path.join(work, "cache")
    try:
        examples = os.path.join(work, "examples")
        for label, (shape, colour, bg) in DRAW.items():
            os.makedirs(os.path.join(examples, label))
            for k, dx in enumerate((-40, 0, 40)):
                Image.fromarray(V.shape_frame(shape, colour, bg, dx)).save(os.path.join(examples, label, f"{k}.png"))
        with open(os.path.join(examples, "README.txt"), "w") as f:
            f.write("files beside the label folders are passed by\n")
        queries = []
        for i, (label, (shape, colour, bg)) in enumerate(DRAW.items()):
            for dx in (-20, 20):
                path = os.path.join(work, f"query {i} {dx}.png")
                Image.fromarray(V.shape_frame(shape, colour, bg, dx)).save(path)
                queries.append(path)

        def embed_images(paths):
            r = testlib.run_vkclip(vkclip, ["embed-image", *paths])
            c.check_run(r, f"embed-image of {len(paths)} images")
            return np.array([j["embedding"] for j in r.json_lines()], np.float64)

        q = embed_images(queries)
        text = testlib.run_vkclip(vkclip, ["embed-text", *[f"a photo of a {x}." for x in LABELS]])
        t = np.array([j["embedding"] for j in text.json_lines()], np.float64)
        means = []
        for label in LABELS:
            folder = os.path.join(examples, label)
            e = embed_images([os.path.join(folder, n) for n in sorted(os.listdir(folder))])
            m = e.sum(0)
            means.append(m / np.linalg.norm(m))
        means = np.array(means)
        scale = testlib.logit_scale(os.path.join(testlib.source_root(), "data", "shapes-clip"))

        def expected(weight):
            w = (1 - weight) * t + weight * means
            w /= np.linalg.norm(w, axis=1, keepdims=True)
            logits = scale * q @ w.T
            p = np.exp(logits - logits.max(1, keepdims=True))
            return p / p.sum(1, keepdims=True)

        def classify(extra):
            r = testlib.run_vkclip(vkclip, ["classify", "--labels", ";".join(LABELS), "--top-k", 4, *extra, *queries])
            c.check_run(r, f"classify {' '.join(map(str, extra))}")
            got = np.zeros((len(queries), len(LABELS)))
            for i, j in enumerate(r.json_lines()):
                for entry in j["labels"]:
                    got[i, LABELS.index(entry["label"])] = entry["score"]
            return got

        zero = classify([])
        for weight in (0.0, 0.5, 1.0):
            got = classify(["--examples", examples, "--examples-weight", weight])
            diff = float(np.abs(got - expected(weight)).max())
            c.check(diff < 1e-4, f"--examples-weight {weight}: scores are numpy's (worst difference {diff:.2e})")
            if weight == 0.0:
                c.check(float(np.abs(got - zero).max()) < 1e-6, "--examples-weight 0 is plain zero-shot")
        right = [LABELS[i // 2] for i in range(len(queries))]
        top = [LABELS[int(k)] for k in expected(1.0).argmax(1)]
        c.check(top == right, f"with the examples alone every query gets its drawn label: {top}")

        # the element, on the same query images (PNG, as drawn)
        frames = os.path.join(work, "frames")
        os.makedirs(frames)
        for i, path in enumerate(queries):
            shutil.copy(path, os.path.join(frames, f"{i:03d}.png"))
        pipeline = (f'multifilesrc location="{os.path.join(frames, "%03d.png")}" index=0 stop-index={len(queries) - 1} '
                    f'caps=image/png,framerate=10/1 ! pngdec ! clip mode=archive ! fakesink sync=false')
        r = subprocess.run(["/usr/bin/python3", os.path.join(testlib.source_root(), "pipelines", "clip-json.py"),
                            "--pipeline", pipeline, "--labels", ";".join(LABELS), "--top-k", "4",
                            "--examples-dir", examples, "--examples-weight", "0.5"],
                           capture_output=True, text=True, timeout=300)
        c.check(r.returncode == 0, f"the element with examples-dir: rc {r.returncode} {r.stderr.strip()[-300:]}")
        rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        got = np.zeros((len(rows), len(LABELS)))
        for i, j in enumerate(rows):
            for label, score in zip(j["labels"], j["scores"]):
                got[i, LABELS.index(label)] = score
        diff = float(np.abs(got - expected(0.5)).max()) if len(rows) == len(queries) else float("inf")
        c.check(diff < 1e-4, f"the element's scores with examples-weight 0.5 are numpy's ({len(rows)} frames, "
                             f"worst difference {diff:.2e})")

        # bad input
        os.makedirs(os.path.join(examples, "purple cross"))
        r = testlib.run_vkclip(vkclip, ["classify", "--labels", ";".join(LABELS), "--examples", examples, queries[0]])
        c.check(r.rc == 1 and any("purple cross" in e and "names no label" in e for e in r.error_lines()),
                f"a folder naming no label: {r.error_lines()}")
        os.rmdir(os.path.join(examples, "purple cross"))
        with open(os.path.join(examples, "red square", "broken.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\nnot really")
        r = testlib.run_vkclip(vkclip, ["classify", "--labels", ";".join(LABELS), "--examples", examples, queries[0]])
        c.check(r.rc == 1 and any("broken.png" in e for e in r.error_lines()), f"an unreadable example: {r.error_lines()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
