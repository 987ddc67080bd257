#!/usr/bin/python3
"""Differential test: the C tokenizer (through text_tool) against the Python
reference scripts/reference/tokenizer.py, on a few hundred varied prompts.

  differential.py TEXT_TOOL

Compares the cleaned text (before the split) and the ids, with both
vocabulary sources (the fixture model directory and OpenAI's .gz file) and
several lengths (77, 5, and long enough to keep every id). Exits 77 (skip)
when the fixtures or Python's `regex` module are missing.

The reference runs ftfy.fix_text only when the ftfy module is installed
(Debian has no package); without it, it puts NFC in its place, and the C side
is then asked to do the same (text_tool --no-text-fixes), so that everything
else (HTML unescaping, whitespace, lower(), the split, BPE) is compared on
every prompt. The C side's ftfy steps are tested on their own against
vectors derived from ftfy's documentation (test_text_fixes.c).
"""

import json
import os
import random
import re
import subprocess
import sys
import tempfile

try:
    import regex  # noqa: F401  (the reference needs it)
except ImportError:
    print("SKIP: Python's regex module is missing (apt-get install python3-regex)")
    sys.exit(77)

SOURCE_ROOT = os.environ.get("VKCLIP_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_ROOT, "scripts", "reference"))
import tokenizer as reference  # noqa: E402

FIXTURES = os.environ.get("VKCLIP_FIXTURES", "")
SHARED_DATA = os.environ.get("VKCLIP_SHARED_DATA", "")
MODEL_DIR = os.path.join(FIXTURES, "clip-tiny-f32")
BPE_GZ = os.path.join(SHARED_DATA, "openai-clip", "bpe_simple_vocab_16e6.txt.gz")

HANDWRITTEN = [
    "a photo of a cat.", "", " ", "\t\n", "A", "İstanbul", "ΟΔΟΣ", "ΣΑΣ Σ", "όσος ΣΟΦΟΣ.", "ΑΣ'", "Σ",
    "aΣ\u0301", "ΑΣ\u0345", "x\u0345y", "\u0345", "ǅungla", "STRASSE ẞ", "ﬁsh ﬂower", "ＡＢＣ　ｄｅｆ",
    "Tom &amp;amp; Jerry", "caf&eacute", "caf&eacute;", "&#x1F600;", "&#150;", "&#0;", "&#x110000;",
    "&#xD800;", "&#1;", "&#65", "&#0x41;", "&#;", "&#x;", "&#xg", "&", "&&", "&lt;&gt;", "&notit;",
    "&notin;", "&ampx", "&AMP", "&Aacute", "&nosuch;", "&#128512;", "&#13;", "&#x80;", "&#X41;",
    "&#x9F;", "&#xFFFE;", "&#xFDD0;", "&#x0B;", "&#11;", "&amp;lt;", "&amp;#x41;", "&amp;amp;amp;",
    "&" + "a" * 40 + ";", "&eacutex;", "&CounterClockwiseContourIntegral;", "&nGt;", "&NotEqualTilde;",
    "&sup2;", "&frac12;", "&#99999999999999999999;", "&#x" + "f" * 50 + ";", "&cafe\u0301;", "&amp\u00e9",
    "<|endoftext|> hi", "<|ENDOFTEXT|>", "<|startoftext|><|endoftext|>", "<|ſtartoftext|>", "'ſ",
    "hi<|endoftext|>there", "!<|endoftext|>", "<|endoftext|", "<| endoftext |>",
    "don't we'll they're I'M", "it's", "'s's", "''s", "rock'n'roll", "'S 'T 'RE 'VE 'M 'LL 'D", "'x",
    "l'été", "o'clock", "it’s", "“quoted”",
    "1999", "3.14159", "١٢٣", "²³", "Ⅻ ⅻ", "½", "٣ cats", "10,000", "x²",
    "cafe\u0301", "n\u0303o", "\u1100\u1161\u11a8", "e\u0301\u0301\u0323", "\u0301start",
    "a\u00a0b", "a\u3000b", "a\tb\nc\r\nd", "a\u2028b", "a\u0085b", "a\u1680b", "a\x0bb\x0cc",
    "a\u200bb", "a\u00adb", "a\ufeffb", "a\u200db", "\x1cstrip\x1d", "in\x1cside", "a \x1f b",
    "кошка на диване", "Привет, мир!", "ΚΑΛΗΜΕΡΑ κόσμε", "قطة على الأريكة", "חתול על הספה",
    "बिल्ली सोफे पर", "แมวบนโซฟา", "一只猫在沙发上", "ねこがソファーにいる", "소파 위의 고양이",
    "Ẁ ẁ ǲ ǳ Ω K Å", "ß ŉ ǰ ΐ", "😀", "👨\u200d👩\u200d👧\u200d👦", "🇫🇷🇯🇵", "🏳\ufe0f\u200d🌈",
    "👍🏽 thumbs", "a 🐱 cat 🐈", "!!! ... ?!", "— – -", "«»¿¡", "∑ ≤ ∞", "€ $ ¥", "\x80\x9f",
    "@user #hashtag http://example.com/a?b=c&d=e", "C++ & C#", "e-mail", "__init__", "a/b\\c",
]

SCRIPTS = [
    "photo", "cat", "dog", "Coffee", "AIRPLANE", "naïve", "résumé", "Zürich", "İ", "ı", "ſ", "Σ", "ς",
    "σοφός", "ΟΔΥΣΣΕΥΣ", "кот", "МОСКВА", "قطة", "कुत्ता", "ภาพ", "猫", "写真", "고양이", "ねこ",
    "😀", "👨\u200d👩\u200d👧", "🇩🇪", "👍🏽", "❤️", "&amp;", "&amp;amp;", "&eacute", "&eacute;",
    "&#x1F600;", "&#150;", "&lt;", "&#39;", "&nbsp;", "&AMP;", "<|endoftext|>", "<|startoftext|>",
    "'s", "'t", "'re", "'ll", "'", "''", "n't", "123", "4", "٣", "½", "e\u0301", "a\u0308",
    "\u0345", "!", "?", ".", ",", "...", "—", "’", "“", "(", ")", "[x]", "#1", "50%", "$5", "x\x1c",
]
SEPARATORS = ["", " ", " ", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2009", " \u200b "]


FRAGMENTS = ["&", "#", ";", "x", "X", "0", "1", "9", "a", "e", "f", "AMP", "amp", "lt", "<|", "|>",
             "endoftext", "'", "s", "ſ", "S", "ll", " ", "\t", "\n", "é", "Σ", "\u0345", "\u2019",
             "😀", "e\u0301", "İ", "\x1c", "\u3000", "&eacute", "&#x", "&#", "Ａ", "٣", "ก", "\u200d"]


def fragment_prompts(rng, count):
    """Random strings over the characters the cleanup and split treat specially."""
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 30))) for _ in range(count)]


NFC_BASES = ["a", "e", "o", "u", "A", "E", "s", "\u0391", "\u03b9", "\u0915", "\u0e01", "\u05d1",
             "\u304b", "\u1100", "\u1161", "\u11a8", "\uac00", "\u212b", "\u2126", "\u0958",
             "\u0344", "\u0f73", "\u1e9b", " ", "\u00c5", "\u1f00"]
NFC_MARKS = ["\u0301", "\u0300", "\u0323", "\u0328", "\u0345", "\u0308", "\u0327", "\u031b",
             "\u05b0", "\u05bc", "\u0e38", "\u0e48", "\u3099", "\u093c", "\u0f71", "\u0f72",
             "\u0342", "\u0313", "\u034f", "\u0315"]


def nfc_prompts(rng, count):
    """Bases followed by runs of combining marks of mixed classes, in any order."""
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 6)):
            parts.append(rng.choice(NFC_BASES))
            parts.extend(rng.choice(NFC_MARKS) for _ in range(rng.choice([0, 1, 2, 3, 5, 20])))
        out.append("".join(parts))
    return out


def template_prompts(rng, count):
    """Class names filled into templates, from OpenAI's prompts.md."""
    path = os.path.join(SHARED_DATA, "openai-clip", "prompts.md")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        quoted = re.findall(r"^\s+['\"](.*)['\"],?$", f.read(), re.M)
    templates = [q for q in quoted if "{}" in q]
    classes = [q for q in quoted if "{}" not in q]
    return [rng.choice(templates).replace("{}", rng.choice(classes)) for _ in range(count)]


def random_prompts(rng, count):
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            word = rng.choice(SCRIPTS)
            if rng.random() < 0.15:
                word = word.upper()
            parts.append(word)
            parts.append(rng.choice(SEPARATORS))
        out.append("".join(parts))
    return out


def long_prompts(rng):
    words = [rng.choice(SCRIPTS + ["a", "photo", "of", "the"]) for _ in range(3000)]
    text = " ".join(words)[:10000]
    return [
        text,
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10000)),
        "a" * 10000,
        "!" * 10000,
        "1" * 10000,
        "😀" * 2500,
        "&amp;" * 2000,
        ("ΣΑΣ " * 2500)[:10000],
        " " * 10000 + "x",
        "a" + "\u0301\u0323" * 5000,
        "".join(rng.choice(NFC_MARKS) for _ in range(5000)),
    ]


# What ftfy's default steps may change, from its documentation (the
# "Fixer" functions, https://ftfy.readthedocs.io/en/latest/fixes.html): HTML
# entities, C0 controls but \t \n \f, DEL and C1 controls, U+02BC and the
# curly quotes U+2018..U+201F, Latin ligatures, U+2028/U+2029, U+206A..U+206F,
# U+3000, U+FEFF, full- and halfwidth forms U+FF01..U+FFEF, U+FFF9..U+FFFC.
# Prompts with none of these are left alone by ftfy but for NFC.
LIGATURES = "\u0132\u0133\u0149\u01c4\u01c5\u01c6\u01c7\u01c8\u01c9\u01ca\u01cb\u01cc\u01f1\u01f2\u01f3" \
            "\ufb00\ufb01\ufb02\ufb03\ufb04\ufb05\ufb06"


def ftfy_leaves_alone(text):
    for ch in text:
        cp = ord(ch)
        if ch == "&" or (cp < 0x20 and ch not in "\t\n\f") or 0x7F <= cp <= 0x9F or cp == 0x2BC or \
                0x2018 <= cp <= 0x201F or ch in LIGATURES or cp in (0x2028, 0x2029, 0x3000, 0xFEFF) or \
                0x206A <= cp <= 0x206F or 0xFF01 <= cp <= 0xFFEF or 0xFFF9 <= cp <= 0xFFFC:
            return False
    return True


def run_tool(tool, args, text_fixes=None):
    if text_fixes is None:
        text_fixes = reference.ftfy is not None
    if not text_fixes:
        args = ["--no-text-fixes"] + args
    out = subprocess.run([tool] + args, check=True, capture_output=True, text=True, encoding="utf-8")
    return [json.loads(line) for line in out.stdout.splitlines()]


def compare(label, prompts, got, want, failures):
    if len(got) != len(want):
        failures.append(f"{label}: {len(got)} results for {len(prompts)} prompts")
        return
    for prompt, g, w in zip(prompts, got, want):
        if g != w:
            failures.append(f"{label}: prompt {ascii(prompt[:80])}\n   C:      {ascii(g)[:300]}\n"
                            f"   Python: {ascii(w)[:300]}")


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    if not os.path.isdir(MODEL_DIR) or not os.path.exists(BPE_GZ):
        print(f"SKIP: fixtures not found ({MODEL_DIR}, {BPE_GZ}); set VKCLIP_FIXTURES")
        return 77
    rng = random.Random(20240611)
    with open(os.path.join(MODEL_DIR, "reference.json"), encoding="utf-8") as f:
        fixture_texts = [t["text"] for t in json.load(f)["texts"]]
    prompts = (fixture_texts + HANDWRITTEN + random_prompts(rng, 300) + fragment_prompts(rng, 300)
               + nfc_prompts(rng, 300) + template_prompts(rng, 150)
               + long_prompts(rng))

    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "prompts.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(prompts, f)
        compare("clean", prompts, run_tool(tool, ["clean", path]),
                [reference.clean(p) for p in prompts], failures)
        for source in (MODEL_DIR, BPE_GZ):
            ref = reference.Tokenizer(source)
            for max_ids in (77, 5, 30000):
                got = run_tool(tool, ["encode", source, path, str(max_ids)])
                want = [ref.encode(p, max_ids) for p in prompts]
                compare(f"{os.path.basename(source)} max {max_ids}", prompts, got, want, failures)
        # With the text fixes on, the prompts ftfy leaves alone come out as
        # the reference has them (whether ftfy is installed or not).
        plain = [p for p in prompts if ftfy_leaves_alone(p)]
        with open(path, "w", encoding="utf-8") as f:
            json.dump(plain, f)
        compare("clean with the text fixes, prompts ftfy leaves alone", plain,
                run_tool(tool, ["clean", path], text_fixes=True), [reference.clean(p) for p in plain], failures)
        got = run_tool(tool, ["encode", MODEL_DIR, path, "77"], text_fixes=True)
        ref = reference.Tokenizer(MODEL_DIR)
        compare("ids with the text fixes, prompts ftfy leaves alone", plain, got,
                [ref.encode(p, 77) for p in plain], failures)
    for line in failures[:20]:
        print("FAIL " + line)
    checks = 1 + 2 * 3
    print(f"{len(prompts)} prompts, {checks} comparisons each, 2 more with the text fixes on the {len(plain)} "
          f"that ftfy leaves alone: {len(failures)} mismatches"
          + (" (ftfy is not installed: NFC only on both sides)" if reference.ftfy is None else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
