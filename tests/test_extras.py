import sys

import pytest

from mindscreen.cli import main
from mindscreen.extras import MissingExtraError, require_extras


def test_an_installed_extra_passes() -> None:
    assert require_extras("mindscreen tune", "optuna") is None  # no MissingExtraError


def test_a_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # what an environment without it imports
    with pytest.raises(MissingExtraError, match=r"needs optuna.*pip install 'mindscreen\[tune\]'"):
        require_extras("mindscreen tune", "optuna")


def test_the_cli_turns_a_missing_extra_into_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main(["report", "no-such-run"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mindscreen[report]'" in err and "Traceback" not in err
