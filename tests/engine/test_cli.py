#!/usr/bin/python3
"""The vkclip command line's first contact: help and --version, usage errors
(exit 2, one line naming the problem), --opt=value, the default model,
images from standard input, unreadable images among good ones (reported,
the others still processed, exit 1), classify stopping before any text
work when no image can be read, VKCLIP_PROFILE=1 on every command that
runs the device, and info's tower sizes against the safetensors headers.

  test_cli.py VKCLIP PROJECT_VERSION
"""

import json
import os
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import engine_common as ec  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

TIMEOUT = 120
COMMANDS = ("info", "preprocess", "embed-image", "bench", "tokenize", "embed-text", "classify")
# Commands that run the device, with arguments (after --model) that make them do so.
PROFILED = {
    "bench": ["--seconds", "0.01"],
    "embed-image": ["IMAGE"],
    "classify": ["--labels", "cat;dog", "--no-cache", "IMAGE"],
    "embed-text": ["a cat"],
    "preprocess": ["--out", "OUT", "IMAGE"],
}


def run(vkclip, args, env=None, stdin=None, timeout=TIMEOUT):
    """vkclip with args, stdin bytes (or None: /dev/null) and env changes
    (None removes a variable); returns a testlib.Run (rc None on timeout)."""
    argv = [vkclip] + [str(a) for a in args]
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)
        else:
            full_env[k] = v
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True, env=full_env,
                           timeout=timeout)
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = None, exc.stdout or b"", (exc.stderr or b"") + b"\ntimed out"
    return testlib.Run(argv, rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                       time.monotonic() - t0)


def stderr_lines(r):
    return [ln for ln in r.stderr.splitlines() if ln.strip()]


# ------------------------------------------------------------ help and --version

def check_help(c, vkclip):
    for args in (["--help"], ["-h"], ["help"]):
        r = run(vkclip, args)
        c.check(r.rc == 0 and r.stderr == "" and "usage: vkclip COMMAND" in r.stdout
                and all(f"  {name} " in r.stdout for name in COMMANDS),
                f"vkclip {' '.join(args)}: rc {r.rc}, stdout lists every command, stderr {r.stderr[:100]!r}")
    for name in COMMANDS:
        outs = []
        for args in (["help", name], [name, "--help"], [name, "-h"], [name, "--model", "/nowhere", "-h"]):
            r = run(vkclip, args)
            outs.append(r.stdout)
            c.check(r.rc == 0 and r.stderr == "" and r.stdout.startswith(f"usage: vkclip {name} ")
                    and "options:" in r.stdout and "--help" in r.stdout,
                    f"vkclip {' '.join(args)}: rc {r.rc}, usage and options on stdout, stderr {r.stderr[:100]!r}")
        c.check(len(set(outs)) == 1, f"{name}: help CMD, CMD --help and CMD -h print the same")
    r = run(vkclip, ["help", "classify"])
    for option in ("--labels", "--labels-file", "--template", "--top-k", "--no-cache", "--batch"):
        c.check(f"  {option} " in r.stdout, f"help classify lists {option}")
    c.check("--raw" not in r.stdout, "help classify does not list embed-image's --raw")
    # After "--" a "--help" is an argument (a text to tokenize), not a request for help.
    r = run(vkclip, ["tokenize", "--model", "/nowhere/at-all", "--", "--help"])
    c.check(r.rc == 1 and "usage:" not in r.stdout, f"tokenize -- --help: not help ({r.describe()})")


def check_version(c, vkclip, version):
    r = run(vkclip, ["--version"])
    c.check(r.rc == 0 and r.stdout == f"vkclip {version}\n" and r.stderr == "",
            f"--version prints 'vkclip {version}' (meson's project version): {r.stdout!r}, rc {r.rc}")
    r = run(vkclip, ["--help"])
    c.check(version in r.stdout.splitlines()[0] if r.stdout else False, "--help's first line has the version")


# ------------------------------------------------------------ usage errors

def usage_cases(model, image, tmp):
    """(name, args, substrings the one stderr line must hold)."""
    out = os.path.join(tmp, "u.f32")
    m = ["--model", model]
    return [
        ("no command", [], ["no command", "vkclip --help"]),
        ("unknown command", ["frobnicate"], ["unknown command", "frobnicate"]),
        ("unknown word before the command", ["--frobnicate"], ["unknown option", "--frobnicate"]),
        ("help of an unknown command", ["help", "frobnicate"], ["help", "frobnicate"]),
        ("help of two commands", ["help", "info", "bench"], ["help", "one COMMAND"]),
        ("--version with an argument", ["--version", "x"], ["--version"]),
        ("unknown option", ["embed-image"] + m + ["--frobnicate", image], ["embed-image:", "--frobnicate"]),
        ("unknown option as --opt=value", ["embed-image"] + m + ["--frobnicate=3", image], ["--frobnicate"]),
        ("option of another command", ["preprocess"] + m + ["--raw", "--out", out, image],
         ["preprocess:", "--raw", "not an option of preprocess"]),
        ("missing value", ["classify"] + m + ["--labels", "a", image, "--top-k"],
         ["classify:", "--top-k needs a value", "see vkclip help classify"]),
        ("--model without a value", ["embed-image", "--model"], ["--model needs a value"]),
        ("bad value", ["classify"] + m + ["--labels", "a", "--top-k", "x", image], ["--top-k", "'x'"]),
        ("bad value as --opt=value", ["classify"] + m + ["--labels", "a", "--top-k=0", image], ["--top-k", "'0'"]),
        ("--batch=two", ["embed-image"] + m + ["--batch=two", image], ["--batch", "'two'"]),
        ("--precision=f64", ["embed-image"] + m + ["--precision=f64", image], ["--precision", "f64"]),
        ("--crop 1,2,3", ["embed-image"] + m + ["--crop", "1,2,3", image], ["--crop", "1,2,3"]),
        ("--threads 0", ["embed-image"] + m + ["--threads", "0", image], ["--threads", "'0'", "1 to 1024"]),
        ("--threads on tokenize", ["tokenize"] + m + ["--threads", "2", "a"], ["--threads", "not an option"]),
        ("flag given a value", ["embed-image"] + m + ["--raw=yes", image], ["--raw takes no value"]),
        ("--no-cache given a value", ["classify"] + m + ["--labels", "a", "--no-cache=1", image],
         ["--no-cache takes no value"]),
        ("--help given a value", ["info", "--help=1"], ["--help takes no value"]),
        ("embed-image without images", ["embed-image"] + m, ["embed-image:", "missing IMAGE"]),
        ("classify without images", ["classify"] + m + ["--labels", "a"], ["classify:", "missing IMAGE"]),
        ("embed-text without texts", ["embed-text"] + m, ["embed-text:", "missing TEXT"]),
        ("tokenize without texts", ["tokenize"] + m, ["tokenize:", "missing TEXT"]),
        ("preprocess without --out", ["preprocess"] + m + [image], ["preprocess:", "--out"]),
        ("preprocess of two images", ["preprocess"] + m + ["--out", out, image, image], ["preprocess:", "IMAGE"]),
        ("bench with an argument", ["bench"] + m + [image], ["bench:", "unexpected argument"]),
        ("classify without labels", ["classify"] + m + [image], ["classify:", "--labels", "--labels-file"]),
        ("classify with both label options", ["classify"] + m + ["--labels", "a", "--labels-file", out, image],
         ["--labels", "--labels-file", "not both"]),
        ("- twice", ["embed-image"] + m + ["-", image, "-"], ["embed-image:", "standard input", "once"]),
        ("- twice in classify", ["classify"] + m + ["--labels", "a", "-", "-"], ["classify:", "standard input"]),
        ("257 --template", ["classify"] + m + ["--labels", "a"] + ["--template", "{}"] * 257 + [image],
         ["--template", "256", "--templates-file"]),
    ]


def check_usage_errors(c, vkclip, model, image, tmp):
    for name, args, needles in usage_cases(model, image, tmp):
        r = run(vkclip, args)
        lines = stderr_lines(r)
        line = lines[0] if lines else ""
        missing = [n for n in needles if n not in line]
        c.check(r.rc == 2 and len(lines) == 1 and line.startswith("vkclip: ") and not missing
                and "usage:" not in r.stderr and r.stdout == "",
                f"usage error, {name}: rc {r.rc} (want 2), {len(lines)} stderr line(s) {line!r}"
                + (f", lacks {missing}" if missing else ""))
    # Runtime errors stay 1: a model directory that is not there.
    r = run(vkclip, ["embed-image", "--model", os.path.join(tmp, "no-such-model"), image])
    lines = stderr_lines(r)
    c.check(r.rc == 1 and len(lines) == 1 and "no-such-model" in lines[0],
            f"runtime error (missing model dir): rc {r.rc} (want 1), {lines!r}")


# ------------------------------------------------------------ --opt=value

def check_equals_form(c, vkclip, model, image):
    pairs = [
        (["embed-image", "--model", model, "--batch", "2", "--crop", "10,20,200,150", image, image],
         ["embed-image", f"--model={model}", "--batch=2", "--crop=10,20,200,150", image, image]),
        (["classify", "--model", model, "--labels", "cat;dog;a=b", "--top-k", "2", "--template", "a {} =", image],
         ["classify", f"--model={model}", "--labels=cat;dog;a=b", "--top-k=2", "--template=a {} =", image]),
        (["tokenize", "--model", model, "a cat"], ["tokenize", f"--model={model}", "a cat"]),
    ]
    for spaced, joined in pairs:
        a, b = run(vkclip, spaced), run(vkclip, joined)
        c.check(a.rc == 0 and b.rc == 0 and a.stdout == b.stdout and a.stdout.strip(),
                f"{spaced[0]}: --opt=value gives the output of --opt value ({a.rc}, {b.rc}, "
                f"{len(a.stdout)} vs {len(b.stdout)} bytes){'' if b.rc == 0 else ' ' + b.describe()}")
    r = run(vkclip, ["classify", "--model", model, "--labels=cat;dog;a=b", "--top-k=3", image])
    lines = r.json_lines()
    labels = sorted(x["label"] for x in lines[0]["labels"]) if len(lines) == 1 else []
    c.check(labels == ["a=b", "cat", "dog"], f"--labels=cat;dog;a=b keeps the '=' of a label: {labels}")


# ------------------------------------------------------------ default model

def check_default_model(c, vkclip, model, image, tmp):
    with_option = run(vkclip, ["embed-image", "--model", model, image])
    r = run(vkclip, ["embed-image", image], env={"VKCLIP_MODEL": model})
    c.check(r.rc == 0 and with_option.rc == 0 and r.stdout == with_option.stdout,
            f"embed-image without --model uses $VKCLIP_MODEL: same output as --model ({r.describe()})")
    for args in (["tokenize", "a cat"], ["embed-text", "a cat"],
                 ["classify", "--labels", "cat;dog", image], ["preprocess", "--out", os.path.join(tmp, "d.f32"), image]):
        r = run(vkclip, args, env={"VKCLIP_MODEL": model})
        c.check(r.rc == 0, f"{args[0]} without --model, with $VKCLIP_MODEL: {r.describe()}")
    r = run(vkclip, ["bench", "--seconds", "0.01"], env={"VKCLIP_MODEL": model})
    c.check(r.rc == 0 and f"model: {model} " in r.stdout, f"bench names the default model it ran: {r.describe()}")
    other = os.path.join(tmp, "elsewhere")
    r = run(vkclip, ["tokenize", "--model", model, "a cat"], env={"VKCLIP_MODEL": other})
    c.check(r.rc == 0, f"--model wins over $VKCLIP_MODEL: {r.describe()}")
    r = run(vkclip, ["embed-image", image], env={"VKCLIP_MODEL": other})
    lines = stderr_lines(r)
    c.check(r.rc == 1 and len(lines) == 1 and other in lines[0] and "config.json" in lines[0] and r.stdout == "",
            f"$VKCLIP_MODEL without a model: rc {r.rc} (want 1), one line naming it: {lines!r}")
    # Unset (or empty): the installed model, else the source tree's data/shapes-clip.
    installed = os.environ.get("VKCLIP_TEST_INSTALLED_MODEL_DIR", "")
    source = os.path.join(testlib.source_root(), "data", "shapes-clip")
    found = next((d for d in (installed, source) if d and os.path.isfile(os.path.join(d, "config.json"))), None)
    for value in (None, ""):
        r = run(vkclip, ["tokenize", "a cat"], env={"VKCLIP_MODEL": value})
        lines = stderr_lines(r)
        if found:
            c.check(r.rc == 0, f"VKCLIP_MODEL={value!r}: the default model {found} tokenizes: {r.describe()}")
        else:
            c.check(r.rc == 1 and len(lines) == 1 and installed in lines[0] and source in lines[0],
                    f"VKCLIP_MODEL={value!r}, no model anywhere: rc {r.rc} (want 1), one line naming "
                    f"{installed} and {source}: {lines!r}")
    r = run(vkclip, ["help", "embed-image"], env={"VKCLIP_MODEL": model})
    c.check(f"(now: {model})" in r.stdout, "help names the default model in use")


# ------------------------------------------------------------ standard input

def embeddings_by_file(r):
    return {line["file"]: line["embedding"] for line in r.json_lines()}


def jpeg_of(image, tmp):
    from PIL import Image
    path = os.path.join(tmp, "chelsea.jpg")
    Image.open(image).convert("RGB").save(path, quality=90)
    return path


def check_stdin(c, vkclip, model, image, tmp):
    images = [image]
    try:
        images.append(jpeg_of(image, tmp))
    except ImportError:
        print("note: no Pillow, so the JPEG from standard input is left out")
    for path in images:
        with open(path, "rb") as f:
            blob = f.read()
        kind = os.path.splitext(path)[1]
        from_file = run(vkclip, ["embed-image", "--model", model, path])
        from_stdin = run(vkclip, ["embed-image", "--model", model, "-"], stdin=blob)
        a, b = embeddings_by_file(from_file), embeddings_by_file(from_stdin)
        c.check(from_stdin.rc == 0 and list(b) == ["-"] and a.get(path) == b.get("-") and a.get(path),
                f"embed-image - ({kind} on stdin): the file's embedding, file field '-' ({from_stdin.describe()})")
        mixed = run(vkclip, ["embed-image", "--model", model, path, "-", path], stdin=blob)
        lines = mixed.json_lines()
        c.check(mixed.rc == 0 and [x["file"] for x in lines] == [path, "-", path]
                and all(x["embedding"] == a.get(path) for x in lines),
                f"embed-image FILE - FILE ({kind}): three equal lines in order ({mixed.rc})")
        outs = [os.path.join(tmp, f"pp-file{kind}.f32"), os.path.join(tmp, f"pp-stdin{kind}.f32")]
        r1 = run(vkclip, ["preprocess", "--model", model, "--out", outs[0], path])
        r2 = run(vkclip, ["preprocess", "--model", model, "--out", outs[1], "-"], stdin=blob)
        same = r1.rc == 0 and r2.rc == 0 and open(outs[0], "rb").read() == open(outs[1], "rb").read()
        c.check(same, f"preprocess - ({kind}): the same tensor as the file ({r1.rc}, {r2.rc})")
    r1 = run(vkclip, ["classify", "--model", model, "--labels", "cat;dog", image])
    r2 = run(vkclip, ["classify", "--model", model, "--labels", "cat;dog", "-"], stdin=open(image, "rb").read())
    l1, l2 = r1.json_lines(), r2.json_lines()
    c.check(r2.rc == 0 and len(l1) == len(l2) == 1 and l2[0]["file"] == "-" and l1[0]["labels"] == l2[0]["labels"],
            f"classify -: the file's labels and scores ({r2.describe()})")
    r = run(vkclip, ["embed-image", "--model", model, "-"], stdin=b"not an image at all\n")
    lines = stderr_lines(r)
    c.check(r.rc == 1 and len(lines) == 1 and lines[0].startswith("vkclip: - (standard input): "),
            f"embed-image - with text on stdin: rc {r.rc}, one line naming standard input: {lines!r}")
    r = run(vkclip, ["embed-image", "--model", model, "-"], stdin=b"")
    lines = stderr_lines(r)
    c.check(r.rc == 1 and len(lines) == 1 and "standard input" in lines[0],
            f"embed-image - with nothing on stdin: rc {r.rc}, {lines!r}")


# ------------------------------------------------------------ unreadable images

def check_bad_among_good(c, vkclip, model, image, tmp):
    missing = os.path.join(tmp, "missing.png")
    garbage = os.path.join(tmp, "garbage.png")
    with open(garbage, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n but then nothing a PNG needs")
    paths = [image, missing, image, garbage, image]
    good = run(vkclip, ["embed-image", "--model", model, image])
    want = embeddings_by_file(good).get(image)
    for batch in ("8", "2", "1"):
        r = run(vkclip, ["embed-image", "--model", model, "--batch", batch] + paths)
        lines, errors = r.json_lines(), stderr_lines(r)
        c.check(r.rc == 1 and [x["file"] for x in lines] == [image] * 3 and all(x["embedding"] == want for x in lines),
                f"embed-image --batch {batch}, two bad of five: the three good ones embedded, rc {r.rc} (want 1)")
        c.check(len(errors) == 2 and errors[0].startswith(f"vkclip: {missing}: ")
                and errors[1].startswith(f"vkclip: {garbage}: "),
                f"embed-image --batch {batch}: one line per bad image, named, in order: {errors!r}")
    # A crop that does not fit one image is that image's error (the engine refuses the frame).
    small = os.path.join(tmp, "small.png")
    try:
        from PIL import Image
        Image.open(image).resize((50, 40)).save(small)
    except ImportError:
        small = None
    if small:
        r = run(vkclip, ["embed-image", "--model", model, "--crop", "0,0,100,100", image, small, image])
        errors = stderr_lines(r)
        c.check(r.rc == 1 and [x["file"] for x in r.json_lines()] == [image, image] and len(errors) == 1
                and errors[0].startswith(f"vkclip: {small}: ") and "frame 1" not in errors[0],
                f"embed-image --crop outside one of three images: the others embedded, {errors!r}")
    labels = ["--labels", "cat;dog"]
    ref = run(vkclip, ["classify", "--model", model] + labels + [image]).json_lines()
    r = run(vkclip, ["classify", "--model", model] + labels + paths)
    lines, errors = r.json_lines(), stderr_lines(r)
    c.check(r.rc == 1 and [x["file"] for x in lines] == [image] * 3 and ref
            and all(x["labels"] == ref[0]["labels"] for x in lines),
            f"classify, two bad of five: three lines with the good image's labels, rc {r.rc} (want 1)")
    c.check(len(errors) >= 3 and errors[0].startswith(f"vkclip: {missing}: ")
            and errors[1].startswith(f"vkclip: {garbage}: ") and "classifier" in errors[-1],
            f"classify: the bad images are reported first, before the classifier: {errors!r}")


def cache_files(cache):
    return sorted(f for f in os.listdir(cache) if f.startswith("classifier-")) if os.path.isdir(cache) else []


def check_classify_fails_fast(c, vkclip, model, image, tmp):
    """No readable image: no text is encoded, so no classifier is written to
    a fresh cache; with one readable image the same run writes one."""
    missing = [os.path.join(tmp, f"gone-{i}.png") for i in range(3)]
    labels = ["--labels", ";".join(f"label number {i}" for i in range(40)), "--template", "a photo of a {}.",
              "--template", "a drawing of a {}."]
    cache = os.path.join(tmp, "fast-cache")
    env = {"VKCLIP_CACHE_DIR": cache}
    r = run(vkclip, ["classify", "--model", model] + labels + missing, env=env)
    errors = stderr_lines(r)
    c.check(r.rc == 1 and r.stdout == "" and len(errors) == 3
            and all(e.startswith(f"vkclip: {p}: ") for e, p in zip(errors, missing)),
            f"classify with no readable image: rc {r.rc} (want 1), one line per image: {errors!r}")
    c.check(not any("classifier" in e or "embedding prompts" in e for e in errors) and cache_files(cache) == [],
            f"classify with no readable image: no classifier built or cached ({cache_files(cache)}), "
            f"{r.seconds:.2f} s")
    control = run(vkclip, ["classify", "--model", model] + labels + missing[:1] + [image], env=env)
    c.check(control.rc == 1 and len(control.json_lines()) == 1 and len(cache_files(cache)) == 1,
            f"control: with one readable image the same run builds and caches the classifier "
            f"({cache_files(cache)}, rc {control.rc})")


# ------------------------------------------------------------ VKCLIP_PROFILE

def check_profile(c, vkclip, model, image, tmp):
    for name, extra in PROFILED.items():
        args = [name, "--model", model] + [image if a == "IMAGE" else os.path.join(tmp, "prof.f32") if a == "OUT"
                                           else a for a in extra]
        plain = run(vkclip, args)
        r = run(vkclip, args, env={"VKCLIP_PROFILE": "1"})
        profiles = [ln for ln in r.stderr.splitlines() if ln.startswith("profile: ")]
        kernels = [ln for ln in r.stderr.splitlines() if ln.startswith("  ") and " ms " in ln]
        c.check(r.rc == 0 and profiles and kernels and r.stdout.count("\n") == plain.stdout.count("\n"),
                f"{name} with VKCLIP_PROFILE=1: {len(profiles)} profile(s), {len(kernels)} kernel lines on stderr "
                f"({profiles[:1]})")
        c.check(plain.rc == 0 and "profile: " not in plain.stderr, f"{name} without VKCLIP_PROFILE: no profile")
    r = run(vkclip, ["classify", "--model", model, "--labels", "cat;dog", "--no-cache", image],
            env={"VKCLIP_PROFILE": "1"})
    c.check(r.stderr.count("profile: ") >= 2,
            f"classify --no-cache profiles both towers' work: {r.stderr.count('profile: ')} profiles")
    check_profile_flops(c, vkclip, model)


def image_tower_flops(model):
    """The image tower's floating-point operations per image, derived from
    config.json: each matmul counts 2·M·N·K. Attention's P·V runs over the
    token count padded to a multiple of 4 (the shaders read four values a
    texel, and the padding is zero)."""
    with open(os.path.join(model, "config.json")) as f:
        cfg = json.load(f)
    v = cfg["vision_config"]
    d, layers, p, side = v["hidden_size"], v["num_hidden_layers"], v["patch_size"], v["image_size"]
    mlp, proj = v["intermediate_size"], cfg["projection_dim"]
    patches = (side // p) ** 2
    T = patches + 1
    Tp = (T + 3) // 4 * 4
    per_layer = 2 * T * (3 * d * d + d * d + 2 * d * mlp) + 2 * T * T * d + 2 * T * Tp * d
    return 2 * patches * 3 * p * p * d + layers * per_layer + 2 * d * proj


def check_profile_flops(c, vkclip, model):
    """The profile's counted arithmetic for one image-tower pass is the
    model's, its counted bytes cover the matmul weights, and each kind of
    matmul gets GFLOP/s and GB/s figures."""
    batch = 3
    r = run(vkclip, ["bench", "--device", "vulkan", "--model", model, "--batch", str(batch), "--seconds", "0.01"],
            env={"VKCLIP_PROFILE": "1"})
    counted = [float(ln.split(", ")[2].split()[0]) for ln in r.stderr.splitlines()
               if ln.startswith("profile: ") and "GFLOP counted" in ln]
    want = batch * image_tower_flops(model) * 1e-9
    c.check(r.rc == 0 and counted and abs(counted[-1] - want) <= 1e-4 + 1e-3 * want,
            f"bench --batch {batch} with VKCLIP_PROFILE=1: {counted[-1:] or 'no'} GFLOP counted, "
            f"{want:.4f} from config.json")
    kinds = [ln for ln in r.stderr.splitlines() if ln.startswith("  matmul")]
    c.check(kinds and all("GFLOP/s" in ln and ln.endswith("GB/s") for ln in kinds),
            f"every matmul kind has GFLOP/s and GB/s figures ({kinds[:1]})")
    # Bytes: at batch 1 a pass reads every matmul weight at least once, and
    # its activations are small beside them in this model.
    r = run(vkclip, ["bench", "--device", "vulkan", "--model", model, "--batch", "1", "--seconds", "0.01"],
            env={"VKCLIP_PROFILE": "1"})
    moved = [float(ln.split(", ")[3].split()[0]) for ln in r.stderr.splitlines()
             if ln.startswith("profile: ") and "GB counted" in ln]
    weights = matmul_weight_bytes(model) * 1e-9
    c.check(r.rc == 0 and moved and weights <= moved[-1] <= 2 * weights,
            f"bench --batch 1: {moved[-1:] or 'no'} GB counted, between the matmul weights' {weights:.4f} GB "
            "and twice that")


def matmul_weight_bytes(model):
    """Bytes of the image tower's matmul weights, from model.safetensors'
    header: the patch embedding, each layer's projections and MLP, and the
    visual projection."""
    with open(os.path.join(model, "model.safetensors"), "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    total = 0
    for name, t in header.items():
        vision = name.startswith("vision_model.") and name.endswith(
            ("proj.weight", "fc1.weight", "fc2.weight", "patch_embedding.weight"))
        if vision or name == "visual_projection.weight":
            total += t["data_offsets"][1] - t["data_offsets"][0]
    return total


# ------------------------------------------------------------ info

def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n))


def tower_sizes(model):
    """Parameters and bytes of each tower from the safetensors header: float
    tensors under vision_model./visual_projection. and text_model./text_projection."""
    sizes = {"vision": [0, 0], "text": [0, 0]}
    for name, info in read_header(os.path.join(model, "model.safetensors")).items():
        if name == "__metadata__" or info["dtype"] not in ("F32", "F16", "BF16"):
            continue
        tower = ("vision" if name.startswith(("vision_model.", "visual_projection.")) else
                 "text" if name.startswith(("text_model.", "text_projection.")) else None)
        if tower:
            count = 1
            for d in info["shape"]:
                count *= d
            sizes[tower][0] += count
            sizes[tower][1] += info["data_offsets"][1] - info["data_offsets"][0]
    return sizes


def check_threads(c, vkclip, model, image):
    """--threads and $VKCLIP_THREADS set the CPU backend's threads, which info
    reports; any count gives the Vulkan device's embedding."""
    for args, env, want in ((["--threads", "3"], None, 3), ([], {"VKCLIP_THREADS": "2"}, 2),
                            (["--threads", "1"], {"VKCLIP_THREADS": "2"}, 1)):
        r = run(vkclip, ["info", "--device", "cpu"] + args, env=env)
        c.check(r.rc == 0 and f"threads: {want}" in r.stdout.splitlines(),
                f"info --device cpu {args} {env}: 'threads: {want}' ({r.rc}, {r.stdout[-200:]!r})")
    r = run(vkclip, ["embed-image", "--model", model, "--device", "cpu", image], env={"VKCLIP_THREADS": "lots"})
    lines = stderr_lines(r)
    c.check(r.rc == 1 and len(lines) == 1 and "VKCLIP_THREADS=lots" in lines[0],
            f"VKCLIP_THREADS=lots: one line naming it, rc 1 ({r.rc}, {lines!r})")
    embeddings = {}
    for name, args in (("vulkan", ["--device", "vulkan"]), ("cpu, 1 thread", ["--device", "cpu", "--threads", "1"]),
                       ("cpu, 3 threads", ["--device", "cpu", "--threads", "3"])):
        r = run(vkclip, ["embed-image", "--model", model] + args + [image])
        embeddings[name] = json.loads(r.stdout)["embedding"] if r.rc == 0 else None
        c.check(r.rc == 0, f"embed-image {args}: rc {r.rc} {r.stderr[-200:]!r}")
    ref = embeddings["vulkan"]
    for name in ("cpu, 1 thread", "cpu, 3 threads"):
        got = embeddings[name]
        worst = max(abs(a - b) for a, b in zip(got, ref)) if got and ref else float("inf")
        c.check(worst <= 1e-5, f"embed-image on the {name} against Vulkan: largest difference {worst:.2g}")


def check_info(c, vkclip, fixtures):
    for name in ("clip-tiny-f32", "clip-tiny-f16"):
        model = os.path.join(fixtures, name)
        r = run(vkclip, ["info", "--model", model])
        lines = r.stdout.splitlines()
        prefixes = [ln.split(":")[0] for ln in lines if not ln.startswith("device ")]
        old = ["vulkan", "memory", "16-bit storage", "fp16 arithmetic", "subgroup size", "subgroup arithmetic",
               "model", "vision", "text", "embed dim", "logit scale", "weights", "activations"]
        c.check(r.rc == 0 and prefixes[:len(old)] == old, f"info {name}: the existing lines, in order ({prefixes})")
        for tower, (params, nbytes) in tower_sizes(model).items():
            want = f"{tower} tower: {params} parameters, {nbytes} bytes as stored"
            c.check(want in lines, f"info {name}: '{want}' (from the safetensors header)")
        bytes_per = {"clip-tiny-f32": 4, "clip-tiny-f16": 2}[name]
        vision = tower_sizes(model)["vision"]
        c.check(vision[1] == vision[0] * bytes_per, f"info {name}: {bytes_per} bytes a parameter as stored")
    r = run(vkclip, ["info"], env={"VKCLIP_MODEL": os.path.join(fixtures, "clip-tiny-f32")})
    c.check(r.rc == 0 and "model:" not in r.stdout and "tower:" not in r.stdout,
            "info without --model describes no model (it needs none), even with $VKCLIP_MODEL")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    vkclip, version = sys.argv[1], sys.argv[2]
    testlib.prepare_vkclip(vkclip)
    c = testlib.Checker()
    check_help(c, vkclip)
    check_version(c, vkclip, version)
    fixtures = os.environ.get("VKCLIP_FIXTURES", "")
    if not os.path.isfile(os.path.join(fixtures, "clip-tiny-f32", "config.json")):
        print(f"note: no fixtures in VKCLIP_FIXTURES='{fixtures}': only help and --version were checked")
        c.finish()
    model = os.path.join(fixtures, "clip-tiny-f32")
    image = os.path.join(fixtures, "images", "chelsea.png")
    with tempfile.TemporaryDirectory(prefix="vkclip-cli-") as tmp:
        os.environ["VKCLIP_CACHE_DIR"] = os.path.join(tmp, "cache")
        os.environ.pop("VKCLIP_PROFILE", None)
        check_usage_errors(c, vkclip, model, image, tmp)
        check_equals_form(c, vkclip, model, image)
        check_default_model(c, vkclip, model, image, tmp)
        check_stdin(c, vkclip, model, image, tmp)
        check_bad_among_good(c, vkclip, model, image, tmp)
        check_classify_fails_fast(c, vkclip, model, image, tmp)
        check_profile(c, vkclip, model, image, tmp)
        check_threads(c, vkclip, model, image)
        check_info(c, vkclip, fixtures)
    c.finish()


if __name__ == "__main__":
    ec.run_main(main)
