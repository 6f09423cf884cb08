"""Figures of the vmc import graph (read with ``ast``; nothing is imported from the scanned tree).

Prints modules, import edges between them, upward imports across the layers of DESIGN.md
(listed), import cycles (listed), function-level imports (count, and where) and lines per
layer. Point ``--root`` at another checkout's package to compare before/after a refactor.

    python bench/import_graph.py [--root vmc]
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from vmc.utils.import_graph import LAYERS, cycles, layer_of, scan_package, upward_imports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root",
        default=str(Path(__file__).resolve().parents[1] / "vmc"),
        help="the vmc package folder to scan (default: this checkout's)",
    )
    args = parser.parse_args()
    graph = scan_package(args.root)
    internal = graph.internal(runtime_only=True)
    print(f"root: {graph.root}")
    print(f"modules: {len(graph.modules)}")
    print(
        f"edges: {len(graph.edges())} distinct vmc->vmc module pairs "
        f"({sum(not i.in_function for i in internal)} module-level and "
        f"{sum(i.in_function for i in internal)} function-level import statements; "
        "TYPE_CHECKING imports left out)"
    )

    up = upward_imports(graph)
    print(f"upward imports: {len(up)}")
    for imp in up:
        print(f"  {imp}  [{layer_of(imp.source)} -> {layer_of(imp.target)}]")
    outside = sorted(m for m in graph.modules if layer_of(m) is None)
    print(f"modules in no layer: {len(outside)}" + (f"  ({', '.join(outside)})" if outside else ""))

    found = cycles(graph)
    print(f"cycles: {len(found)}")
    for component in found:
        print(f"  {' <-> '.join(component)}")

    in_function = [i for i in graph.imports if i.in_function]
    by_module: dict[str, list[int]] = defaultdict(list)
    for imp in in_function:
        by_module[imp.source].append(imp.line)
    print(f"function-level imports: {len(in_function)} in {len(by_module)} modules")
    for module in sorted(by_module):
        lines = sorted(set(by_module[module]))
        print(f"  {module}: {len(by_module[module])} (lines {', '.join(map(str, lines))})")
    targets = Counter(i.target if i.internal else i.target.split(".")[0] for i in in_function)
    print("  most imported lazily: " + ", ".join(f"{t} {n}" for t, n in targets.most_common(8)))

    per_layer: Counter[str] = Counter()
    for module in graph.modules:
        per_layer[layer_of(module) or "(no layer)"] += graph.lines(module)
    print(f"lines per layer (total {sum(per_layer.values())}):")
    for layer in sorted(per_layer, key=lambda name: (LAYERS.get(name, 99), name)):
        rank = LAYERS.get(layer, "-")
        print(f"  {rank} {layer:<10} {per_layer[layer]:>6}")


if __name__ == "__main__":
    main()
