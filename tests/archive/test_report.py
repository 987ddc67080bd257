#!/usr/bin/python3
"""vkclip report on a video drawn here (archive_videos.py's VIDEO_A), opened
in headless Chromium.

  test_report.py VKCLIP

The page is loaded by Chromium (Debian's `chromium`, --headless): it must
render with no console message and its script must run to its end
(body[data-ready]); a screenshot is kept (VKCLIP_ARTIFACTS, else the current
folder: archive-report.png). From the DOM Chromium rendered:
- one plot line per label, over the non-blank frames, whose scores are
  softmax(logit_scale * cos) that numpy computes from the stored embeddings,
  the prompts' `vkclip embed-text` embeddings and the checkpoint's
  logit_scale (read by the PyTorch reference's safetensors reader);
- each label's top moment inside the time where it was drawn, with a picture;
- the blank spans where the drawing is black (3-5 s, and from the fade's end).
Exit 0 pass, 1 fail, 77 skip (no Chromium, python3-gst, numpy or Pillow)."""

import html
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
LABELS = ["red square", "green triangle", "blue circle", "yellow star", 'a <b>bold</b> & "quoted" \xfc thing']
DRAWN = {"red square": (0.0, 3.0), "green triangle": (5.0, 9.5)}


def chromium(args, timeout=120):
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", "--window-size=1000,1000"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    vkclip = os.path.abspath(sys.argv[1])
    testlib.prepare_vkclip(vkclip)
    testlib.gst_on_lavapipe()
    testlib.require_modules("numpy", "PIL.Image")
    if not os.access(CHROMIUM, os.X_OK):
        testlib.skip(f"no {CHROMIUM} (Debian's chromium; scripts/install-deps.sh --tests installs it)")
    import numpy as np
    import archive_videos as V
    c = testlib.Checker()
    work = tempfile.mkdtemp(prefix="vkclip report ")
    try:
        video = os.path.join(work, "a.mkv")
        V.encode(V.frames_of(V.VIDEO_A), video, "mkv")
        db = os.path.join(work, "archive.db")
        c.check_run(testlib.run_vkclip(vkclip, ["index", "--db", db, "--fps", 2, video], timeout=600), "index a.mkv")
        page = os.path.join(work, "report.html")
        r = testlib.run_vkclip(vkclip, ["report", "--db", db, "--labels", ";".join(LABELS), "-o", page, video])
        c.check_run(r, "vkclip report")
        if r.rc != 0:
            c.finish()
        with open(page) as f:
            text = f.read()
        c.check("<b>" not in text and "&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;" in text,
                "a label's markup is escaped, not rendered")
        c.check("http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text,
                "the page names nothing on the network")

        dom = chromium(["--dump-dom", "file://" + page])
        console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
        c.check(dom.returncode == 0 and not console, f"Chromium renders it with no console message: {console[:3]}")
        c.check('data-ready="1"' in dom.stdout, "the page's script ran to its end (body[data-ready])")
        shot = os.path.join(os.environ.get("VKCLIP_ARTIFACTS", os.getcwd()), "archive-report.png")
        s = chromium([f"--screenshot={shot}", "file://" + page])
        c.check(s.returncode == 0 and os.path.getsize(shot) > 10000, f"screenshot kept: {shot}")

        # the series against numpy
        con = sqlite3.connect(db)
        rows = con.execute("SELECT pts_ns, flags, embedding FROM frames ORDER BY pts_ns").fetchall()
        con.close()
        content = [(pts / 1e9, np.frombuffer(e, np.float32).astype(np.float64)) for pts, flags, e in rows if not flags & 1]
        prompts = testlib.run_vkclip(vkclip, ["embed-text", *[f"a photo of a {x}." for x in LABELS]]).json_lines()
        cls = np.array([p["embedding"] for p in prompts], np.float64)
        scale = testlib.logit_scale(os.path.join(testlib.source_root(), "data", "shapes-clip"))
        logits = scale * np.array([cls @ e for _, e in content])
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        series = {html.unescape(m.group(1)): (m.group(2), m.group(3)) for m in re.finditer(
            r'<polyline class="series" data-label="([^"]*)"[^>]*data-times="([^"]*)" data-scores="([^"]*)"', dom.stdout)}
        c.check(sorted(series) == sorted(LABELS), f"one line per label: {sorted(series)}")
        worst = 0.0
        for i, label in enumerate(LABELS):
            times, scores = (np.array([float(v) for v in x.split()]) for x in series.get(label, ("", "")))
            if len(times) != len(content) or np.abs(times - [t for t, _ in content]).max() > 1e-3:
                worst = float("inf")
                continue
            worst = max(worst, float(np.abs(scores - probs[:, i]).max()))
        c.check(worst < 1e-4, f"each line's scores are numpy's softmax over the labels (worst difference {worst:.2e})")

        moments = {html.unescape(m.group(1)): (float(m.group(2)), m.group(3)) for m in re.finditer(
            r'<figure class="moment" data-label="([^"]*)" data-time="([^"]*)"[^>]*>(<img[^>]*>)?', dom.stdout)}
        for label, (start, end) in DRAWN.items():
            t, img = moments.get(label, (-1.0, None))
            c.check(start <= t < end and img and "data:image/jpeg;base64," in img,
                    f"{label}'s top moment at {t} s lies in {start}-{end} s and has a picture")
        spans = [(float(a), float(b)) for a, b in re.findall(r'<li class="blank-span" data-start="([^"]*)" data-end="([^"]*)"',
                                                            dom.stdout)]
        c.check(any(abs(a - 3.0) < 1e-6 and abs(b - 5.0) < 1e-6 for a, b in spans) and any(b == 10.0 for _, b in spans),
                f"blank spans 3-5 s and the fade's end to 10 s: {spans}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
