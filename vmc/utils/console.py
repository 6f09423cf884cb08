"""One rich console for the whole package, and a table of which implementation each stage used."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

console = Console(stderr=True, highlight=False)


def print_stage_table(rows: Iterable[tuple[str, str, str]], title: str = "vmc stages") -> None:
    """Print ``(stage, implementation, why)`` rows so a run says what it actually used."""
    table = Table(title=title, show_lines=False)
    table.add_column("stage", style="bold")
    table.add_column("implementation")
    table.add_column("why", style="dim")
    for stage, impl, why in rows:
        table.add_row(stage, impl, why)
    console.print(table)
