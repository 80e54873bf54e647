import pytest

from mindscreen.config import ConfigError, load_config
from mindscreen.overrides import field_annotation, parse_value, takes_text


@pytest.mark.parametrize("typed", ["|", ";", "#", ">", "&", "-", "yes", "2"])
def test_string_keys_take_what_a_shell_passes_literally(typed: str) -> None:
    # `data.label_delimiter='|'` in a shell arrives as `data.label_delimiter=|` (YAML: an empty block)
    config = load_config(None, ["data.train=x.csv", f"data.label_delimiter={typed}"])
    assert config.data.label_delimiter == typed


def test_null_and_quoted_values_of_string_keys_keep_their_yaml_meaning() -> None:
    config = load_config(None, ["data.train=x.csv", "data.label_column=null", "data.text_column='body'"])
    assert config.data.label_column is None and config.data.text_column == "body"


def test_non_string_keys_still_parse_as_yaml_and_bad_yaml_names_the_key() -> None:
    config = load_config(None, ["train.loss.focal.alpha=[1, 2]", "data.labels=[a, b]", "train.eval_every=5"])
    assert config.train.loss.focal.alpha == [1.0, 2.0] and config.data.labels == ["a", "b"]
    with pytest.raises(ConfigError, match=r"train\.loss\.focal\.alpha"):
        load_config(None, ["train.loss.focal.alpha=[1"])


def test_only_keys_that_hold_strings_take_text_literally() -> None:
    from mindscreen.config import RunConfig

    assert takes_text(field_annotation(RunConfig, "data.label_delimiter"))  # str | None
    assert takes_text(field_annotation(RunConfig, "train.loss.class_weights"))  # a Literal of strings
    assert not takes_text(field_annotation(RunConfig, "data.labels"))  # list[str] | None
    assert not takes_text(field_annotation(RunConfig, "train.lr"))
    assert field_annotation(RunConfig, "train.nope") is None
    assert parse_value("train.warmup", "0.2", field_annotation(RunConfig, "train.warmup")) == 0.2
