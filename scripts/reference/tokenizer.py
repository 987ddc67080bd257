#!/usr/bin/python3
"""An independent Python reference of CLIP's tokenizer (OpenAI's
simple_tokenizer.py, as ../shared/docs/clip-reference.md section 4 describes it),
for checking the C tokenizer against. Run it with Debian's Python (python3-regex):

  tokenizer.py VOCAB PROMPTS [--context N] [--clean]

VOCAB   a model directory (vocab.json + merges.txt) or bpe_simple_vocab_16e6.txt.gz
PROMPTS a JSON file holding a list of strings, or a text file with one prompt a line
Prints a JSON list with one list of ids per prompt ([SOT] + ids + [EOT], at most
N ids, default 77). With --clean, prints the cleaned texts instead (VOCAB unused).

ftfy.fix_text runs first when the ftfy module is installed; without it (Debian
has no package) the text is NFC-normalised instead, which is what ftfy does to
text that needs no other fix.
"""

import gzip
import html
import json
import os
import sys
import unicodedata

import regex

try:
    import ftfy
except ImportError:
    ftfy = None

SPLIT = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)
MERGES_USED = 49152 - 256 - 2


def byte_alphabet():
    """GPT-2's bytes_to_unicode as a list of (byte, character), in its order."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
            + list(range(ord("®"), ord("ÿ") + 1)))
    pairs = [(b, chr(b)) for b in keep]
    extra = 0
    for b in range(256):
        if b not in keep:
            pairs.append((b, chr(256 + extra)))
            extra += 1
    return pairs


def clean(text):
    text = ftfy.fix_text(text) if ftfy else unicodedata.normalize("NFC", text)
    text = html.unescape(html.unescape(text)).strip()
    text = regex.sub(r"\s+", " ", text).strip()
    return text.lower()


class Tokenizer:
    def __init__(self, source):
        if os.path.isdir(source):
            with open(os.path.join(source, "vocab.json"), encoding="utf-8") as f:
                self.vocab = json.load(f)
            with open(os.path.join(source, "merges.txt"), encoding="utf-8") as f:
                lines = f.read().split("\n")
            if lines and lines[0].startswith("#version"):
                lines = lines[1:]
            while lines and lines[-1] == "":
                lines.pop()
            merges = [tuple(line.split()) for line in lines]
        else:
            with gzip.open(source) as f:
                lines = f.read().decode("utf-8").split("\n")[1:1 + MERGES_USED]
            merges = [tuple(line.split()) for line in lines]
            symbols = [ch for _, ch in byte_alphabet()]
            symbols += [s + "</w>" for s in symbols]
            symbols += ["".join(m) for m in merges]
            symbols += ["<|startoftext|>", "<|endoftext|>"]
            self.vocab = {s: i for i, s in enumerate(symbols)}
        self.rank = {m: i for i, m in enumerate(merges)}
        self.byte_char = dict(byte_alphabet())
        self.sot = self.vocab["<|startoftext|>"]
        self.eot = self.vocab["<|endoftext|>"]
        self.cache = {}

    def bpe(self, piece):
        word = [self.byte_char[b] for b in piece.encode("utf-8")]
        word[-1] += "</w>"
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.rank.get(p, float("inf")))
            if best not in self.rank:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        return [self.vocab[s] for s in word]

    def encode(self, text, context=77):
        ids = []
        for piece in SPLIT.findall(clean(text)):
            if piece == "<|startoftext|>":
                ids.append(self.sot)
            elif piece == "<|endoftext|>":
                ids.append(self.eot)
            else:
                if piece not in self.cache:
                    self.cache[piece] = self.bpe(piece)
                ids.extend(self.cache[piece])
        return [self.sot] + ids[:context - 2] + [self.eot]


def read_prompts(path):
    with open(path, encoding="utf-8") as f:
        data = f.read()
    if path.endswith(".json"):
        return json.loads(data)
    return data.split("\n")[:-1] if data.endswith("\n") else data.split("\n")


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    context = 77
    if "--context" in argv:
        context = int(argv[argv.index("--context") + 1])
        args.remove(str(context))
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    prompts = read_prompts(args[1])
    if "--clean" in argv:
        json.dump([clean(p) for p in prompts], sys.stdout, ensure_ascii=True)
    else:
        tok = Tokenizer(args[0])
        json.dump([tok.encode(p, context) for p in prompts], sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
