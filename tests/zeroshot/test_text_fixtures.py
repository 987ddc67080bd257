"""vkclip's text side against the golden fixtures (OpenAI's own code):
token ids, text embeddings (raw and normalised, fp32 and fp16 activations)
and zero-shot probabilities, for clip-tiny-f32 and clip-tiny-f16.

usage: test_text_fixtures.py VKCLIP
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zs_common as zs  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

# The fixtures' tolerances (fixtures/README.md); the fp32 ones are tighter
# because both sides then compute in at least fp32 from the same weights.
COS_F32 = 0.99999
ONE_MINUS_COS_F32 = 1e-7
COS_F16 = 0.9995
PROB_DIFF = 0.005
PROB_DIFF_F32 = 1e-4


def check_tokens(c, vkclip, name, model, texts):
    run = testlib.run_vkclip(vkclip, ["tokenize", "--model", model] + [t["text"] for t in texts])
    if not c.check_run(run, f"{name}: tokenize"):
        return
    got = run.json_lines()
    c.check(len(got) == len(texts), f"{name}: tokenize printed {len(got)} lines for {len(texts)} texts")
    for t, g in zip(texts, got):
        c.check(g["text"] == t["text"] and g["ids"] == t["ids"],
                f"{name}: tokenize {t['text'][:40]!r}: {len(g['ids'])} ids"
                + ("" if g["ids"] == t["ids"] else f" {g['ids']} != reference {t['ids']}"))


def embed(c, vkclip, what, model, texts, extra):
    run = testlib.run_vkclip(vkclip, ["embed-text", "--model", model] + extra + [t["text"] for t in texts])
    if not c.check_run(run, f"{what}: embed-text {' '.join(extra)}"):
        return None
    got = run.json_lines()
    if not c.check(len(got) == len(texts) and all(g["text"] == t["text"] for g, t in zip(got, texts)),
                   f"{what}: embed-text printed {len(got)} lines, texts in order"):
        return None
    print(f"     ({what}: embed-text {' '.join(extra)} took {run.seconds:.2f} s)")
    return [g["embedding"] for g in got]


def check_embeddings(c, vkclip, name, model, texts):
    import numpy as np
    for precision, bound in (("f32", COS_F32), ("f16", COS_F16)):
        what = f"{name} --precision {precision}"
        raw = embed(c, vkclip, what, model, texts, ["--raw", "--precision", precision])
        if raw is None:
            continue
        cos = [testlib.cosine(r, t["embedding"]) for r, t in zip(raw, texts)]
        worst = int(np.argmin(cos))
        c.check(min(cos) >= bound, f"{what}: raw cosine vs reference min {min(cos):.9f} (>= {bound}), "
                f"worst {texts[worst]['text'][:30]!r}")
        if precision == "f32":
            c.check(1 - min(cos) < ONE_MINUS_COS_F32,
                    f"{what}: 1 - cosine max {1 - min(cos):.3g} (< {ONE_MINUS_COS_F32:g})")
        # The same texts without --raw: unit vectors along the raw ones.
        unit = embed(c, vkclip, what, model, texts, ["--precision", precision])
        if unit is None:
            continue
        norms = [float(np.linalg.norm(u)) for u in unit]
        c.check(max(abs(n - 1) for n in norms) < 1e-5,
                f"{what}: normalised norms in [{min(norms):.7f}, {max(norms):.7f}] (1 +- 1e-5)")
        along = min(testlib.cosine(u, r) for u, r in zip(unit, raw))
        c.check(along > 1 - 1e-6, f"{what}: normalised vs raw direction min cosine {along:.9f}")


def check_replayed_batches(c, vkclip, name, model, texts):
    """130 texts in one call: batches of 64, 64 and 2 prompts. Each batch of 64
    holds every fixture text (7 is prime to 13), so both have the same shape
    and the second replays the forward pass recorded for the first, on other
    prompts in other places; every line must still match its own reference."""
    order = [texts[(i * 7) % len(texts)] for i in range(130)]
    raw = embed(c, vkclip, f"{name} 130 texts", model, order, ["--raw"])
    if raw is None:
        return
    # A NaN is printed as null: such a line counts as cosine -1.
    cos = [testlib.cosine(r, t["embedding"]) if None not in r else -1.0 for r, t in zip(raw, order)]
    cos = [x if x == x else -1.0 for x in cos]
    worst = min(range(len(cos)), key=cos.__getitem__)
    c.check(min(cos) >= COS_F32 and 1 - min(cos) < ONE_MINUS_COS_F32,
            f"{name}: 130 texts in batches of 64, 64, 2: min cosine vs reference {min(cos):.9f}, "
            f"worst line {worst}")


def check_probs(c, vkclip, name, model, fixtures, ref):
    texts = [t["text"] for t in ref["texts"]]
    images = [os.path.join(fixtures, "images", im["file"]) for im in ref["images"]]
    for precision, bound in (("f32", PROB_DIFF_F32), ("f16", PROB_DIFF)):
        what = f"{name} classify --precision {precision}"
        run = testlib.run_vkclip(vkclip, ["classify", "--model", model, "--labels-file",
                                          os.path.join(fixtures, "texts.txt"), "--template", "{}",
                                          "--top-k", len(texts), "--precision", precision, "--no-cache"] + images)
        if not c.check_run(run, what):
            continue
        print(f"     ({what}: {run.seconds:.2f} s; {run.error_lines()})")
        rows = run.json_lines()
        if not c.check(len(rows) == len(images), f"{what}: {len(rows)} result lines for {len(images)} images"):
            continue
        for i, row in enumerate(rows):
            got = {e["label"]: e["score"] for e in row["labels"]}
            if not c.check(sorted(got) == sorted(texts),
                           f"{what}: {os.path.basename(images[i])}: the labels are texts.txt's lines"):
                continue
            diffs = [abs(got[t] - p) for t, p in zip(texts, ref["probs"][i])]
            j = max(range(len(diffs)), key=diffs.__getitem__)
            c.check(max(diffs) < bound and max(diffs) < PROB_DIFF,
                    f"{what}: {os.path.basename(images[i])}: max prob diff {max(diffs):.2e} (< {bound:g}) "
                    f"at {texts[j][:30]!r}: {got[texts[j]]:.6f} vs {ref['probs'][i][j]:.6f}")


def main():
    vkclip, _ = zs.setup(sys.argv)
    zs.require_references()  # numpy for the figures
    fixtures = testlib.fixtures_dir()
    c = testlib.Checker()
    with open(os.path.join(fixtures, "texts.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    for name in ("clip-tiny-f32", "clip-tiny-f16"):
        model = os.path.join(fixtures, name)
        with open(os.path.join(model, "reference.json"), encoding="utf-8") as f:
            ref = json.load(f)
        c.check([t["text"] for t in ref["texts"]] == lines,
                f"{name}: reference.json's texts are texts.txt's {len(lines)} lines")
        check_tokens(c, vkclip, name, model, ref["texts"])
        check_embeddings(c, vkclip, name, model, ref["texts"])
        check_replayed_batches(c, vkclip, name, model, ref["texts"])
        check_probs(c, vkclip, name, model, fixtures, ref)
    c.finish()


if __name__ == "__main__":
    main()
