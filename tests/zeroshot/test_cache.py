"""vkclip classify's classifier cache: a hit prints what the miss printed;
labels, their order, templates and the model select the entry; a damaged
entry is rebuilt; an unwritable cache dir is no error; --no-cache writes
nothing; the cache dir falls back to $XDG_CACHE_HOME/vkclip, then
~/.cache/vkclip. Outputs are also checked against zs_common.reference_probs
(clip_torch.py, tokenizer.py, numpy).

usage: test_cache.py VKCLIP
"""

import glob
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zs_common as zs  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

PROB_DIFF = 1e-4
LABELS = ["tabby cat", "naïve café", "red car", "Tom & Jerry", "一只猫"]
TEMPLATES = ["a photo of a {}.", "a drawing of the {}"]
MODEL_OPTS = dict(text_width=64, text_layers=2, text_heads=2, embed=32, act="quick_gelu", dtype="F32")
# magic[8], version, dim, labels, sigmoid (u32), scale, bias (f32), key_len, weights hash (u64); the key follows
HEADER_BYTES = 48
KEY_LEN_AT = 32


class Case:
    """Runs classify on the two test images with one cache setting."""

    def __init__(self, c, vkclip, images):
        self.c, self.vkclip, self.images = c, vkclip, images

    def run(self, what, model, labels=LABELS, templates=TEMPLATES, env=None, extra=()):
        args = ["classify", "--model", model, "--labels", ";".join(labels), "--top-k", len(labels)]
        args += [a for t in templates for a in ("--template", t)] + list(extra) + self.images
        run = testlib.run_vkclip(self.vkclip, args, env=env)
        self.c.check_run(run, what)
        state = ("cache" if "read from the cache" in run.stderr else
                 "built" if "built in" in run.stderr else "?")
        return run, state

    def expect(self, what, model, want_state, labels=LABELS, templates=TEMPLATES, same_as=None,
               reference=None, env=None, extra=()):
        """Checks the build/cache message, then the output: equal to same_as's
        stdout, and within PROB_DIFF of the reference probabilities."""
        run, state = self.run(what, model, labels, templates, env, extra)
        self.c.check(state == want_state, f"{what}: stderr says {state!r} (want {want_state!r}): "
                     f"{run.stderr.strip()[:200]!r}")
        if same_as is not None:
            self.c.check(run.stdout == same_as, f"{what}: output identical to the first run's"
                         + ("" if run.stdout == same_as else f"\n       {run.stdout[:300]!r}\n"
                            f"    vs {same_as[:300]!r}"))
        if reference is not None and run.rc == 0:
            rows = run.json_lines()
            diffs = [abs(e["score"] - reference[i][labels.index(e["label"])])
                     for i, row in enumerate(rows) for e in row["labels"]]
            ok = len(rows) == len(self.images) and len(diffs) == len(self.images) * len(labels)
            self.c.check(ok and max(diffs) < PROB_DIFF,
                         f"{what}: max prob diff vs reference {max(diffs or [1]):.2e} (< {PROB_DIFF:g})")
        return run


def entries(folder):
    return sorted(glob.glob(os.path.join(folder, "classifier-*.bin")))


def flip_weights(data):
    """XOR the sign/exponent byte of every tenth float after the key."""
    (key_len,) = struct.unpack_from("<Q", data, KEY_LEN_AT)
    start = HEADER_BYTES + key_len
    for off in range(start + 3, len(data), 40):
        data[off] ^= 0x41
    return data


def fewer_labels(data):
    """A self-consistent file for the first label only: the count says 1 and
    the weights are cut to one row, while the key still lists every label."""
    (dim,) = struct.unpack_from("<I", data, 12)
    (key_len,) = struct.unpack_from("<Q", data, KEY_LEN_AT)
    struct.pack_into("<I", data, 16, 1)
    return data[:HEADER_BYTES + key_len + 4 * dim]


def main():
    vkclip, work = zs.setup(sys.argv)
    clip_torch, tokenizer = zs.require_references()
    c = testlib.Checker()
    cache = os.environ["VKCLIP_CACHE_DIR"]
    model = zs.make_random_model(os.path.join(work, "model"), seed=31, **MODEL_OPTS)
    images = zs.write_test_images(work)
    case = Case(c, vkclip, images)
    ref = zs.reference_probs(clip_torch, tokenizer, model, LABELS, TEMPLATES, images)

    first = case.expect("first run", model, "built", reference=ref)
    files = entries(cache)
    c.check(len(files) == 1 and not glob.glob(os.path.join(cache, "*.tmp")),
            f"first run left one cache entry and no temporary file: {os.listdir(cache) if os.path.isdir(cache) else 'no dir'}")
    if not files:
        c.finish()
    entry = files[0]
    size = os.path.getsize(entry)
    case.expect("second run", model, "cache", same_as=first.stdout)

    # What selects an entry.
    reordered = LABELS[::-1]
    case.expect("labels reordered", model, "built", labels=reordered,
                reference=ref[:, ::-1])
    case.expect("one template changed", model, "built", templates=[TEMPLATES[0], "a sketch of the {}"],
                reference=zs.reference_probs(clip_torch, tokenizer, model, LABELS,
                                             [TEMPLATES[0], "a sketch of the {}"], images))
    case.expect("templates reordered", model, "built", templates=TEMPLATES[::-1], reference=ref)
    other_seed = zs.make_random_model(os.path.join(work, "other-seed"), seed=32, **MODEL_OPTS)
    case.expect("model with another seed", other_seed, "built",
                reference=zs.reference_probs(clip_torch, tokenizer, other_seed, LABELS, TEMPLATES, images))
    # Same seed, one more text layer: the projection and final LayerNorm are
    # drawn identically (make_random_clip.py seeds each tensor by name), the
    # text embeddings are not.
    deeper = zs.make_random_model(os.path.join(work, "deeper"), seed=31,
                                  **dict(MODEL_OPTS, text_layers=3))
    case.expect("same seed, 3 text layers instead of 2", deeper, "built",
                reference=zs.reference_probs(clip_torch, tokenizer, deeper, LABELS, TEMPLATES, images))
    case.expect("back to the first model", model, "cache", same_as=first.stdout)

    # Damaged entries are rebuilt and rewritten.
    damages = [
        ("truncated to half", lambda d: d[:len(d) // 2]),
        ("empty", lambda d: bytearray()),
        ("magic flipped", lambda d: bytearray([d[0] ^ 0xff]) + d[1:]),
        ("key byte flipped", lambda d: d[:HEADER_BYTES + 5] + bytearray([d[HEADER_BYTES + 5] ^ 0x20])
         + d[HEADER_BYTES + 6:]),
        ("garbage appended", lambda d: d + b"\x00garbage"),
        ("weight bytes flipped", flip_weights),
        ("label count cut to 1 with the file to match", fewer_labels),
    ]
    with open(entry, "rb") as f:
        good = f.read()
    for what, change in damages:
        with open(entry, "wb") as f:  # each damage starts from the good entry
            f.write(change(bytearray(good)))
        case.expect(f"cache entry {what}", model, "built", same_as=first.stdout, reference=ref)
        c.check(os.path.getsize(entry) == size, f"cache entry {what}: rewritten, "
                f"{os.path.getsize(entry)} bytes (was {size})")
        case.expect(f"cache entry {what}, next run", model, "cache", same_as=first.stdout)
    os.remove(entry)
    os.mkdir(entry)
    case.expect("cache entry is a directory", model, "built", same_as=first.stdout)
    os.rmdir(entry)

    # Unwritable cache dirs are no error.
    blocker = os.path.join(work, "a-regular-file")
    with open(blocker, "w") as f:
        f.write("not a folder\n")
    for n in (1, 2):
        case.expect(f"cache dir under a regular file, run {n}", model, "built", same_as=first.stdout,
                    env={"VKCLIP_CACHE_DIR": os.path.join(blocker, "cache")})
    if os.geteuid() != 0:
        locked = os.path.join(work, "read-only")
        os.mkdir(locked, 0o555)
        case.expect("read-only cache dir", model, "built", same_as=first.stdout,
                    env={"VKCLIP_CACHE_DIR": locked})
        c.check(os.listdir(locked) == [], "read-only cache dir: still empty")
    else:
        print("note: running as root, a read-only folder is writable; that case is skipped")

    # --no-cache neither writes nor reads.
    fresh = os.path.join(work, "fresh")
    case.expect("--no-cache, empty cache dir", model, "built", same_as=first.stdout,
                env={"VKCLIP_CACHE_DIR": fresh}, extra=["--no-cache"])
    c.check(not os.path.exists(fresh) or os.listdir(fresh) == [],
            f"--no-cache wrote nothing: {os.listdir(fresh) if os.path.exists(fresh) else 'no dir'}")
    case.expect("refill", model, "built", same_as=first.stdout)
    before = {p: os.stat(p).st_mtime_ns for p in entries(cache)}
    case.expect("--no-cache, entry present", model, "built", same_as=first.stdout, extra=["--no-cache"])
    after = {p: os.stat(p).st_mtime_ns for p in entries(cache)}
    c.check(before == after, f"--no-cache left the cache as it was ({len(before)} -> {len(after)} entries)")

    # Four processes filling one empty cache at once: all succeed alike and
    # leave one whole entry (each writes a temporary file, then renames it).
    shared = os.path.join(work, "shared")
    argv = [vkclip, "classify", "--model", model, "--labels", ";".join(LABELS), "--top-k", str(len(LABELS))]
    argv += [a for t in TEMPLATES for a in ("--template", t)] + images
    env = dict(os.environ, VKCLIP_CACHE_DIR=shared)
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) for _ in range(4)]
    results = [p.communicate(timeout=180) for p in procs]
    outs = [out.decode() for out, _ in results]
    c.check(all(p.returncode == 0 for p in procs) and all(o == first.stdout for o in outs),
            f"4 processes at once: rc {[p.returncode for p in procs]}, outputs equal the first run's "
            f"{sum(o == first.stdout for o in outs)}/4")
    others = [n for n in os.listdir(shared) if not (n.startswith("weights-") and n.endswith(".digest"))]
    c.check(len(entries(shared)) == 1 and others == [os.path.basename(entries(shared)[0])] and
            len(os.listdir(shared)) == 2,
            f"4 processes at once: one entry and the weight file's digest record, nothing else: "
            f"{os.listdir(shared)}")
    case.expect("after 4 processes", model, "cache", same_as=first.stdout, env={"VKCLIP_CACHE_DIR": shared})

    # Where the cache lives without VKCLIP_CACHE_DIR.
    xdg = os.path.join(work, "xdg")
    case.expect("XDG_CACHE_HOME", model, "built", same_as=first.stdout,
                env={"VKCLIP_CACHE_DIR": None, "XDG_CACHE_HOME": xdg})
    c.check(len(entries(os.path.join(xdg, "vkclip"))) == 1, "XDG_CACHE_HOME: one entry in $XDG_CACHE_HOME/vkclip")
    home = os.path.join(work, "home")
    os.mkdir(home)
    case.expect("HOME", model, "built", same_as=first.stdout,
                env={"VKCLIP_CACHE_DIR": None, "XDG_CACHE_HOME": None, "HOME": home})
    case.expect("HOME again", model, "cache", same_as=first.stdout,
                env={"VKCLIP_CACHE_DIR": None, "XDG_CACHE_HOME": None, "HOME": home})
    c.check(len(entries(os.path.join(home, ".cache", "vkclip"))) == 1, "HOME: one entry in ~/.cache/vkclip")
    c.finish()


if __name__ == "__main__":
    main()
