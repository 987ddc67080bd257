"""vkclip classify's prompt ensembling, top-k and default template against
an independent computation of the zero-shot classifier
(zs_common.reference_probs: clip_torch.py embeddings, tokenizer.py ids, the
logit scale read from the safetensors, numpy for the recipe).

usage: test_ensembling.py VKCLIP
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zs_common as zs  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

PROB_DIFF = 1e-4
LABELS = ["cat", "golden retriever", "a cup of coffee", "red sports car", "mountain lake"]
TEMPLATES = ["a photo of a {}.", "a blurry {} next to another {}.", "itap of my {}"]
MORE_LABELS = LABELS + ["bicycle", "Eiffel tower", "bowl of ramen"]
DEFAULT_TEMPLATE = "a photo of a {}."


def classify(c, vkclip, what, model, images, args):
    run = testlib.run_vkclip(vkclip, ["classify", "--model", model] + args + images)
    if not c.check_run(run, what):
        return None
    rows = run.json_lines()
    if not c.check(len(rows) == len(images) and [r["file"] for r in rows] == images,
                   f"{what}: one result line per image, in order ({len(rows)}), {run.seconds:.2f} s"):
        return None
    return rows


def check_against(c, what, rows, labels, expected, expect_count):
    """Each row lists expect_count labels, best first, the top ones of the
    expected probabilities, each within PROB_DIFF."""
    for i, row in enumerate(rows):
        scores = [e["score"] for e in row["labels"]]
        names = [e["label"] for e in row["labels"]]
        if not c.check(len(names) == expect_count and set(names) <= set(labels),
                       f"{what}: image {i}: {len(names)} known labels (want {expect_count})"):
            continue
        c.check(all(a >= b for a, b in zip(scores, scores[1:])), f"{what}: image {i}: scores best first")
        # Reference probabilities of the printed labels, in printed order: no
        # pair inverted and no label left out that beats one printed, beyond
        # the tolerance (near-ties may swap).
        ref = [expected[i][labels.index(n)] for n in names]
        left_out = [expected[i][j] for j, n in enumerate(labels) if n not in names]
        ranking = sorted(range(len(labels)), key=lambda j: -expected[i][j])
        c.check(all(a >= b - PROB_DIFF for a, b in zip(ref, ref[1:])) and
                all(p <= ref[-1] + PROB_DIFF for p in left_out),
                f"{what}: image {i}: order {names} (reference {[labels[j] for j in ranking[:expect_count]]})")
        diffs = [abs(s - r) for s, r in zip(scores, ref)]
        c.check(max(diffs) < PROB_DIFF,
                f"{what}: image {i}: max prob diff {max(diffs):.2e} (< {PROB_DIFF:g}), "
                f"top {names[0]!r} {scores[0]:.6f} vs {ref[0]:.6f}")


def sensitivity(c, clip_torch, tokenizer, model, images, expected):
    """The comparison could tell a wrong recipe: a single template, or an
    average without normalising each prompt first, must differ by more than
    ten times the tolerance."""
    single = zs.reference_probs(clip_torch, tokenizer, model, LABELS, TEMPLATES[:1], images)
    import numpy as np
    import torch
    net = clip_torch.Clip(model, dtype=torch.float64)
    tok = tokenizer.Tokenizer(model)
    with torch.no_grad():
        p = clip_torch.embed_texts(net, [tok.encode(t.replace("{}", lab)) for lab in LABELS
                                         for t in TEMPLATES]).numpy()
        im = clip_torch.embed_images(net, images).numpy()
    w = p.reshape(len(LABELS), len(TEMPLATES), -1).mean(axis=1)  # no per-prompt normalisation
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    im /= np.linalg.norm(im, axis=1, keepdims=True)
    logits = zs.logit_scale_from_safetensors(model) * im @ w.T
    unnormalised = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    d1 = float(np.abs(single - expected).max())
    d2 = float(np.abs(unnormalised - expected).max())
    c.check(min(d1, d2) > 10 * PROB_DIFF,
            f"sensitivity: a single template differs by {d1:.2e}, no per-prompt normalisation "
            f"by {d2:.2e} (> {10 * PROB_DIFF:g})")


def dataset_prompts(c, work):
    """CIFAR10's classes and 18 templates through scripts/extract_prompts.py,
    or None when prompts.md is absent."""
    prompts_md = os.path.join(os.environ.get("VKCLIP_SHARED_DATA", ""), "openai-clip", "prompts.md")
    if not os.path.isfile(prompts_md):
        print(f"note: no {prompts_md}; the CIFAR10 case is skipped")
        return None
    classes, templates = os.path.join(work, "classes.txt"), os.path.join(work, "templates.txt")
    p = subprocess.run([sys.executable, os.path.join(testlib.source_root(), "scripts", "extract_prompts.py"),
                        prompts_md, "CIFAR10", "--classes-out", classes, "--templates-out", templates],
                       capture_output=True, text=True)
    if not c.check(p.returncode == 0, f"extract_prompts.py CIFAR10: rc {p.returncode} {p.stderr.strip()}"):
        return None
    with open(classes, encoding="utf-8") as f:
        labels = f.read().splitlines()
    with open(templates, encoding="utf-8") as f:
        temps = f.read().splitlines()
    return classes, templates, labels, temps


def main():
    vkclip, work = zs.setup(sys.argv)
    clip_torch, tokenizer = zs.require_references()
    c = testlib.Checker()
    model = zs.make_random_model(os.path.join(work, "model"), text_width=64, text_layers=2, text_heads=2,
                                 embed=32, act="quick_gelu", dtype="F32", seed=21)
    images = zs.write_test_images(work)
    expected = zs.reference_probs(clip_torch, tokenizer, model, LABELS, TEMPLATES, images)
    sensitivity(c, clip_torch, tokenizer, model, images, expected)

    flags = [a for t in TEMPLATES for a in ("--template", t)]
    labels_arg = ["--labels", ";".join(LABELS)]
    rows = classify(c, vkclip, "3 --template", model, images, labels_arg + flags + ["--top-k", "5"])
    if rows:
        check_against(c, "3 --template", rows, LABELS, expected, 5)

    tfile = os.path.join(work, "templates.txt")
    with open(tfile, "w", encoding="utf-8") as f:
        f.write("\n".join(TEMPLATES) + "\n")
    rows = classify(c, vkclip, "--templates-file", model, images, labels_arg + ["--templates-file", tfile,
                                                                                "--top-k", "5"])
    if rows:
        check_against(c, "--templates-file", rows, LABELS, expected, 5)
    with open(tfile, "w", encoding="utf-8") as f:
        f.write("\n".join(TEMPLATES[1:]) + "\n")
    rows = classify(c, vkclip, "--templates-file + --template", model, images,
                    labels_arg + ["--templates-file", tfile, "--template", TEMPLATES[0], "--top-k", "5"])
    if rows:
        check_against(c, "--templates-file + --template", rows, LABELS, expected, 5)

    rows = classify(c, vkclip, "--top-k 3", model, images, labels_arg + flags + ["--top-k", "3"])
    if rows:
        check_against(c, "--top-k 3", rows, LABELS, expected, 3)
    rows = classify(c, vkclip, "--top-k 50 of 5 labels", model, images, labels_arg + flags + ["--top-k", "50"])
    if rows:
        check_against(c, "--top-k 50 of 5 labels", rows, LABELS, expected, 5)

    # 8 labels, no --template, no --top-k: the default template, top 5.
    expected8 = zs.reference_probs(clip_torch, tokenizer, model, MORE_LABELS, [DEFAULT_TEMPLATE], images)
    more = ["--labels", " ; ".join(MORE_LABELS)]  # spaces around ';' are trimmed
    plain = testlib.run_vkclip(vkclip, ["classify", "--model", model] + more + images)
    rows = classify(c, vkclip, "defaults (8 labels)", model, images, more)
    if rows:
        check_against(c, "defaults (8 labels)", rows, MORE_LABELS, expected8, 5)
    explicit = testlib.run_vkclip(vkclip, ["classify", "--model", model] + more
                                  + ["--template", DEFAULT_TEMPLATE] + images)
    c.check(plain.rc == 0 and explicit.rc == 0 and plain.stdout == explicit.stdout,
            f"no --template prints what --template {DEFAULT_TEMPLATE!r} prints "
            f"({plain.rc}, {explicit.rc}, equal {plain.stdout == explicit.stdout})")
    c.check("8 labels x 1 templates" in plain.stderr, f"defaults: stderr says 8 x 1: {plain.stderr.strip()!r}")

    cifar = dataset_prompts(c, work)
    if cifar:
        classes, templates, labels, temps = cifar
        expected10 = zs.reference_probs(clip_torch, tokenizer, model, labels, temps, images)
        rows = classify(c, vkclip, f"CIFAR10 {len(labels)} x {len(temps)}", model, images,
                        ["--labels-file", classes, "--templates-file", templates, "--top-k", "10"])
        if rows:
            check_against(c, f"CIFAR10 {len(labels)} x {len(temps)}", rows, labels, expected10, 10)
    c.finish()


if __name__ == "__main__":
    main()
