"""Shared fixtures: tiny randomly initialised encoders and one trained tiny run.

Everything is built offline in the test session: a WordPiece BERT (hidden 32, 2 layers,
4 heads) and a byte-level BPE RoBERTa of the same size, each with a tokenizer built in
memory from the shipped demo texts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import pytest  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402
from transformers import AutoModel, BertConfig, PreTrainedTokenizerFast, RobertaConfig  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from mindscreen.config import RunConfig, validate_config  # noqa: E402
from mindscreen.data import resolve_data_dir  # noqa: E402

hf_logging.disable_progress_bar()
torch.set_num_threads(1)  # tiny models gain nothing from threads; a busy machine loses a lot

TINY = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64}


def demo_texts() -> list[str]:
    import json

    path = resolve_data_dir("demo") / "train.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


def build_wordpiece_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
    words = Counter(w for t in texts for w in re.findall(r"[a-z]+", t.lower()))
    vocab_list = specials + chars + [f"##{c}" for c in chars] + [w for w, _ in words.most_common(2000)]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(vocab_list))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)],
    )
    tok.decoder = decoders.WordPiece()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=128,
    )


def build_bpe_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=128,
    )


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random BERT + WordPiece tokenizer saved like a hub model folder."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = build_wordpiece_tokenizer(demo_texts())
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=128, **TINY)
    AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_roberta_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random RoBERTa + byte-level BPE tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-roberta")
    tokenizer = build_bpe_tokenizer(demo_texts())
    torch.manual_seed(0)
    config = RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=130, pad_token_id=1, **TINY)
    AutoModel.from_config(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def tiny_config(output_dir: Path, encoder: Path, **sections: dict) -> RunConfig:
    """A fast config on the demo data; ``sections`` update data/model/train keys."""
    raw: dict = {
        "output_dir": str(output_dir),
        "defaults_from_data": False,  # tests of other features keep their settings as written
        "data": {"dir": "demo"},
        "model": {"encoder": str(encoder), "max_length": 48, "pooling": "mean"},
        "train": {"epochs": 2, "batch_size": 32, "lr": 3e-3, "eval_batch_size": 64, "patience": None},
    }
    for key, values in sections.items():
        raw.setdefault(key, {}).update(values)
    return validate_config(raw)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, tiny_bert_dir: Path) -> Path:
    """One finished tiny run directory, shared by evaluate/predict/CLI tests. Treat as read-only."""
    from mindscreen.training import train

    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    train(tiny_config(run_dir, tiny_bert_dir), progress=False)
    return run_dir


@pytest.fixture(scope="session")
def cli_export(tmp_path_factory: pytest.TempPathFactory, trained_run: Path) -> tuple[Path, str]:
    """``mindscreen export RUN --int8`` of the tiny run, in its own process as users run it: the export
    directory (checked: export.json holds the check) and what the command wrote to stderr. Read-only."""
    folder = tmp_path_factory.mktemp("export") / "tiny-onnx"
    command = [sys.executable, "-m", "mindscreen.cli", "export", str(trained_run), "--output", str(folder)]
    done = subprocess.run([*command, "--int8"], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr[-2000:]
    return folder, done.stderr


@pytest.fixture(scope="session")
def failed_int8_export(
    tmp_path_factory: pytest.TempPathFactory, trained_run: Path, cli_export: tuple[Path, str]
) -> Path:
    """A copy of the tiny export whose export.json records a failed int8 check: the real check, run
    against a tolerance no int8 model meets. Read-only."""
    from mindscreen.export import check_export

    folder = Path(shutil.copytree(cli_export[0], tmp_path_factory.mktemp("failed") / "tiny-onnx"))
    check = check_export(trained_run, folder, demo_texts()[:20], tolerance={"int8": 1e-9})
    assert check["fp32"]["passed"] and not check["int8"]["passed"]
    return folder


@pytest.fixture(scope="session")
def model_dirs(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small directory of every kind in the registry (the conformance tests of tests/test_predictors.py
    run each through the predictor protocol). Treat as read-only."""
    from mindscreen.ensemble import build_ensemble, validate_spec
    from mindscreen.export import export_onnx

    root = tmp_path_factory.mktemp("kinds")
    spec = validate_spec(
        {
            "output_dir": str(root / "ensemble"),
            "data": {"dir": "demo"},
            "members": [{"run": str(trained_run), "name": "run"}, {"linear": {"min_df": 1}, "name": "tfidf"}],
        }
    )
    ensemble = build_ensemble(spec, progress=False).output_dir
    return {
        "run": trained_run,
        "linear": ensemble / "members" / "tfidf",
        "ensemble": ensemble,
        "onnx": export_onnx(trained_run, root / "onnx", int8=False),
    }
