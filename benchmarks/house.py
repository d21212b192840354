"""House measures: how easy the package is to read and change, printed as plain text.

Usage::

    python benchmarks/house.py [--top N] [--limit LINES]

Three measures over ``obskit/`` (the dataset generator, ``obskit/datasets/``, is shown apart:
its scenarios are data tables, not code a reader follows):

- the ``--top`` longest functions and methods, counted from the ``def`` line to the last line
  of the body (docstring included, decorators not), with how many pass ``--limit`` lines;
- the pairs of repeated places that the ``duplicates`` tool finds (six or more shared lines),
  over all of ``obskit/`` and over the pairs with neither side in the generator;
- the ``--top`` largest modules in lines, and the total.

Nothing is timed, so the numbers do not depend on the machine's load; run it before and after a
change and compare the two outputs.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "obskit"
GENERATOR = "datasets"


@dataclass(frozen=True)
class Function:
    """One function or method: where it is and how long it is."""

    module: str
    qualname: str
    lines: int


def _modules() -> list[Path]:
    """Every Python module of the package, sorted by path."""
    return sorted(PACKAGE.rglob("*.py"))


def _relative(path: Path) -> str:
    """The module's path below ``obskit/``, with forward slashes."""
    return path.relative_to(PACKAGE).as_posix()


def _in_generator(relative: str) -> bool:
    """Whether a path below ``obskit/`` belongs to the dataset generator."""
    return relative.split("/", 1)[0] == GENERATOR


def functions(source: str, module: str) -> list[Function]:
    """Every function and method of one module's source, nested ones included, with its length."""
    tree = ast.parse(source, filename=module)
    found: list[Function] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                found.append(Function(module, name, lines))
                visit(child, f"{name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def longest_functions(top: int, limit: int) -> list[str]:
    """Report lines: the longest functions outside the generator, and how many pass ``limit``."""
    found = [
        f
        for path in _modules()
        for f in functions(path.read_text(encoding="utf-8"), _relative(path))
    ]
    code = [f for f in found if not _in_generator(f.module)]
    generator = [f for f in found if _in_generator(f.module)]
    code.sort(key=lambda f: (-f.lines, f.module, f.qualname))
    lengths = sorted(f.lines for f in code)
    median = lengths[len(lengths) // 2] if lengths else 0
    out = [f"## The {top} longest functions (obskit/ without {GENERATOR}/; def to end)"]
    out += [f"{f.lines:5d}  {f.module}::{f.qualname}" for f in code[:top]]
    out.append(
        f"functions: {len(code)}, median {median} lines, "
        f"over {limit} lines: {sum(f.lines > limit for f in code)}"
    )
    longest_generator = max((f.lines for f in generator), default=0)
    out.append(
        f"generator ({GENERATOR}/): {len(generator)} functions, "
        f"over {limit} lines: {sum(f.lines > limit for f in generator)}, "
        f"longest {longest_generator}"
    )
    return out


_ROW = re.compile(r"^D\d+ (\S+?):\d+-\d+ ~ (\S+?):\d+-\d+")


def duplicate_pairs() -> list[str]:
    """Report lines: the ``duplicates`` pair count over obskit/, and without the generator."""
    tool = shutil.which("duplicates")
    if tool is None:
        return ["## duplicates", "the duplicates tool is not on PATH: not measured"]
    result = subprocess.run(
        [tool, "--repo", str(PACKAGE), "--most", "200", "--seconds", "120"],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = result.stdout.splitlines()
    rows = [m.groups() for m in map(_ROW.match, lines) if m]
    outside = [r for r in rows if not any(_in_generator(side) for side in r)]
    notes = [line for line in lines if line.startswith(("(+", "left out:", "incomplete:"))]
    out = ["## duplicates (pairs sharing 6+ lines)"]
    out.append(lines[0] if lines else "no output")
    out.append(f"pairs listed: {len(rows)}; with neither side in {GENERATOR}/: {len(outside)}")
    out += notes
    return out


def module_sizes(top: int) -> list[str]:
    """Report lines: the largest modules outside the generator, and the totals."""
    sizes = [
        (len(path.read_text(encoding="utf-8").splitlines()), _relative(path)) for path in _modules()
    ]
    code = sorted((s for s in sizes if not _in_generator(s[1])), key=lambda s: (-s[0], s[1]))
    generator = sum(n for n, name in sizes if _in_generator(name))
    out = [f"## The {top} largest modules (lines, obskit/ without {GENERATOR}/)"]
    out += [f"{n:6d}  {name}" for n, name in code[:top]]
    out.append(
        f"modules: {len(code)}, {sum(n for n, _ in code)} lines; {GENERATOR}/: {generator} lines"
    )
    return out


def main(argv: list[str] | None = None) -> None:
    """Print the three measures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=15, help="how many rows a list shows")
    parser.add_argument("--limit", type=int, default=120, help="the longest a function should be")
    args = parser.parse_args(argv)
    sections = [longest_functions(args.top, args.limit), duplicate_pairs(), module_sizes(args.top)]
    print("\n\n".join("\n".join(section) for section in sections))


if __name__ == "__main__":
    main()
