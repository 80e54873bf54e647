import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mindscreen.cli import main
from mindscreen.config import RunConfig, load_config, validate_config
from mindscreen.data.profile import LENGTH_CANDIDATES, DataProfile, EncoderFacts, TokenLengths
from mindscreen.defaults import apply_rules, explicit_keys
from mindscreen.defaults import rules as R


def synthetic_profile(
    rows: int = 2000,
    counts: tuple[int, ...] = (1000, 1000),
    lengths: np.ndarray | None = None,
    width: int | None = 384,
    limit: int = 512,
) -> DataProfile:
    """A profile as profile_splits would build it, from chosen numbers instead of texts."""
    lengths = np.full(rows, 40) if lengths is None else lengths
    quantiles = {f"p{q}": int(np.ceil(np.percentile(lengths, q))) for q in (50, 90, 95, 99)}
    tokens = TokenLengths(
        len(lengths),
        float(lengths.mean()),
        {**quantiles, "max": int(lengths.max())},
        {n: float(np.mean(lengths > n)) for n in LENGTH_CANDIDATES},
        lengths,
    )
    labels = [f"c{i}" for i in range(len(counts))]
    return DataProfile(
        task="multi_class",
        labels=labels,
        rows={"train": rows, "dev": rows // 10},
        class_counts={"train": dict(zip(labels, counts, strict=True))},
        imbalance_ratio=max(counts) / min(counts),
        labels_per_text=None,
        duplicates={},
        tokens=tokens,
        encoder=EncoderFacts("minilm", width, limit),
    )


def long_tail(rows: int, p95_from: int) -> np.ndarray:
    """Lengths of which the top ~6% are at or above ``p95_from`` tokens."""
    lengths = np.full(rows, 60)
    lengths[: rows * 6 // 100] = p95_from
    return lengths


def chosen(profile: DataProfile, config: RunConfig | None = None) -> dict[str, object]:
    resolved, decisions = apply_rules(config or RunConfig(), profile)
    return {d.key: d.value for d in decisions if d.applied}


def test_short_texts_keep_the_library_length_of_128() -> None:
    assert chosen(synthetic_profile())[R.MAX_LENGTH] == 128


def test_long_texts_get_the_smallest_bucket_that_keeps_95_percent_whole() -> None:
    assert chosen(synthetic_profile(lengths=long_tail(2000, 200)))[R.MAX_LENGTH] == 256
    assert chosen(synthetic_profile(lengths=long_tail(2000, 400)))[R.MAX_LENGTH] == 512


def test_very_long_texts_stop_at_the_cost_cap_and_the_reason_gives_the_share_cut() -> None:
    choice = R.max_length_from_lengths(synthetic_profile(lengths=long_tail(2000, 900)), RunConfig())
    assert choice.value == R.LENGTH_CAP
    assert "6% of training texts are cut at 512" in choice.reason


def test_max_length_never_exceeds_what_the_encoder_takes() -> None:
    profile = synthetic_profile(lengths=long_tail(2000, 900), limit=128)
    choice = R.max_length_from_lengths(profile, RunConfig())
    assert choice.value == 128 and "encoder's limit" in choice.reason


def test_short_texts_are_truncated_and_the_reason_gives_the_share_cut() -> None:
    choice = R.long_text_from_lengths(synthetic_profile(), RunConfig())
    assert choice.value == "truncate" and "0% of training texts exceed 128 tokens" in choice.reason


def test_many_texts_past_the_chosen_length_are_reported_with_the_other_modes() -> None:
    lengths = np.full(2000, 60)
    lengths[:300] = 900  # 15% past the cost cap of 512
    config = validate_config({"model": {"max_length": 512}})
    choice = R.long_text_from_lengths(synthetic_profile(lengths=lengths), config)
    assert choice.value == "truncate" and "15% of training texts exceed 512" in choice.reason
    assert "model.long_text=head_tail" in choice.reason
    assert chosen(synthetic_profile(lengths=lengths))[R.LONG_TEXT] == "truncate"


def test_the_long_text_rule_reads_the_users_max_length_and_keeps_the_users_mode() -> None:
    profile = synthetic_profile(lengths=long_tail(2000, 200) + np.arange(2000) % 2 * 80)  # 53% past 128
    config = validate_config({"model": {"max_length": 128}})
    resolved, decisions = apply_rules(config, profile)
    (decision,) = [d for d in decisions if d.key == R.LONG_TEXT]
    assert decision.applied and "exceed 128 tokens" in decision.reason and "53%" in decision.reason
    mine = validate_config({"model": {"max_length": 128, "long_text": "head_tail"}})
    resolved, decisions = apply_rules(mine, profile)
    (decision,) = [d for d in decisions if d.key == R.LONG_TEXT]
    assert resolved.model.long_text == "head_tail"
    assert not decision.applied and decision.suggested == "truncate"


def test_small_sets_train_more_epochs_large_sets_the_floor_of_three() -> None:
    assert chosen(synthetic_profile(rows=500, counts=(250, 250)))[R.EPOCHS] == 10
    assert chosen(synthetic_profile(rows=2500, counts=(1250, 1250)))[R.EPOCHS] == 4
    assert chosen(synthetic_profile(rows=50_000, counts=(25_000, 25_000)))[R.EPOCHS] == 3


def test_large_sets_evaluate_several_times_per_epoch_with_patience_of_about_two_epochs() -> None:
    picked = chosen(synthetic_profile(rows=40_000, counts=(20_000, 20_000)))
    steps_per_epoch = 40_000 // 32
    assert picked[R.EVAL_EVERY] == math.ceil(steps_per_epoch / 4)
    assert picked[R.PATIENCE] == 8
    small = chosen(synthetic_profile(rows=5000, counts=(2500, 2500)))
    assert R.EVAL_EVERY not in small and R.PATIENCE not in small


def test_patience_follows_an_evaluation_cadence_the_user_set() -> None:
    config = validate_config({"train": {"eval_every": 50}})
    assert chosen(synthetic_profile(rows=3200, counts=(1600, 1600)), config)[R.PATIENCE] == 4


def test_class_weights_from_an_imbalance_of_three_to_one() -> None:
    assert chosen(synthetic_profile(counts=(1600, 400)))[R.CLASS_WEIGHTS] == "effective"
    assert chosen(synthetic_profile(counts=(1200, 800)))[R.CLASS_WEIGHTS] == "none"


def test_no_class_weights_on_top_of_class_balanced_sampling() -> None:
    config = validate_config({"train": {"sampling": "class_balanced"}})
    assert chosen(synthetic_profile(counts=(1900, 100)), config)[R.CLASS_WEIGHTS] == "none"


@pytest.mark.parametrize(("width", "lr"), [(384, 1e-4), (768, 5e-5), (1024, 2e-5)])
def test_learning_rate_follows_the_encoder_width(width: int, lr: float) -> None:
    assert chosen(synthetic_profile(width=width))[R.LR] == lr


def test_unknown_encoder_width_leaves_the_learning_rate_alone() -> None:
    assert R.LR not in chosen(synthetic_profile(width=None))


def test_keys_set_in_a_file_or_as_overrides_are_kept_and_the_decision_says_so(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  max_length: 96\ntrain:\n  lr: 3.0e-5\n")
    config = load_config(path, ["train.epochs=2", "data.train=posts.csv"])
    resolved, decisions = apply_rules(config, synthetic_profile(rows=500, counts=(400, 100)))
    by_key = {d.key: d for d in decisions}
    assert (resolved.model.max_length, resolved.train.lr, resolved.train.epochs) == (96, 3e-5, 2)
    assert not by_key[R.EPOCHS].applied and by_key[R.EPOCHS].suggested == 10
    assert "kept as set" in by_key[R.LR].describe()
    assert resolved.train.loss.class_weights == "effective" and by_key[R.CLASS_WEIGHTS].applied


def test_explicit_keys_are_the_dotted_leaves_that_were_set() -> None:
    config = validate_config({"data": {"train": "x.csv"}, "train": {"lr": 1e-3}, "model": {}})
    assert explicit_keys(config) == {"data.train", "train.lr"}


def test_switching_the_rules_off_keeps_the_library_defaults() -> None:
    config = validate_config({"defaults_from_data": False})
    resolved, decisions = apply_rules(config, synthetic_profile(rows=500, counts=(450, 50)))
    assert resolved == config and decisions == []


def write_posts(path: Path, rows: int = 48) -> Path:
    texts = [f"{'restless night again ' * (i % 7 + 1)}day {i}" for i in range(rows)]
    tags = ["low" if i % 4 == 0 else "high" for i in range(rows)]  # 3:1
    pd.DataFrame({"body": texts, "tag": tags}).to_csv(path, index=False)
    return path


def test_train_on_own_data_without_config_uses_the_data_and_keeps_explicit_keys(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    posts = write_posts(tmp_path / "posts.csv")
    run = tmp_path / "run"
    argv = ["-q", "train", f"data.train={posts}", "data.text_column=body", "data.label_column=tag"]
    argv += [f"model.encoder={tiny_bert_dir}", f"output_dir={run}", "train.epochs=1", "train.lr=3e-3"]
    assert main(argv) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["data"]["dir"] is None  # not the demo's
    assert saved["model"]["max_length"] == 128  # the tiny encoder's limit, not the demo's 64
    assert saved["train"]["epochs"] == 1 and saved["train"]["loss"]["class_weights"] == "effective"
    profile = json.loads((run / "profile.json").read_text())
    choices = {c["key"]: c for c in profile["choices"]}
    assert choices[R.EPOCHS]["applied"] is False and choices[R.EPOCHS]["suggested"] == 10
    assert choices[R.CLASS_WEIGHTS]["applied"] and "imbalance" in choices[R.CLASS_WEIGHTS]["reason"]
    assert profile["profile"]["rows"]["train"] + profile["profile"]["rows"]["dev"] <= 48
    assert "restless" not in (run / "profile.json").read_text()


def test_config_prints_the_data_choices_as_comments_above_yaml_that_train_accepts(
    tmp_path: Path, tiny_bert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    posts = write_posts(tmp_path / "posts.csv")
    argv = ["config", f"data.train={posts}", "data.text_column=body", "data.label_column=tag"]
    assert main([*argv, f"model.encoder={tiny_bert_dir}"]) == 0
    out = capsys.readouterr().out
    assert "# Chosen from the data" in out and "train.epochs = 10: " in out
    printed = tmp_path / "printed.yaml"
    printed.write_text(out)
    again = load_config(printed)
    assert again.train.epochs == 10 and again.train.loss.class_weights == "effective"
    assert apply_rules(again, synthetic_profile())[0] == again  # every key is now set: nothing changes


def test_shell_typed_label_delimiter_reads_delimited_labels(
    tmp_path: Path, tiny_bert_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    posts = tmp_path / "multi.csv"
    tags = ["stress|anxiety", "stress", "anxiety", "neutral"] * 8
    pd.DataFrame({"text": [f"entry number {i}" for i in range(32)], "labels": tags}).to_csv(
        posts, index=False
    )
    # what a shell passes for: mindscreen config data.label_delimiter='|' ...
    assert (
        main(["config", f"data.train={posts}", "data.label_delimiter=|", f"model.encoder={tiny_bert_dir}"])
        == 0
    )
    out = capsys.readouterr().out
    assert yaml.safe_load(out)["data"]["label_delimiter"] == "|"
    assert "3 labels" in out


def test_config_without_readable_data_prints_the_config_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", f"data.train={tmp_path / 'absent.csv'}"]) == 0
    out = capsys.readouterr().out
    assert "not chosen from the data" in out and "absent.csv" in out
    assert yaml.safe_load(out)["train"]["epochs"] == 3
