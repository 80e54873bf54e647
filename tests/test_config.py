import pytest

from mindscreen.config import ConfigError, RunConfig, dump_config, load_config, packaged_config
from mindscreen.defaults import explicit_keys


def test_quickstart_config_loads_and_round_trips(tmp_path) -> None:
    config = load_config()
    again = tmp_path / "resolved.yaml"
    again.write_text(dump_config(config))
    assert load_config(again) == config


def test_overrides_are_parsed_as_yaml_values() -> None:
    config = load_config(None, ["train.lr=3e-5", "model.pooling=cls", "train.patience=null"])
    assert config.train.lr == 3e-5
    assert config.model.pooling == "cls"
    assert config.train.patience is None


def test_unknown_override_key_names_the_dotted_path_and_valid_keys() -> None:
    with pytest.raises(ConfigError, match=r"train\.lr_rate.*keys there are: .*\blr\b"):
        load_config(None, ["train.lr_rate=1"])


def test_typo_in_yaml_names_the_dotted_key(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  poolng: mean\n")
    with pytest.raises(ConfigError, match=r"model\.poolng"):
        load_config(path)


def test_invalid_value_names_the_dotted_key(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  batch_size: 0\n")
    with pytest.raises(ConfigError, match=r"train\.batch_size"):
        load_config(path)


def test_unknown_pooling_lists_the_registry() -> None:
    with pytest.raises(ConfigError, match=r"model\.pooling.*attention"):
        load_config(None, ["model.pooling=median"])


def test_override_without_equals_sign_is_explained() -> None:
    with pytest.raises(ConfigError, match="key=value"):
        load_config(None, ["train.lr"])


def test_shipped_quickstart_is_packaged() -> None:
    assert packaged_config().is_file()


def test_quickstart_applies_to_the_demo_alone() -> None:
    assert load_config().name == "quickstart"
    assert load_config(None, ["data.dir=demo", "train.lr=3e-5"]).model.max_length == 64


@pytest.mark.parametrize(
    "data", [["data.train=posts.csv"], ["data.dir=my/folder"], ["data.dir=demo", "data.train=posts.csv"]]
)
def test_own_data_without_a_config_file_starts_from_the_library_defaults(data: list[str]) -> None:
    config = load_config(None, [*data, "data.text_column=body"])
    library = RunConfig()
    assert (config.model.max_length, config.train.epochs, config.train.batch_size, config.train.lr) == (
        library.model.max_length,
        library.train.epochs,
        library.train.batch_size,
        library.train.lr,
    )
    assert config.name == "run" and config.data.text_column == "body"
    assert "model.max_length" not in explicit_keys(config)  # left to the data's rules
