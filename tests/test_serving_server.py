"""The service as ``serve`` runs it: slow and idle connections, and start-up that fails before ready.

Real uvicorn on loopback and real sockets; every loop is bounded in count and time.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from mindscreen.cli import main
from mindscreen.serving import ServeSettings, build_server, create_app

from .serving_support import StubModel, live_server, loopback_socket, stub_pipeline

SLOW_HEADERS = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


def open_slow_connections(base: str, count: int) -> list[socket.socket]:
    """``count`` connections that send part of a request's headers and then nothing more."""
    port = int(base.rsplit(":", 1)[1])
    slow = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(SLOW_HEADERS)
        slow.append(sock)
    return slow


def closed_by_server(sock: socket.socket, wait_s: float) -> bool:
    """Whether the server closed ``sock`` (EOF or reset) within ``wait_s`` seconds."""
    sock.settimeout(wait_s)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except OSError:
        return True


def test_slow_header_clients_neither_lock_out_others_nor_stay_connected() -> None:
    settings = ServeSettings(header_timeout_s=1.0)
    with live_server(settings, stub_pipeline) as base:
        slow = open_slow_connections(base, 80)  # uvicorn's former limit was 64 connections
        try:
            started = time.monotonic()
            health = httpx.get(f"{base}/healthz", timeout=5)
            classify = httpx.post(f"{base}/v1/classify", json={"text": "hello"}, timeout=5)
            answered_s = time.monotonic() - started
            closed = [closed_by_server(sock, wait_s=4.0) for sock in slow]
        finally:
            for sock in slow:
                sock.close()

    assert health.status_code == 200 and classify.status_code == 200 and answered_s < 3
    assert all(closed)


def test_past_the_connection_cap_the_longest_waiting_connection_makes_room() -> None:
    settings = ServeSettings(header_timeout_s=60, max_connections=16)
    with live_server(settings, stub_pipeline) as base:
        slow = open_slow_connections(base, 24)
        try:
            health = httpx.get(f"{base}/healthz", timeout=5)
            time.sleep(0.5)
            closed = [closed_by_server(sock, wait_s=0.05) for sock in slow]
        finally:
            for sock in slow:
                sock.close()

    assert health.status_code == 200
    # The oldest ones made room; the newest of them are still open.
    assert all(closed[:8]) and not any(closed[-8:])


def run_until_started_or_failed(settings: ServeSettings, load: object = None) -> tuple[bool, str | None]:
    """Run the server as ``serve`` does; whether it started, and the start-up error it recorded."""
    app = create_app(settings, load)  # type: ignore[arg-type]
    server = build_server(app, settings, log_level="critical")
    sock = loopback_socket()

    def run() -> None:
        with contextlib.suppress(SystemExit):  # how uvicorn ends when start-up fails
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=30)
    started = server.started
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()
    return started, app.state.service.startup_error


def test_start_up_fails_before_ready_when_the_model_cannot_classify() -> None:
    broken = stub_pipeline(StubModel(row=(0.8, 0.3)))  # two probabilities for three labels
    nan = stub_pipeline(StubModel(row=(float("nan"), 0.3, 0.05)))

    started, error = run_until_started_or_failed(ServeSettings(), lambda: broken)
    started_nan, error_nan = run_until_started_or_failed(ServeSettings(), lambda: nan)

    assert not started and error is not None and "cannot classify" in error and "self-check" in error
    assert not started_nan and error_nan is not None and "neutral" in error_nan


def test_start_up_fails_before_ready_when_the_audit_log_cannot_be_written(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()

    started, error = run_until_started_or_failed(ServeSettings(audit_log=str(folder)), stub_pipeline)

    assert not started and error is not None and str(folder) in error and "audit log" in error


def test_serve_exits_with_an_error_naming_the_problem_when_the_run_cannot_classify(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "broken-run"
    shutil.copytree(trained_run, run)
    thresholds = json.loads((run / "thresholds.json").read_text())
    thresholds["thresholds"] = thresholds["thresholds"][:-1]  # one label short
    (run / "thresholds.json").write_text(json.dumps(thresholds))
    with loopback_socket() as probe:
        port = probe.getsockname()[1]
    outcome: list[int] = []
    thread = threading.Thread(
        target=lambda: outcome.append(main(["-q", "serve", str(run), "--port", str(port)])), daemon=True
    )
    thread.start()
    thread.join(timeout=60)

    assert outcome == [2], "serve did not exit: it is serving a run that cannot classify"
    error = capsys.readouterr().err
    assert "mindscreen serve: error:" in error and str(run) in error
