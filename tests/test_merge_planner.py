"""The pieces of `merge`: families, kill and Ctrl-C (its frontmatter lists: `tests/test_yamlnodes.py`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import FIXTURES, git_vault_of, make_git_vault, snapshot
from tests.helpers import run_vaulttools
from vaulttools.batch import CRASH_AFTER_ENV, CRASH_MODE_ENV
from vaulttools.duplicates import FamilyScan, find_families, scan_families
from vaulttools.resolve import strip_md
from vaulttools.vault import Vault


def test_ctrl_c_mid_merge_puts_every_file_back(tmp_path: Path) -> None:
    vault = make_git_vault(FIXTURES / "merge" / "day-suffix" / "before", tmp_path / "v")
    before = snapshot(vault)
    # The last write of the batch is a SOURCE's deletion.
    result = run_vaulttools(vault, "merge", "--all", env={CRASH_AFTER_ENV: "5", CRASH_MODE_ENV: "interrupt"})
    assert result.returncode == 3, result.stderr
    assert snapshot(vault) == before


def test_killed_mid_merge_then_recover_restores_deleted_sources(tmp_path: Path) -> None:
    vault = make_git_vault(FIXTURES / "merge" / "day-suffix" / "before", tmp_path / "v")
    before = snapshot(vault)
    assert run_vaulttools(vault, "merge", "--all", env={CRASH_AFTER_ENV: "5"}).returncode == -9
    assert not (vault / "entity-deloitte-d9.md").exists()
    assert run_vaulttools(vault, "recover").returncode == 0
    assert snapshot(vault) == before


def test_empty_keys_of_the_target_are_filled(tmp_path: Path) -> None:
    """`aliases:` and `owner:` left empty (as templates leave them) take the SOURCE's values in place."""
    from vaulttools import Vault

    root = tmp_path / "v"
    root.mkdir()
    (root / "x.md").write_text('---\nid: "x"\naliases:\nowner:  # who\ntags: [a]\n---\nBody.\n')
    (root / "x-d2.md").write_text(
        '---\nid: "x-d2"\naliases: ["X two"]\nowner: "jane"\ntags: [b]\n---\nOther.\n'
    )
    plan = Vault(root).merge(["x-d2"], into="x")
    [target] = [c for c in plan.changes if c.path == "x.md"]
    assert target.new == (
        b'---\nid: "x"\naliases: ["x-d2", "X two"]\nowner: "jane"  # who\ntags: [a, b]\n---\nBody.\n\nOther.\n'
    )
    assert plan.report.differing_scalars == []


@pytest.mark.parametrize(
    "vault_dir",
    [FIXTURES / "merge" / "day-suffix" / "before", FIXTURES.parent / "vaulttools" / "sample_vault"],
)
def test_merge_all_shortcut_plans_what_the_full_search_plans(tmp_path: Path, vault_dir: Path) -> None:
    """`merge --all` parses only the notes the family scan saw spelling a member's name; planning from
    every note's bytes must give the very same batch."""
    from vaulttools import Vault
    from vaulttools.duplicates import find_families
    from vaulttools.merge import Merge, plan_merges

    root = make_git_vault(vault_dir, tmp_path / "v")
    shortcut = Vault(root).merge(all_families=True)
    vault = Vault(root)
    merges = [Merge(family.keep, tuple(family.sources)) for family in find_families(vault)]
    full = plan_merges(vault, merges)
    assert shortcut.changes and sorted(shortcut.changes, key=str) == sorted(full.changes, key=str)
    assert shortcut.counts == full.counts


@pytest.mark.parametrize(
    ("notes", "families"),
    [
        # a numbered series, no unsuffixed member: only copies (near-identical bodies) are a family
        ({"m 1": "# M\n\nMonday.\n", "m 2": "# M\n\nTuesday.\n"}, []),
        (
            {"m 1": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n", "m 2": "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n"},
            [["m 1", "m 2"]],
        ),
        (
            {"m 1": "---\nx: 1\n---\nsame\n", "m 2": "---\nx: 2\n---\n  same  \n", "m 3": "other\n"},
            [["m 1", "m 2"]],
        ),
        ({"m 1": "", "m 2": ""}, []),  # empty bodies are no evidence
        ({"m 1": "---\nid: m\n---\nA\n", "m 2": "---\nid: m\n---\nB\n"}, [["m 1", "m 2"]]),  # one id
        # an unsuffixed member, or a day suffix: as before, by name alone
        ({"m": "# M\n\nMonday.\n", "m 1": "# M\n\nTuesday.\n"}, [["m 1", "m"]]),
        ({"m-d2": "Monday.\n", "m-d4": "Tuesday.\n"}, [["m-d2", "m-d4"]]),
        ({"m 1": "Monday.\n", "m-d4": "Tuesday.\n"}, [["m 1", "m-d4"]]),
    ],
)
def test_a_numbered_series_is_a_family_only_with_evidence(
    tmp_path: Path, notes: dict[str, str], families: list[list[str]]
) -> None:
    for name, text in notes.items():
        (tmp_path / f"{name}.md").write_text(text, encoding="utf-8")
    found = [[strip_md(m.path) for m in family.members] for family in find_families(Vault(tmp_path))]
    assert found == families


def _note(note_id: str, body: str) -> str:
    return f"---\nid: {note_id}\n---\n{body}\n"


@pytest.mark.parametrize(
    ("notes", "families"),
    [
        # folder notes: each folder's `index` is its own note, whatever id and suffixed copy they have
        ({"a/index": _note("index", "A"), "b/index": _note("index", "B")}, []),
        ({"a/index": _note("index", "A"), "b/index": _note("index", "A")}, []),  # a template's body too
        (
            {
                "a/index": _note("index", "A"),
                "b/index": _note("index", "B"),
                "a/index-d3": _note("index-d3", "A"),
            },
            [["a/index-d3", "a/index"]],  # a copy beside its original
        ),
        ({"a/index": _note("index", "A"), "b/index": _note("index", "B"), "c/index-d3": "C\n"}, []),  # whose?
        (
            {"a/index": _note("index", "A"), "b/index": _note("index", "B"), "a/copy": _note("index", "A")},
            [["a/copy", "a/index"]],  # an id copied beside its note
        ),
        # one note of the name: as before, wherever its copies are
        ({"a/note": _note("note", "N"), "b/renamed": _note("note", "M")}, [["a/note", "b/renamed"]]),
        ({"note": _note("note", "N"), "sub/note-d4": _note("note-d4", "M")}, [["note", "sub/note-d4"]]),
        ({"a/x-d1": "X\n", "b/x-d2": "Y\n"}, [["a/x-d1", "b/x-d2"]]),  # no note of the bare name
    ],
)
def test_namesakes_in_different_folders_are_no_family(
    tmp_path: Path, notes: dict[str, str], families: list[list[str]]
) -> None:
    for name, text in notes.items():
        (tmp_path / f"{name}.md").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{name}.md").write_text(text, encoding="utf-8")
    found = [[strip_md(m.path) for m in family.members] for family in find_families(Vault(tmp_path))]
    assert found == families


def _full_and_counted_scans(root: Path, notes: dict[str, str]) -> tuple[FamilyScan, FamilyScan]:
    """The family scan of these notes counting every link, and as `merge --all` counts (deciding links)."""
    for name, text in notes.items():
        (root / f"{name}.md").parent.mkdir(exist_ok=True)
        (root / f"{name}.md").write_text(text, encoding="utf-8")
    return scan_families(Vault(root)), scan_families(Vault(root), count_every_link=False)


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        # `Report.md` names the note `Report.md.md`: that `.md` is its name, not a written extension
        ("[[Report.md]]", "[[Alpha]]"),
        ("[[Report.md.md|r]]", "[[Alpha.md|r]]"),
        ("[[Report]]", "[[Report]]"),  # no note `Report`: a broken link, left as it is
    ],
)
def test_links_to_a_source_named_with_an_extension_follow(tmp_path: Path, link: str, expected: str) -> None:
    from vaulttools import Vault

    root = tmp_path / "v"
    root.mkdir()
    (root / "Alpha.md").write_text("---\ntitle: a\n---\nA\n")
    (root / "Report.md.md").write_text("---\ntitle: r\n---\nR\n")
    (root / "x.md").write_text(f"see {link}\n")
    plan = Vault(root).merge(["/Report.md.md"], into="/Alpha.md")
    linking = [c.new for c in plan.changes if c.path == "x.md"]
    assert linking == ([f"see {expected}\n".encode()] if expected != link else [])


def test_merge_all_counts_links_only_where_they_decide_the_kept_member(tmp_path: Path) -> None:
    """`scan_families(count_every_link=False)` keeps the same members as a full count: it counts the
    links of the families whose kept member they decide (no unsuffixed member). Two notes named like the
    id they share, in two folders, are namesakes: no family."""
    notes = {
        "a": "", "a-d1": "", "a-d2": "",  # an unsuffixed member: kept whatever links say
        "b-d1": "", "b-d2": "",  # no unsuffixed member: the most linked is kept
        "one/c": "---\nid: c\n---\n", "two/c": "---\nid: c\n---\n",  # namesakes: no family
        "l1": "[[a-d1]] [[a-d1]] [[b-d2]] [[two/c]]", "l2": "[[b-d2]] [[a-d2]] [[two/c]] [[one/c]]",
    }  # fmt: skip
    full, counted = _full_and_counted_scans(tmp_path, notes)
    assert [f.keep for f in full.families] == [f.keep for f in counted.families] == ["a.md", "b-d2.md"]
    assert counted.spelling_notes is None  # `merge --all` reads every note's link targets instead
    links = {m.path: m.inbound_links for f in counted.families for m in f.members}
    assert links == {
        "a.md": 0,
        "a-d1.md": 0,
        "a-d2.md": 0,
        "b-d1.md": 0,
        "b-d2.md": 2,
    }


def test_merge_all_reuses_the_links_the_scan_parsed_only_for_the_same_bytes(tmp_path: Path) -> None:
    from vaulttools.links import Link
    from vaulttools.merge import _with_parsed_links
    from vaulttools.note import Note

    for name, text in {"b-d1": "", "b-d2": "", "l1": "[[b-d2]] [x](b-d1.md)", "l2": "none"}.items():
        (tmp_path / f"{name}.md").write_text(text, encoding="utf-8")
    vault = Vault(tmp_path)
    scan = scan_families(vault, count_every_link=False)
    assert list(scan.parsed_links) == ["l1.md"]  # the note that spells a tied member's name
    properties = vault.config.link_property_set
    raw = (tmp_path / "l1.md").read_bytes()
    reused = _with_parsed_links(Note("l1.md", raw, properties), scan.parsed_links["l1.md"])
    assert "links" in reused.__dict__ and reused.links == Note("l1.md", raw, properties).links
    assert all(type(link) is Link for link in reused.links)  # `Link`s again, not their plain fields
    edited = _with_parsed_links(Note("l1.md", b"[[b-d1]]", properties), scan.parsed_links["l1.md"])
    assert "links" not in edited.__dict__ and [link.target for link in edited.links] == ["b-d1"]


@pytest.mark.parametrize(
    ("notes", "kept", "counted_links"),
    [
        # two unsuffixed members of a suffix family (names that differ only in case, in one folder: on
        # another folder's namesake no family is made): counted in the first pass (no id joins a family)
        (
            {"one/d": "", "one/D": "", "two/d": "", "one/d-d1": "", "l1": "[[one/D]]", "l2": "[[one/d-d1]]"},
            ["one/D.md"],
            {"one/d-d1.md": 1},  # `[[one/D]]` is ambiguous (names match case-insensitively)
        ),
        (
            {"d-d1": "", "d-d2": "", "l1": "[[d-d2]] [[d-d2]]", "l2": "[[d-d1]]"},
            ["d-d2.md"],
            {"d-d2.md": 2, "d-d1.md": 1},
        ),
        # an id joins two suffix families of one unsuffixed member each: a tie the names did not foretell,
        # counted in a pass of its own
        (
            {"a": "---\nid: x\n---\n", "a-d1": "", "b": "", "b-d1": "---\nid: x\n---\n", "l1": "[[b]] [[b]]"},
            ["b.md"],
            {"b.md": 2},
        ),
        # a family found by id alone beside it: the notes spelling its names are read for them
        (
            {
                "one/d": "",
                "one/D": "",
                "one/d-d1": "",
                "k": "---\nid: k\n---\n",
                "k2": "---\nid: k\n---\n",
                "l1": "[[one/D]] [[k2]]",
                "l2": "[[k2]]",
            },
            ["k.md", "one/D.md"],
            {},
        ),
        ({"a": "", "a-d1": "", "l1": "[[a-d1]] [[a-d1]]"}, ["a.md"], {}),  # no tie: nothing counted
        # no unsuffixed member, but one named like its id: no tie after all, no count kept
        ({"e-d1": "---\nid: e-d1\n---\n", "e-d2": "", "l1": "[[e-d2]]"}, ["e-d1.md"], {}),
    ],
)
def test_merge_all_keeps_the_members_a_full_count_keeps(
    tmp_path: Path, notes: dict[str, str], kept: list[str], counted_links: dict[str, int]
) -> None:
    full, counted = _full_and_counted_scans(tmp_path, notes)
    assert [f.keep for f in full.families] == [f.keep for f in counted.families] == kept
    assert counted.spelling_notes is None  # `merge --all` reads every note's link targets instead
    links = {m.path: m.inbound_links for f in counted.families for m in f.members if m.inbound_links}
    assert links == counted_links


@pytest.mark.parametrize(
    ("notes", "kept"),
    [
        # `[[n.v2.md]]` reaches `n.v2.md.md`, but its name (`n.v2`) is no member's: a full count leaves it out
        ({"n.v1.md": "", "n.v2.md": "", "l1": "[[n.v2.md]] [[n.v2.md]]", "l2": "[[n.v1.md.md]]"}, ["n.v1.md.md"]),
        # … and counts it where another family has a member of that name
        (
            {
                "b/n.v1.md": "", "b/n.v2.md": "", "a/n.v2": "", "a/n.v2-d1": "",
                "l1": "[[b/n.v2.md]] [[b/n.v2.md]]", "l2": "[[b/n.v1.md.md]]",
            },
            ["a/n.v2.md", "b/n.v2.md.md"],
        ),
    ],
)  # fmt: skip
def test_merge_all_counts_a_link_written_with_the_extension_as_a_full_count(
    tmp_path: Path, notes: dict[str, str], kept: list[str]
) -> None:
    """A suffix rule that leaves a name ending in `.md` (`n.v1.md.md`, suffix `.v1.md`)."""
    (tmp_path / ".vaulttools.toml").write_text("suffix_rules = ['\\.v\\d\\.md', '-d\\d+']\n")
    full, counted = _full_and_counted_scans(tmp_path, notes)
    assert [f.keep for f in full.families] == [f.keep for f in counted.families] == kept


def _hostile_families(root: Path) -> Path:
    """Ten day-suffixed copies (names in other scripts, with spaces, in NFD), each linked in another form
    from its own note, and notes that only almost spell a name: more than `FEW_SPELLINGS` names, so the
    prefilter's automaton is the one that answers."""
    import unicodedata

    root.mkdir()
    names = [
        "Café Crème",
        "日本語 note",
        "Old Name",
        "concept-x",
        unicodedata.normalize("NFD", "Éte"),
        "ß-rule",
    ]
    names += [f"entity-{i}" for i in range(4)]
    forms = ["[[{}]]", "[[{}|alias]]", "[t]({}.md)", "![[{}]]", "[[{}#h]]"]
    for i, name in enumerate(names):
        (root / f"{name}.md").write_text(f"---\nid: {i}\n---\n# {name}\n\nBody {i}.\n", encoding="utf-8")
        (root / f"{name}-d9.md").write_text(
            f"---\nid: {i}-d9\n---\n# {name}\n\nCopy {i}.\n", encoding="utf-8"
        )
        target = f"{name}-d9".replace(" ", "%20") if forms[i % 5].startswith("[t]") else f"{name}-d9"
        link = forms[i % 5].format(target)
        (root / f"linker {i}.md").write_text(f"See {link.upper() if i == 3 else link}.\n", encoding="utf-8")
    (root / "almost.md").write_text("old nam, entity-, cafe creme, concept-\n", encoding="utf-8")
    return root


def test_merge_all_plans_the_same_batch_without_the_automaton_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The prefilter's answers, and so the plan, are the trie regex's where pyahocorasick is missing."""
    import sys

    from vaulttools import Vault as ApiVault
    from vaulttools.merge import Merge, plan_merges

    root = make_git_vault(_hostile_families(tmp_path / "src"), tmp_path / "v")
    with_automaton = ApiVault(root).merge(all_families=True)
    vault = Vault(root)
    every_note = plan_merges(vault, [Merge(f.keep, tuple(f.sources)) for f in find_families(vault)])
    monkeypatch.setitem(sys.modules, "ahocorasick", None)
    without = ApiVault(root).merge(all_families=True)
    assert with_automaton.counts["notes_merged"] == 10
    for other in (without, every_note):
        assert sorted(with_automaton.changes, key=str) == sorted(other.changes, key=str)
        assert with_automaton.counts == other.counts
    linked = {c.path for c in with_automaton.changes if c.path.startswith("linker")}
    assert len(linked) == 10 and not any(c.path == "almost.md" for c in with_automaton.changes)


def test_merge_searches_a_short_notes_bytes_and_reads_a_long_notes_link_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With many names to look for (`merge --all`), a note longer than `_SEARCHED_NOTE_SIZE` goes straight to
    the test of its link targets (cheaper than searching its bytes for them all), a short one is searched
    first; with a few names, every note is searched (by `in`, cheaper still). The same changes either way."""
    from vaulttools import merge as merge_module
    from vaulttools.merge import Merge, plan_merges

    names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]
    for name in names:
        (tmp_path / f"{name}.md").write_text(f"# {name}\n")
        (tmp_path / f"{name}-d1.md").write_text(f"# {name} again\n")
    filler = "lorem ipsum dolor sit amet\n" * (merge_module._SEARCHED_NOTE_SIZE // 27 + 1)
    (tmp_path / "long.md").write_text(filler)
    (tmp_path / "short.md").write_text("lorem ipsum\n")
    (tmp_path / "linker.md").write_text("see [[alpha-d1]]\n")
    tested: list[str] = []
    real = merge_module.may_need_edits

    def spy(note: object, context: merge_module.MergeContext) -> bool:
        tested.append(note.path)  # type: ignore[attr-defined]
        return real(note, context)  # type: ignore[arg-type]

    monkeypatch.setattr(merge_module, "may_need_edits", spy)
    every = [Merge(f"{name}.md", (f"{name}-d1.md",)) for name in names]
    plan = plan_merges(Vault(tmp_path), every)
    assert sorted(tested) == ["linker.md", "long.md"]
    linker = [change.new for change in plan.changes if change.path == "linker.md"]
    assert linker == [b"see [[alpha]]\n"]
    assert plan.report.notes_parsed == 1  # `long.md` has no link to parse: its targets said so
    tested.clear()
    plan = plan_merges(Vault(tmp_path), every[:1])
    assert tested == ["linker.md"]
    assert [change.new for change in plan.changes if change.path == "linker.md"] == [b"see [[alpha]]\n"]


@pytest.mark.parametrize("forked", [False, True], ids=["one-process", "forked-workers"])
def test_merge_all_over_long_notes_rewrites_only_the_links_to_the_copies(
    tmp_path: Path, run_cli: Callable[..., Result], monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    """`merge --all` plans notes longer than `_SEARCHED_NOTE_SIZE` by their link targets instead of searching
    their bytes for the families' names: a link to a copy follows it to its kept note wherever it sits in a
    long note (frontmatter, after 16 KB of text, markdown or wikilink); a link in code stays, and a note that
    links only kept notes, or nothing, is not touched. Exact bytes, in one process and in forked workers."""
    from vaulttools import merge as merge_module
    from vaulttools import parallel

    if forked:
        monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0)
        monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    filler = "".join(f"Paragraph {i} on planning and review.\n\n" for i in range(400))
    assert len(filler) > merge_module._SEARCHED_NOTE_SIZE
    names = ["alpha", "bravo", "charlie", "delta", "echo"]  # ten spellings: the automaton's many names
    files = {f"{name}.md": f"# {name}\n" for name in names} | {
        f"{name}-d9.md": f"# {name}\n" for name in names
    }
    linking = {
        "long-linker.md": (
            '---\nrelated: "alpha-d9"\n---\n'
            + filler
            + "See [[alpha-d9|the copy]] and [b](bravo-d9.md).\r\n",
            '---\nrelated: "alpha"\n---\n' + filler + "See [[alpha|the copy]] and [b](bravo.md).\r\n",
        ),
        "long-code.md": (filler + "```\n[[alpha-d9]]\n```\n[[alpha]]\n", None),
        "long-kept.md": (filler + "[[alpha]] [[bravo]] [c](charlie.md)\n", None),
        "long-plain.md": (filler, None),
        "short.md": ("[[delta-d9]] [[echo]]\n", "[[delta]] [[echo]]\n"),
    }
    files |= {path: before for path, (before, _) in linking.items()}
    vault = git_vault_of({path: text.encode() for path, text in files.items()}, tmp_path / "v")
    result = run_cli(vault, "merge", "--all")
    assert result.exit_code == 0, result.output
    after = snapshot(vault)
    for path, (before, expected) in linking.items():
        assert after[path] == (expected or before).encode(), path
    assert not any(f"{name}-d9.md" in after for name in names)
