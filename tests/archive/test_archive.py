#!/usr/bin/python3
"""vkclip index and search on videos rendered here (archive_videos.py), with
the built-in model: what each check expects comes from how the videos were
drawn, never from vkclip.

  test_archive.py VKCLIP

1. A folder with a VP8/Matroska video, a Motion-JPEG/AVI one and a file of
   random bytes: the two are indexed at 2 frames a second (as many frames as
   their length gives), the damaged one is reported by name and skipped,
   exit 1.
2. Blank frames: sampled frames drawn flat or faded (per-channel spread
   under 2 of 255 in the drawing) are flagged, frames with content (spread
   over 8) are not.
3. Search: each scene's description finds its video and time range (within
   one sampling interval), by text and by an example image; blank frames are
   left out unless --keep-blank; the scores are the cosines that numpy gives
   from the stored embeddings and the query's `vkclip embed-text` embedding.
   The approximate index (forced) finds the same moments, is cached, and is
   rebuilt after the archive changes.
   classify-video: each 3-second segment gets the label of what was drawn
   there, from the files and from the index alike; a video's ranking is
   numpy's over the mean of its stored non-blank embeddings.
4. Resume: a second run finds every file unchanged (also after a touch); a
   replaced file is indexed again and its old frames are gone.
5. kill -9 in the middle of a run, then a run to the end: the database holds
   each video once, with exactly the frames of an uninterrupted run.
6. Two indexers at once on one new database: both succeed, each file is
   indexed by one of them, the frames are those of a single run. dedup finds
   exactly the videos drawn alike (encoded as VP8 twice and as Motion JPEG).
   On a terminal the indexer draws a progress bar; in a pipe it does not.
7. A database made with one model refuses another.

Exit 0 pass, 1 fail, 77 skip (no python3-gst, numpy or Pillow)."""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

FPS = 2.0
INTERVAL = 1 / FPS


def index(vkclip, db, paths, extra=()):
    return testlib.run_vkclip(vkclip, ["index", "--db", db, "--fps", FPS, *extra, *paths], timeout=600)


def search(vkclip, db, query, extra=()):
    args = ["search", "--db", db, "--json", "--top", 5, *extra]
    return testlib.run_vkclip(vkclip, args + ([query] if query else []))


def frames_by_video(db):
    con = sqlite3.connect(db)
    rows = con.execute("SELECT v.path, f.pts_ns, f.flags FROM frames f JOIN videos v ON v.id = f.video "
                       "ORDER BY v.path, f.pts_ns").fetchall()
    con.close()
    out = {}
    for path, pts, flags in rows:
        out.setdefault(os.path.basename(path), []).append((pts, flags))
    return out


def consistent(db):
    """Each video's frame count matches its rows; no claim lingers."""
    con = sqlite3.connect(db)
    bad = con.execute("SELECT count(*) FROM videos v WHERE v.frames != "
                      "(SELECT count(*) FROM frames f WHERE f.video = v.id)").fetchone()[0]
    claims = con.execute("SELECT count(*) FROM claims").fetchone()[0]
    dup = con.execute("SELECT count(*) - count(DISTINCT path) FROM videos").fetchone()[0]
    con.close()
    return bad == 0 and dup == 0, claims


def check_moment(c, run, what, video, start, end):
    hits = run.json_lines() if run.rc == 0 else []
    top = hits[0] if hits else {}
    ok = (bool(top) and os.path.basename(top.get("video", "")) == video and
          abs(top["start"] - start) <= INTERVAL + 1e-6 and abs(top["end"] - end) <= INTERVAL + 1e-6)
    c.check(ok, f"search {what!r}: best moment {top or run.describe()} is {video} {start}-{end} s")
    return hits


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    vkclip = os.path.abspath(sys.argv[1])
    testlib.prepare_vkclip(vkclip)
    testlib.gst_on_lavapipe()
    testlib.require_modules("numpy", "PIL.Image")
    import numpy as np
    import archive_videos as V
    c = testlib.Checker()
    work = tempfile.mkdtemp(prefix="vkclip archive ")  # a space in every path
    try:
        folder = os.path.join(work, "videos")
        os.makedirs(os.path.join(folder, "sub"))
        frames_a, frames_b = V.frames_of(V.VIDEO_A), V.frames_of(V.VIDEO_B)
        V.encode(frames_a, os.path.join(folder, "a.mkv"), "mkv")
        V.encode(frames_b, os.path.join(folder, "sub", "b.avi"), "avi")
        os.symlink("..", os.path.join(folder, "sub", "loop"))  # a link to a parent folder is not followed
        with open(os.path.join(folder, "damaged.mkv"), "wb") as f:
            f.write(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
        db = os.path.join(work, "archive.db")

        # 1. index a folder
        r = index(vkclip, db, [folder])
        lines = {os.path.basename(j.get("file", "")): j for j in r.json_lines()}
        c.check(len(r.json_lines()) == 3, f"three files, each once (the link to .. not followed): {len(r.json_lines())} lines")
        c.check(r.rc == 1, f"index with a damaged file exits 1: {r.describe()}")
        want = {"a.mkv": int(10 * FPS), "b.avi": int(6 * FPS)}
        for name, count in want.items():
            j = lines.get(name, {})
            c.check(j.get("status") == "indexed" and j.get("frames") == count,
                    f"{name} indexed with {count} frames: {j}")
        c.check(lines.get("damaged.mkv", {}).get("status") == "failed", f"damaged.mkv failed: {lines.get('damaged.mkv')}")
        errors = r.error_lines()
        c.check(len(errors) == 1 and "damaged.mkv" in errors[0] and "skipped" in errors[0],
                f"one error line naming damaged.mkv: {errors}")

        # 2. blank flags against the drawing
        stored = frames_by_video(db)
        wrong = []
        for name, drawn in (("a.mkv", frames_a), ("b.avi", frames_b)):
            for pts, flags in stored.get(name, []):
                spread = V.channel_stddev(drawn[int(round(pts / 1e9 * V.FPS))])
                blank = bool(flags & 1)
                if (spread < 2 and not blank) or (spread > 8 and blank):
                    wrong.append((name, pts / 1e9, round(spread, 1), blank))
        nblank = sum(1 for _, f in stored.get("a.mkv", []) if f & 1)
        c.check(not wrong and nblank >= 5, f"blank flags follow the drawing ({nblank} blank in a.mkv): wrong {wrong}")

        # 3. search by text, by image, blank frames
        check_moment(c, search(vkclip, db, "a photo of a red square."), "red square", "a.mkv", 0.0, 3.0)
        check_moment(c, search(vkclip, db, "a photo of a blue circle."), "blue circle", "b.avi", 0.0, 3.0)
        check_moment(c, search(vkclip, db, "a photo of a yellow star."), "yellow star", "b.avi", 3.0, 6.0)
        green = search(vkclip, db, "a photo of a green triangle.")
        top = green.json_lines()[0] if green.rc == 0 and green.json_lines() else {}
        c.check(os.path.basename(top.get("video", "")) == "a.mkv" and abs(top.get("start", -9) - 5.0) <= INTERVAL
                and 8.0 - 1e-6 <= top.get("end", 0) <= 9.5 + 1e-6,
                f"search 'green triangle': best moment {top} is a.mkv from 5 s to the fade (8-9.5 s)")
        from PIL import Image
        example = os.path.join(work, "example blue circle.png")
        Image.fromarray(V.shape_frame("circle", "blue", "white", 30)).save(example)
        check_moment(c, search(vkclip, db, None, ["--image", example]), "--image blue circle", "b.avi", 0.0, 3.0)
        dark = search(vkclip, db, "a black screen", ["--top", 50])
        in_black = [h for h in dark.json_lines() if h["video"].endswith("a.mkv") and h["start"] < 5 and h["end"] > 3]
        c.check(dark.rc == 0 and not in_black, f"without --keep-blank no moment lies in the black 3-5 s: {in_black}")
        dark = search(vkclip, db, "a black screen", ["--top", 50, "--keep-blank"])
        in_black = [h for h in dark.json_lines() if h["video"].endswith("a.mkv") and h["start"] < 5 and h["end"] > 3]
        c.check(dark.rc == 0 and in_black, f"with --keep-blank the black 3-5 s is found: {dark.stdout[:300]}")
        # the scores: numpy cosines of the stored embeddings and the query
        q = testlib.run_vkclip(vkclip, ["embed-text", "a photo of a red square."]).json_lines()[0]["embedding"]
        con = sqlite3.connect(db)
        rows = con.execute("SELECT embedding FROM frames WHERE (flags & 1) = 0").fetchall()
        con.close()
        best = max(float(np.frombuffer(e, np.float32) @ np.asarray(q, np.float32)) for (e,) in rows)
        got = search(vkclip, db, "a photo of a red square.").json_lines()
        c.check(got and abs(got[0]["score"] - best) < 1e-5, f"best score {got[0]['score'] if got else None} = numpy's {best:.6f}")

        # 3a. the approximate index (forced on this small archive) finds the same moments, and is cached
        for query in ("a photo of a red square.", "a photo of a yellow star."):
            exact = search(vkclip, db, query, ["--exact"]).json_lines()[:1]
            approx = search(vkclip, db, query, ["--approximate"])
            got = approx.json_lines()[:1]
            same = exact and got and all(exact[0][f] == got[0][f] for f in ("video", "start", "end")) and \
                abs(exact[0]["score"] - got[0]["score"]) < 0.02
            c.check(approx.rc == 0 and same, f"--approximate {query!r}: {got} as exact {exact}")
        c.check(os.path.isfile(db + ".ivf"), "the approximate index is cached beside the database")
        again = search(vkclip, db, "a photo of a red square.", ["--approximate"])
        c.check("built the approximate" not in again.stderr, f"a second search reads the cache: {again.stderr.strip()}")

        # 3b. video-level classification, from the files and from the index
        labels = "red square;green triangle;blue circle;yellow star"
        videos = [os.path.join(folder, "a.mkv"), os.path.join(folder, "sub", "b.avi")]
        from_files = testlib.run_vkclip(vkclip, ["classify-video", "--labels", labels, "--fps", FPS, "--segment", 3,
                                                 "--top-k", 4, *videos], timeout=600)
        from_db = testlib.run_vkclip(vkclip, ["classify-video", "--db", db, "--labels", labels, "--segment", 3,
                                              "--top-k", 4, *videos])
        c.check_run(from_files, "classify-video on the files")
        c.check_run(from_db, "classify-video --db")
        rows = {(os.path.basename(j["file"]), j.get("start")): j for j in from_files.json_lines()}
        expected = {("a.mkv", 0.0): "red square", ("a.mkv", 6.0): "green triangle", ("b.avi", 0.0): "blue circle",
                    ("b.avi", 3.0): "yellow star"}
        for key, label in expected.items():
            got = rows.get(key, {}).get("labels", [{}])[0].get("label")
            c.check(got == label, f"classify-video {key[0]} segment from {key[1]} s: {got} (drawn: {label})")
        whole_a = rows.get(("a.mkv", None), {})
        c.check(whole_a.get("frames") == int(10 * FPS) - nblank and
                {x["label"] for x in whole_a.get("labels", [])[:2]} == {"red square", "green triangle"},
                f"a.mkv as a whole: its non-blank frames, red square and green triangle first: {whole_a}")
        db_rows = {(os.path.basename(j["file"]), j.get("start")): j for j in from_db.json_lines()}
        same = rows.keys() == db_rows.keys() and all(
            [x["label"] for x in rows[k]["labels"]] == [x["label"] for x in db_rows[k]["labels"]] and
            all(abs(x["score"] - y["score"]) < 1e-5 for x, y in zip(rows[k]["labels"], db_rows[k]["labels"]))
            for k in rows)
        c.check(same, f"classify-video --db gives what the files give ({len(db_rows)} lines)")
        # the whole-video ranking by hand: numpy over the stored embeddings of a.mkv (softmax keeps the order)
        con = sqlite3.connect(db)
        emb = np.array([np.frombuffer(e, np.float32) for (e,) in con.execute(
            "SELECT f.embedding FROM frames f JOIN videos v ON v.id = f.video WHERE v.path LIKE '%a.mkv' "
            "AND (f.flags & 1) = 0 ORDER BY f.pts_ns")], np.float64)
        con.close()
        mean = emb.mean(0)
        mean /= np.linalg.norm(mean)
        texts = testlib.run_vkclip(vkclip, ["embed-text", *[f"a photo of a {x}." for x in labels.split(";")]]).json_lines()
        cls = np.array([t["embedding"] for t in texts], np.float64)
        logits = cls @ mean
        order = [labels.split(";")[i] for i in np.argsort(-logits)]
        c.check([x["label"] for x in whole_a.get("labels", [])] == order,
                f"a.mkv's ranking is numpy's over the mean of its stored embeddings: {order}")

        # 3c. a lossless libav codec whose decoder gives 12-bit planar RGB (GBRA_12LE), every frame of a 30 fps
        # video whose container rounds timestamps to the millisecond
        ffv1 = os.path.join(work, "ffv1.mkv")
        p = subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "pattern=ball", "num-buffers=30", "!",
                            "video/x-raw,width=320,height=240,framerate=30/1", "!", "videoconvert", "!", "avenc_ffv1",
                            "!", "matroskamux", "!", "filesink", f"location={ffv1}"], capture_output=True, text=True)
        if p.returncode == 0:
            r = testlib.run_vkclip(vkclip, ["index", "--db", os.path.join(work, "ffv1.db"), "--fps", 30, ffv1])
            got = r.json_lines()[0] if r.rc == 0 and r.json_lines() else {}
            c.check(got.get("frames") == 30, f"FFV1 at 30 fps sampled at 30: all 30 frames: {got or r.describe()}")
        else:
            print(f"note: no FFV1 encoder (gstreamer1.0-libav): {p.stderr.strip()[:200]}")

        # 4. resume, touch, replace
        r = index(vkclip, db, [folder])
        statuses = {os.path.basename(j["file"]): j["status"] for j in r.json_lines()}
        c.check(statuses.get("a.mkv") == "unchanged" and statuses.get("b.avi") == "unchanged",
                f"second run: unchanged files passed by: {statuses}")
        os.utime(os.path.join(folder, "a.mkv"), (time.time() + 5, time.time() + 5))
        r = index(vkclip, db, [os.path.join(folder, "a.mkv")])
        c.check(r.rc == 0 and r.json_lines() and r.json_lines()[0]["status"] == "unchanged",
                f"touched a.mkv (same bytes) is unchanged: {r.stdout.strip()}")
        shutil.copy(os.path.join(folder, "a.mkv"), os.path.join(folder, "sub", "b.avi"))
        r = index(vkclip, db, [os.path.join(folder, "sub", "b.avi")])
        after = frames_by_video(db)
        c.check(r.rc == 0 and len(after.get("b.avi", [])) == int(10 * FPS),
                f"replaced b.avi indexed again with its new {int(10 * FPS)} frames: {len(after.get('b.avi', []))}")
        shutil.copy(os.path.join(folder, "a.mkv"), os.path.join(folder, "sub", "b.avi"))
        rebuilt = search(vkclip, db, "a photo of a red square.", ["--approximate"])
        c.check("built the approximate" in rebuilt.stderr, f"after a change the cached index is rebuilt: {rebuilt.stderr.strip()}")

        # 5. kill -9 mid-run, then finish; 6. two indexers at once
        many = os.path.join(work, "many")
        os.makedirs(many)
        frames_c = V.frames_of(V.VIDEO_C)
        for i in range(4):
            V.encode(frames_c if i % 2 else frames_a, os.path.join(many, f"v{i}.mkv"), "mkv")
        V.encode(frames_a, os.path.join(many, "v4.avi"), "avi")  # a re-encoding of v0 and v2
        reference_db = os.path.join(work, "reference.db")
        r = index(vkclip, reference_db, [many])
        c.check_run(r, "uninterrupted run over 5 videos")
        reference = frames_by_video(reference_db)
        killed_db = os.path.join(work, "killed.db")
        proc = subprocess.Popen([vkclip, "index", "--db", killed_db, "--fps", str(FPS), many],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        first = proc.stdout.readline()  # one file committed; the next one is under way
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ok, _ = consistent(killed_db)
        partial = frames_by_video(killed_db)
        c.check(first and ok and all(partial[k] == reference[k] for k in partial),
                f"after kill -9: {len(partial)} of 5 videos there, each whole")
        r = index(vkclip, killed_db, [many])
        ok, claims = consistent(killed_db)
        c.check(r.rc == 0 and ok and claims == 0 and frames_by_video(killed_db) == reference,
                f"resumed after kill -9: the frames of an uninterrupted run ({r.describe()})")
        shared_db = os.path.join(work, "shared.db")
        procs = [subprocess.Popen([vkclip, "index", "--db", shared_db, "--fps", str(FPS), many],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        indexed = [json.loads(line)["file"] for out, _ in outs for line in out.splitlines()
                   if json.loads(line)["status"] == "indexed"]
        ok, claims = consistent(shared_db)
        c.check(all(p.returncode == 0 for p in procs) and sorted(indexed) == sorted(set(indexed)) and len(indexed) == 5
                and ok and claims == 0 and frames_by_video(shared_db) == reference,
                f"two indexers at once: rc {[p.returncode for p in procs]}, {len(indexed)} files indexed once each, "
                f"frames as one run ({[e.strip()[-300:] for _, e in outs if e.strip()]})")

        # 6b. duplicates: the same drawing encoded twice as VP8 and once as Motion JPEG, and twice another
        r = testlib.run_vkclip(vkclip, ["dedup", "--db", reference_db])
        clips = {tuple(sorted(os.path.basename(v) for v in j["videos"])) for j in r.json_lines() if j.get("kind") == "clip"}
        want = {("v0.mkv", "v2.mkv"), ("v0.mkv", "v4.avi"), ("v2.mkv", "v4.avi"), ("v1.mkv", "v3.mkv")}
        c.check(r.rc == 0 and clips == want, f"dedup finds the duplicate clips {sorted(want)}: {sorted(clips)}")
        groups = [j for j in r.json_lines() if j.get("kind") == "frames"]
        mixed = [g for g in groups if len({os.path.basename(f["video"]) in ("v1.mkv", "v3.mkv") for f in g["frames"]}) > 1]
        c.check(groups and not mixed, f"{len(groups)} frame groups, none joining the two drawings: {mixed[:1]}")

        # 6c. progress: a bar redrawn in place on a terminal (script(1) gives the indexer one), none in a pipe
        tty_db = os.path.join(work, "tty.db")
        if shutil.which("script"):
            cmd = " ".join(f"'{a}'" for a in [vkclip, "index", "--db", tty_db, "--fps", str(FPS), many])
            p = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=600,
                               env=dict(os.environ, TERM="dumb"))
            bar = [line for line in re.split(r"[\r\n]", p.stdout) if "frames/s" in line and "ETA" in line]
            c.check(p.returncode == 0 and bar and "[" + "#" * 24 + "] files 5/5" in bar[-1] and "\033[K" in bar[-1],
                    f"on a terminal a progress bar redrawn in place, full at the end: {bar[-1:]}")
        r = index(vkclip, tty_db, [many])
        c.check(r.rc == 0 and "\r" not in r.stderr and "\033" not in r.stderr,
                f"in a pipe no bar, no escapes: {r.stderr[:200]!r}")

        # 7. another model
        fixtures = os.environ.get("VKCLIP_FIXTURES", "")
        other = os.path.join(fixtures, "clip-tiny-f32")
        if os.path.isfile(os.path.join(other, "config.json")):
            r = index(vkclip, db, [os.path.join(folder, "a.mkv")], ["--model", other])
            c.check(r.rc == 1 and any("another model" in e for e in r.error_lines()),
                    f"another model is refused: {r.describe()}")
        else:
            print("note: no fixtures, the other-model check is left out")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    sys.exit(main())
