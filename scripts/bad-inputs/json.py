#!/usr/bin/env python3
"""Generates the JSON / tokenizer bad inputs of test/fixtures/bad-inputs/ (issue 13, items 1-3).

    python3 scripts/bad-inputs/json.py [out_dir]   # default: test/fixtures/bad-inputs

Committed files are small (deep nesting compresses to a few hundred kB at most); the large ones
(a 130k-tensor safetensors, a 100 MB header, a 10 MB text) are generated at test time by
test/unit/badInputsJson.test.ts. Only the standard library is used; the output is deterministic.
"""
import os
import sys

# This file is named json.py: keep its own folder off the path so `import json` is the library's.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]
import json  # noqa: E402
import struct  # noqa: E402

DEPTH = 100_000  # far past any recursive walk's stack (and past MAX_JSON_DEPTH = 64)


def deep_list(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def deep_object(depth: int, leaf: str = "1") -> str:
    return '{"a":' * depth + leaf + "}" * depth


def safetensors(header_json: str, data: bytes) -> bytes:
    raw = header_json.encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def write(out: str, name: str, content) -> None:
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode("utf-8"))


def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "test", "fixtures", "bad-inputs")
    four = b"\0\0\0\0"

    # 1. Deep nesting inside a safetensors header.
    write(out, "st-deep-shape.safetensors",
          safetensors('{"w":{"dtype":"F32","shape":' + deep_list(DEPTH) + ',"data_offsets":[0,4]}}', four))
    write(out, "st-deep-dtype.safetensors",
          safetensors('{"w":{"dtype":' + deep_list(DEPTH, '"F32"') + ',"shape":[1],"data_offsets":[0,4]}}', four))
    write(out, "st-deep-offsets.safetensors",
          safetensors('{"w":{"dtype":"F32","shape":[1],"data_offsets":' + deep_list(DEPTH) + '}}', four))
    write(out, "st-deep-metadata.safetensors",
          safetensors('{"__metadata__":{"format":"pt","x":' + deep_object(DEPTH, '"y"') + '},'
                      '"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', four))

    # 5. A shard index whose weight_map names prototype keys. The shard holds tensors of those
    # very names: a valid model (opens); the second index lists one the shard lacks (refused).
    shard = safetensors(json.dumps({
        "__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        "constructor": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
        "toString": {"dtype": "F32", "shape": [1], "data_offsets": [8, 12]},
    }), four * 3)
    write(out, "index-proto-keys/model-00001-of-00001.safetensors", shard)
    write(out, "index-proto-keys/model.safetensors.index.json", json.dumps({
        "metadata": {"total_size": 12, "__proto__": "x"},
        "weight_map": {"__proto__": "model-00001-of-00001.safetensors",
                       "constructor": "model-00001-of-00001.safetensors",
                       "toString": "model-00001-of-00001.safetensors"},
    }, indent=1))
    write(out, "index-proto-missing/model-00001-of-00001.safetensors",
          safetensors(json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}), four))
    write(out, "index-proto-missing/model.safetensors.index.json", json.dumps({
        "weight_map": {"w": "model-00001-of-00001.safetensors",
                       "constructor": "model-00001-of-00001.safetensors",
                       "hasOwnProperty": "model-00001-of-00001.safetensors"},
    }, indent=1))
    write(out, "index-deep/model.safetensors.index.json",
          '{"weight_map":{"w":' + deep_list(DEPTH, '"x.safetensors"') + '}}')

    # 1. Deep nesting in config.json (placed beside a copy of the tiny checkpoint at test time,
    # or passed with --config).
    write(out, "config-deep-window-sizes.json", '{"window_sizes":' + deep_list(DEPTH) + '}')
    write(out, "config-deep-vocab-size.json", '{"vocab_size":' + deep_object(DEPTH) + '}')

    # 1. Deep normalizer / pre-tokenizer Sequences in tokenizer.json.
    def tokenizer(normalizer, pre_tokenizer, model) -> str:
        return json.dumps({"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None,
                           "post_processor": None, "decoder": None, "model": model}
                          ).replace('"normalizer": null', '"normalizer": ' + normalizer
                          ).replace('"pre_tokenizer": null', '"pre_tokenizer": ' + pre_tokenizer)
    vocab = {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": 3, "##a": 4, "aa": 5, "##aa": 6, "b": 7}
    wordpiece = {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                 "max_input_chars_per_word": 100, "vocab": vocab}
    tk_depth = 20_000  # deep enough to overflow a recursive parse; keeps the files under 1 MB
    seq_norm = '{"type":"Sequence","normalizers":[' * tk_depth + '{"type":"Lowercase"}' + ']}' * tk_depth
    write(out, "tokenizer-deep-normalizer.json", tokenizer(seq_norm, '{"type":"BertPreTokenizer"}', wordpiece))
    seq_pre = '{"type":"Sequence","pretokenizers":[' * tk_depth + '{"type":"BertPreTokenizer"}' + ']}' * tk_depth
    write(out, "tokenizer-deep-pretokenizer.json", tokenizer('{"type":"Lowercase"}', seq_pre, wordpiece))
    # Sequences nested 20 deep: JSON nesting of 42 (under MAX_JSON_DEPTH = 64) but past
    # MAX_COMPONENT_DEPTH = 16 (refused); 4 deep is under both limits (opens).
    for n, name in [(20, "tokenizer-sequence-20-deep.json"), (4, "tokenizer-sequence-4-deep.json")]:
        nested = '{"type":"Sequence","normalizers":[' * n + '{"type":"Lowercase"}' + ']}' * n
        write(out, name, tokenizer(nested, '{"type":"BertPreTokenizer"}', wordpiece))

    # 3. WordPiece with a huge max_input_chars_per_word (used with a 100k-character word, made at
    # test time): cubic in the word's length unless bounded.
    huge = dict(wordpiece, max_input_chars_per_word=10 ** 9)
    write(out, "tokenizer-wordpiece-huge-max-chars.json", tokenizer('{"type":"Lowercase"}', '{"type":"BertPreTokenizer"}', huge))


if __name__ == "__main__":
    main()
