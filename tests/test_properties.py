"""Property-based tests (issue 8): random vaults built from every link form, region kind and frontmatter
style. Parsing never crashes; no edits means identical bytes; rename A→B then B→A restores the vault;
nothing outside a link span changes; normalize-links and sync-related are idempotent."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import masked
from vaulttools.batch import BatchOptions, run_batch
from vaulttools.errors import VaultError
from vaulttools.normalize import plan_normalize
from vaulttools.note import Note
from vaulttools.planning import note_change
from vaulttools.related import plan_sync_related
from vaulttools.rename import plan_renames
from vaulttools.vault import Vault

NAMES = ["alpha", "Beta note", "gamma-d9", "delta 1"]
WRITE_NO_COMMIT = BatchOptions(commit=False)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _name(name: str) -> st.SearchStrategy[str]:
    return st.sampled_from([name, name.lower(), name.upper()])


@st.composite
def links(draw: st.DrawFn) -> str:
    """One reference in any of the forms Obsidian reads (and some it reads as text)."""
    name = draw(_name(draw(st.sampled_from(NAMES))))
    encoded = name.replace(" ", "%20")
    forms = [
        f"[[{name}]]",
        f"[[{name}|shown]]",
        f"[[{name}|{name}]]",
        f"[[{name}#Heading]]",
        f"[[{name}#^block-1]]",
        f"![[{name}]]",
        f"[[{name}.md]]",
        f"[text]({encoded}.md)",
        f"[{name}](<{name}.md>)",
        f"[t]({encoded}.md#Heading)",
        f"[[ {name} ]]",
        f"[[{name}\\|in table]]",
    ]
    return draw(st.sampled_from(forms))


_words = st.text(alphabet="abc XYZ-_.,:;!?#*/\\|[]()`$<>~é🎉\t", max_size=12)


@st.composite
def blocks(draw: st.DrawFn) -> str:
    """A paragraph, code fence, inline code, comment, math, table, callout, list or heading."""
    link = draw(links())
    words = draw(_words)
    kind = draw(st.integers(0, 10))
    return [
        f"{words} {link} {words}",
        f"```\n{link}\n```",
        f"~~~md\n{words}{link}\n~~~",
        f"Some `{link}` inline code and {link}",
        f"<!-- {link} -->",
        f"$${link}$$ and $x {link}$",
        f"| a | b |\n|---|---|\n| {link} | {words} |",
        f"> [!note] {words}\n> {link}",
        f"- item {link}\n  - nested {words}",
        f"## Heading {words}",
        f"    {link} indented code",
    ][kind]


@st.composite
def frontmatters(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(NAMES))
    style = draw(st.integers(0, 6))
    return [
        "",
        f'---\nrelated: "[[{name}]]"\n---\n',
        f'---\nrelated: ["[[{name}]]", "[[alpha]]"]\ntags: [x, y]\n---\n',
        f"---\nrelated:\n  - '[[{name}]]'\n  - \"[[alpha|a]]\"\n# a comment\ncount: 3\n---\n",
        f"---\nrelated: {name}\n---\n",
        f"---\ntitle: {draw(_words)}\n---\n",
        f"---\nbroken: [unclosed\nrelated: '[[{name}]]'\n---\n",
    ][style]


@st.composite
def notes(draw: st.DrawFn) -> bytes:
    text = draw(frontmatters()) + "\n\n".join(draw(st.lists(blocks(), max_size=6)))
    text += draw(st.sampled_from(["", "\n", "\n\n"]))
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8")


@st.composite
def vaults(draw: st.DrawFn) -> dict[str, bytes]:
    files = {f"{name}.md": draw(notes()) for name in NAMES}
    files |= {f"folder/note {i}.md": draw(notes()) for i in range(draw(st.integers(0, 3)))}
    return files


@contextmanager
def vault_on_disk(files: dict[str, bytes]) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="vt-prop-"))
    try:
        for relative, data in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(data)
        yield root
    finally:
        shutil.rmtree(root)


def read_all(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*.md"))
        if not p.relative_to(root).as_posix().startswith(".vaulttools")
    }


# --- properties ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(notes(), st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_parsing_never_crashes_and_no_edits_means_identical_bytes(raw: bytes) -> None:
    note = Note("n.md", raw)
    for link in note.links:
        assert 0 <= link.start <= link.end <= len(note.text)
    assert isinstance(note.regions, list)
    _ = (note.properties, note.yaml_error, note.frontmatter_editable)
    if note.editable:
        assert note.encode() == raw
        assert note_change(note, []) is None


@FAST
@given(vaults(), st.sampled_from(NAMES), st.sampled_from(["omega", "new name 2", "épsilon"]))
def test_rename_and_back_restores_the_vault_and_touches_only_links(
    files: dict[str, bytes], old: str, new: str
) -> None:
    with vault_on_disk(files) as root:
        forward = plan_renames(Vault(root), [(old, new)])
        run_batch(Vault(root), forward, WRITE_NO_COMMIT)
        renamed = read_all(root)
        for change in forward.changes:
            before = Note(change.path, change.old or b"")
            after = Note(change.final_path, change.new or b"")
            if before.editable and change.new_path is None:
                assert masked(before) == masked(after), change.path
        back = plan_renames(Vault(root), [(forward.report.renames[0].new, old)])
        run_batch(Vault(root), back, WRITE_NO_COMMIT)
        restored = read_all(root)
    assert set(renamed) != set(files)
    # Links are written back in the name's own letter case: compare case-insensitively.
    assert {p.lower(): b.lower() for p, b in restored.items()} == {
        p.lower(): b.lower() for p, b in files.items()
    }


@FAST
@given(vaults())
def test_normalize_links_is_idempotent(files: dict[str, bytes]) -> None:
    with vault_on_disk(files) as root:
        run_batch(Vault(root), plan_normalize(Vault(root)), WRITE_NO_COMMIT)
        assert plan_normalize(Vault(root)).empty


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vaults(), st.lists(st.sampled_from(["g1", "g2"]), min_size=len(NAMES), max_size=len(NAMES)))
def test_sync_related_is_idempotent(files: dict[str, bytes], groups: list[str]) -> None:
    grouped = {
        f"{name}.md": f"---\narticleStem: {group}\n---\n".encode()
        + files[f"{name}.md"].lstrip(b"\xef\xbb\xbf")
        for name, group in zip(NAMES, groups, strict=True)
        if not files[f"{name}.md"].lstrip(b"\xef\xbb\xbf").startswith(b"---")
    }
    with vault_on_disk({**files, **grouped}) as root:
        try:
            plan = plan_sync_related(Vault(root))
        except VaultError as error:  # every note has its own frontmatter: none is grouped, which is refused
            assert not grouped and "group_by" in str(error)
            return
        run_batch(Vault(root), plan, WRITE_NO_COMMIT)
        assert plan_sync_related(Vault(root)).empty
