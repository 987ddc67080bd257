#!/usr/bin/python3
"""PyTorch CPU time to build a zero-shot classifier, the baseline for vkclip.

  torch_zeroshot.py --model DIR --labels-file F --templates-file F [--threads T] [--batch N]

The same recipe as `vkclip classify`: every label in every template, each
prompt tokenized (scripts/reference/tokenizer.py), run through the text tower
at its true length in batches of similar lengths (padded to the batch's
longest, the causal mask making padding harmless), normalised, averaged per
label and normalised again. float32, inference mode. Prints the time of each
step and `seconds: X` (the whole build) as its last line.
"""

import argparse
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--labels-file", required=True)
    ap.add_argument("--templates-file", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see torch_bench.py
    import torch
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "scripts", "reference"))
    import clip_torch
    import tokenizer

    torch.set_num_threads(args.threads)
    with open(args.labels_file, encoding="utf-8") as f:
        labels = [line.strip() for line in f if line.strip()]
    with open(args.templates_file, encoding="utf-8") as f:
        templates = [line.strip() for line in f if line.strip()]

    t_start = time.perf_counter()
    model = clip_torch.Clip(args.model, torch.float32, fused_layer_norm=True)
    t_loaded = time.perf_counter()
    cfg = model.config["text"]
    tok = tokenizer.Tokenizer(args.model)
    prompts = [t.replace("{}", label) for label in labels for t in templates]
    ids = [tok.encode(p, context=cfg["max_position_embeddings"]) for p in prompts]
    t_tokenized = time.perf_counter()

    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), i))
    emb = torch.empty(len(ids), model.w["text_projection.weight"].shape[0])
    e = "text_model.embeddings."
    with torch.inference_mode():
        for start in range(0, len(order), args.batch):
            chunk = order[start:start + args.batch]
            t = max(len(ids[i]) for i in chunk)
            batch = torch.zeros(len(chunk), t, dtype=torch.long)
            for row, i in enumerate(chunk):
                batch[row, :len(ids[i])] = torch.tensor(ids[i])
            x = model.w[e + "token_embedding.weight"][batch] + model.w[e + "position_embedding.weight"][:t]
            x = model._encoder(x, "text_model", cfg, causal=True)
            pool = torch.tensor([ids[i].index(max(ids[i])) for i in chunk])
            x = model._ln(x[torch.arange(len(chunk)), pool], "text_model.final_layer_norm", cfg["layer_norm_eps"])
            emb[chunk] = model._linear(x, "text_projection", bias=False)
        emb = emb / emb.norm(dim=-1, keepdim=True)
        weights = emb.reshape(len(labels), len(templates), -1).mean(1)
        weights = weights / weights.norm(dim=-1, keepdim=True)
    t_done = time.perf_counter()
    print(f"prompts: {len(prompts)} ({len(labels)} labels x {len(templates)} templates), "
          f"mean length {sum(map(len, ids)) / len(ids):.1f} tokens")
    print(f"load: {t_loaded - t_start:.2f} s, tokenize: {t_tokenized - t_loaded:.2f} s, "
          f"text tower: {t_done - t_tokenized:.2f} s")
    print(f"seconds: {t_done - t_loaded:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
