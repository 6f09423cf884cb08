"""Run-directory hygiene of the Lightning pieces: metrics survive a resume, epochs read right."""

from __future__ import annotations

import csv
from types import SimpleNamespace

from vmc.systems.callbacks import ProgressBar
from vmc.systems.loggers import CSVLogger


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_logger_appends_when_the_run_resumes(tmp_path):
    first = CSVLogger(save_dir=tmp_path, name="csv", version="")
    first.log_metrics({"loss": 1.0}, step=0)
    first.log_metrics({"loss": 0.5}, step=1)
    first.save()
    path = tmp_path / "csv" / "metrics.csv"
    assert [r["loss"] for r in _rows(path)] == ["1.0", "0.5"]
    resumed = CSVLogger(save_dir=tmp_path, name="csv", version="")  # same folder, as ckpt_path=last
    resumed.log_metrics({"loss": 0.25, "val/acc": 0.9}, step=2)  # a new column too
    resumed.save()
    rows = _rows(path)
    assert [r["loss"] for r in rows] == ["1.0", "0.5", "0.25"]
    assert rows[2]["val/acc"] == "0.9" and rows[0]["val/acc"] == ""


def test_progress_bar_counts_epochs_of_the_total():
    bar = ProgressBar()
    for max_epochs, expected in ((10, "Epoch 3/10"), (-1, "Epoch 3"), (None, "Epoch 3")):
        bar._trainer = SimpleNamespace(max_epochs=max_epochs)
        assert bar._get_train_description(2).strip() == expected
