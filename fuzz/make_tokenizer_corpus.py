#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_tokenizer (fuzz/corpus/tokenizer): small
hand-made tokenizers (vocab.json, a NUL byte, merges.txt) over GPT-2's byte
alphabet, consistent and not, and merges parts that are prompts full of what
ftfy's steps change. Run from anywhere: python3 fuzz/make_tokenizer_corpus.py.
Standard library only."""
import json
import os

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "tokenizer")


def byte_alphabet():
    """GPT-2's bytes_to_unicode characters, by byte value."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, extra = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return out


def vocab(extra_tokens):
    chars = byte_alphabet()
    v = {chars[b]: b for b in range(256)}
    v.update({chars[b] + "</w>": 256 + b for b in range(256)})
    for i, t in enumerate(extra_tokens):
        v[t] = 512 + i
    v["<|startoftext|>"] = 512 + len(extra_tokens)
    v["<|endoftext|>"] = 513 + len(extra_tokens)
    return v


def merges_of(pairs, header=True):
    return ("#version: 0.2\n" if header else "") + "".join(f"{a} {b}\n" for a, b in pairs)


def put(name, vocab_part, merges_part):
    os.makedirs(HERE, exist_ok=True)
    if not isinstance(vocab_part, bytes):
        vocab_part = (vocab_part if isinstance(vocab_part, str) else
                      json.dumps(vocab_part, ensure_ascii=False)).encode("utf-8")
    if not isinstance(merges_part, bytes):
        merges_part = merges_part.encode("utf-8")
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(vocab_part + b"\0" + merges_part)


HELLO = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o</w>")]
HELLO_TOKENS = ["he", "ll", "hell", "hello</w>"]
PHOTO = [("p", "h"), ("o", "t"), ("ph", "ot"), ("phot", "o</w>"), ("c", "a"), ("ca", "t</w>"),
         ("a", "</w>")]  # the last one names a symbol that is no token: refused
PHOTO_TOKENS = ["ph", "ot", "phot", "photo</w>", "ca", "cat</w>"]
# é is bytes C3 A9: Ã and © in the byte alphabet
CAFE = [("c", "a"), ("ca", "f"), ("Ã", "©</w>"), ("caf", "é</w>".replace("é", "Ã©"))]
CAFE_TOKENS = ["ca", "caf", "Ã©</w>", "cafÃ©</w>"]


def main():
    put("hello", vocab(HELLO_TOKENS), merges_of(HELLO))
    put("hello_crlf_tabs", vocab(HELLO_TOKENS), merges_of(HELLO).replace("\n", "\r\n").replace(" ", "\t")
        + "\r\n\r\n")
    put("hello_truncated", vocab(HELLO_TOKENS), merges_of(HELLO[:2]))
    put("hello_header_only", vocab(HELLO_TOKENS), merges_of([]))
    put("hello_no_header", vocab(HELLO_TOKENS), merges_of(HELLO, header=False))
    put("bytes_only", vocab([]), "")
    put("photo_cat", vocab(PHOTO_TOKENS), merges_of(PHOTO[:-1]))
    put("photo_cat_bad_symbol", vocab(PHOTO_TOKENS), merges_of(PHOTO))
    put("cafe", vocab(CAFE_TOKENS), merges_of(CAFE))
    dup = vocab(HELLO_TOKENS)
    put("duplicate_id", json.dumps(dup)[:-1] + ', "zz": 512}', merges_of(HELLO))
    put("sparse_ids", {**vocab(HELLO_TOKENS), "<|endoftext|>": 100000}, merges_of(HELLO))
    no_eot = vocab(HELLO_TOKENS)
    del no_eot["<|endoftext|>"]
    put("no_eot", no_eot, merges_of(HELLO))
    put("not_an_object", "[1, 2, 3]", merges_of(HELLO))
    put("cut_json", json.dumps(vocab(HELLO_TOKENS))[:300], merges_of(HELLO))
    put("three_fields", vocab(HELLO_TOKENS), "#version: 0.2\nh e x\n")
    put("merges_not_utf8", vocab(HELLO_TOKENS), b"#version: 0.2\nh \xff\n")
    # merges parts that are prompts: ftfy's steps, and surrogates encoded alone
    prompts = ("&amp;amp;amp; &EACUTE; &#x2019; &#xFF06;amp; &semi&semi; <b>&lt;</b>\n"
               "\u201cquoted\u201d \ufb01sh \uff21\uff22\u3000\uff76\uff9e \u0149 \u2028\u2029\r\n"
               "\x1b[31mred\x1b[0m \x1b[?25h \x01\x0b\x7f\ufeff \u0085\u0093\u0094 cafe\u0301")
    put("ftfy_prompts", vocab(HELLO_TOKENS), prompts)
    put("surrogates", vocab(HELLO_TOKENS), b"\xed\xa0\xbd\xed\xb2\xa9 \xed\xb2\xa9\xed\xa0\xbd x\xed\xa0\x80")
    print(f"wrote {len(os.listdir(HERE))} seeds to {HERE}")


if __name__ == "__main__":
    main()
