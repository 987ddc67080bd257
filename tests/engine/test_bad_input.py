#!/usr/bin/python3
"""vkclip on broken models, broken images and wrong command lines.

Each case must end within a timeout with exit 1 (usage errors: 2), never a
signal or 0, and print one stderr line "vkclip: ..." that names the file
(or option) and says what is wrong: FIFOs in place of model files and
images, labels files past the limit, frames the engine refuses (named by
file, not by their index in the batch; the other images are still
processed). Then: write errors on stdout, and
file names that are not UTF-8 (JSON lines all the same). The broken models are copies of the
tiny fixture model edited here.

  test_bad_input.py VKCLIP
"""

import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

TIMEOUT = 60
# Vision tensors: the image tower must need each of them.
FC2 = "vision_model.encoder.layers.1.mlp.fc2.weight"
Q_PROJ = "vision_model.encoder.layers.0.self_attn.q_proj.weight"
POST_LN_BIAS = "vision_model.post_layernorm.bias"


# ------------------------------------------------------------ safetensors

def read_st(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def write_st(path, header, data):
    head = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + data)


def repack(header, data, change):
    """Rebuilds header + data, letting change(name, info, bytes) return a new
    (info, bytes) or None to drop the tensor."""
    out_h, chunks, pos = {}, [], 0
    for name, info in header.items():
        if name == "__metadata__":
            out_h[name] = info
            continue
        b, e = info["data_offsets"]
        res = change(name, dict(info), data[b:e])
        if res is None:
            continue
        info, raw = res
        info["data_offsets"] = [pos, pos + len(raw)]
        pos += len(raw)
        out_h[name] = info
        chunks.append(raw)
    return out_h, b"".join(chunks)


# ------------------------------------------------------------ the cases

class Case:
    def __init__(self, name, args, names, keywords, rc=(1,), absent=(), timeout=TIMEOUT, env=None,
                 memory_limit=None, last_line=False, partial_output=False, goes_on=False, good=None):
        self.name = name
        self.args = args          # vkclip arguments
        self.names = names        # all must appear in the message (case-sensitive)
        self.keywords = keywords  # one at least must appear (case-insensitive); () = none needed
        self.rc = rc
        self.absent = absent      # none may appear in the message (case-sensitive)
        self.timeout = timeout
        self.env = env            # extra environment (None: remove the variable)
        self.memory_limit = memory_limit  # RLIMIT_AS in bytes for the run (what a bug would exhaust)
        # classify reports its progress on stderr first: judge its last line
        self.last_line = last_line
        # an unreadable image among good ones: reported (the first stderr
        # line), then the command goes on with the others (classify then
        # reports its classifier on further lines) and prints their results
        self.goes_on = goes_on
        self.good = good  # result lines the good images must still give on stdout (None: not counted)
        self.partial_output = partial_output or goes_on or "good then" in name


class Builder:
    """Makes broken copies of the tiny fixture model under tmp."""

    def __init__(self, fixture_model, tmp):
        self.src = fixture_model
        self.tmp = tmp
        self.header, self.data = read_st(os.path.join(fixture_model, "model.safetensors"))

    def model(self, name, with_weights=True):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        for f in ("config.json", "preprocessor_config.json", "vocab.json", "merges.txt"):
            shutil.copyfile(os.path.join(self.src, f), os.path.join(d, f))
        if with_weights:
            # A symlink is enough where the weights are not edited.
            os.symlink(os.path.join(self.src, "model.safetensors"), os.path.join(d, "model.safetensors"))
        return d

    def edit_json(self, d, fname, edit):
        p = os.path.join(d, fname)
        with open(p, encoding="utf-8") as f:
            j = json.load(f)
        edit(j)
        with open(p, "w", encoding="utf-8") as f:
            json.dump(j, f)

    def with_config(self, name, edit):
        d = self.model(name)
        self.edit_json(d, "config.json", edit)
        return d

    def with_bytes(self, name, blob):
        d = self.model(name, with_weights=False)
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(blob)
        return d

    def with_tensors(self, name, change):
        d = self.model(name, with_weights=False)
        h, data = repack(self.header, self.data, change)
        write_st(os.path.join(d, "model.safetensors"), h, data)
        return d

    def with_header(self, name, edit):
        d = self.model(name, with_weights=False)
        h = json.loads(json.dumps(self.header))
        edit(h)
        write_st(os.path.join(d, "model.safetensors"), h, self.data)
        return d

    def original_bytes(self):
        with open(os.path.join(self.src, "model.safetensors"), "rb") as f:
            return f.read()


def model_cases(b, image):
    """(Case, ...) for broken models; each runs embed-image on a good image."""
    cases = []

    def add(name, d, names, keywords):
        cases.append(Case(name, ["embed-image", "--model", d, image], names, keywords))

    missing = os.path.join(b.tmp, "no-such-model")
    add("model dir missing", missing, ["no-such-model"], ("no such", "not found", "cannot", "missing", "exist"))

    d = b.model("no-config")
    os.remove(os.path.join(d, "config.json"))
    add("config.json missing", d, ["config.json"], ("no such", "not found", "cannot", "missing", "exist"))

    d = b.model("config-malformed")
    with open(os.path.join(d, "config.json"), "w") as f:
        f.write('{"projection_dim": 32, "vision_config": {"hidden_size": 128,, }')
    add("config.json malformed JSON", d, ["config.json"], ("json", "expected", "syntax", "parse", "invalid", "unexpected"))

    d = b.model("config-empty")
    open(os.path.join(d, "config.json"), "w").close()
    add("config.json empty", d, ["config.json"], ("json", "expected", "empty", "parse", "invalid", "unexpected", "end"))

    d = b.with_config("config-wrong-type", lambda j: j["vision_config"].update(hidden_size="128"))
    add("config hidden_size is a string", d, ["config.json", "hidden_size"], ())

    d = b.with_config("config-not-object", lambda j: j.update(vision_config=[1, 2]))
    add("config vision_config is a list", d, ["config.json", "vision_config"], ())

    d = b.with_config("config-heads", lambda j: j["vision_config"].update(num_attention_heads=3))
    add("config hidden 128 not divisible by 3 heads", d, ["config.json"], ("heads", "divisible", "num_attention_heads"))

    d = b.with_config("config-negative", lambda j: j["vision_config"].update(num_hidden_layers=-2))
    add("config negative num_hidden_layers", d, ["config.json", "num_hidden_layers"], ())

    d = b.with_config("config-patch", lambda j: j["vision_config"].update(patch_size=30))
    add("config image_size 224 not a multiple of patch 30", d, ["config.json"], ("patch", "image_size"))

    d = b.with_config("config-act", lambda j: j["vision_config"].update(hidden_act="relu6"))
    add("config unknown hidden_act", d, ["config.json", "relu6"], ())

    # issue 8, item 11: a context with no room for the start and end tokens is a config error at load
    d = b.with_config("config-context-1", lambda j: j["text_config"].update(max_position_embeddings=1))
    add("config max_position_embeddings 1", d, ["config.json", "max_position_embeddings", "[2, 16384]"],
        ("start and end",))
    cases.append(Case("classify: config max_position_embeddings 1",
                      ["classify", "--model", d, "--labels", "cat;dog", "--no-cache", image],
                      ["config.json", "max_position_embeddings", "[2, 16384]"], ("start and end",),
                      last_line=True))

    d = b.model("pp-zero-std")
    b.edit_json(d, "preprocessor_config.json", lambda j: j.update(image_std=[0.26, 0.0, 0.27]))
    add("preprocessor_config zero std", d, ["preprocessor_config.json"], ("std",))

    d = b.model("pp-crop")
    b.edit_json(d, "preprocessor_config.json", lambda j: j.update(crop_size={"height": 200, "width": 224}))
    add("preprocessor_config crop not the image size", d, ["preprocessor_config.json"], ("crop",))

    # safetensors: truncations.
    blob = b.original_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    for cut in (0, 5, 8, 8 + n // 2, 8 + n, 8 + n + 1000, len(blob) - 1):
        d = b.with_bytes(f"st-cut-{cut}", blob[:cut])
        add(f"model.safetensors truncated to {cut} of {len(blob)} bytes", d, ["model.safetensors"],
            ("short", "truncat", "past", "end", "size", "offset", "header", "empty", "bytes"))

    for bad_n in (len(blob), 2 ** 63, 2 ** 64 - 1):
        d = b.with_bytes(f"st-hlen-{bad_n}", struct.pack("<Q", bad_n) + blob[8:])
        add(f"model.safetensors header length {bad_n} past the end", d, ["model.safetensors"], ("header",))

    garbage = b"\x00\xff not json at all " * (n // 20 + 1)
    d = b.with_bytes("st-header-not-json", blob[:8] + garbage[:n] + blob[8 + n:])
    add("model.safetensors header not JSON", d, ["model.safetensors"], ("header", "json"))

    d = b.with_bytes("st-header-list", struct.pack("<Q", 2) + b"[]" + blob[8 + n:])
    add("model.safetensors header a JSON list", d, ["model.safetensors"], ("header", "object", "json"))

    size = len(b.data)
    for label, offsets in (("end past data", lambda b0, e0: [b0, size + 4]),
                           ("begin after end", lambda b0, e0: [e0, b0]),
                           ("negative", lambda b0, e0: [-4, e0]),
                           ("huge", lambda b0, e0: [2 ** 64 - 8, 2 ** 64 - 4]),
                           ("span does not match shape", lambda b0, e0: [b0, e0 - 4])):
        def edit(h, offsets=offsets):
            b0, e0 = h[FC2]["data_offsets"]
            h[FC2]["data_offsets"] = offsets(b0, e0)
        d = b.with_header(f"st-offsets-{label.replace(' ', '-')}", edit)
        add(f"model.safetensors data_offsets {label}", d, ["model.safetensors", FC2], ())

    d = b.with_header("st-dtype", lambda h: h[FC2].update(dtype="Q4_K"))
    add("model.safetensors unknown dtype", d, ["model.safetensors", "Q4_K"], ())

    d = b.with_header("st-shape-string", lambda h: h[FC2].update(shape="128x512"))
    add("model.safetensors shape not a list", d, ["model.safetensors", FC2], ())

    for missing_name in (FC2, POST_LN_BIAS, "visual_projection.weight"):
        d = b.with_tensors(f"st-missing-{missing_name}",
                           lambda name, info, raw, m=missing_name: None if name == m else (info, raw))
        add(f"missing tensor {missing_name}", d, [missing_name], ("missing", "not found", "no tensor", "absent"))

    # logit_scale (issue 8, item 2): missing, an integer, two elements, not finite. Each used to
    # load, print "logit scale: nan" in info and score every label null with exit 0.
    def ls_change(new_info, new_raw):
        def change(name, info, raw):
            if name != "logit_scale":
                return info, raw
            return None if new_info is None else (dict(info, **new_info), new_raw)
        return change
    for label, new_info, new_raw, keywords in (
            ("missing", None, None, ("missing",)),
            ("I64", {"dtype": "I64", "shape": []}, struct.pack("<q", 3), ("dtype", "I64")),
            ("I32", {"dtype": "I32", "shape": [1]}, struct.pack("<i", 3), ("dtype", "I32")),
            ("shape [2]", {"dtype": "F32", "shape": [2]}, struct.pack("<2f", 2.6592, 2.6592), ("shape",)),
            ("shape [1, 1]", {"dtype": "F32", "shape": [1, 1]}, struct.pack("<f", 2.6592), ("shape",)),
            ("NaN", {"dtype": "F32", "shape": []}, struct.pack("<f", float("nan")), ("finite",)),
            ("1e30", {"dtype": "F32", "shape": []}, struct.pack("<f", 1e30), ("finite",))):
        d = b.with_tensors("st-logit-scale-" + label.replace(" ", "").replace(",", "-"),
                           ls_change(new_info, new_raw))
        add(f"logit_scale {label}", d, ["model.safetensors", "logit_scale"], keywords)
        for cmd, args in (("info", []), ("classify", ["--labels", "cat;dog", "--no-cache", image])):
            cases.append(Case(f"{cmd}: logit_scale {label}", [cmd, "--model", d] + args,
                              ["model.safetensors", "logit_scale"], keywords, last_line=cmd == "classify"))

    def half_q(name, info, raw):
        if name != Q_PROJ:
            return info, raw
        info["shape"] = [info["shape"][0] // 2, info["shape"][1]]
        return info, raw[:len(raw) // 2]
    d = b.with_tensors("st-wrong-shape", half_q)
    add("tensor with the wrong shape", d, [Q_PROJ], ("shape", "expected"))

    def as_i64(name, info, raw):
        if name != FC2:
            return info, raw
        count = len(raw) // 4
        info["dtype"] = "I64"
        return info, struct.pack(f"<{count}q", *range(count))
    d = b.with_tensors("st-i64", as_i64)
    add("weight stored as I64", d, [FC2], ("I64", "dtype", "type"))

    # Sharded: an index naming a shard that is not there.
    d = b.model("sharded-missing", with_weights=False)
    names = [k for k in b.header if k != "__metadata__"]
    first = set(names[: len(names) // 2])
    # Only the first shard is written; the index also names a second one.
    h, data = repack(b.header, b.data, lambda name, info, raw: (info, raw) if name in first else None)
    write_st(os.path.join(d, "model-00001-of-00002.safetensors"), h, data)
    weight_map = {k: ("model-00001-of-00002.safetensors" if k in first else "model-00002-of-00002.safetensors")
                  for k in names}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f)
    add("index.json names a missing shard", d, ["model-00002-of-00002.safetensors"], ())

    # Both shards present, but the index sends FC2 to the shard without it.
    d = b.model("sharded-wrong-map", with_weights=False)
    for shard, keep in (("model-00001-of-00002.safetensors", lambda n: n != FC2),
                        ("model-00002-of-00002.safetensors", lambda n: n == FC2)):
        h, data = repack(b.header, b.data, lambda name, info, raw, k=keep: (info, raw) if k(name) else None)
        write_st(os.path.join(d, shard), h, data)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {}, "weight_map": {k: "model-00001-of-00002.safetensors" for k in names}}, f)
    add("index.json maps a tensor to a shard without it", d, [FC2], ())

    d = b.model("index-malformed", with_weights=False)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        f.write('{"weight_map": {"a": ')
    add("index.json malformed", d, ["model.safetensors.index.json"], ())

    d = b.model("no-weights", with_weights=False)
    add("no weights file at all", d, ["model.safetensors"], ())
    return cases


def png_chunk(kind, payload):
    import zlib
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def huge_png(width, height):
    """A PNG whose header claims width x height RGB8 pixels, with one small
    (valid CRC) data chunk: a decoder must refuse it or stop at the data's
    end, not allocate gigabytes or read past it."""
    import zlib
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def jpeg_bytes():
    try:
        import io
        from PIL import Image
    except ImportError:
        return None
    img = Image.new("RGB", (64, 48))
    img.putdata([(x * 4 % 256, y * 5 % 256, (x * y) % 256) for y in range(48) for x in range(64)])
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def image_cases(tmp, model, good_png):
    cases = []
    with open(good_png, "rb") as f:
        from_png = f.read()

    def path_of(name, blob=None):
        p = os.path.join(tmp, name)
        if blob is not None:
            with open(p, "wb") as f:
                f.write(blob)
        return p

    images = [
        ("image missing", path_of("nothing-here.png"), ("no such", "cannot", "not found", "open", "exist")),
        ("truncated PNG", path_of("truncated.png", from_png[: len(from_png) // 2]), ()),
        ("PNG cut inside the signature", path_of("sig.png", from_png[:5]), ()),
        ("text file named .png", path_of("text.png", b"this is not an image\n" * 10), ()),
        ("empty file", path_of("empty.png", b""), ()),
        ("directory as image", path_of("a-directory.png"), ()),
        ("GIF", path_of("anim.gif", None), ()),
    ]
    images += [
        ("PNG claiming 2147483647 x 2147483647 pixels", path_of("huge.png", huge_png(2 ** 31 - 1, 2 ** 31 - 1)), ()),
        ("PNG claiming 0 x 10 pixels", path_of("zero.png", huge_png(0, 10)), ()),
        ("PNG claiming 60000 x 60000 pixels", path_of("big.png", huge_png(60000, 60000)), ()),
        ("JPEG with only its start marker", path_of("soi.jpg", b"\xff\xd8\xff"), ()),
    ]
    jpeg = jpeg_bytes()
    if jpeg:
        images.append(("truncated JPEG", path_of("truncated.jpg", jpeg[: len(jpeg) // 2]), ()))
    os.makedirs(os.path.join(tmp, "a-directory.png"))
    try:
        from PIL import Image
        Image.new("P", (20, 10), 3).save(os.path.join(tmp, "anim.gif"))
    except ImportError:
        # A minimal GIF header is still a GIF to reject.
        path_of("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")
    if os.geteuid() != 0:
        p = path_of("unreadable.png", from_png)
        os.chmod(p, 0)
        images.append(("unreadable image (mode 000)", p, ("permission", "cannot", "denied", "open")))
    else:
        print("note: running as root, so the mode-000 image case is left out")
    for label, p, keywords in images:
        cases.append(Case(f"embed-image: {label}", ["embed-image", "--model", model, p],
                          [os.path.basename(p)], keywords))
        cases.append(Case(f"preprocess: {label}",
                          ["preprocess", "--model", model, "--out", os.path.join(tmp, "out.f32"), p],
                          [os.path.basename(p)], keywords))
    # A bad image after a good one: still an error (exit 1), and the good one is still embedded.
    cases.append(Case("embed-image: good then truncated", ["embed-image", "--model", model, good_png,
                                                             os.path.join(tmp, "truncated.png")],
                      ["truncated.png"], (), good=1))
    return cases


def usage_cases(model, image, tmp):
    out = os.path.join(tmp, "u.f32")
    # Without --model the default model is used: $VKCLIP_MODEL here, naming a folder without one.
    nowhere = {"VKCLIP_MODEL": os.path.join(tmp, "no-model-here")}
    return [
        Case("embed-image without --model, $VKCLIP_MODEL without a model", ["embed-image", image],
             ["no-model-here", "config.json", "--model"], (), env=nowhere),
        Case("preprocess without --model, $VKCLIP_MODEL without a model", ["preprocess", "--out", out, image],
             ["no-model-here", "config.json", "--model"], (), env=nowhere),
        Case("unknown option", ["embed-image", "--model", model, "--frobnicate", image], ["--frobnicate"], (), rc=(2,)),
        Case("option of another subcommand", ["preprocess", "--model", model, "--raw", "--out", out, image],
             ["--raw"], (), rc=(2,)),
        Case("--batch 0", ["embed-image", "--model", model, "--batch", "0", image], ["--batch"], (), rc=(2,)),
        Case("--batch not a number", ["embed-image", "--model", model, "--batch", "two", image], ["two"], (), rc=(2,)),
        Case("--precision f64", ["embed-image", "--model", model, "--precision", "f64", image], ["f64"], (), rc=(2,)),
        Case("--model without a value", ["embed-image", "--model"], ["--model"], (), rc=(2,)),
        Case("preprocess without --out", ["preprocess", "--model", model, image], ["--out"], (), rc=(2,)),
        Case("embed-image without images", ["embed-image", "--model", model], ["IMAGE"], (), rc=(2,)),
        Case("unknown subcommand", ["embed-text-please"], ["embed-text-please"], (), rc=(2,)),
        Case("no subcommand", [], ["no command", "vkclip --help"], (), rc=(2,)),
        # issue 8, item 11: the limit is stated, not "bad value"
        Case("257 --template", ["classify", "--model", model, "--labels", "a;b"] + ["--template", "{}"] * 257 +
             [image], ["--template", "256", "--templates-file"], (), rc=(2,), absent=("bad value",)),
    ]


# ------------------------------------------------------------ issue 8: input hardening

# Cases that need engine edits outside tools/ and core/util (core/vkclip.c
# choose_tiles, core/vkclip_text.c's tokenizer probes; see the helpers in
# core/util/regular_file.h and env_tiles.h). Set to True with those edits.
ENGINE_EDITS_APPLIED = True
FIFO_TIMEOUT = 20  # a FIFO must be refused at once; a hang shows as a timeout
LABELS_LIMIT = "16 MiB"
# Enough for vkclip on lavapipe; a reader without a limit fails fast under it
# (not applied to sanitizer builds).
MEMORY_LIMIT = 8 << 30


def png_rgb(width, height, pixel=(90, 140, 200)):
    """A valid RGB8 PNG of one colour."""
    row = b"\x00" + bytes(pixel) * width
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(row * height))
            + png_chunk(b"IEND", b""))


def fifo_cases(b, tmp, image):
    """Model files and images that are FIFOs: refused at once, naming the file."""
    cases = []
    kw = ("FIFO", "regular file")
    for fname in ("config.json", "preprocessor_config.json", "model.safetensors", "merges.txt"):
        d = b.model("fifo-" + fname, with_weights=fname != "model.safetensors")
        p = os.path.join(d, fname)
        if os.path.exists(p):
            os.remove(p)
        os.mkfifo(p)
        cmds = [["embed-image", "--model", d, image]] if fname != "merges.txt" else []
        cmds.append(["classify", "--model", d, "--labels", "cat;dog", "--no-cache", image])
        for args in cmds:
            cases.append(Case(f"{args[0]}: {fname} is a FIFO", args, [os.path.join(d, fname)], kw,
                              timeout=FIFO_TIMEOUT, last_line=args[0] == "classify"))
    # Sharded: the index and a shard.
    d = b.model("fifo-index", with_weights=False)
    os.mkfifo(os.path.join(d, "model.safetensors.index.json"))
    cases.append(Case("embed-image: model.safetensors.index.json is a FIFO", ["embed-image", "--model", d, image],
                      ["model.safetensors.index.json"], kw, timeout=FIFO_TIMEOUT))
    fifo_image = os.path.join(tmp, "fifo-image.png")
    os.mkfifo(fifo_image)
    for args in (["embed-image", "--model", b.src, image, fifo_image],
                 ["preprocess", "--model", b.src, "--out", os.path.join(tmp, "fifo.f32"), fifo_image],
                 ["classify", "--model", b.src, "--labels", "cat;dog", fifo_image]):
        # embed-image goes on with the good image; classify has no other and stops there.
        cases.append(Case(f"{args[0]}: the image is a FIFO", args, ["fifo-image.png"], kw, timeout=FIFO_TIMEOUT,
                          goes_on=args[0] == "embed-image", good=1 if args[0] == "embed-image" else 0))
    return cases


def limit_cases(tmp, model, image):
    """Labels and templates files past the limit: refused with the file and
    the limit named, without reading on (a stream) or at all (a file)."""
    big = os.path.join(tmp, "labels-17MiB.txt")
    with open(big, "wb") as f:
        f.truncate(17 << 20)  # sparse: no disk used
    cases = []
    for opt, what in (("--labels-file", "labels"), ("--templates-file", "templates")):
        for path in ("/dev/zero", big):
            args = ["classify", "--model", model, opt, path, image]
            if opt == "--templates-file":
                args[3:3] = ["--labels", "cat;dog"]
            cases.append(Case(f"classify {opt} {os.path.basename(path)} (over the {LABELS_LIMIT} limit)", args,
                              [path, LABELS_LIMIT], ("limit",), timeout=30, memory_limit=MEMORY_LIMIT))
    return cases


def frame_error_cases(b, tmp, image):
    """Errors of one frame of a batch name that frame's file, not its index;
    the batch's other frames are still embedded (or classified)."""
    wide = os.path.join(tmp, "wide-40000x1.png")
    tall = os.path.join(tmp, "tall-1x40000.png")
    small = os.path.join(tmp, "small-100x80.png")
    for p, (w, h) in ((wide, (40000, 1)), (tall, (1, 40000)), (small, (100, 80))):
        with open(p, "wb") as f:
            f.write(png_rgb(w, h))
    model = b.src
    no_resize = b.model("pp-no-resize")
    b.edit_json(no_resize, "preprocessor_config.json", lambda j: j.update(do_resize=False))
    cases = []
    absent = ("frame 0", "frame 1", "frame 2", "frame 3", "frame:")
    for bad, label, kw in ((wide, "40000x1", "out of range"), (tall, "1x40000", "out of range")):
        name = os.path.basename(bad)
        cases += [
            Case(f"embed-image: {label} third of a batch", ["embed-image", "--model", model, image, image, bad],
                 [name, label], (kw,), absent=absent, goes_on=True, good=2),
            Case(f"embed-image --batch 2: {label} fourth (second of the second batch)",
                 ["embed-image", "--model", model, "--batch", "2", image, image, image, bad],
                 [name, label], (kw,), absent=absent, goes_on=True, good=3),
            Case(f"classify: {label} second", ["classify", "--model", model, "--labels", "cat;dog", image, bad],
                 [name, label], (kw,), absent=absent, goes_on=True, good=1),
            Case(f"preprocess: {label}", ["preprocess", "--model", model, "--out", os.path.join(tmp, "p.f32"), bad],
                 [name, label], (kw,), absent=absent),
        ]
    name = os.path.basename(small)
    cases += [
        Case("embed-image: smaller than the crop (do_resize false), second",
             ["embed-image", "--model", no_resize, image, small], [name, "crop"], ("smaller",), absent=absent,
             goes_on=True, good=1),
        Case("classify: smaller than the crop (do_resize false), second",
             ["classify", "--model", no_resize, "--labels", "cat;dog", image, small], [name, "crop"], ("smaller",),
             absent=absent, goes_on=True, good=1),
        Case("preprocess: smaller than the crop (do_resize false)",
             ["preprocess", "--model", no_resize, "--out", os.path.join(tmp, "p.f32"), small], [name, "crop"],
             ("smaller",), absent=absent),
    ]
    return cases


def engine_edit_cases(b, tmp, image):
    """FIFOs that only the engine edits catch (see ENGINE_EDITS_APPLIED)."""
    cases = []
    d = b.model("fifo-config-tokenize")
    os.remove(os.path.join(d, "config.json"))
    os.mkfifo(os.path.join(d, "config.json"))
    cases.append(Case("tokenize: config.json is a FIFO", ["tokenize", "--model", d, "a cat"], ["config.json"],
                      ("FIFO", "regular file"), timeout=FIFO_TIMEOUT))
    d = b.model("fifo-vocab")
    os.remove(os.path.join(d, "vocab.json"))
    os.mkfifo(os.path.join(d, "vocab.json"))
    for args in (["tokenize", "--model", d, "a cat"],
                 ["classify", "--model", d, "--labels", "cat;dog", "--no-cache", image]):
        cases.append(Case(f"{args[0]}: vocab.json is a FIFO", args, ["vocab.json"], ("FIFO", "regular file"),
                          timeout=FIFO_TIMEOUT, last_line=args[0] == "classify"))
    return cases


def check_cache_fifo(c, vkclip, model, image, tmp):
    """FIFOs in place of the classifier's cache file, then of every file of
    the cache directory (the weights' digest records too): cache misses with
    the same output, not a hang."""
    cache = os.path.join(tmp, "cache-fifo")
    env = {"VKCLIP_CACHE_DIR": cache}
    args = ["classify", "--model", model, "--labels", "cat;dog;bird", image]
    r = run_limited(vkclip, args, TIMEOUT, env)
    files = sorted(os.listdir(cache)) if os.path.isdir(cache) else []
    classifiers = [f for f in files if f.startswith("classifier-")]
    if not c.check(r.rc == 0 and len(classifiers) == 1, f"cache FIFO: the first run writes one classifier file "
                   f"({files}, {r.describe()})"):
        return
    for label, names in (("the classifier file", classifiers), ("every file of the cache", files)):
        for name in names:
            p = os.path.join(cache, name)
            os.remove(p)
            os.mkfifo(p)
        r2 = run_limited(vkclip, args, FIFO_TIMEOUT, env)
        c.check(r2.rc == 0 and r2.stdout == r.stdout,
                f"cache FIFO: FIFOs as {label} ({len(names)}): a miss with the same output ({r2.rc}, "
                f"{r2.seconds:.2f} s, {r2.stderr.strip()[-200:]!r})")


def check_tiles_warning(c, vkclip, model, image):
    """A VKCLIP_TILES that does not parse is reported once on stderr; the run
    goes on with the default tiles."""
    args = ["embed-image", "--model", model, image, image]
    base = run_limited(vkclip, args, TIMEOUT, {"VKCLIP_TILES": None})
    for value in ("garbage", "4,4", "0,4,64", "4,4,64x", "99,99,99"):
        r = run_limited(vkclip, args, TIMEOUT, {"VKCLIP_TILES": value})
        warn = [ln for ln in r.stderr.splitlines() if "VKCLIP_TILES" in ln]
        c.check(r.rc == 0 and len(warn) == 1 and warn[0].startswith("vkclip: ") and value in warn[0]
                and r.stdout == base.stdout,
                f"VKCLIP_TILES={value!r}: rc {r.rc}, one warning {warn!r}, output of the default tiles")
    r = run_limited(vkclip, args, TIMEOUT, {"VKCLIP_TILES": "4,4,64"})
    c.check(r.rc == 0 and "VKCLIP_TILES" not in r.stderr, f"VKCLIP_TILES='4,4,64': no warning ({r.stderr!r})")


def check_kernels_warning(c, vkclip, model, image):
    """A VKCLIP_KERNELS that does not parse is reported once on stderr, in one
    line naming the value and the reason; the run goes on with the device's
    own plan (lavapipe's here), whose output it matches exactly. Good values
    are taken silently and `bench` names the plan they make."""
    args = ["embed-image", "--device", "vulkan", "--model", model, image, image]
    base = run_limited(vkclip, args, TIMEOUT, {"VKCLIP_KERNELS": None})
    for value, reason in (("garbage", "neither a plan"), ("gemm=fast", "bad value"), ("speed=max", "unknown item"),
                          ("gpu,", "empty item"), ("gemm=shared:9x9", "bad value"), ("gpu\x1b[31m", "neither"),
                          ("upload=dma", "bad value")):
        r = run_limited(vkclip, args, TIMEOUT, {"VKCLIP_KERNELS": value})
        warn = [ln for ln in r.stderr.splitlines() if "VKCLIP_KERNELS" in ln]
        c.check(r.rc == 0 and len(warn) == 1 and warn[0].startswith("vkclip: VKCLIP_KERNELS='") and reason in warn[0]
                and "\x1b" not in warn[0] and "using the lavapipe plan" in warn[0] and r.stdout == base.stdout,
                f"VKCLIP_KERNELS={value!r}: rc {r.rc}, one warning {warn!r}, output of the device's plan")
    bench = ["bench", "--device", "vulkan", "--model", model, "--seconds", "0.01"]
    for value, want in ((None, "kernels: lavapipe: gemm=register:12,8,8 attention=split rows=thread barriers=needed "
                                "upload=inline"),
                        ("gpu", "kernels: gpu: gemm=shared:4x4 attention=fused rows=group barriers=needed "
                                "upload=queue (on the compute queue)"),
                        ("gpu,gemm=shared:8x2,barriers=every,upload=inline",
                         "kernels: custom: gemm=shared:8x2 attention=fused rows=group barriers=every upload=inline"),
                        ("gpu,rows=subgroup", "kernels: custom: gemm=shared:4x4 attention=fused rows=subgroup "
                                              "barriers=needed upload=queue (on the compute queue)")):
        r = run_limited(vkclip, bench, TIMEOUT, {"VKCLIP_KERNELS": value})
        c.check(r.rc == 0 and want in r.stdout.splitlines() and "VKCLIP_KERNELS" not in r.stderr,
                f"VKCLIP_KERNELS={value!r}: bench prints '{want}' ({r.stdout.splitlines()[1:2]}, {r.stderr.strip()!r})")
    # lavapipe has no cooperative matrices: said once, and the shared kernel
    # (which reads the same packing) runs instead, with the same output.
    r = run_limited(vkclip, bench, TIMEOUT, {"VKCLIP_KERNELS": "gpu,gemm=coopmat"})
    warn = [ln for ln in r.stderr.splitlines() if "coopmat" in ln]
    c.check(r.rc == 0 and len(warn) == 1 and "VK_NV_cooperative_matrix" in warn[0]
            and "kernels: custom: gemm=shared:4x4 attention=fused rows=group barriers=needed upload=queue "
                "(on the compute queue)" in r.stdout.splitlines(),
            f"VKCLIP_KERNELS=gpu,gemm=coopmat on lavapipe: one warning {warn!r}, the shared kernel")
    shared = run_limited(vkclip, args, TIMEOUT, {"VKCLIP_KERNELS": "gpu"})
    r = run_limited(vkclip, args, TIMEOUT, {"VKCLIP_KERNELS": "gpu,gemm=coopmat"})
    c.check(r.rc == 0 and shared.rc == 0 and r.stdout == shared.stdout,
            "VKCLIP_KERNELS=gpu,gemm=coopmat on lavapipe: the gpu plan's output")


def check_stdout_errors(c, vkclip, model, image):
    """A write error on stdout (a full disk, a closed descriptor) is exit 1
    with one line 'vkclip: stdout: <reason>', for every subcommand that prints."""
    runs = [
        ("tokenize", ["tokenize", "--model", model, "a cat", "a dog"]),
        ("tokenize, 600 texts (fails mid-run)", ["tokenize", "--model", model] + [f"text {i}" for i in range(600)]),
        ("embed-image", ["embed-image", "--model", model, image]),
        ("embed-image, 12 images in batches of 2", ["embed-image", "--model", model, "--batch", "2"] + [image] * 12),
        ("embed-text", ["embed-text", "--model", model, "a cat"]),
        ("classify", ["classify", "--model", model, "--labels", "cat;dog", image]),
        ("info", ["info", "--model", model]),
        ("info without a model", ["info"]),
        ("help", ["help"]),
    ]
    for label, args in runs:
        for target, reason in (("/dev/full", "No space left on device"), (None, "Bad file descriptor")):
            if target:
                with open(target, "wb") as out:
                    r = run_limited(vkclip, args, TIMEOUT, stdout=out)
            else:
                r = run_limited(vkclip, args, TIMEOUT, stdout=None, close_stdout=True)
            lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
            ours = [ln for ln in lines if "stdout" in ln]
            c.check(r.rc == 1 and ours == [f"vkclip: stdout: {reason}"] and lines[-1:] == ours,
                    f"{label} > {target or '(closed)'}: rc {r.rc} (want 1), stderr {lines[-2:]!r}")


def per_byte_replacement(raw):
    """The "file" field's documented form of a name that is not UTF-8: each
    byte that does not begin a well-formed sequence becomes U+FFFD."""
    out, i = [], 0
    while i < len(raw):
        for n in (1, 2, 3, 4):
            try:
                out.append(raw[i:i + n].decode("utf-8"))
                i += n
                break
            except UnicodeDecodeError:
                pass
        else:
            out.append("\ufffd")
            i += 1
    return "".join(out)


def check_file_names(c, vkclip, model, image, tmp):
    """File names that are not UTF-8 still give JSON lines; the exact bytes
    come back in "file_bytes" (hex). UTF-8 names are written as they are."""
    src = os.path.join(os.fsencode(tmp), b"names")
    os.makedirs(src)
    with open(image, "rb") as f:
        blob = f.read()
    names = [b"caf\xe9.png", b"\xff\xfe.png", b"ok-\xc3\xa9t\xc3\xa9.png", b"cut-\xe2\x82.png", b"tab\there\x7f.png",
             b"surrogate-\xed\xa0\x80.png"]
    paths = []
    for n in names:
        p = os.path.join(src, n)
        with open(p, "wb") as f:
            f.write(blob)
        paths.append(p)
    for args in (["embed-image", "--model", model] + paths,
                 ["classify", "--model", model, "--labels", "cat;dog"] + paths):
        r = run_limited(vkclip, args, TIMEOUT)
        if not c.check(r.rc == 0, f"{args[0]} on odd file names: {r.describe()}"):
            continue
        try:
            text = r.raw_stdout.decode("utf-8")
            lines = [json.loads(ln) for ln in text.splitlines()]
        except ValueError as exc:
            c.check(False, f"{args[0]}: output is UTF-8 JSON lines ({exc}): {r.raw_stdout[:200]!r}")
            continue
        c.check(len(lines) == len(paths), f"{args[0]}: {len(lines)} lines for {len(paths)} files")
        for line, p in zip(lines, paths):
            try:
                p.decode("utf-8")
                valid = True
            except UnicodeDecodeError:
                valid = False
            if valid:
                c.check(line.get("file") == p.decode("utf-8") and "file_bytes" not in line,
                        f"{args[0]}: UTF-8 name {p!r}: file {line.get('file')!r}, no file_bytes")
            else:
                got = line.get("file_bytes")
                c.check(isinstance(got, str) and bytes.fromhex(got) == p
                        and line.get("file") == per_byte_replacement(p),
                        f"{args[0]}: non-UTF-8 name {p!r}: file {line.get('file')!r}, file_bytes {got!r}")


_SANITIZED = {}


def sanitized(vkclip):
    """An ASan build reserves terabytes of shadow memory: no address-space
    limit there (its reads stop at their limit all the same)."""
    if vkclip not in _SANITIZED:
        with open(vkclip, "rb") as f:
            _SANITIZED[vkclip] = b"__asan_init" in f.read()
    return _SANITIZED[vkclip]


def run_limited(vkclip, args, timeout, env=None, memory_limit=None, stdout=subprocess.PIPE, close_stdout=False):
    """Like testlib.run_vkclip, with an address-space limit (so that a read
    without a limit fails fast instead of exhausting the machine), stdout sent
    anywhere (/dev/full) or closed, and stdout kept as bytes in .raw_stdout."""
    argv = [vkclip] + [a if isinstance(a, bytes) else str(a) for a in args]
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v

    def limit():
        if memory_limit and not sanitized(vkclip):
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
        if close_stdout:
            os.close(1)
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, env=full_env, timeout=timeout,
                           preexec_fn=limit)
        rc, out, err = p.returncode, p.stdout or b"", p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = None, exc.stdout or b"", (exc.stderr or b"") + f"\ntimed out after {timeout} s".encode()
    r = testlib.Run(argv, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                    time.monotonic() - t0)
    r.raw_stdout = out
    return r


def judge(c, vkclip, case):
    r = run_limited(vkclip, case.args, case.timeout, case.env, case.memory_limit)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    first = (lines[-1] if case.last_line else lines[0]) if lines else ""
    why = []
    if r.rc is None:
        why.append(f"no exit within {case.timeout} s")
    elif r.rc < 0:
        why.append(f"killed by signal {-r.rc}")
    elif r.rc not in case.rc:
        why.append(f"exit {r.rc}, want {'/'.join(map(str, case.rc))}")
    # Usage errors too are one line naming the problem, not the usage.
    if not first.startswith("vkclip: "):
        why.append("first stderr line does not start with 'vkclip: '")
    if len(lines) != 1 and not case.last_line and not case.goes_on:
        why.append(f"{len(lines)} stderr lines, want 1")
    message = first
    for n in case.names:
        if n not in message:
            why.append(f"message lacks {n!r}")
    for n in case.absent:
        if n in message:
            why.append(f"message has {n!r}")
    if case.keywords and not any(k.lower() in message.lower() for k in case.keywords):
        why.append(f"message has none of {list(case.keywords)}")
    if r.rc == 1 and case.args and case.args[0] == "embed-image" and r.stdout.strip() and not case.partial_output:
        why.append(f"printed output anyway: {r.stdout[:80]!r}")
    results = len([ln for ln in r.stdout.splitlines() if ln.startswith("{")])
    if case.good is not None and results != case.good:
        why.append(f"{results} result lines for the good images, want {case.good}")
    c.check(not why, f"{case.name}: rc {r.rc}, {r.seconds:.2f} s, stderr {first[:220]!r}"
            + ("" if not why else "  <-- " + "; ".join(why)))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    vkclip = sys.argv[1]
    fixtures = testlib.fixtures_dir()
    testlib.prepare_vkclip(vkclip)
    model = os.path.join(fixtures, "clip-tiny-f32")
    image = os.path.join(fixtures, "images", "chelsea.png")
    c = testlib.Checker()
    with tempfile.TemporaryDirectory(prefix="vkclip-bad-") as tmp:
        # A classifier cache of this run's own, never a stale one from before.
        os.environ["VKCLIP_CACHE_DIR"] = os.path.join(tmp, "cache")
        b = Builder(model, tmp)
        # The unedited copy must work, or every case below proves nothing.
        r = ec.run_vkclip(vkclip, ["embed-image", "--model", b.model("control"), image])
        if not c.check(r.rc == 0, f"control: an unedited copy of the model embeds ({r.describe()})"):
            c.finish()
        cases = model_cases(b, image) + image_cases(tmp, model, image) + usage_cases(model, image, tmp)
        cases += fifo_cases(b, tmp, image) + limit_cases(tmp, model, image) + frame_error_cases(b, tmp, image)
        if ENGINE_EDITS_APPLIED:
            cases += engine_edit_cases(b, tmp, image)
        for case in cases:
            judge(c, vkclip, case)
        check_stdout_errors(c, vkclip, model, image)
        check_file_names(c, vkclip, model, image, tmp)
        check_cache_fifo(c, vkclip, model, image, tmp)
        if ENGINE_EDITS_APPLIED:
            check_tiles_warning(c, vkclip, model, image)
            check_kernels_warning(c, vkclip, model, image)
        else:
            print("note: the FIFO tokenizer files and VKCLIP_TILES cases wait for the engine edits of "
                  "issue 8 (ENGINE_EDITS_APPLIED)")
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
