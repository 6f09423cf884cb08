"""Loggers with vmc's run-directory rules.

Lightning's CSV writer deletes ``metrics.csv`` when its folder already exists, so resuming a run
in its own run directory (``ckpt_path=last``) would lose every row logged before the interruption.
:class:`CSVLogger` appends instead, keeping the columns already in the file.
"""

from __future__ import annotations

import csv
import os

from lightning.pytorch.loggers import CSVLogger as LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment

__all__ = ["AppendingExperimentWriter", "CSVLogger"]


class AppendingExperimentWriter(ExperimentWriter):
    """An experiment writer that continues an existing ``metrics.csv`` rather than deleting it."""

    def __init__(self, log_dir: str) -> None:
        super().__init__(log_dir)
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as handle:
                header = next(csv.reader(handle), [])
            self.metrics_keys = sorted(header)  # new columns still rewrite the header, rows kept

    def _check_log_dir_exists(self) -> None:
        """Keep earlier logs: this run continues them (Lightning's writer deletes them)."""


class CSVLogger(LightningCSVLogger):
    """Lightning's ``CSVLogger`` whose ``metrics.csv`` survives a resume in the same folder."""

    @property
    @rank_zero_experiment
    def experiment(self) -> AppendingExperimentWriter:
        if self._experiment is not None:
            return self._experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment
