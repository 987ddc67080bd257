"""scripts/extract_prompts.py on OpenAI's prompts.md, and its Kinetics-700
files through vkclip classify (700 labels x 28 templates).

The expected counts are read off prompts.md by hand: its introduction says
it holds 26 datasets; Kinetics-700 has 700 classes by definition, from
'abseiling' to 'zumba'; its templates are 4 openings ("a photo of",
"a video of", "a example of", "a demonstration of") x 7 endings ("{}.",
"a person {}.", "a person using/doing/during/performing/practicing {}.")
= 28; CIFAR10 has 10 classes and 18 templates; FER2013's first names are
copied from the file. The classify scores are checked against
zs_common.reference_probs on six of the classes: a softmax over all 700
labels, renormalised over six, is the softmax over those six.

usage: test_extract_prompts.py VKCLIP
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zs_common as zs  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

KINETICS_OPENINGS = ["a photo of", "a video of", "a example of", "a demonstration of"]
KINETICS_ENDINGS = ["{}.", "a person {}.", "a person using {}.", "a person doing {}.", "a person during {}.",
                    "a person performing {}.", "a person practicing {}."]
FER_FIRST_NAMES = ["angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral"]
PROB_DIFF = 1e-4


def extract(prompts_md, *args):
    script = os.path.join(testlib.source_root(), "scripts", "extract_prompts.py")
    return subprocess.run([sys.executable, script, prompts_md] + list(args), capture_output=True, text=True)


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def extract_files(c, prompts_md, work, dataset):
    classes, templates = os.path.join(work, f"{dataset}.classes"), os.path.join(work, f"{dataset}.templates")
    p = extract(prompts_md, dataset, "--classes-out", classes, "--templates-out", templates)
    if not c.check(p.returncode == 0, f"extract {dataset!r}: rc {p.returncode}, {p.stderr.strip()!r}"):
        return None, None
    return read_lines(classes), read_lines(templates)


def check_extractor(c, prompts_md, work):
    p = extract(prompts_md, "--list")
    names = p.stdout.splitlines()
    c.check(p.returncode == 0 and len(names) == 26 and "Kinetics700" in names and "CIFAR10" in names,
            f"--list: rc {p.returncode}, {len(names)} datasets (want 26)")
    classes, templates = extract_files(c, prompts_md, work, "Kinetics700")
    if classes is not None:
        want = [f"{o} {e}" for o in KINETICS_OPENINGS for e in KINETICS_ENDINGS]
        c.check(len(classes) == 700 and len(set(classes)) == 700,
                f"Kinetics700: {len(classes)} classes, {len(set(classes))} distinct (want 700)")
        c.check(classes[:1] == ["abseiling"] and classes[-1:] == ["zumba"],
                f"Kinetics700: first {classes[:1]}, last {classes[-1:]}")
        c.check(templates == want, f"Kinetics700: {len(templates)} templates (want the 28 of 4 x 7)"
                + ("" if templates == want else f": {templates[:3]}..."))
    for spelling in ("kinetics-700", "KINETICS 700", "kinetics_700"):
        again, _ = extract_files(c, prompts_md, work, spelling)
        c.check(again == classes, f"{spelling!r} names the same dataset")
    cifar, cifar_t = extract_files(c, prompts_md, work, "cifar10")
    if cifar is not None:
        c.check(len(cifar) == 10 and len(cifar_t) == 18 and cifar[0] == "airplane",
                f"CIFAR10: {len(cifar)} classes, {len(cifar_t)} templates (want 10, 18)")
    fer, fer_t = extract_files(c, prompts_md, work, "FacialEmotionRecognition2013")
    if fer is not None:
        c.check(fer == FER_FIRST_NAMES and len(fer_t) == 6, f"FER2013: first names {fer}, {len(fer_t)} templates")
    country, _ = extract_files(c, prompts_md, work, "Country211")
    if country is not None:
        c.check("Cote d'Ivoire" in country and len(country) == 211,
                f"Country211: {len(country)} classes, \"Cote d'Ivoire\" kept with its quote")
    mnist, mnist_t = extract_files(c, prompts_md, work, "MNIST")
    if mnist is not None:
        c.check(mnist_t == ['a photo of the number: "{}".'], f"MNIST: template {mnist_t}")
    p = extract(prompts_md, "ImageNet", "--classes-out", os.path.join(work, "x"),
                "--templates-out", os.path.join(work, "y"))
    c.check(p.returncode == 1 and "ImageNet" in p.stderr, f"unknown dataset: rc {p.returncode}, {p.stderr.strip()!r}")
    return classes, templates


def check_kinetics_classify(c, vkclip, work, classes, templates):
    clip_torch, tokenizer = zs.require_references()
    model = zs.make_random_model(os.path.join(work, "model"), text_width=64, text_layers=2, text_heads=2,
                                 embed=32, act="quick_gelu", dtype="F16", seed=41)
    images = zs.write_test_images(work)
    args = ["classify", "--model", model, "--labels-file", os.path.join(work, "Kinetics700.classes"),
            "--templates-file", os.path.join(work, "Kinetics700.templates"), "--top-k", "700"] + images
    first = testlib.run_vkclip(vkclip, args, timeout=600)
    if not c.check_run(first, "classify Kinetics700"):
        return
    c.check("700 labels x 28 templates built" in first.stderr,
            f"classify Kinetics700: {first.stderr.strip()!r} ({first.seconds:.1f} s)")
    rows = first.json_lines()
    if not c.check(len(rows) == 2 and all(len(r["labels"]) == 700 for r in rows)
                   and all(sorted(e["label"] for e in r["labels"]) == sorted(classes) for r in rows),
                   "classify Kinetics700: 700 labels, the classes, for each image"):
        return
    subset = [classes[i] for i in (0, 139, 280, 421, 560, 699)]
    ref = zs.reference_probs(clip_torch, tokenizer, model, subset, templates, images)
    for i, row in enumerate(rows):
        scores = zs.scores_by_label(row)
        total = sum(scores.values())
        c.check(abs(total - 1) < 1e-3, f"image {i}: the 700 scores sum to {total:.6f}")
        part = [scores[s] for s in subset]
        renorm = [p / sum(part) for p in part]
        diff = max(abs(a - b) for a, b in zip(renorm, ref[i]))
        c.check(diff < PROB_DIFF, f"image {i}: 6 of the 700 labels renormalised vs reference: "
                f"max diff {diff:.2e} (< {PROB_DIFF:g})")
    again = testlib.run_vkclip(vkclip, args, timeout=600)
    c.check(again.rc == 0 and "read from the cache" in again.stderr and again.stdout == first.stdout,
            f"classify Kinetics700 again: from the cache, same output ({again.seconds:.2f} s, "
            f"{again.stderr.strip()!r})")


def main():
    vkclip, work = zs.setup(sys.argv)
    prompts_md = os.path.join(os.environ.get("VKCLIP_SHARED_DATA", ""), "openai-clip", "prompts.md")
    if not os.path.isfile(prompts_md):
        testlib.skip(f"no {prompts_md} (VKCLIP_SHARED_DATA)")
    c = testlib.Checker()
    classes, templates = check_extractor(c, prompts_md, work)
    if classes and len(classes) == 700:
        check_kinetics_classify(c, vkclip, work, classes, templates)
    c.finish()


if __name__ == "__main__":
    main()
