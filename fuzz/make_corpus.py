#!/usr/bin/env python3
"""Writes the tiny hand-made seed corpus of the fuzz targets (fuzz/corpus/).
Run from anywhere: python3 fuzz/make_corpus.py. Standard library only."""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def st(header, data=b"", declared=None):
    h = header.encode("utf-8") if isinstance(header, str) else header
    n = len(h) if declared is None else declared
    return struct.pack("<Q", n) + h + data


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


# safetensors: valid files of several shapes, then near-misses
two = {"__metadata__": {"format": "pt"},
       "a.weight": entry("F32", [2, 2], 0, 16),
       "a.bias": entry("F16", [2], 16, 20)}
put("safetensors", "two_tensors", st(json.dumps(two), struct.pack("<4f2H", 1, 2, 3, 4, 0x3C00, 0xC000)))
padded = {"s": entry("BF16", [], 8, 10), "e": entry("U8", [0, 4], 0, 0), "x": entry("I64", [1], 16, 24)}
hdr = json.dumps(padded)
hdr += " " * (-(8 + len(hdr)) % 8)
put("safetensors", "padded_out_of_order", st(hdr, bytes(32)))
put("safetensors", "empty_header", st("{}"))
put("safetensors", "all_dtypes", st(json.dumps({
    d: entry(d, [1], i * 8, i * 8 + s) for i, (d, s) in enumerate(
        [("F32", 4), ("F16", 2), ("BF16", 2), ("F64", 8), ("I64", 8), ("I32", 4), ("I16", 2),
         ("I8", 1), ("U64", 8), ("U32", 4), ("U16", 2), ("U8", 1), ("BOOL", 1),
         ("F8_E4M3", 1), ("F8_E5M2", 1)])}), bytes(120)))
put("safetensors", "overlap", st(json.dumps({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}), bytes(12)))
put("safetensors", "past_end", st(json.dumps({"a": entry("F32", [20], 0, 80)}), bytes(40)))
put("safetensors", "bad_length", st("{}", declared=1 << 40))
put("safetensors", "escaped_name", st('{"n\\u00e9\\ud83d\\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(4)))

# config: the forms real downloads use, and preprocessor files
put("config", "tiny", json.dumps({
    "projection_dim": 32,
    "text_config": {"hidden_size": 64, "intermediate_size": 256, "num_attention_heads": 2,
                    "num_hidden_layers": 2, "max_position_embeddings": 77, "vocab_size": 49408,
                    "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05},
    "vision_config": {"hidden_size": 128, "intermediate_size": 512, "num_attention_heads": 2,
                      "num_hidden_layers": 2, "image_size": 224, "patch_size": 32, "num_channels": 3,
                      "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05}}, indent=1))
put("config", "config_dict", json.dumps({
    "projection_dim": 768, "text_config": {"hidden_size": 512}, "text_config_dict": {
        "hidden_size": 768, "num_attention_heads": 12}, "vision_config_dict": {
        "hidden_size": 1024, "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14,
        "hidden_act": "gelu"}, "vision_config": None}))
put("config", "empty", "{}")
put("config", "preprocessor_new", json.dumps({
    "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_normalize": True,
    "do_resize": True, "do_rescale": True, "rescale_factor": 0.00392156862745098,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
    "resample": 3, "size": {"shortest_edge": 224}}))
put("config", "preprocessor_old", '{"size": 336, "crop_size": 336, "image_mean": 0.5, "image_std": [0.5, 0.5, 0.5]}')
put("config", "preprocessor_hw", '{"size": {"height": 384, "width": 256}, "do_resize": false}')

# json: every construct once
put("json", "values", '[null, true, false, 0, -0, 1.5e-3, 123456789012345678901, "s", [], {}]')
put("json", "escapes", '["\\"\\\\\\/\\b\\f\\n\\r\\t", "\\u00e9\\u20ac\\ud83d\\ude00", "a\\u0000b", "\xe2\x82\xac"]')
put("json", "nested", '{"a": {"b": [{"c": [1, 2, {"d": null}]}]}, "e": "f"}')
put("json", "many_keys", "{" + ",".join('"k%d":%d' % (i, i) for i in range(20)) + "}")
put("json", "numbers", "[0.1, 1e308, 5e-324, 2.2250738585072014e-308, 9007199254740993, -1E+2]")
