"""Bad input to vkclip's text commands: each must exit 1 (error) or 2
(usage), never 0 and never by a signal or a hang, with exactly one
"vkclip: " line on stderr that says what is wrong (substring checks), and
print no results.

usage: test_text_bad_input.py VKCLIP
"""

import json
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zs_common as zs  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402


def write(path, data):
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def model_copy(src, dst, vocab_change=None, drop_tensor=None, drop_files=()):
    """A copy of the model folder src with vocab.json edited, a tensor
    removed from model.safetensors, or files left out."""
    os.makedirs(dst)
    for name in os.listdir(src):
        if name not in drop_files and os.path.isfile(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), os.path.join(dst, name))
    if vocab_change:
        with open(os.path.join(dst, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        vocab_change(vocab)
        with open(os.path.join(dst, "vocab.json"), "w", encoding="utf-8") as f:
            json.dump(vocab, f)
    if drop_tensor:
        path = os.path.join(dst, "model.safetensors")
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            data = f.read()
        del header[drop_tensor]
        out, blobs, offset = {}, [], 0
        for name, info in header.items():
            if name == "__metadata__":
                out[name] = info
                continue
            begin, end = info["data_offsets"]
            blobs.append(data[begin:end])
            out[name] = dict(info, data_offsets=[offset, offset + end - begin])
            offset += end - begin
        text = json.dumps(out).encode()
        text += b" " * (-(8 + len(text)) % 8)
        write(path, struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return dst


def main():
    vkclip, work = zs.setup(sys.argv)
    fixtures = testlib.fixtures_dir()
    c = testlib.Checker()
    model = os.path.join(fixtures, "clip-tiny-f32")
    image = os.path.join(fixtures, "images", "chelsea.png")
    f = lambda name, data: write(os.path.join(work, name), data)  # noqa: E731
    empty = f("empty.txt", "")
    blank = f("blank.txt", "\n  \n\t\n")
    bad_utf8 = f("bad-utf8.txt", b"cat\n\xff\xfedog\n")
    overlong = f("overlong.txt", b"cat\nslash \xc0\xaf\n")
    surrogate = f("surrogate.txt", b"cat\n\xed\xa0\x80 half a pair\n")
    nul = f("nul.txt", b"cat\ndo\x00g\n")
    no_braces = f("no-braces.txt", "a photo of a {}.\na photo\n")
    labels_ok = f("labels.txt", "cat\ndog\n")
    no_eot = model_copy(model, os.path.join(work, "no-eot"),
                        vocab_change=lambda v: v.pop("<|endoftext|>"))
    no_sot = model_copy(model, os.path.join(work, "no-sot"),
                        vocab_change=lambda v: v.pop("<|startoftext|>"))
    no_proj = model_copy(model, os.path.join(work, "no-text-projection"), drop_tensor="text_projection.weight")
    no_final_ln = model_copy(model, os.path.join(work, "no-final-ln"),
                             drop_tensor="text_model.final_layer_norm.bias")
    no_merges = model_copy(model, os.path.join(work, "no-merges"), drop_files=("merges.txt",))
    bad_vocab = model_copy(model, os.path.join(work, "bad-vocab"))
    write(os.path.join(bad_vocab, "vocab.json"), '{"a": 0, ')

    classify = ["classify", "--model", model]
    # name, arguments, accepted exit codes, substrings the error line holds
    # (any case); [] for substrings means only the form is checked.
    cases = [
        ("--labels ';'", classify + ["--labels", ";", image], {1, 2}, ["empty"]),
        ("--labels ''", classify + ["--labels", "", image], {1, 2}, ["empty"]),
        ("--labels 'cat;;dog'", classify + ["--labels", "cat;;dog", image], {1, 2}, ["empty"]),
        ("--labels '  '", classify + ["--labels", "  ", image], {1, 2}, ["empty"]),
        ("empty labels file", classify + ["--labels-file", empty, image], {1, 2}, ["empty"]),
        ("labels file of blank lines", classify + ["--labels-file", blank, image], {1, 2}, ["empty"]),
        ("template without {}", classify + ["--labels", "cat", "--template", "a photo", image], {1, 2},
         ["template", "a photo", "{}"]),
        ("empty template", classify + ["--labels", "cat", "--template", "", image], {1, 2}, ["template"]),
        ("templates file with a line without {}",
         classify + ["--labels", "cat", "--templates-file", no_braces, image], {1, 2}, ["a photo", "{}"]),
        ("empty templates file", classify + ["--labels", "cat", "--templates-file", empty, image], {1, 2},
         ["empty.txt"]),
        ("labels file with invalid UTF-8", classify + ["--labels-file", bad_utf8, image], {1, 2}, ["UTF-8"]),
        ("labels file with an overlong '/'", classify + ["--labels-file", overlong, image], {1, 2},
         ["UTF-8"]),
        ("labels file with a UTF-16 surrogate", classify + ["--labels-file", surrogate, image], {1, 2},
         ["UTF-8"]),
        ("labels file with a NUL byte", classify + ["--labels-file", nul, image], {1, 2}, ["nul.txt", "NUL"]),
        ("labels file missing", classify + ["--labels-file", os.path.join(work, "missing.txt"), image],
         {1, 2}, ["missing.txt"]),
        ("labels file is a folder", classify + ["--labels-file", work, image], {1, 2}, [os.path.basename(work)]),
        ("--labels with invalid UTF-8", classify + ["--labels", b"cat;d\xffg", image], {1, 2}, ["UTF-8"]),
        ("embed-text invalid UTF-8", ["embed-text", "--model", model, b"caf\xe9"], {1, 2}, ["UTF-8"]),
        ("embed-text truncated UTF-8", ["embed-text", "--model", model, "ok", b"\xe4\xb8"], {1, 2}, ["UTF-8"]),
        ("tokenize invalid UTF-8", ["tokenize", "--model", model, b"\x80abc"], {1, 2}, ["UTF-8"]),
        ("both --labels and --labels-file", classify + ["--labels", "cat", "--labels-file", labels_ok, image],
         {1, 2}, ["--labels", "--labels-file"]),
        ("neither --labels nor --labels-file", classify + [image], {1, 2}, ["--labels"]),
        ("--top-k 0", classify + ["--labels", "cat", "--top-k", "0", image], {2}, ["--top-k"]),
        ("--top-k -3", classify + ["--labels", "cat", "--top-k", "-3", image], {2}, ["--top-k"]),
        ("--top-k x", classify + ["--labels", "cat", "--top-k", "x", image], {2}, ["--top-k"]),
        ("--precision f64", ["embed-text", "--model", model, "--precision", "f64", "hi"], {2}, ["--precision"]),
        ("--lables (misspelt)", classify + ["--lables", "cat", image], {2}, ["--lables"]),
        ("--labels without a value", classify + [image, "--labels"], {2}, ["--labels"]),
        ("vocab.json without <|endoftext|>: tokenize", ["tokenize", "--model", no_eot, "hi"], {1},
         ["vocab.json", "<|endoftext|>"]),
        ("vocab.json without <|endoftext|>: embed-text", ["embed-text", "--model", no_eot, "hi"], {1},
         ["vocab.json", "<|endoftext|>"]),
        ("vocab.json without <|endoftext|>: classify",
         ["classify", "--model", no_eot, "--labels", "cat", image], {1}, ["vocab.json", "<|endoftext|>"]),
        ("vocab.json without <|startoftext|>", ["embed-text", "--model", no_sot, "hi"], {1},
         ["vocab.json", "<|startoftext|>"]),
        ("vocab.json not JSON", ["tokenize", "--model", bad_vocab, "hi"], {1}, ["vocab.json"]),
        ("no merges.txt", ["embed-text", "--model", no_merges, "hi"], {1}, ["merges.txt"]),
        ("no text_projection.weight: embed-text", ["embed-text", "--model", no_proj, "hi"], {1},
         ["model.safetensors", "text_projection.weight"]),
        ("no text_projection.weight: classify", ["classify", "--model", no_proj, "--labels", "cat", image], {1},
         ["model.safetensors", "text_projection.weight"]),
        ("no final_layer_norm.bias", ["embed-text", "--model", no_final_ln, "hi"], {1},
         ["model.safetensors", "text_model.final_layer_norm.bias"]),
    ]
    for name, args, codes, needles in cases:
        run = testlib.run_vkclip(vkclip, args, timeout=60)
        lines = run.error_lines()
        line = lines[0] if lines else ""
        missing = [s for s in needles if s.lower() not in line.lower()]
        c.check(run.rc in codes and len(lines) == 1 and not missing and run.stdout == "",
                f"{name}: rc {run.rc} (want {sorted(codes)}), {len(lines)} 'vkclip: ' line(s) {line!r}"
                + (f", lacks {missing}" if missing else "")
                + (f", stdout {run.stdout[:100]!r}" if run.stdout else ""))

    # Without --model the default model is used: $VKCLIP_MODEL here, naming a folder without one.
    nowhere = os.path.join(work, "no-model-here")
    for args in (["embed-text", "hi"], ["tokenize", "hi"], ["classify", "--labels", "cat", image]):
        run = testlib.run_vkclip(vkclip, args, env={"VKCLIP_MODEL": nowhere}, timeout=60)
        lines = run.error_lines()
        c.check(run.rc == 1 and len(lines) == 1 and nowhere in lines[0] and "--model" in lines[0]
                and run.stdout == "",
                f"{args[0]} without --model, $VKCLIP_MODEL without a model: rc {run.rc} (want 1), {lines!r}")

    # Usage errors with nothing to work on: exit 2 and one line naming what is missing (not the usage).
    for name, args, what in (("tokenize without texts", ["tokenize", "--model", model], "TEXT"),
                             ("embed-text without texts", ["embed-text", "--model", model], "TEXT"),
                             ("classify without images", classify + ["--labels", "cat"], "IMAGE")):
        run = testlib.run_vkclip(vkclip, args, timeout=60)
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        c.check(run.rc == 2 and lines == run.error_lines() and len(lines) == 1 and f"missing {what}" in lines[0]
                and f"vkclip help {args[0]}" in lines[0] and "usage:" not in run.stderr and run.stdout == "",
                f"{name}: rc {run.rc} (want 2), stderr {run.stderr.strip()[:160]!r}")
    c.finish()


if __name__ == "__main__":
    main()
