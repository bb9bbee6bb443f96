"""The shortcuts that make `check` follow the work on every vault shape give the answers of the slow way.

- `LinkIndex` remembers an answer no folder can change once for the whole vault, and keeps sets of the
  targets known to resolve (`unresolved_positions`): compared with an index that forgets before every call.
- `_MD_LINK_RE` starts at the `[` (an embed's `!` is looked at after) and never backtracks: compared with
  the pattern it replaced, on hostile text.
- `SuffixMatcher.candidates` is found once per target: compared with a fresh matcher.
- Whole generated vaults of each bench profile: `check`'s entries with and without the memos.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools import check
from vaulttools.links import MARKDOWN, _markdown_links, find_links
from vaulttools.note import Note
from vaulttools.resolve import RESOLVED, LinkIndex, Resolution, _full_key, _unique_full_keys
from vaulttools.suffixes import SuffixMatcher
from vaulttools.vault import Vault

BENCH = Path(__file__).resolve().parent.parent / "bench"
SAMPLE_VAULT = Path(__file__).resolve().parent.parent / "vaulttools" / "sample_vault"

# --- resolution memos ------------------------------------------------------------------------------------

FILES = [
    "Note.md",
    "a/Same.md",
    "b/Same.md",
    "a/b/c/Deep.md",
    "x/Tie.md",
    "y/Tie.md",
    "Café.md",
    "img.png",
    "Report.md.md",
    "a/Only.md",
    "..x/Up.md",  # a folder starting with `..`: what a relative target joins to there counts as above the vault
]
# Case, Unicode normalisation, `.md`, path-qualified, vault-absolute, relative and empty targets; names
# one file matches from anywhere, and names whose answer depends on the linking note's folder.
TARGETS = [
    "Note",
    "note",
    "NOTE.md",
    "Same",
    "a/Same",
    "b/same.md",
    "c/Deep",
    "a/b/c/Deep",
    "/a/b/c/Deep",
    "/Deep",
    "./Same",
    "../Note",
    "../../Note",
    "./b/c/Deep.md",
    "../Up",
    "./Up",
    "../Up.md ",
    "./../Note",
    "../a/Only",
    "./Caf\u00e9",
    "../x//Tie",
    "Tie",
    "Cafe\u0301",
    "café",
    "img.png",
    "Report.md",
    "missing",
    "Only",
    "",
    "  ",
    " Note ",
    # Written again: resolved, broken, relative, and depending on the folder, at a second place.
    "Note",
    "missing",
    "./Same",
    "Same",
]
SOURCES = ["z.md", "a/z.md", "b/z.md", "a/b/z.md", "a/b/c/z.md", "x/z.md", "q/z.md", "..x/z.md", "..x/b/z.md"]


def _fresh_answers(targets: list[str], source: str) -> list[tuple]:
    return [tuple(LinkIndex(FILES).resolve(target, source)) for target in targets]


@pytest.mark.parametrize("source", SOURCES)
def test_remembered_answers_are_the_fresh_ones_from_every_folder(source: str) -> None:
    index = LinkIndex(FILES)
    for other in SOURCES:  # fill the memos from every folder first
        index.unresolved_positions(TARGETS, other)
        [index.resolve(target, other) for target in TARGETS]
    assert [tuple(index.resolve(t, source)) for t in TARGETS] == _fresh_answers(TARGETS, source)
    assert [tuple(a) for a in index.resolve_many(TARGETS, source)] == _fresh_answers(TARGETS, source)


@pytest.mark.parametrize("source", SOURCES)
def test_unresolved_positions_are_the_targets_that_do_not_resolve(source: str) -> None:
    index = LinkIndex(FILES)
    expected = [i for i, answer in enumerate(_fresh_answers(TARGETS, source)) if answer[0] != RESOLVED]
    for other in [source, *SOURCES, source]:  # first call, after other folders, and again
        if other == source:
            assert index.unresolved_positions(TARGETS, source) == expected
        else:
            index.unresolved_positions(TARGETS, other)


# Beside FILES: a name two files share with and without `.md`, and a folder and a name that start with a space.
LEARNED_FILES = [*FILES, "Plain", "Plain.md", " lead/Spaced.md", "q/ Spaced.md"]
LEARNED_TARGETS = [
    *TARGETS,
    *(target.lower() for target in TARGETS),  # written folded: what the learned set holds
    "plain",
    "plain.md",
    "spaced",
    " spaced",
    " lead/spaced",
    "lead/spaced",
    "a/same",
    "report.md.md",
    "q/ spaced.md",
    "caf\u00e9",
]


@pytest.mark.parametrize("source", [*SOURCES, " lead/z.md", "q/z.md"])
def test_learned_unique_targets_give_the_answers_of_fresh_lookups(source: str) -> None:
    learned = LinkIndex(LEARNED_FILES)
    learned.learn_unique_targets()
    fresh = [tuple(LinkIndex(LEARNED_FILES).resolve(target, source)) for target in LEARNED_TARGETS]
    expected = [i for i, answer in enumerate(fresh) if answer[0] != RESOLVED]
    assert learned.unresolved_positions(LEARNED_TARGETS, source) == expected
    assert [tuple(learned.resolve(t, source)) for t in LEARNED_TARGETS] == fresh
    assert learned.unresolved_positions(LEARNED_TARGETS, source) == expected  # again, from the memos


def test_learning_skips_names_several_files_share() -> None:
    index = LinkIndex(LEARNED_FILES)
    index.learn_unique_targets()
    assert {"note", "a/same", "report.md", "deep", "a/b/c/deep.md"} <= index._resolving_anywhere
    assert not {"same", "tie", "plain", " spaced.md", " spaced", ""} & index._resolving_anywhere
    index.add("z/Note.md")  # the index changed: what it learned is forgotten
    assert not index._resolving_anywhere


# Paths that share a name: nested under one another (`b/x` inside `a/b/x`), with and without `.md` in any
# case, and a name that is another's name plus `.md`.
_shared_name_path = st.tuples(
    st.lists(st.sampled_from(["a", "b", "B", "é"]), max_size=3),
    st.sampled_from(["x.md", "X.MD", "x", "x.md.md", "x.Md"]),
).map(lambda parts: "/".join([*parts[0], parts[1]]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_shared_name_path, min_size=2, max_size=8, unique=True))
def test_the_unique_paths_of_a_shared_name_are_those_files_at_finds_alone(paths: list[str]) -> None:
    index = LinkIndex(paths)
    for name, bucket in index._by_name.items():
        if len(bucket) > 1:
            expected = [
                _full_key(path, name)
                for path in bucket
                if set(index.files_at(_full_key(path, name))) == {path}
            ]
            assert _unique_full_keys(bucket, name) == expected


@pytest.mark.parametrize(
    ("targets", "source", "expected"),
    [
        ([], "z.md", []),  # no link: nothing to do
        (["Note", "Note"], "z.md", []),
        (["Note", "missing", "Note"], "z.md", [1]),
        (["missing", "Note", "missing", "./Same"], "q/z.md", [0, 2, 3]),  # each place of a broken one
        (["Same"], "z.md", [0]),  # a tie from the root...
        (["Same"], "a/z.md", []),  # ...that the linking note's folder breaks
        (["./Same"], "q/z.md", [0]),
        (["./Same"], "a/z.md", []),
        (["Tie", "x/Tie"], "z.md", [0]),
    ],
)
def test_unresolved_positions_examples(targets: list[str], source: str, expected: list[int]) -> None:
    index = LinkIndex(FILES)
    assert index.unresolved_positions(targets, source) == expected
    assert index.unresolved_positions(targets, source) == expected  # from the memos


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TARGETS), st.sampled_from(SOURCES)), max_size=30))
def test_any_order_of_calls_gives_the_fresh_answers(calls: list[tuple[str, str]]) -> None:
    index = LinkIndex(FILES)
    for target, source in calls:
        assert tuple(index.resolve(target, source)) == _fresh_answers([target], source)[0]
        fresh_status = _fresh_answers([target], source)[0][0]
        assert index.unresolved_positions([target], source) == ([] if fresh_status == RESOLVED else [0])


def test_the_memos_forget_when_the_index_changes() -> None:
    index = LinkIndex(FILES)
    assert index.resolve("Only", "z.md").path == "a/Only.md"  # one file: remembered for every folder
    assert index.unresolved_positions(["Only", "New"], "z.md") == [1]
    index.add("b/Only.md")
    assert index.resolve("Only", "b/z.md").path == "b/Only.md"
    assert index.resolve("Only", "z.md").status != RESOLVED
    assert index.unresolved_positions(["Only", "New"], "z.md") == [0, 1]
    index.add("New.md")
    assert index.unresolved_positions(["New"], "z.md") == []
    index.remove("New.md")
    assert index.unresolved_positions(["New"], "z.md") == [0]
    twin = index.copy()
    assert twin.unresolved_positions(["Only", "a/Only"], "a/z.md") == []


# --- markdown links ---------------------------------------------------------------------------------------

# The pattern `_MD_LINK_RE` replaced: `(!?)` first, plain repeats (tried at every character, backtracking).
_REFERENCE_MD_LINK_RE = re.compile(
    r"(!?)\[((?:[^\[\]\n\\]|\\.|\[[^\[\]\n]*\])*)\]\(\s*"
    r"(?:<([^<>\n]*)>|((?:[^\s()<>\\]|\\.|\([^\s()]*\))+))"
    r"(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'|\([^()\n]*\)))?\s*\)"
)


def _reference_spans(text: str, start: int) -> list[tuple[int, int, bool, str, int, int]]:
    """(start, end, embed, display, destination start, destination end) of each match of the old pattern."""
    spans = []
    for match in _REFERENCE_MD_LINK_RE.finditer(text, start, len(text)):
        group = 3 if match.group(3) is not None else 4
        spans.append(
            (
                match.start(),
                match.end(),
                match.group(1) == "!",
                match.group(2),
                match.start(group),
                match.end(group),
            )
        )
    return spans


def _spans(text: str, start: int) -> list[tuple[int, int, bool, str, int, int]]:
    """The same for `_markdown_links`' links (which also drops URLs and `#heading` destinations)."""
    return [
        (link.start, link.end, link.embed, link.display or "", link.target_start, link.target_start)
        for link in _markdown_links(text, start, len(text))
    ]


def _comparable(reference: list[tuple[int, int, bool, str, int, int]], text: str) -> list[tuple]:
    """The reference matches `_markdown_links` keeps, in its shape (destination start twice: the link's
    target span ends before a `#`, which the regex's group does not know)."""
    kept = []
    for start, end, embed, display, dest_start, dest_end in reference:
        destination = text[dest_start:dest_end]
        if (
            not destination
            or destination.startswith("#")
            or re.match(r"[A-Za-z][A-Za-z0-9+.\-]*:", destination)
        ):
            continue
        kept.append((start, end, embed, display, dest_start, dest_start))
    return kept


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no links at all",
        "[a](b.md)",
        "![img](pic.png)",
        "!![x](y)",
        "[[wiki]] and [md](other%20note.md) and [[a|b]](c)",
        "[a\\](b](c.md)",  # an escaped bracket in the label
        "[a [nested] label](d.md 'title')",
        '[t](<with space.md> "title")',
        "[t](a(b)c.md)",
        "[t](\n  spread.md\n)",
        "[unclosed](",
        "[x]](y)",
        "| [a](b.md) \\| [c](d.md) |",  # a table row
        "[x](https://example.com) [y](#heading) [z](note.md#heading)",
        "[[" * 30 + "](z)",  # many openers, nothing to backtrack into
        "[é](Café.md) [𝔘](ünï.md)",
    ],
)
def test_markdown_links_examples_match_the_reference(text: str) -> None:
    for start in (0, 1):
        assert _spans(text, start) == _comparable(_reference_spans(text, start), text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="[]()<>!\\ \n\"'#a:.", max_size=40), st.integers(0, 3))
def test_markdown_links_match_the_reference(text: str, start: int) -> None:
    start = min(start, len(text))
    assert _spans(text, start) == _comparable(_reference_spans(text, start), text)


def test_an_embed_bang_before_the_body_is_not_the_links() -> None:
    note = Note("n.md", b"---\nid: x\n---\n[a](b.md) ![c](d.md)")
    markdown = [link for link in find_links(note) if link.kind == MARKDOWN]
    assert [(note.text[link.start : link.end], link.embed) for link in markdown] == [
        ("[a](b.md)", False),
        ("![c](d.md)", True),
    ]


# --- frontmatter lists -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "related",
    [
        "[]",
        '["a", "b"]',
        '["a", " b ", "c"]',
        '["a", "", "b"]',  # an empty item is no link
        '["a", "   "]',
        '["a#Heading", "b"]',  # a subpath: the target stops before it
        '["a", "b#"]',
        '["[x](y.md)", "b"]',  # a markdown link is not a bare target
        '["a]", "(b"]',  # `](` only across two items: each is bare
        '["a](b", "c"]',
        '["[a", "b"]',
        '["Café", "cafe\u0301"]',
        '["a/b/c", "../d.md", "e%20f"]',
    ],
)
def test_frontmatter_list_targets_are_each_items_bare_target(related: str) -> None:
    from vaulttools.links import _bare_target, frontmatter_targets

    note = Note("n.md", f'---\nid: "n"\nrelated: {related}\n---\nbody\n'.encode())
    items = note.properties["related"] if note.simple_yaml else None
    expected = [t for t in map(_bare_target, items)] if items is not None else None
    targets = frontmatter_targets(note)
    if targets is not None:
        assert expected is not None
        assert targets == [t for t in expected if t]


# --- suffix candidates ------------------------------------------------------------------------------------


def test_suffix_candidates_are_found_once_and_handed_out_as_copies() -> None:
    paths = ["beta-d9.md", "beta-d3.md", "gamma 1.md", "alpha.md", "f/beta.md"]
    rules = [r"-d\d+", r" \d+"]
    matcher = SuffixMatcher(paths, rules)
    for target in ["beta", "Beta", "beta-d7", "gamma", "alpha-d2", "f/beta-d1", "missing", "beta"]:
        first = matcher.candidates(target)
        first.clear()  # a caller's list is its own
        assert matcher.candidates(target) == SuffixMatcher(paths, rules).candidates(target)


# --- whole vaults of every bench profile ----------------------------------------------------------------


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate_shapes", BENCH / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@contextmanager
def _forgetful_index() -> Iterator[None]:
    """Every `LinkIndex` answer computed afresh: the memos are emptied before each call."""
    resolve = LinkIndex.resolve

    def fresh_resolve(self: LinkIndex, target: str, source: str) -> Resolution:
        self._forget_answers()
        return resolve(self, target, source)

    def fresh_unresolved(self: LinkIndex, targets: list[str], source: str) -> list[int]:
        return [
            i for i, target in enumerate(targets) if fresh_resolve(self, target, source).status != RESOLVED
        ]

    with (
        mock.patch.object(LinkIndex, "resolve", fresh_resolve),
        mock.patch.object(LinkIndex, "unresolved_positions", fresh_unresolved),
    ):
        yield


class _Unremembered(dict):
    """Link answers `check` never keeps: each unresolved link is answered afresh."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


def _entries(root: Path, answers: check.LinkAnswers | None = None) -> list[tuple[str, tuple]]:
    vault = Vault(root)
    return check.check_notes(
        vault, SuffixMatcher(vault.note_paths, vault.config.suffix_rules), vault.note_paths, answers
    )


def assert_same_entries_without_memos(root: Path) -> None:
    remembered = _entries(root)
    with _forgetful_index():
        fresh = _entries(root, _Unremembered())
    assert [path for path, _ in remembered] == [path for path, _ in fresh]
    for (path, entry), (_, fresh_entry) in zip(remembered, fresh, strict=True):
        # The packed findings compared unpacked: `marshal` writes equal values as different bytes where
        # one shares an object that the other does not.
        assert entry[:7] == fresh_entry[:7], path
        assert check.entry_findings(entry) == check.entry_findings(fresh_entry), path
    assert any(entry[1] for _, entry in remembered)  # the vault has findings to compare


@pytest.mark.parametrize("profile", ["article", "dense", "deep", "long", "crlf", "code"])
def test_check_entries_of_every_bench_profile_are_the_same_without_memos(
    tmp_path: Path, profile: str
) -> None:
    generator = _load_generator()
    root = tmp_path / profile
    generator.generate(root, 60 if profile == "long" else 150, 3, generator.PROFILES[profile])
    assert_same_entries_without_memos(root)


def test_sample_vault_check_entries_are_the_same_without_memos() -> None:
    assert_same_entries_without_memos(SAMPLE_VAULT)


# --- files by name: `LinkIndex.files_at` against every path suffix indexed ---------------------------------

# `.md.md` names, a folder named like a note, NFD and case, a file without extension, a space-led name.
SUFFIX_FILES = [
    "Report.md.md",
    "Report.md",
    "a/Report.md",
    "a/b.md/c.md",
    "b.md/c",
    "x/Cafe\u0301.md",
    "y/caf\u00e9.MD",
    "a/b/c",
    "q/ Spaced.md",
    "img.png",
    "deep/er/a/Report.md",
]


def _every_suffix(paths: list[str]) -> dict[str, list[str]]:
    """The index `files_at` replaces: every folded path suffix after a slash, with and without `.md`."""
    from vaulttools.resolve import fold

    found: dict[str, list[str]] = {}
    for path in paths:
        parts = fold(path).split("/")
        for i in range(len(parts)):
            suffix = "/".join(parts[i:])
            for key in (suffix, suffix[:-3]) if suffix.endswith(".md") else (suffix,):
                found.setdefault(key, []).append(path)
    return found


@pytest.mark.parametrize("big_bucket", [32, 0], ids=["walked", "mapped"])
def test_files_at_gives_every_file_a_path_suffix_names(
    big_bucket: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways `files_at` finds a key's files: the walk of a name's few files, and the map of a name
    many files share (`_by_path_suffix`, every name's here)."""
    from vaulttools import resolve

    monkeypatch.setattr(resolve, "_BIG_BUCKET", big_bucket)
    index = LinkIndex(SUFFIX_FILES)
    expected = _every_suffix(SUFFIX_FILES)
    misses = ["", "/", "a/", "zz", "c/report", "er/b.md/c", "b/report"]
    for key in [*expected, *misses]:
        assert index.files_at(key) == expected.get(key, []), key


def test_learned_paths_resolve_as_fresh_lookups_do() -> None:
    learned = LinkIndex(SUFFIX_FILES)
    learned.learn_unique_targets()
    assert {
        "report.md.md",
        "a/b.md/c.md",
        "deep/er/a/report",
        "y/caf\u00e9.md",
        "a/b/c",
    } <= learned._resolving_anywhere
    # `a/report` is also the end of `deep/er/a/Report.md`'s path: a tie the linking note's folder may break.
    assert not {"report", "report.md", "a/report", "c", "caf\u00e9", ""} & learned._resolving_anywhere
    for key in learned._resolving_anywhere:
        assert LinkIndex(SUFFIX_FILES).resolve(key, "any/where.md").status == RESOLVED, key


@pytest.mark.parametrize(
    ("folder", "key"),
    [
        ("a/b", "../c.md"),
        ("a/b", "../../c.md"),
        ("a/b", "../../../c.md"),  # above the vault
        ("", "./c"),
        ("", "../c"),
        ("a", "./../c"),
        ("a/b", "./x/y.md.md"),
        ("a/b", "../x/./y"),  # a `.` part past the leading ones: normpath's walk
        ("a/b", "../x/../y"),
        ("a/b", "../x//y"),
        ("a/b", "../x/"),
        ("a/b", "../"),
        ("a/b", ".."),  # not a relative prefix: never asked, but answered as normpath would
        ("a//b", "../c"),
        ("/a", "../c"),
        ("a/./b", "../c"),
        ("a/b", "../caf\u00e9 x/ n.md"),
        ("..a/b", "../c"),
    ],
)
def test_join_relative_is_normpath_of_join(folder: str, key: str) -> None:
    import posixpath

    from vaulttools.resolve import join_relative

    assert join_relative(folder, key) == posixpath.normpath(posixpath.join(folder, key))


# Folders and relative targets made of the parts that decide a join: names, `.`, `..`, `...`, empty parts.
_PATH_PARTS = st.sampled_from(["a", "b", "\u00e9", ".", "..", "...", "", ".a", "a."])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(_PATH_PARTS, max_size=5).map("/".join),
    st.lists(st.sampled_from(["./", "../"]), min_size=1, max_size=6).map("".join),
    st.lists(_PATH_PARTS, max_size=4).map("/".join),
)
def test_join_relative_is_normpath_of_join_for_any_parts(folder: str, lead: str, rest: str) -> None:
    import posixpath

    from vaulttools.resolve import join_relative

    key = lead + rest
    assert join_relative(folder, key) == posixpath.normpath(posixpath.join(folder, key))
