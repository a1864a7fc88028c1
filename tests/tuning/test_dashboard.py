"""The study journal opens in the real ``optuna-dashboard``: a server started on 127.0.0.1 (a
free port) against a finished study serves its trials back over HTTP; it stops itself."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from deeprecipe.runs.config import config_from_dict
from deeprecipe.tuning import LogUniform, tune
from _timeouts import GUARD, wait_until

pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed")

SERVE = ("import sys, threading, os; threading.Timer(float(sys.argv[1]), os._exit, (0,)).start();"
         " sys.argv = ['optuna-dashboard'] + sys.argv[2:];"
         " from optuna_dashboard._cli import main; main()")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=GUARD) as r:
        return json.loads(r.read().decode("utf-8"))


def test_the_real_dashboard_serves_the_study_s_trials(tmp_path):
    config = config_from_dict({"name": "dash", "data": {"dataset": "moons", "n_samples": 150},
                               "model": {"hidden_layer_sizes": [4]},
                               "training": {"epochs": 2, "early_stopping": False},
                               "tuning": {"n_trials": 4}})
    study = tune(config, run_dir=tmp_path / "study",
                 space={"learning_rate": LogUniform(1e-3, 1e-1)}, seed=0)
    port = _free_port()
    server = subprocess.Popen(  # stops itself after 2 GUARDs even if this test dies
        [sys.executable, "-c", SERVE, str(2 * GUARD), str(tmp_path / "study" / "journal.log"),
         "--storage-class", "JournalFileStorage", "--host", "127.0.0.1", "--port", str(port),
         "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        answer = {}

        def answers() -> bool:  # the server answers once it has started
            try:
                answer["studies"] = _get(f"{base}/api/studies")["study_summaries"]
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False
            return True

        wait_until(answers, "answer from the dashboard", proc=server, poll=0.2)
        (summary,) = answer["studies"]
        assert summary["study_name"] == "dash"
        detail = _get(f"{base}/api/studies/{summary['study_id']}")
        served = sorted((t["number"], t["values"][0]) for t in detail["trials"]
                        if t["state"] == "Complete")
        ours = sorted((t["number"], t["value"]) for t in study.trials)
        assert len(served) == 4
        assert [n for n, _ in served] == [n for n, _ in ours]
        assert [v for _, v in served] == pytest.approx([v for _, v in ours])
        params = {p["name"] for t in detail["trials"] for p in t["params"]}
        assert params == {"learning_rate"}
    finally:
        server.terminate()
        server.wait(timeout=GUARD)
