"""Label Studio round trip: tasks in Label Studio's import format, its JSON export back to training data."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from mindscreen.cli import main
from mindscreen.config import DataConfig
from mindscreen.data import resolve_data_dir
from mindscreen.data.labels import read_label_lists
from mindscreen.data.readers import read_table
from mindscreen.review import EVIDENCE, FROM_NAME, TO_NAME, import_review
from mindscreen.review.tasks import uncertainty


@pytest.fixture(scope="module")
def tasks_file(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("review") / "tasks.json"
    source = resolve_data_dir("demo") / "test.jsonl"
    args = ["review", "export", str(trained_run), "--input", str(source), "--output", str(out)]
    assert main([*args, "--uncertain", "5"]) == 0
    return out


def _ls_export(tasks: list[dict], decide) -> list[dict]:  # type: ignore[no-untyped-def]
    """What Label Studio's JSON export holds after review (fields as its docs' task format shows)."""
    exported = []
    for number, task in enumerate(tasks, start=1):
        choices = decide(number, task)
        annotations = []
        if choices is not None:
            annotations.append(
                {
                    "id": 1000 + number,
                    "completed_by": 1,
                    "result": [
                        {
                            "id": f"r{number}",
                            "from_name": FROM_NAME,
                            "to_name": TO_NAME,
                            "type": "choices",
                            "origin": "manual",
                            "value": {"choices": choices},
                        }
                    ],
                    "was_cancelled": choices == [],
                    "ground_truth": False,
                    "created_at": "2026-11-30T21:52:49.513742Z",
                    "updated_at": "2026-11-30T22:16:08.746926Z",
                    "lead_time": 4.2,
                    "task": number,
                }
            )
        exported.append({"id": number, "data": task["data"], "annotations": annotations, "predictions": [1]})
    return exported


def test_tasks_use_label_studios_import_format_and_the_config_matches(tasks_file: Path) -> None:
    tasks = json.loads(tasks_file.read_text())
    config = ET.fromstring(tasks_file.with_name("tasks.label_config.xml").read_text())
    control = config.find("Choices")
    assert control is not None and control.get("name") == FROM_NAME and control.get("toName") == TO_NAME
    allowed = {choice.get("value") for choice in control.findall("Choice")}
    evidence_control = config.find("Labels")
    assert evidence_control is not None and evidence_control.get("name") == EVIDENCE
    evidence = {label.get("value") for label in evidence_control.findall("Label")}
    texts = set(pd.read_json(resolve_data_dir("demo") / "test.jsonl", lines=True)["text"])
    reasons = [task["data"]["mindscreen"]["reason"] for task in tasks]
    flagged = len(reasons) - reasons.count("uncertain")
    assert reasons.count("uncertain") == min(5, len(texts) - flagged)  # the tiny model flags most texts
    assert set(reasons) <= {"crisis", "needs_review", "uncertain"}
    assert any(len(task["predictions"][0]["result"]) > 1 for task in tasks)
    for task in tasks:
        assert task["data"][TO_NAME] in texts
        (prediction,) = task["predictions"]
        result, *spans = prediction["result"]
        assert result["type"] == "choices" and result["from_name"] == FROM_NAME
        assert set(result["value"]["choices"]) <= allowed and 0 <= prediction["score"] <= 1
        text = task["data"][TO_NAME]
        for span in spans:  # the explanation's top words, at most 3 per predicted label
            assert span["type"] == "labels" and span["from_name"] == EVIDENCE and span["to_name"] == TO_NAME
            value = span["value"]
            assert text[value["start"] : value["end"]] == value["text"] and value["labels"][0] in evidence
        labels = [span["value"]["labels"][0] for span in spans]
        assert all(labels.count(label) <= 3 for label in labels)
        if task["data"]["mindscreen"]["reason"] == "crisis":
            assert task["data"]["mindscreen"]["risk"] == "crisis"


def test_an_export_comes_back_as_a_training_file_with_agreement(tasks_file: Path, tmp_path: Path) -> None:
    tasks = json.loads(tasks_file.read_text())

    def decide(number: int, task: dict) -> list[str] | None:
        model = task["data"]["mindscreen"]["model_labels"]
        if number == 1:
            return None  # not reviewed yet
        if number == 2:
            return []  # skipped by the reviewer: was_cancelled
        return ["neutral"] if number % 3 == 0 else model or ["neutral"]

    export = tmp_path / "export.json"
    export.write_text(json.dumps(_ls_export(tasks, decide)))
    out = tmp_path / "reviewed.jsonl"
    stats = import_review(export, out)
    frame = read_table(out)  # the reader train uses
    assert stats["tasks"] == len(tasks) and stats["skipped"] == 2 and len(frame) == len(tasks) - 2
    assert stats["reviewed"] == len(frame) and 0 <= stats["exact_agreement"] <= 1
    assert stats["changed"] == sum(
        set(task["data"]["mindscreen"]["model_labels"]) != set(decide(n, task) or [])
        for n, task in enumerate(tasks, start=1)
        if n > 2
    )
    lists, multi_label = read_label_lists(frame, DataConfig(), str(out))
    assert multi_label and all(lists) and set(frame["text"]) <= {task["data"][TO_NAME] for task in tasks}


def test_uncertainty_ranks_borderline_probabilities_above_sure_ones() -> None:
    multi = np.array([[0.95, 0.02], [0.52, 0.1], [0.3, 0.31]])
    assert np.argsort(-uncertainty(multi, np.array([0.5, 0.3]), True)).tolist() == [2, 1, 0]
    single = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25]])
    assert uncertainty(single, np.full(3, 1 / 3), False).tolist() == pytest.approx([0.15, 0.95])


def test_import_refuses_a_file_that_is_not_a_json_export(tmp_path: Path) -> None:
    bad = tmp_path / "min.json"
    bad.write_text(json.dumps({"text": "x"}))
    with pytest.raises(ValueError, match="not a Label Studio JSON export"):
        import_review(bad, tmp_path / "out.jsonl")


def _label_studio() -> str | None:
    """The ``label-studio`` executable: $MINDSCREEN_TEST_LABEL_STUDIO, else one on PATH."""
    return os.environ.get("MINDSCREEN_TEST_LABEL_STUDIO") or shutil.which("label-studio")


@pytest.fixture
def label_studio_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A real Label Studio server on loopback with a fresh data folder; (base URL, auth headers)."""
    executable = _label_studio()
    if executable is None:
        pytest.skip(
            "needs Label Studio: pip install label-studio into any venv, then "
            "MINDSCREEN_TEST_LABEL_STUDIO=/that/venv/bin/label-studio pytest -m slow tests/test_review.py"
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = uuid.uuid4().hex
    env = {
        **os.environ,
        "LABEL_STUDIO_USERNAME": "reviewer@example.com",
        "LABEL_STUDIO_PASSWORD": uuid.uuid4().hex,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",  # the Token header, as scripts use it
    }
    command = [executable, "start", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(tmp_path / "label-studio")]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # the first start migrates a fresh database: minutes on 2 cores
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        else:
            pytest.fail(f"Label Studio did not answer /health (exit code {server.poll()})")
        yield url, {"Authorization": f"Token {token}"}
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.mark.slow
def test_a_real_label_studio_takes_the_tasks_and_its_export_comes_back_as_training_data(
    tasks_file: Path, label_studio_server: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, auth = label_studio_server
    tasks = json.loads(tasks_file.read_text())
    config = tasks_file.with_name("tasks.label_config.xml").read_text()
    with httpx.Client(base_url=url, headers=auth, timeout=60) as client:
        project = client.post("/api/projects", json={"title": "mindscreen review", "label_config": config})
        assert project.status_code == 201, project.text
        pid = project.json()["id"]
        imported = client.post(f"/api/projects/{pid}/import", json=tasks)
        assert imported.status_code == 201 and imported.json()["task_count"] == len(tasks), imported.text
        stored = client.get("/api/tasks", params={"project": pid, "page_size": 1000, "fields": "all"})
        stored_tasks = sorted(stored.json()["tasks"], key=lambda t: t["id"])
        assert len(stored_tasks) == len(tasks)
        assert all(task["total_predictions"] == 1 for task in stored_tasks)  # pre-annotations kept

        changed = 0
        for number, task in enumerate(stored_tasks):  # a reviewer: keeps, corrects or skips
            model = task["data"]["mindscreen"]["model_labels"]
            if number == 0:
                continue  # not reviewed
            choices = model or ["neutral"]
            if number % 3 == 0:
                choices = ["neutral"] if model != ["neutral"] else ["stress"]
            changed += set(choices) != set(model)
            result = [
                {"from_name": FROM_NAME, "to_name": TO_NAME, "type": "choices", "value": {"choices": choices}}
            ]
            answer = client.post(f"/api/tasks/{task['id']}/annotations", json={"result": result})
            assert answer.status_code == 201, answer.text
        # The default export holds the annotated tasks only; download_all_tasks adds the others.
        exports = {
            every: client.get(
                f"/api/projects/{pid}/export",
                params={"exportType": "JSON", "download_all_tasks": str(every).lower()},
            )
            for every in (False, True)
        }
    for every, export in exports.items():
        assert export.status_code == 200, export.text
        export_file = tmp_path / f"export-{every}.json"
        export_file.write_bytes(export.content)
        out = tmp_path / "reviewed.jsonl"
        stats = import_review(export_file, out)
        frame = read_table(out)  # the reader train uses
        assert stats["tasks"] == len(tasks) - (not every) and stats["skipped"] == int(every)
        assert len(frame) == stats["reviewed"] == len(tasks) - 1 and stats["changed"] == changed
    lists, multi_label = read_label_lists(frame, DataConfig(), str(out))
    assert multi_label and all(lists)
