"""Every function in the package stays under 60 lines (the style guide's anchors: a 90th percentile of
30 to 75 lines), so a long function fails CI with its name rather than growing unnoticed."""

from __future__ import annotations

import ast
from pathlib import Path

import vaulttools

LIMIT = 60


def function_lengths(source: str) -> list[tuple[str, int]]:
    """(name, lines) of every function and method in `source`, nested ones included."""
    tree = ast.parse(source)
    return [
        (node.name, (node.end_lineno or node.lineno) - node.lineno + 1)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


def long_functions(package: Path) -> list[str]:
    root = package.parent
    return [
        f"{path.relative_to(root).as_posix()}:{name} ({lines} lines)"
        for path in sorted(package.rglob("*.py"))
        for name, lines in function_lengths(path.read_text(encoding="utf-8"))
        if lines >= LIMIT
    ]


def test_every_function_is_under_the_limit() -> None:
    offenders = long_functions(Path(vaulttools.__file__).parent)
    assert offenders == [], f"functions of {LIMIT} lines or more; split them: {offenders}"


def test_the_measure_counts_a_function_from_its_def_to_its_last_line() -> None:
    short = "def f():\n    return 1\n"
    long = "def g():\n" + "    x = 1\n" * (LIMIT - 1)
    nested = "class C:\n    def m(self):\n        def inner():\n            pass\n"
    assert function_lengths(short) == [("f", 2)]
    assert function_lengths(long) == [("g", LIMIT)]
    assert sorted(function_lengths(nested)) == [("inner", 2), ("m", 3)]
