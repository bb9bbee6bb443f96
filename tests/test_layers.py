"""The import contract: each layer of the package imports only its own layer and the ones below it.

Every `import` counts, at module level or inside a function (a lazy import is still a dependency), and so do
imports made only for type checking. docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "vaulttools"

# Lowest first. A module may import its own layer and any layer listed before it.
LAYERS: list[tuple[str, set[str]]] = [
    (
        "text core (no I/O)",
        {
            "errors",
            "edits",
            "note",
            "links",
            "yamledit",
            "linkedit",
            "resolve",
            "suffixes",
            "sections",
            "bodylists",
            "yamlscalars",
            "yamlnodes",
            "canvas",
            "related_rank",
            "related_index",
            "findings",
            "digests",
            "moves",
        },
    ),
    (
        "disk and git",
        {"config", "parallel", "files", "record_file", "facts", "vault", "lock", "journal", "git"},
    ),
    ("changes and batches", {"changes", "planning", "batch"}),
    (
        "planners",
        {
            "check",
            "property_types",
            "rename",
            "normalize",
            "related",
            "enrich",
            "history",
            "tags",
            "properties",
            "duplicates",
            "merge",
        },
    ),
    ("shell", {"report", "shell", "cli", "api", "__init__", "__main__", "commands"}),
]

# The one cycle kept, inside the text core: a `Note` caches its links (`Note.links`, imported lazily), which
# links.py parses from the `Note`. Splitting them would move `Note.links` callers to `find_links(note)` and
# lose the per-note cache.
ALLOWED_CYCLE_EDGES = {("note", "links")}

# Planners build plans; only the shell runs them.
PLANNERS_NEVER_IMPORT = {"batch"}


def _module_name(path: Path) -> str:
    """`vaulttools/commands/rename.py` → `commands.rename`; `vaulttools/__init__.py` → `__init__`."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _layer_of(module: str) -> int:
    top = module.split(".")[0]
    for rank, (_, members) in enumerate(LAYERS):
        if module in members or top in members:
            return rank
    raise AssertionError(f"vaulttools.{module} has no layer: add it to LAYERS in tests/test_layers.py")


def _imported_modules(path: Path) -> set[str]:
    """The vaulttools modules `path` imports, anywhere in its body (`from vaulttools import x` names x)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("vaulttools.")}
        elif isinstance(node, ast.ImportFrom) and node.module is not None and node.level == 0:
            if node.module == "vaulttools":
                # The package itself only for its version (defined in __init__, which imports nothing
                # eagerly); any other name is a module.
                found |= {f"vaulttools.{a.name}" for a in node.names if a.name != "__version__"}
            elif node.module.startswith("vaulttools."):
                found.add(node.module)
    return {name.removeprefix("vaulttools.") for name in found}


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "sample_vault" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_a_module_imports_only_its_own_layer_and_lower(path: Path) -> None:
    module = _module_name(path)
    rank = _layer_of(module)
    upward = sorted(m for m in _imported_modules(path) if _layer_of(m) > rank)
    assert not upward, f"vaulttools.{module} ({LAYERS[rank][0]}) imports a higher layer: {upward}"


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: _module_name(p))
def test_planners_never_import_the_batch_runner(path: Path) -> None:
    module = _module_name(path)
    if LAYERS[_layer_of(module)][0] != "planners":
        return
    assert not _imported_modules(path) & PLANNERS_NEVER_IMPORT


def test_commands_do_not_import_the_cli_that_loads_them() -> None:
    for path in sorted((PACKAGE / "commands").glob("*.py")):
        assert "cli" not in _imported_modules(path), f"{path.name} imports vaulttools.cli"


def _import_graph() -> dict[str, set[str]]:
    graph = {_module_name(p): _imported_modules(p) for p in SOURCES}
    return {
        m: {d for d in deps if d in graph and d != m and (m, d) not in ALLOWED_CYCLE_EDGES}
        for m, deps in graph.items()
    }


def test_no_import_cycles_below_the_shell() -> None:
    """Within a layer too: a cycle (even one made lazy by a function-level import) is a boundary drawn
    wrong. The shell is exempt: the CLI loads its command modules on demand by name."""
    shell = len(LAYERS) - 1
    graph = {m: d for m, d in _import_graph().items() if _layer_of(m) < shell}
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for dependency in sorted(graph.get(module, ())):
            if state.get(dependency) == "open":
                cycle = [*trail[trail.index(dependency) :], dependency] if dependency in trail else []
                raise AssertionError(f"import cycle: {' → '.join(cycle or [module, dependency])}")
            if dependency not in state:
                visit(dependency, [*trail, dependency])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize(
    ("module", "imports", "upward"),
    [
        ("note", {"links"}, []),  # same layer: allowed
        ("facts", {"related"}, ["related"]),  # the cache reaching up into a planner
        ("journal", {"changes"}, ["changes"]),
        ("commands.rename", {"cli", "rename"}, []),  # shell to shell, planner: allowed by layer
        ("rename", {"changes", "planning"}, []),
    ],
)
def test_the_layer_rule_itself(module: str, imports: set[str], upward: list[str]) -> None:
    rank = _layer_of(module)
    assert sorted(m for m in imports if _layer_of(m) > rank) == upward


def test_the_architecture_page_draws_these_layers() -> None:
    """docs/architecture.md's table names each module in the layer this test enforces."""
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert len(rows) == len(LAYERS)
    for row in rows:
        rank = int(row[2]) - 1
        named = set(re.findall(r"`(\w+)(?:\.py|/)`", row.split("|")[2]))
        expected = LAYERS[rank][1] - {"__init__", "__main__"}
        assert named == expected, f"layer {rank + 1} of docs/architecture.md: {sorted(named ^ expected)}"


def _calls_in(path: Path, owner: str) -> dict[str, list[str]]:
    """`owner.<name>(...)` calls in `path`, by the function or method that makes them."""
    found: dict[str, list[str]] = {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef):
            continue
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == owner
            ):
                found.setdefault(function.name, []).append(node.func.attr)
    return found


def test_only_git_py_starts_processes_or_imports_gitpython() -> None:
    for path in SOURCES:
        if path.name == "git.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
        }
        assert not imported & {"subprocess", "git"}, f"{path.name} runs processes or git itself"


def test_every_git_command_goes_through_one_helper() -> None:
    """`run_git` runs a command and `_BackgroundGit` starts one fed on stdin; both spell it with
    `git_command_line` and `git_environment`. Nothing else in git.py starts a process."""
    spawns = _calls_in(PACKAGE / "git.py", "subprocess")
    assert spawns == {"run_git": ["run"], "__init__": ["Popen"]}
    source = (PACKAGE / "git.py").read_text(encoding="utf-8")
    assert ".git.execute" not in source and "._run(" not in source


def test_test_modules_never_import_each_other() -> None:
    """Shared test code lives in tests/conftest.py and tests/helpers.py, not in another test module."""
    for path in sorted(PACKAGE.parent.joinpath("tests").glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = [
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.test_")
        ]
        assert imported == [], f"{path.name} imports {imported}"
