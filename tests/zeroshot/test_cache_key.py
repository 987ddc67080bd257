"""What the classifier cache key covers, and what a cache that cannot be
written says (issue 8, items 1 and 12):

- the tokenizer files: merges.txt cut to its first 1000 lines is refused (it
  no longer makes every token of vocab.json), with the cache as without it;
  cut together with vocab.json, consistently, it is a new classifier: the
  result equals --no-cache's and the reference's (tokenizer.py on the cut
  files, clip_torch), not the cached one; the files put back hit the first
  entry again;
- every byte of the text tower: one token-embedding row that a sampling key
  would not read, edited in place with the file's mtime put back, misses the
  cache; the result equals --no-cache's and the reference's on the edited
  weights;
- a weight file's digest is taken once and remembered in a record in the
  cache dir: a record that says another digest (for the same file as it is)
  is believed, so a second run did not hash the weights again;
- an unwritable cache dir: the classification succeeds with the output of a
  writable one, and stderr holds exactly one warning line, naming the folder
  and the reason; --no-cache warns about nothing.

usage: test_cache_key.py VKCLIP
"""

import glob
import json
import os
import shutil
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zs_common as zs  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

LABELS = ["tabby cat", "golden retriever", "red sports car"]
TEMPLATE = "a photo of a {}."
PROB_DIFF = 1e-4
TOKEN_EMBEDDING = "text_model.embeddings.token_embedding.weight"


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


class Case:
    def __init__(self, c, vkclip, images):
        self.c, self.vkclip, self.images = c, vkclip, images

    def run(self, model, env=None, extra=()):
        args = ["classify", "--model", model, "--labels", ";".join(LABELS), "--top-k", len(LABELS),
                "--template", TEMPLATE] + list(extra) + self.images
        run = testlib.run_vkclip(self.vkclip, args, env=env)
        run.state = ("cache" if "read from the cache" in run.stderr else
                     "built" if "built in" in run.stderr else "?")
        return run

    def probs(self, run):
        rows = run.json_lines()
        out = np.full((len(self.images), len(LABELS)), np.nan)
        for i, row in enumerate(rows[:len(self.images)]):
            for e in row["labels"]:
                out[i, LABELS.index(e["label"])] = e["score"]
        return out

    def near(self, run, reference):
        return run.rc == 0 and float(np.nanmax(np.abs(self.probs(run) - reference))) < PROB_DIFF and \
            not np.isnan(self.probs(run)).any()


def cut_tokenizer(model, lines, consistent):
    """merges.txt cut to its first `lines` lines (the header one of them);
    with consistent, vocab.json cut to the tokens those merges still make
    (byte symbols, the special tokens, the merge results), ids kept."""
    with open(os.path.join(model, "merges.txt"), encoding="utf-8") as f:
        kept = f.read().split("\n")[:lines]
    with open(os.path.join(model, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(kept) + "\n")
    if not consistent:
        return
    with open(os.path.join(model, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    made = {"".join(line.split()) for line in kept[1:] if line and not line.startswith("#version")}
    special = {"<|startoftext|>", "<|endoftext|>"}
    keep = {t: i for t, i in vocab.items() if i < 512 or t in made or t in special}
    with open(os.path.join(model, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(keep, f, ensure_ascii=False)


def tensor_span(path, name):
    """(file offset of the data, byte count, dtype, shape) of a tensor."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        info = json.loads(f.read(n))[name]
    begin, end = info["data_offsets"]
    return 8 + n + begin, end - begin, info["dtype"], info["shape"]


def unsampled_row(nbytes, row_bytes, candidates):
    """A row among candidates that none of 64 evenly spaced 64-byte runs of
    the tensor touches (what a key sampling the tensor would read)."""
    runs = [((nbytes - 64) // 63 * i, (nbytes - 64) // 63 * i + 64) for i in range(64)]
    for r in candidates:
        a, b = r * row_bytes, (r + 1) * row_bytes
        if all(b <= lo or a >= hi for lo, hi in runs):
            return r
    return None


def warnings_of(run):
    return [line for line in run.stderr.splitlines() if "warning" in line.lower()]


def main():
    vkclip, work = zs.setup(sys.argv)
    clip_torch, tokenizer = zs.require_references()
    c = testlib.Checker()
    cache = os.environ["VKCLIP_CACHE_DIR"]
    model = zs.make_random_model(os.path.join(work, "model"), seed=41, text_width=64, text_layers=2,
                                 text_heads=2, embed=32, act="quick_gelu", dtype="F32")
    images = zs.write_test_images(work)
    case = Case(c, vkclip, images)
    with open(os.path.join(model, "merges.txt"), "rb") as f:
        merges_bytes = f.read()
    with open(os.path.join(model, "vocab.json"), "rb") as f:
        vocab_bytes = f.read()

    first = case.run(model)
    c.check(first.rc == 0 and first.state == "built" and
            case.near(first, zs.reference_probs(clip_torch, tokenizer, model, LABELS, [TEMPLATE], images)),
            f"first run: built, the reference's probabilities: {first.describe()}")
    again = case.run(model)
    c.check(again.state == "cache" and again.stdout == first.stdout, f"second run: from the cache ({again.state})")

    # ---- the tokenizer files ----
    cut_tokenizer(model, 1000, consistent=False)
    cached, fresh = case.run(model), case.run(model, extra=["--no-cache"])
    c.check(cached.rc != 0 and any("merges.txt" in line for line in cached.error_lines()),
            f"merges.txt cut to 1000 lines (vocab.json whole): refused, naming merges.txt: {cached.describe()}")
    c.check(cached.rc == fresh.rc and cached.stdout == fresh.stdout and
            cached.error_lines() == fresh.error_lines(),
            "merges.txt cut to 1000 lines: with the cache as with --no-cache "
            f"(rc {cached.rc} and {fresh.rc}, {cached.stdout[:100]!r})")

    with open(os.path.join(model, "merges.txt"), "wb") as f:
        f.write(merges_bytes)
    cut_tokenizer(model, 1000, consistent=True)
    ref_ids = tokenizer.Tokenizer(model).encode(TEMPLATE.format(LABELS[0]))
    cut = case.run(model)
    fresh = case.run(model, extra=["--no-cache"])
    cut_ref = zs.reference_probs(clip_torch, tokenizer, model, LABELS, [TEMPLATE], images)
    c.check(cut.rc == 0 and cut.state == "built" and cut.stdout == fresh.stdout,
            f"merges.txt and vocab.json cut alike to 1000 merges: a new classifier ({cut.state}), "
            f"equal to --no-cache's: {cut.describe()}")
    c.check(case.near(cut, cut_ref) and cut.stdout != first.stdout,
            f"... and to the reference on the cut files ({len(ref_ids)} ids for '{TEMPLATE.format(LABELS[0])}'),"
            " not the first run's")
    with open(os.path.join(model, "merges.txt"), "wb") as f:
        f.write(merges_bytes)
    with open(os.path.join(model, "vocab.json"), "wb") as f:
        f.write(vocab_bytes)
    back = case.run(model)
    c.check(back.state == "cache" and back.stdout == first.stdout,
            f"tokenizer files put back: the first entry again ({back.state})")

    # ---- one token-embedding row, edited in place, mtime put back ----
    weights = os.path.join(model, "model.safetensors")
    offset, nbytes, dtype, shape = tensor_span(weights, TOKEN_EMBEDDING)
    row_bytes = nbytes // shape[0]
    tok = tokenizer.Tokenizer(model)
    used = sorted({i for label in LABELS for i in tok.encode(TEMPLATE.format(label))[1:-1]})
    row = unsampled_row(nbytes, row_bytes, used)
    c.check(dtype == "F32" and row is not None, f"a row used by the prompts that sampling would miss: {row}")
    if row is None:
        c.finish()
    st = os.stat(weights)
    with open(weights, "r+b") as f:
        f.seek(offset + row * row_bytes)
        values = np.frombuffer(f.read(row_bytes), "<f4").copy()
        f.seek(offset + row * row_bytes)
        f.write((values[::-1] * 3 + 0.5).astype("<f4").tobytes())
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    st2 = os.stat(weights)
    c.check(st2.st_mtime_ns == st.st_mtime_ns and st2.st_size == st.st_size and st2.st_ino == st.st_ino,
            f"token {row}'s row rewritten in place; size, inode and mtime as before")
    edited = case.run(model)
    fresh = case.run(model, extra=["--no-cache"])
    edited_ref = zs.reference_probs(clip_torch, tokenizer, model, LABELS, [TEMPLATE], images)
    c.check(edited.rc == 0 and edited.state == "built" and edited.stdout == fresh.stdout,
            f"edited row: the cache misses ({edited.state}), the output equals --no-cache's: {edited.describe()}")
    c.check(case.near(edited, edited_ref) and edited.stdout != first.stdout,
            "... and the reference's on the edited weights, not the first run's")
    hit = case.run(model)
    c.check(hit.state == "cache" and hit.stdout == edited.stdout, f"edited row, next run: from the cache ({hit.state})")

    # ---- the digest record is believed: no rehash on a second run ----
    records = glob.glob(os.path.join(cache, "weights-*.digest"))
    c.check(len(records) == 1, f"one digest record for the one weight file: {[os.path.basename(r) for r in records]}")
    if records:
        with open(records[0], "rb") as f:
            good = f.read()
        body = bytearray(good[:-8])
        digest_at = len(body) - 8  # the digest is the last field before the check
        body[digest_at] ^= 0x5A
        with open(records[0], "wb") as f:
            f.write(bytes(body) + struct.pack("<Q", fnv1a64(body)))
        told = case.run(model)
        c.check(told.state == "built" and told.stdout == edited.stdout,
                f"a record with another digest for the file as it is: believed, hence a new key ({told.state})")
        with open(records[0], "wb") as f:
            f.write(good)
        mtime = os.stat(records[0]).st_mtime_ns
        hit = case.run(model)
        c.check(hit.state == "cache" and hit.stdout == edited.stdout and os.stat(records[0]).st_mtime_ns == mtime,
                f"the record put back: the cache hits and the record is not rewritten ({hit.state})")

    # ---- unwritable cache dirs: one warning line, the same output ----
    blocker = os.path.join(work, "a-regular-file")
    with open(blocker, "w") as f:
        f.write("not a folder\n")
    unwritable = [(os.path.join(blocker, "cache"), "Not a directory")]
    if os.geteuid() != 0:
        locked = os.path.join(work, "read-only")
        os.mkdir(locked, 0o555)
        unwritable.append((locked, "Permission denied"))
    elif os.path.isdir("/proc/self"):
        unwritable.append(("/proc/self", ""))  # root writes anywhere but here
    for folder, reason in unwritable:
        run = case.run(model, env={"VKCLIP_CACHE_DIR": folder})
        lines = warnings_of(run)
        c.check(run.rc == 0 and run.state == "built" and run.stdout == edited.stdout,
                f"cache dir {folder}: classified as with a writable one: {run.describe()}")
        c.check(len(lines) == 1 and folder in lines[0] and reason in lines[0] and
                lines[0].startswith("vkclip: warning: "),
                f"cache dir {folder}: one warning line naming it and the reason: {lines}")
    run = case.run(model, env={"VKCLIP_CACHE_DIR": os.path.join(blocker, "cache")}, extra=["--no-cache"])
    c.check(run.rc == 0 and not warnings_of(run), f"--no-cache: no warning: {warnings_of(run)}")
    run = case.run(model)
    c.check(run.rc == 0 and not warnings_of(run), f"writable cache dir: no warning: {warnings_of(run)}")
    shutil.rmtree(os.path.join(work, "model"), ignore_errors=True)
    c.finish()


if __name__ == "__main__":
    main()
