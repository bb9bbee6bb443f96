"""`rename` against an independent oracle, on generated hostile vaults.

The oracle (tests/oracle.py) resolves links from the rules of ../shared/docs/obsidian-links.md §3 and
shares no code with `vaulttools.resolve`. Each example writes a hostile generated vault, runs `vaulttools
rename OLD NEW --no-commit` (or a folder, or a --map) and checks:

- every link that led to OLD leads to NEW, every link that led to another file still leads to it;
- the number of links per file is kept, and no byte outside the links changes;
- a NEW that is taken (letter case ignored) is refused with exit 2, and nothing is written.
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import BRAIN
from tests.oracle import (
    AMBIGUOUS,
    ANY_LINK,
    CANVAS,
    NOT_FOR_THE_ORACLE,
    URL,
    body_start,
    fold,
    link_targets,
    oracle_resolve,
    outside_links,
    read_vault,
    vaults,
    without_code,
    writable_copy,
    write_vault,
)
from vaulttools.cli import cli


def new_path_of(old: str, new: str) -> str:
    """Where NEW puts the note OLD: a `.md` NEW ends in is its extension (`Report.md` → `Report.md`)."""
    name = new[:-3] if new.lower().endswith(".md") else new
    if "/" in name:
        return name.removeprefix("/") + ".md"
    return posixpath.join(posixpath.dirname(old), name + ".md")


def run_rename(texts: dict[str, str], args: list[str]) -> tuple[int, str, dict[str, str]]:
    """Write the vault, run `vaulttools rename ARGS --no-commit` in it, read it back."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "vault"
        write_vault(root, texts)
        (Path(folder) / "map.csv").write_text("\n".join(args[1:]) if args[0] == "--map" else "")
        if args[0] == "--map":
            args = ["--map", str(Path(folder) / "map.csv")]
        result = CliRunner().invoke(cli, ["-C", str(root), "rename", *args, "--no-commit", "-q"])
        return result.exit_code, result.output, read_vault(root)


def assert_links_follow(texts: dict[str, str], after: dict[str, str], moved: dict[str, str]) -> None:
    """Every resolved link leads to its file's new path; files, link counts and other bytes are kept."""
    files_before = sorted(texts)
    files_after = sorted(moved.get(p, p) for p in files_before)
    assert sorted(after) == files_after
    for source, text in texts.items():
        if source.endswith(".canvas"):
            assert_canvas_follows(text, after[moved.get(source, source)], files_before, files_after, moved)
        if not source.endswith(".md"):
            continue
        moved_source = moved.get(source, source)
        rewritten = after[moved_source]
        assert outside_links(rewritten) == outside_links(text), source
        before_targets, after_targets = link_targets(text), link_targets(rewritten)
        assert len(after_targets) == len(before_targets), source
        for written, now in zip(before_targets, after_targets, strict=True):
            was = oracle_resolve(files_before, written, source)
            if was is None or was == AMBIGUOUS:
                continue
            expected = moved.get(was, was)
            assert oracle_resolve(files_after, now, moved_source) == expected, (source, written, now)


def assert_canvas_follows(
    text: str, rewritten: str, files_before: list[str], files_after: list[str], moved: dict[str, str]
) -> None:
    """File nodes name the moved files; the text card's links lead where they led; nothing else changes."""
    before, after = json.loads(text), json.loads(rewritten)
    assert [line.split(":")[0] for line in rewritten.splitlines()] == [
        line.split(":")[0] for line in text.splitlines()
    ]
    assert len(after["nodes"]) == len(before["nodes"])
    for node, new_node in zip(before["nodes"], after["nodes"], strict=True):
        if node["type"] == "file":
            assert new_node == {**node, "file": moved.get(node["file"], node["file"])}
            continue
        assert {**new_node, "text": ""} == {**node, "text": ""}
        for written, now in zip(link_targets(node["text"]), link_targets(new_node["text"]), strict=True):
            was = oracle_resolve(files_before, written, CANVAS)
            if was not in (None, AMBIGUOUS):
                assert oracle_resolve(files_after, now, CANVAS) == moved.get(was, was), (written, now)


def is_taken(texts: dict[str, str], moved: dict[str, str]) -> bool:
    """Some NEW path is a file that stays, or two renames claim one path (letter case ignored)."""
    staying = {fold(p) for p in texts if p not in moved}
    targets = [fold(p) for p in moved.values()]
    return bool(staying & set(targets)) or len(set(targets)) < len(targets)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vaults())
def test_rename_keeps_every_link_on_its_file(case: tuple[dict[str, str], str, str]) -> None:
    texts, old, new = case
    moved = {old: new_path_of(old, new)}
    exit_code, output, after = run_rename(texts, ["/" + old, new])
    if is_taken(texts, moved) or fold(moved[old]) == fold(old):
        assert exit_code == 2, output
        assert after == texts
        return
    assert exit_code == 0, output
    assert_links_follow(texts, after, moved)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vaults(), st.sampled_from(["a", "c", "a/b"]), st.sampled_from(["z", "c/z", "a/b/z", "c", "A"]))
def test_folder_rename_keeps_every_link_on_its_file(
    case: tuple[dict[str, str], str, str], old_folder: str, new_folder: str
) -> None:
    texts, _, _ = case
    inside = [p for p in texts if p.startswith(old_folder + "/")]
    moved = {p: new_folder + p[len(old_folder) :] for p in inside}
    exit_code, output, after = run_rename(texts, [old_folder, new_folder + "/"])
    if (
        not inside
        or new_folder == old_folder
        or new_folder.startswith(old_folder + "/")
        or is_taken(texts, moved)
    ):
        assert exit_code == 2, output
        assert after == texts
        return
    if any(fold(p).startswith(fold(new_folder) + "/") for p in texts if p not in moved):
        # Moving into a folder that holds other notes: refused (the folder exists) or done; never half.
        assert exit_code in (0, 2), output
        if exit_code == 2:
            assert after == texts
            return
    assert exit_code == 0, output
    assert_links_follow(texts, after, moved)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vaults(), st.booleans())
def test_map_of_two_renames_keeps_every_link_on_its_file(
    case: tuple[dict[str, str], str, str], swap: bool
) -> None:
    texts, first, _ = case
    second = next(p for p in sorted(texts) if p != first and p.endswith(".md"))
    if swap:  # a → b and b → a in one batch
        moved = {first: second, second: first}
    else:  # a chain: first → second's path, second → a new name beside it
        moved = {first: second, second: posixpath.join(posixpath.dirname(second), "Renamed.md")}
    lines = [f"/{old},/{new}" for old, new in moved.items()]
    exit_code, output, after = run_rename(texts, ["--map", *lines])
    if is_taken(texts, moved):
        assert exit_code == 2, output
        assert after == texts
        return
    assert exit_code == 0, output
    assert_links_follow(texts, after, moved)


def corpus_links(root: Path, files: list[str]) -> dict[str, list[str | None]]:
    """Per note the oracle can read (tests/oracle.py), each body link's file (None: unresolved)."""
    found: dict[str, list[str | None]] = {}
    for source in files:
        if not source.endswith(".md"):
            continue
        text = (root / source).read_text(errors="replace")
        if NOT_FOR_THE_ORACLE.search(text):
            continue
        answers: list[str | None] = []
        for line in text.splitlines()[body_start(text) - 1 :]:
            for match in ANY_LINK.finditer(without_code(line)):
                (target,) = link_targets(match.group(0))
                if target and not target.startswith("#") and not URL.match(target):
                    answer = oracle_resolve(files, target, source)
                    answers.append(None if answer == AMBIGUOUS else answer)
        found[source] = answers
    return found


def test_renaming_the_corpus_hub_keeps_every_link_on_its_file(tmp_path: Path) -> None:
    """The real corpus: rename its most linked note (by the oracle's count); every body link the oracle can
    read leads where it led, the hub's to its new path."""
    if not BRAIN.is_dir():
        pytest.skip("the shared brain corpus is not beside this checkout")
    root = writable_copy(BRAIN, tmp_path / "brain")
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    before = corpus_links(root, files)
    inbound = Counter(a for answers in before.values() for a in answers if a and a.endswith(".md"))
    hub = inbound.most_common(1)[0][0]
    new_path = posixpath.join(posixpath.dirname(hub), "Hub renamed.md")
    result = CliRunner().invoke(
        cli, ["-C", str(root), "rename", "/" + hub, "Hub renamed", "--no-commit", "-q"]
    )
    assert result.exit_code == 0, result.output
    files_after = sorted(new_path if p == hub else p for p in files)
    after = corpus_links(root, files_after)
    moved_before = {
        (new_path if s == hub else s): [new_path if a == hub else a for a in v] for s, v in before.items()
    }
    assert after == moved_before
    assert inbound[hub] > 10 and sum(len(v) for v in after.values()) > 1000
