"""vkclip's text tower on random models of several shapes against the
PyTorch reference (scripts/reference/clip_torch.py, float64) fed with the
ids of the Python reference tokenizer (scripts/reference/tokenizer.py):
widths 64/96, 2-3 layers, 2/3/4 heads, gelu and quick_gelu, F32/F16/BF16,
sharded files, and a model whose context is 32 instead of 77. Prompts cover
other scripts, emoji, HTML entities, special-token strings, digits, a
10,000-character prompt and the empty string.

usage: test_text_models.py VKCLIP
"""

import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zs_common as zs  # noqa: E402 -- it also puts tests/ on sys.path
import testlib  # noqa: E402

COS_F32 = 0.99999   # the fixtures' bound for an fp32 compute path
COS_F16 = 0.9995    # ... and with activations stored in fp16

LONG_PROMPT = ("a photo of the big red barn, " * 400)[:10000]

PROMPTS = [
    "a photo of a cat.",
    "Кошка сидит на окне",                      # Cyrillic
    "ΦΩΤΟΓΡΑΦΊΑ ΜΙΑΣ ΓΆΤΑΣ",                    # Greek capitals: final sigma when lowered
    "صورة قطة على الأريكة",                      # Arabic
    "一只猫的照片 猫の写真です",                    # CJK, kana
    "고양이 사진",                                # Hangul
    "बिल्ली की तस्वीर",                             # Devanagari, combining vowel signs
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ",                # fullwidth forms
    "cafe\u0301 vs café",                       # decomposed vs composed é
    "family 👩‍👩‍👧‍👦 and 👍🏽",                       # ZWJ sequence, skin tone
    "flags 🇺🇦🇯🇵🏳️‍🌈",                           # regional indicators, ZWJ flag
    "Tom &amp; Jerry&#39;s &lt;b&gt;house&lt;/b&gt;",
    "&amp;amp; &eacute;t&eacute; &#x1F431; &nbsp;x",
    "<|endoftext|> hi",
    "a <|startoftext|> b",
    "A <|ENDOFTEXT|> in capitals",
    "1234567890 3.14159 and 2,718 ١٢٣",
    "don't STOP believin' we'll they're I'M",
    "  tabs\tand\nnewlines  and   spaces ",
    "-5 degrees; --raw is text here",
    LONG_PROMPT,
    "",
    "   ",
]

# What ftfy.fix_text makes of the prompts it changes, derived by hand from
# its documentation (fix_character_width: "ＬＯＵＤ　ＮＯＩＳＥＳ" -> "LOUD
# NOISES", https://ftfy.readthedocs.io/en/latest/fixes.html). tokenizer.py
# runs ftfy only when the module is installed (Debian has none); without it
# the reference is given these forms, vkclip the prompts as typed.
FTFY_FIXED = {
    "ＦＵＬＬＷＩＤＴＨ ｌｅｔｔｅｒｓ": "FULLWIDTH letters",
}


def reference_text(tokenizer, prompt):
    return prompt if tokenizer.ftfy is not None else FTFY_FIXED.get(prompt, prompt)

MODELS = [
    # name, make_random_clip.py options
    ("w64-l2-h2-quick_gelu-F32", dict(text_width=64, text_layers=2, text_heads=2, embed=32,
                                      act="quick_gelu", dtype="F32", seed=11)),
    ("w96-l3-h3-gelu-F16-2shards", dict(text_width=96, text_layers=3, text_heads=3, embed=48,
                                        act="gelu", dtype="F16", shards=2, seed=12)),
    ("w64-l2-h4-gelu-BF16-2shards", dict(text_width=64, text_layers=2, text_heads=4, embed=32,
                                         act="gelu", dtype="BF16", shards=2, seed=13)),
    ("w96-l2-h4-quick_gelu-BF16", dict(text_width=96, text_layers=2, text_heads=4, embed=40,
                                       act="quick_gelu", dtype="BF16", seed=14)),
]


def with_context(src, dst, context):
    """Copies the single-file model src to dst with a text context of
    `context` positions: config.json's max_position_embeddings and the first
    rows of the position table (and of the position_ids buffer)."""
    os.makedirs(dst)
    for name in ("vocab.json", "merges.txt", "preprocessor_config.json"):
        with open(os.path.join(src, name), "rb") as f, open(os.path.join(dst, name), "wb") as g:
            g.write(f.read())
    with open(os.path.join(src, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["text_config"]["max_position_embeddings"] = context
    with open(os.path.join(dst, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    out_header, blobs, offset = {}, [], 0
    for name, info in header.items():
        begin, end = info["data_offsets"]
        blob, shape = data[begin:end], list(info["shape"])
        if name in ("text_model.embeddings.position_embedding.weight",
                    "text_model.embeddings.position_ids"):
            rows_axis = 0 if name.endswith("weight") else 1
            row_bytes = (end - begin) // shape[rows_axis]
            shape[rows_axis] = context
            blob = blob[:context * row_bytes]
        out_header[name] = {"dtype": info["dtype"], "shape": shape,
                            "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if meta is not None:
        out_header["__metadata__"] = meta
    text = json.dumps(out_header).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    return dst


def check_model(c, vkclip, clip_torch, tokenizer, name, model):
    import numpy as np
    import torch
    context = clip_torch.load_config(model)["text"]["max_position_embeddings"]
    tok = tokenizer.Tokenizer(model)
    ref_ids = [tok.encode(reference_text(tokenizer, p), context=context) for p in PROMPTS]

    # "--" ends the options, so a prompt may start with dashes.
    run = testlib.run_vkclip(vkclip, ["tokenize", "--model", model, "--"] + PROMPTS)
    if c.check_run(run, f"{name}: tokenize"):
        got = [r["ids"] for r in run.json_lines()]
        bad = [i for i, (g, r) in enumerate(zip(got, ref_ids)) if g != r]
        c.check(len(got) == len(PROMPTS) and not bad,
                f"{name}: tokenize ids equal tokenizer.py's for {len(got)}/{len(PROMPTS)} prompts"
                + "".join(f"\n       {PROMPTS[i][:40]!r}: {got[i]} != {ref_ids[i]}" for i in bad[:4]))
        c.check(len(ref_ids[PROMPTS.index(LONG_PROMPT)]) == context and
                len(got[PROMPTS.index(LONG_PROMPT)]) == context,
                f"{name}: the 10,000-character prompt gives {context} ids")

    model_ref = clip_torch.Clip(model, dtype=torch.float64)
    with torch.no_grad():
        ref = clip_torch.embed_texts(model_ref, ref_ids).numpy()
    for precision, bound in (("f32", COS_F32), ("f16", COS_F16)):
        run = testlib.run_vkclip(vkclip, ["embed-text", "--model", model, "--raw", "--precision",
                                          precision, "--"] + PROMPTS)
        if not c.check_run(run, f"{name}: embed-text --precision {precision}"):
            continue
        rows = run.json_lines()
        if not c.check(len(rows) == len(PROMPTS) and [r["text"] for r in rows] == PROMPTS,
                       f"{name}: embed-text printed {len(rows)} lines, the prompts in order"):
            continue
        cos = [testlib.cosine(r["embedding"], e) for r, e in zip(rows, ref)]
        worst = int(np.argmin(cos))
        c.check(min(cos) >= bound,
                f"{name} --precision {precision}: cosine vs clip_torch min {min(cos):.9f} (>= {bound}; "
                f"1 - cos {1 - min(cos):.1e}), "
                f"worst {PROMPTS[worst][:30]!r}, {run.seconds:.2f} s")


def main():
    vkclip, work = zs.setup(sys.argv)
    clip_torch, tokenizer = zs.require_references()
    c = testlib.Checker()
    models = []
    for name, opts in MODELS:
        models.append((name, zs.make_random_model(os.path.join(work, name), **opts)))
    # make_random_clip.py has no context option: derive a 32-position model.
    models.append(("w64-l2-h2-quick_gelu-F32-context32",
                   with_context(models[0][1], os.path.join(work, "context32"), 32)))
    for name, model in models:
        check_model(c, vkclip, clip_torch, tokenizer, name, model)
    c.finish()


if __name__ == "__main__":
    main()
