"""The two scripts run directly from their folders, as users were told: `cd downloadData && python downloadData.py`
and `cd modelTraining && python train_lstm.py` (the tests keep training tiny and the download offline)."""
import hashlib
import os
import subprocess
import sys

import pytest
from tiny_model import TINY, tiny_csv

from app.predictor import Predictor
from tests.server import ROOT, free_port


def run_script(folder, *args, env=None, timeout=600):
    return subprocess.run([sys.executable, *args], cwd=ROOT / folder, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def offline_env():
    """Every HTTP(S) request goes to a closed loopback port: the download fails at once, nothing reaches Yahoo."""
    proxy = f"http://127.0.0.1:{free_port()}"
    return {name: proxy for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy",
                                     "ALL_PROXY")} | {"no_proxy": "", "NO_PROXY": ""}


def digest(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_download_script_without_arguments_fetches_the_default_tickers_or_says_why_in_one_line():
    shipped = digest(ROOT / "downloadData" / "data")
    result = run_script("downloadData", "downloadData.py", env=offline_env(), timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["error", "error"], result.stderr
    assert "^GSPC: cannot reach Yahoo Finance" in lines[0] and "MSFT: cannot reach Yahoo Finance" in lines[1]
    assert "Traceback" not in result.stderr
    assert digest(ROOT / "downloadData" / "data") == shipped  # a failed download leaves the shipped data alone


def test_training_script_runs_from_its_folder(tmp_path):
    pytest.importorskip("tensorflow")
    help_text = run_script("modelTraining", "train_lstm.py", "--help", timeout=120)
    assert help_text.returncode == 0 and "--csv" in help_text.stdout and "default: app/model" in help_text.stdout
    options = [f"--{name.replace('_', '-')}={value}" for name, value in TINY.items()]
    out = tmp_path / "model"
    result = run_script("modelTraining", "train_lstm.py", f"--csv={tiny_csv(tmp_path)}", f"--out={out}",
                        "--epochs=1", *[o for o in options if not o.startswith("--epochs")])
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"-> {out}" in result.stdout
    assert Predictor.load(out).card["window"] == TINY["window"]
