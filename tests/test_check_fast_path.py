"""`check`'s fast path gives exactly the findings of the full parser, and the quick tests behind it never
rule out what the slow code would find.

The fast path (`check._quick_link_findings`) reads a note's link targets without building `Link`s: body
wikilinks from one findall, frontmatter links from the simple YAML's values. Every test here runs both
paths (or the quick test and the code it skips) on the same input and compares the results exactly: on
the shared brain corpus, the sample vault, the benchmark generator's output and hypothesis-made vaults.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from types import ModuleType
from unittest import mock

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import BRAIN, SAMPLE_VAULT
from vaulttools import check, facts, links
from vaulttools.facts import stamp_of
from vaulttools.files import read_all
from vaulttools.links import (
    _may_hold_markdown_links,
    _may_overlap_wikilink,
    body_links_apart,
    body_links_apart_of_regions,
    find_frontmatter_links,
    find_links,
    frontmatter_targets,
    plain_body_links,
    plain_wikilinks,
    quick_link_targets,
    quick_links,
    quick_links_of,
    wikilink_spans,
    wikilink_spans_at,
    wikilink_target,
    wikilink_targets,
    wikilinks_in,
)
from vaulttools.note import (
    _LINE_BREAKS,
    _NON_PRINTABLE_RE,
    _SIMPLE_LINE_RE,
    _YAML11_WORDS,
    _YAML_EXTRA_BREAKS,
    Frontmatter,
    Note,
    _block_regions,
    _inline_regions,
    _marked_lines,
    _may_hold_indented_code,
    _may_hold_inline,
    _walk_block_regions,
    lazy_property,
    load_simple_yaml,
    other_line_breaks,
    simple_line_values,
    split_frontmatter,
)
from vaulttools.resolve import AMBIGUOUS, RESOLVED, LinkIndex
from vaulttools.suffixes import SuffixMatcher
from vaulttools.vault import Vault

BENCH = Path(__file__).resolve().parent.parent / "bench"
PROPERTIES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- both paths over whole vaults -----------------------------------------------------------------------


class _Spy:
    """Wraps `_quick_link_findings` to count the notes it answered (so a test proves it ran)."""

    def __init__(self) -> None:
        self.answered = 0
        self._real = check._quick_link_findings

    def __call__(self, *args: object) -> list | None:
        result = self._real(*args)
        self.answered += result is not None
        return result


def _entries(root: Path, *, quick: bool) -> tuple[list[tuple[str, tuple]], int]:
    """Every note's check entry (findings, opaque count, id), with or without the fast path, from a fresh
    vault (so no memo is shared), and how many notes the fast path answered."""
    vault = Vault(root)
    matcher = SuffixMatcher(vault.note_paths, vault.config.suffix_rules)
    spy = _Spy()
    replacement = spy if quick else mock.Mock(return_value=None)
    with mock.patch.object(check, "_quick_link_findings", replacement):
        entries = check.check_notes(vault, matcher, vault.note_paths)
    return entries, spy.answered


def assert_same_entries(root: Path) -> int:
    fast, answered = _entries(root, quick=True)
    full, _ = _entries(root, quick=False)
    assert [path for path, _ in fast] == [path for path, _ in full]
    for (path, fast_entry), (_, full_entry) in zip(fast, full, strict=True):
        # The packed findings compared unpacked (`marshal` may write equal values as different bytes).
        assert fast_entry[:7] == full_entry[:7], path
        assert check.entry_findings(fast_entry) == check.entry_findings(full_entry), path
    return answered


def _body_note(body: str) -> Note:
    """A note with a one-key frontmatter and this body."""
    return Note("n.md", f"---\nid: n\n---\n{body}".encode())


def _from_body_start(note: Note, links: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """(start, end, target) of each link, its offsets counted from the body's start."""
    offset = note.body_start
    return [(start - offset, end - offset, target) for start, end, target in links]


@pytest.mark.skipif(not BRAIN.is_dir(), reason="shared corpus not present")
def test_brain_corpus_fast_path_matches_full_parser() -> None:
    assert assert_same_entries(BRAIN) > 0


def test_sample_vault_fast_path_matches_full_parser() -> None:
    assert assert_same_entries(SAMPLE_VAULT) > 0


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate_fast_path", BENCH / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("profile", ["article", "code", "deep"])
def test_generated_vault_fast_path_matches_full_parser(tmp_path: Path, profile: str) -> None:
    root = tmp_path / "vault"
    generator = _load_generator()
    generator.generate(root, 400, 5, generator.PROFILES[profile])
    answered = assert_same_entries(root)
    assert answered >= 300  # the generator writes the notes the fast path is for (code: around its regions)


def test_generated_vault_check_report_is_the_same_with_and_without_fast_path(tmp_path: Path) -> None:
    root = tmp_path / "vault"
    _load_generator().generate(root, 200, 11)
    fast = check.check_vault(Vault(root), use_cache=False)
    with mock.patch.object(check, "_quick_link_findings", mock.Mock(return_value=None)):
        full = check.check_vault(Vault(root), use_cache=False)
    assert fast.findings and fast.to_json("v") == full.to_json("v")


# --- hypothesis-made vaults ------------------------------------------------------------------------------

# Files that make targets resolve, break, tie (`shared`), differ by a suffix (`beta`/`beta-d9`, `gamma 1`)
# or resolve by folder.
VAULT_FILES = [
    "alpha.md",
    "beta-d9.md",
    "beta-d3.md",
    "gamma 1.md",
    "a/shared.md",
    "b/shared.md",
    "a/only.md",
]
NAMES = ["alpha", "Alpha", "beta", "beta-d9", "gamma", "gamma 1", "shared", "only", "a/only", "missing"]
NAMES += ["./alpha", "../alpha", "/alpha", "alpha.md", " alpha ", "img.png", "é", "Café"]

_name = st.sampled_from(NAMES)


@st.composite
def wikilinks(draw: st.DrawFn) -> str:
    name = draw(_name)
    form = draw(
        st.sampled_from(
            [
                "[[{}]]",
                "![[{}]]",
                "[[{}|shown]]",
                "[[{}\\|cell]]",
                "[[{}#Heading|x]]",
                "[[{}#^block]]",
                "[[#{}]]",
                "[[{}\\]]",
                "[[ {} ]]",
                "[[{}|a|b]]",
                "[[{}#a#b]]",
                "[[]]",
                "[[|{}]]",
                "[{}]({}.md)",
                "[[{}]](x.md)",
                "[x](<{}.md>)",
                "[[{} [x [y]](z.md)",  # a markdown link starting inside a wikilink
                "[a](x[[{}]]y)",  # a wikilink inside a markdown destination
                "[{} x](a%20{}.md)",
                "![e]({}.md)",
                "[{}](../{}.md)",
            ]
        )
    )
    return form.replace("{}", name)


_piece = st.one_of(
    wikilinks(),
    wikilinks(),
    st.text(alphabet="abc XY-_.,:;!?#*/\\|()é🎉", max_size=8),
    st.sampled_from(["\n", "\n\n", "\r\n", " ", "    ", "\t", "- ", "1. ", "> ", "## ", "|", "[", "]", "!"]),
    st.sampled_from(["`", "```", "~~~", "$", "$$", "<!--", "-->", "\x0b", "\x0c", "\x85", "\u2028", "\r"]),
)
_bodies = st.lists(_piece, max_size=14).map("".join)


@st.composite
def frontmatters(draw: st.DrawFn) -> str:
    name = draw(_name)
    related = draw(
        st.sampled_from(
            [
                f'related: "{name}"',
                f'related: ["{name}", "{draw(_name)}", "alpha#Heading"]',
                f"related: {name}",
                "related: 12",
                "related: []",
                f'related: "[[{name}]]"',
                f"related: [[{name}]]",
                f"related:\n  - {name}\n  - '[[alpha]]'",
                f"related: '{name}'",
                'related: "x](y"',
                'related: "a\\"b"',
            ]
        )
    )
    others = ['id: "alpha"', "id: beta", 'title: "é x"', "originDay: 9", 'tags: ["x", "y"]', "tags: [x, y]"]
    lines = draw(st.lists(st.sampled_from([*others, "# note"]), max_size=3, unique=True))
    if draw(st.integers(0, 4)):  # most frontmatters have the link property
        lines.insert(draw(st.integers(0, len(lines))), related)
    return "---\n" + "".join(line + "\n" for line in lines) + "---\n"


_notes = st.tuples(st.one_of(st.just(""), frontmatters()), _bodies, st.booleans()).map(
    lambda parts: (parts[0] + parts[1]).replace("\n", "\r\n") if parts[2] else parts[0] + parts[1]
)


@contextmanager
def vault_on_disk(files: dict[str, bytes]) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="vt-fast-"))
    try:
        for relative, data in files.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(data)
        (root / "img.png").write_bytes(b"\x89PNG")
        yield root
    finally:
        shutil.rmtree(root)


@PROPERTIES
@given(st.lists(_notes, min_size=len(VAULT_FILES), max_size=len(VAULT_FILES)))
def test_random_vault_fast_path_matches_full_parser(texts: list[str]) -> None:
    files = {path: text.encode("utf-8") for path, text in zip(VAULT_FILES, texts, strict=True)}
    with vault_on_disk(files) as root:
        assert_same_entries(root)


@PROPERTIES
@given(_notes)
def test_link_regions_hold_the_region_of_every_opaque_link(text: str) -> None:
    """`Note.link_regions` leaves out only regions no link starts in: each body link that `find_links`
    (with every region) finds inside a region starts inside that very region of `link_regions`, and no
    other link starts inside one of `link_regions`."""
    note = Note("n.md", text.encode("utf-8"))
    links_only = Note("n.md", text.encode("utf-8")).link_regions
    assert set(links_only) <= set(note.regions)
    for link in _body_links(note):
        region = note.region_at(link.start)
        assert [r for r in links_only if r.start <= link.start < r.end] == ([region] if region else [])


# --- the pieces of the fast path ----------------------------------------------------------------------------


def _body_links(note: Note) -> list:
    return [link for link in find_links(note) if link.start >= note.body_start]


def _plain_wikilinks_found(note: Note) -> tuple[list[str], list[tuple[int, int]]] | None:
    """`plain_wikilinks` as (targets, spans), as `plain_body_links` gives them."""
    parts = plain_wikilinks(note)
    if parts is None:
        return None
    targets = wikilink_targets(parts)
    spans = wikilink_spans(note.text, note.body_start, parts)
    assert len(spans) == len(targets)
    return targets, spans


@PROPERTIES
@pytest.mark.parametrize("links_of", [_plain_wikilinks_found, plain_body_links])
@given(text=_notes)
def test_the_fast_paths_give_the_body_links_find_links_gives(
    links_of: Callable[[Note], tuple[list[str], list[tuple[int, int]]] | None], text: str
) -> None:
    note = Note("n.md", text.encode("utf-8"))
    found = links_of(note)
    if found is None:
        return
    targets, spans = found
    expected = [(link.start, link.end, link.target) for link in _body_links(note) if link.target]
    assert [(*span, target) for span, target in zip(spans, targets, strict=True) if target] == expected
    assert not any(link.opaque for link in _body_links(note))


@pytest.mark.parametrize(
    ("body", "links"),
    [
        ("no links", []),
        ("[[a]] and [b](c.md) and ![d](e%20f.md)", ["a", "c.md", "e f.md"]),
        ("[a](x[[b]]y)", None),  # a wikilink inside a markdown destination: `find_links` keeps one
        ("[[a [x [y]](z.md)", None),  # a markdown link starting inside a wikilink
        ("[[a\\|b]] | [c](d.md) |", ["a", "d.md"]),  # a table's escaped pipe
        ("`[[a]]` [b](c.md)", None),  # code: opaque regions need the full parse
    ],
)
def test_plain_body_links_examples(body: str, links: list[str] | None) -> None:
    found = plain_body_links(_body_note(body))
    assert (None if found is None else found[0]) == links


@PROPERTIES
@given(_notes)
def test_body_links_apart_are_the_body_links_find_links_gives(text: str) -> None:
    note = Note("n.md", text.encode("utf-8"))
    apart = body_links_apart(note)
    if apart is None:
        return
    parts, markdown = apart
    wikilinks = zip(wikilink_spans(note.text, note.body_start, parts), wikilink_targets(parts), strict=True)
    found = sorted([*((*span, target) for span, target in wikilinks), *markdown])
    expected = [(link.start, link.end, link.target) for link in _body_links(note) if link.target]
    assert [link for link in found if link[2]] == expected
    assert not any(link.opaque for link in _body_links(note))


@pytest.mark.parametrize(
    ("body", "links"),
    [
        ("no links", ([], [])),
        ("[[a]] [[b|x]]", (["a", "b"], [])),
        (
            "[[a]] and [b](c.md) and ![d](e%20f.md) [[g]]",
            (["a", "g"], [(10, 19, "c.md"), (24, 38, "e f.md")]),
        ),
        ("[c](d.md) [[a]]", (["a"], [(0, 9, "d.md")])),
        ("[[a]] [[b]]\n[c](d.md)", (["a", "b"], [(12, 21, "d.md")])),
        ("[[ not closed\n[c](d.md)", ([], [(14, 23, "d.md")])),  # a line break ends every wikilink
        ("[[a\\|b]] | [c](d.md) |", (["a"], [(11, 20, "d.md")])),  # a table's escaped pipe
        ("[[a]](x.md)", None),  # a markdown link with the wikilink as its label: same start
        ("[[a [x [y]](z.md)", None),  # a markdown link starting inside a wikilink
        ("[a](x[[b]]y)", None),  # a wikilink inside a markdown destination
        ("[[a [b]](c.md)", None),  # the markdown link's label closes the wikilink's nested bracket
        ("[[ unclosed [c](d.md)", None),  # an open `[[` on the line: perhaps a wikilink (here none)
        ("`[[a]]` [b](c.md)", None),  # code: opaque regions need the full parse
    ],
)
def test_body_links_apart_examples(body: str, links: tuple | None) -> None:
    note = _body_note(body)
    apart = body_links_apart(note)
    got = None
    if apart is not None:
        parts, markdown = apart
        got = (wikilink_targets(parts), _from_body_start(note, markdown))
    assert got == links


@PROPERTIES
@given(_notes)
def test_body_links_apart_of_regions_are_the_body_links_find_links_gives(text: str) -> None:
    """The links outside opaque regions, found piece by piece, are those `find_links` keeps, and each gap's
    wikilinks are found from its start where `check` looks for their spans."""
    note = Note("n.md", text.encode("utf-8"))
    if not note.editable or not note.regions:
        return
    apart = body_links_apart_of_regions(note)
    if apart is None:
        return
    body = _body_links(note)
    spans = []
    for first, after, start in check._gap_bounds(apart.gaps, len(apart.parts)):
        spans += wikilink_spans(note.text, start, apart.parts[first:after])
    wikilinks = zip(spans, wikilink_targets(apart.parts), strict=True)
    found = sorted([*((*span, target) for span, target in wikilinks), *apart.markdown])
    expected = [(link.start, link.end, link.target) for link in body if link.target and not link.opaque]
    assert [link for link in found if link[2]] == expected
    assert apart.opaque == sum(1 for link in body if link.opaque)


@pytest.mark.parametrize(
    ("body", "links"),
    [
        ("`code` [[a]] and `more` [[b]]", (["a", "b"], [], 0, [(0, 0)])),  # regions without `[[`: one piece
        ("`[[x]]` [[a]] `y` [[b]]", (["a", "b"], [], 1, [(0, 7)])),
        ("[[a]]\n```\n[[x]] [[]]\n```\n[[b]]", (["a", "b"], [], 1, [(0, 0), (1, 25)])),  # `[[]]`: no link
        ("$[[x]]$ [c](d.md) `[e](f.md)`", ([], [(8, 17, "d.md")], 2, [])),
        ("[[a `b]] [[x]]`", None),  # a wikilink reaching into a region holding a `[[`...
        ("[[a `b` c]]", (["a `b` c"], [], 0, [(0, 0)])),  # ...or across one holding none: no cut
        ("[[a `b` c]] `[[x]]`", (["a `b` c"], [], 1, [(0, 0)])),
        ("`[[x` y]]` z", None),  # one starting inside a region and reaching out of it
        ("`[[x]]` [a](b[[c]]d)", None),  # a markdown link that may overlap a wikilink
    ],
)
def test_body_links_apart_of_regions_examples(body: str, links: tuple | None) -> None:
    note = _body_note(body)
    apart = body_links_apart_of_regions(note)
    got = None
    if apart is not None:
        gaps = [(first, start - note.body_start) for first, start in apart.gaps]
        got = (wikilink_targets(apart.parts), _from_body_start(note, apart.markdown), apart.opaque, gaps)
    assert got == links


@pytest.mark.parametrize(
    ("body", "overlaps"),
    [
        ("[c](d.md)", False),
        ("[[a]] [c](d.md)", False),  # a wikilink closed before
        ("[[a]]\n[c](d.md)", False),
        ("[[ open\n[c](d.md)", False),  # a line break between: no wikilink reaches the link
        ("[c](d.md) [[a]]", False),  # after it
        ("[[a]](x.md)", True),  # starting with it
        ("[[a [x [y]](z.md)", True),  # it starts inside a wikilink
        ("[a](x[[b]]y)", True),  # a wikilink inside it
        ("[a](x![[b]]y)", True),  # an embed inside it
        ("[[a [b]](c.md)", True),
        ("[[ open [c](d.md)", True),  # an open `[[`: perhaps a wikilink (the test is cautious)
        ("x[[[c](d.md)", True),  # `[[` right before its `[`
    ],
)
def test_may_overlap_wikilink(body: str, overlaps: bool) -> None:
    start = body.rfind("[", 0, body.index("](") + 1)  # the markdown link: from its label's `[` to its `)`
    start -= start > 0 and body[start - 1] == "!"
    end = body.index(")", body.index("](")) + 1
    assert _may_overlap_wikilink(body, 0, start, end) is overlaps


# Bodies whose wikilinks `wikilink_spans` finds by `str.find` of their text: the same link twice, links
# sharing a prefix, brackets around and inside links, an embed's `!`, escapes, non-ASCII and NFD names.
_SPAN_BODIES = [
    "",
    "no links at all",
    "[[a]] x ![[b]] y [[c|shown]]",
    "[[a]] [[a]] ![[a]] [[a]]",  # the same text again: each found after the previous one
    "![[a]][[a]]![[a]]",  # adjacent, embeds first
    "[[ab]] [[a]] [[abc]]",
    "[[[a]] [[a]]] [[a]]]",  # a third bracket before or after
    "[[a [[b]] [[a [x] b]] [[a]x]]",  # an unclosed `[[` before a link; single brackets inside
    "[[a\\|cell]] | [[a\\|cell]] |",  # a table's escaped pipe
    "[[a#H|x]] [[a#H]] [[#H]] [[]] [[|x]] [[a]]",  # links without a target in between
    "[[Cafe\u0301]] [[Caf\u00e9]] [[\u00e9t\u00e9]] [[🎉]]",  # NFD and NFC spellings, astral characters
    "[[note.md.md]] [[note.md]] [[note]]",
    "[[2024-01-02 a]] [[a 2024-01-02]] [[a (1)]]",  # day and counter suffixes
    "line\r\n[[a]]\r\n![[b]]\r\n",  # CRLF
    "[[a\nb]] [[a]]",  # a line break ends no link: only the second is one
]


@pytest.mark.parametrize("frontmatter", ["", "---\nid: n\n---\n", "\ufeff---\r\nid: n\r\n---\r\n"])
@pytest.mark.parametrize("body", _SPAN_BODIES)
def test_wikilink_spans_are_find_links_spans(frontmatter: str, body: str) -> None:
    note = Note("n.md", (frontmatter + body).encode("utf-8"))
    parts = plain_wikilinks(note)
    assert parts is not None
    targets, spans = wikilink_targets(parts), wikilink_spans(note.text, note.body_start, parts)
    expected = [(link.start, link.end, link.target) for link in _body_links(note) if link.target]
    assert [(*span, target) for span, target in zip(spans, targets, strict=True) if target] == expected
    # The first links only (what `check` asks for when its last unresolved link is early in the body).
    assert wikilink_spans(note.text, note.body_start, parts[:2]) == spans[:2]


@pytest.mark.parametrize("frontmatter", ["", "---\nid: n\n---\n"])
@pytest.mark.parametrize("body", [*_SPAN_BODIES, "[[a]] [[b]] [[a]] [[c]]", "x [[b]] [[a]]\n[[[a]]"])
def test_wikilink_spans_at_are_the_walks_spans(frontmatter: str, body: str) -> None:
    # Each link alone, every pair, and all of them: a link whose text occurs once is found directly, the
    # others by the walk; either way the spans are the walk's.
    note = Note("n.md", (frontmatter + body).encode("utf-8"))
    parts = plain_wikilinks(note)
    assert parts is not None
    walked = wikilink_spans(note.text, note.body_start, parts)
    every = list(range(len(parts)))
    asked = [[i] for i in every] + [list(pair) for pair in itertools.combinations(every, 2)] + [every]
    for positions in asked:
        spans = wikilink_spans_at(note.text, note.body_start, parts, positions)
        assert spans == {i: walked[i] for i in positions}


@pytest.mark.parametrize(
    "body",
    [
        "`[[a]]` [[b]]",  # inline code
        "```\n[[a]]\n```\n[[b]]",  # a fenced block
        "text\n\n    [[a]]\n\n[[b]]",  # indented code
        "<!-- [[a]] --> [[b]]",  # an HTML comment
        "$[[a]]$ [[b]]",  # inline math
        "[[a]] [b](c.md)",  # a markdown link: `plain_body_links` reads it
    ],
)
def test_plain_wikilinks_turns_away_bodies_with_opaque_regions_or_markdown_links(body: str) -> None:
    assert plain_wikilinks(_body_note(body)) is None


@pytest.mark.parametrize(
    ("body", "links"),
    [
        ("[a](b.md) [[c]] [d](e.md) [[f]]", [(0, 9, "b.md"), (10, 15, "c"), (16, 25, "e.md"), (26, 31, "f")]),
        ("[[a]] [[b]] [c](d.md)", [(0, 5, "a"), (6, 11, "b"), (12, 21, "d.md")]),
        ("[c](d.md) [[a]] [[b]]", [(0, 9, "d.md"), (10, 15, "a"), (16, 21, "b")]),
        ("[x](y.md)[[a]]![b](c.md)![[d]]", [(0, 9, "y.md"), (9, 14, "a"), (14, 24, "c.md"), (24, 30, "d")]),
        ("[[a]] [[a]] [a](a.md) [[a]]", [(0, 5, "a"), (6, 11, "a"), (12, 21, "a.md"), (22, 27, "a")]),
        ("[[a]]\r\n[b](Cafe\u0301.md)\r\n", [(0, 5, "a"), (7, 20, "Cafe\u0301.md")]),
        ("[[]] [a](b.md) [[|x]]", [(0, 4, ""), (5, 14, "b.md"), (15, 21, "")]),
        ("no link ](", []),
        ("[[a]](x.md)", None),  # a markdown link with the wikilink as its label: same start
        ("[[a [x [y]](z.md)", None),  # a markdown link starting inside a wikilink
        ("[a](x[[b]]y)", None),  # a wikilink inside a markdown destination
        ("[[a [b]](c.md)", None),  # the markdown link's label closes the wikilink's nested bracket
    ],
)
def test_plain_body_links_merge_in_text_order(body: str, links: list[tuple] | None) -> None:
    note = _body_note(body)
    found = plain_body_links(note)
    offset = note.body_start
    got = None
    if found is not None:
        targets, spans = found
        got = _from_body_start(
            note, [(start, end, target) for (start, end), target in zip(spans, targets, strict=True)]
        )
    assert got == links
    if links is not None:  # what the full parser finds (it drops the links without a target)
        assert [link for link in got if link[2]] == [
            (link.start - offset, link.end - offset, link.target) for link in _body_links(note) if link.target
        ]


def assert_quick_link_targets_agree(note: Note) -> bool:
    """`quick_link_targets`, where it answers, holds the target of every link `find_links` finds outside
    code, math and comments (in any order), and `quick_links` counts those inside as opaque. Whether it
    answered."""
    quick = quick_link_targets(note)
    if quick is None:
        return False
    links = find_links(note)
    assert sorted(target for target in quick if target) == sorted(
        link.target for link in links if link.target and not link.opaque
    )
    answer = quick_links(note)
    assert answer is not None and answer.opaque == sum(1 for link in links if link.opaque)
    if answer.spans is not None:  # in text order, where `find_links` has them (those with a target)
        body = [link for link in links if link.start >= note.body_start and not link.opaque and link.target]
        quick_body = zip(answer.spans, answer.body, strict=True)
        assert [(span, target) for span, target in quick_body if target] == [
            ((link.start, link.end), link.target) for link in body
        ]
    return True


@settings(max_examples=1000, deadline=None)
@given(_notes)
def test_quick_link_targets_are_the_links_targets(text: str) -> None:
    assert_quick_link_targets_agree(Note("n.md", text.encode("utf-8")))


@pytest.mark.skipif(not BRAIN.is_dir(), reason="shared corpus not present")
def test_quick_link_targets_on_the_brain_corpus() -> None:
    vault = Vault(BRAIN)
    answered = sum(assert_quick_link_targets_agree(vault.note(path)) for path in vault.note_paths)
    assert answered >= 50  # (56 of its 885 notes: most hold code or a frontmatter beyond the simple grammar)


@pytest.mark.parametrize(
    ("text", "targets"),
    [
        ("no links", []),
        ('---\nrelated: "a#h"\n---\n[[b|x]] [c](d%20e.md) [[#h]]', ["a", "b", "", "d e.md"]),
        ("[x](y.md) [[a]]", ["a", "y.md"]),  # the wikilinks, then the markdown links
        ("---\nrelated: [a, b]\n---\n[[c]]", None),  # a frontmatter beyond the simple grammar
        ("`[[a]]` [[b]]", ["b"]),  # the link in code is none
        ("```\n[[a]] [x](y.md)\n```\n$[[c]]$ <!-- [[d]] --> [[e]]", ["e"]),
        ("`x [[a` b]] [[c]]", ["c"]),  # a link starting in code is none, wherever it ends
        ("[a](x[[b]]y)", None),  # links that overlap
        ("`x` [a](x[[b]]y)", None),  # ...with code elsewhere
    ],
)
def test_quick_link_targets_examples(text: str, targets: list[str] | None) -> None:
    assert quick_link_targets(Note("n.md", text.encode(), frozenset({"related"}))) == targets


@settings(max_examples=1000, deadline=None)
@given(_notes)
def test_frontmatter_targets_are_the_frontmatter_links_targets(text: str) -> None:
    assert_frontmatter_targets_agree(Note("n.md", text.encode("utf-8")))


@pytest.mark.parametrize(
    ("yaml", "targets"),
    [
        ('related: ["a", "b#h", " c ", "", "#h", "[x]", "x](y", "d#"]', ["a", "b", "c", "d"]),
        ('related: "a#h"\nid: "n"', ["a"]),
        ("related: word\r\nother: x", ["word"]),
        ("related: 12", ["12"]),
        ("related: []", []),
        ("other: x", []),
        ('related: "[[a]]"', None),  # a property link: only the full parser has it
        ('title: "see [[a]]"', None),
        ("related: [a, b]", None),  # outside the simple grammar
        ("related:\n  - a", None),
        ('related: "a" # comment', None),
    ],
)
def test_frontmatter_targets_examples(yaml: str, targets: list[str] | None) -> None:
    note = Note("n.md", f"---\n{yaml}\n---\nbody".encode())
    assert frontmatter_targets(note) == targets
    assert_frontmatter_targets_agree(note)


def assert_frontmatter_targets_agree(note: Note) -> None:
    targets = frontmatter_targets(note)
    if targets is None:
        return
    links = find_frontmatter_links(note) if note.frontmatter else []
    assert not any(link.opaque for link in links)
    assert sorted(targets) == sorted(link.target for link in links if link.target)


@PROPERTIES
@given(st.text(alphabet="ab |#\\^.[]!é ", max_size=12))
def test_wikilink_target_matches_the_link_parser(inner: str) -> None:
    text = f"[[{inner}]]"
    found = wikilinks_in(text, 0, len(text))
    assume(len(found) == 1 and found[0].start == 0 and found[0].end == len(text))
    assert wikilink_target(inner) == found[0].target


@pytest.mark.parametrize(
    ("inner", "target"),
    [("a", "a"), (" a |b", "a"), ("a\\|b", "a"), ("a#h|x", "a"), ("#h", ""), ("a\\", "a\\"), ("|a", "")],
)
def test_wikilink_target_examples(inner: str, target: str) -> None:
    assert wikilink_target(inner) == target


# --- the quick tests of general parsing -----------------------------------------------------------------------


def _may_hold_blocks(text: str, start: int = 0) -> bool:
    """The quick tests `_block_regions` asks before a walk: False when `text[start:]` surely has no fenced or
    indented code and no `$$` math."""
    breaks = other_line_breaks(text)
    return bool(_marked_lines(text, start, breaks)) or _may_hold_indented_code(text, start, breaks)


_BLOCK_PIECES = [
    "a",
    "x y",
    "    ",
    "  ",
    "\t",
    " ",
    "\n",
    "\r\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1f",
    "\x85",
]
_BLOCK_PIECES += ["\u2028", "\u2029", "\xa0", "- ", "1. ", "```", "~~~", "$$", "`", "~", "$", "[[a]]", "code"]
_block_pieces = st.sampled_from(_BLOCK_PIECES)


@PROPERTIES
@given(st.lists(_block_pieces, max_size=20).map("".join))
def test_no_block_regions_when_the_quick_test_says_so(body: str) -> None:
    if not _may_hold_blocks(body):
        assert _walk_block_regions(body, 0, body) == []


@PROPERTIES
@given(
    st.lists(_block_pieces | st.sampled_from(["<", "<!--"]), max_size=8).map("".join),
    st.lists(_block_pieces | st.sampled_from(["<", "<!--"]), max_size=20).map("".join),
)
def test_quick_tests_from_a_start_answer_for_the_body(prefix: str, body: str) -> None:
    """The quick tests of a body read from `start` in the whole text (no copy of the body) say what they
    say of the body alone, or "may" where the text before it holds the character they look for first;
    a "no" still means the walk finds nothing."""
    text = prefix + body
    start = len(prefix)
    if _may_hold_blocks(body):
        assert _may_hold_blocks(text, start)
    if not _may_hold_blocks(text, start):
        assert _walk_block_regions(text, start, body) == []
    for end in {start, start + len(body) // 2, len(text)}:
        part = text[start:end]
        if "`" in part or "$" in part or "<!--" in part:
            assert _may_hold_inline(text, start, end)
        elif not any(c in prefix + text[end:] for c in "`$<"):
            assert not _may_hold_inline(text, start, end)


_INLINE_PIECES = [
    "a",
    " ",
    "`",
    "``",
    "```",
    "````",
    "\t",
    "\n\t \n",
    "-",
    "->",
    "--",
    "$",
    "$$",
    "\\",
    "\\$",
    "<",
    "<!--",
    "-->",
    "\n",
    "\n\n",
    "\n \r\n",
    "1",
    "x y",
]


# Inline code, HTML comments and inline math as one regex: what `_inline_regions` finds, as the pattern's
# scan of every position of a part of the text finds it (lookbehinds see the text before the part).
_INLINE_RE = re.compile(
    r"(?P<code>(?<!`)(?P<ticks>`+)(?!`)(?:(?!\n[ \t]*\r?\n).)+?(?<!`)(?P=ticks)(?!`))"
    r"|(?P<comment><!--.*?(?:-->|\Z))"
    r"|(?P<math>(?<![\\$])\$(?![\s$])(?:[^$\n\\]|\\.)*?(?<![\s\\])\$(?![\d$]))",
    re.DOTALL,
)
_INLINE_KINDS = {"code": "code", "comment": "html-comment", "math": "math"}


@PROPERTIES
@given(st.lists(st.sampled_from(_INLINE_PIECES), max_size=30).map("".join), st.data())
def test_inline_regions_are_the_patterns_matches(text: str, data: st.DataObject) -> None:
    """Looking for regions only where one can start, code spans run by run, finds what the pattern's scan
    of every position finds, over any part of the text."""
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    scanned = [
        (m.start(), m.end(), _INLINE_KINDS[m.lastgroup or ""]) for m in _INLINE_RE.finditer(text, start, end)
    ]
    assert [tuple(region) for region in _inline_regions(text, start, end)] == scanned


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("a `b` c $x$ d <!-- e --> f", [(2, 5, "code"), (8, 11, "math"), (14, 24, "html-comment")]),
        ("$5 and $6", []),  # a dollar before a digit closes no math
        ("``a`b``", [(0, 7, "code")]),
        ("a\\$b$", []),  # an escaped dollar opens nothing
        ("<b> and <!-- open", [(8, 17, "html-comment")]),  # a comment left open runs to the end
        ("plain", []),
    ],
)
def test_inline_regions_examples(text: str, kinds: list[tuple[int, int, str]]) -> None:
    assert [tuple(region) for region in _inline_regions(text, 0, len(text))] == kinds


@pytest.mark.parametrize(
    ("text", "start", "end", "spans"),
    [
        ("`a``b`", 0, 6, [(0, 6)]),  # a run of another length neither closes nor opens the span
        ("``a`b``", 0, 7, [(0, 7)]),
        ("`a\n\nb`", 0, 6, []),  # no code span crosses a blank line...
        ("`a\n \t\r\nb`", 0, 9, []),  # ...whitespace-only either
        ("`a\nb`", 0, 5, [(0, 5)]),  # but a single line break
        ("``x`", 1, 4, []),  # a backtick before the part still makes a run
        ("`x` `y`", 0, 6, [(0, 3)]),  # the part ends before the second span's closing backtick
        ("`x``", 0, 3, [(0, 3)]),  # ...and hides a backtick after its end
        ("<!-- a -->b<!-- c", 0, 17, [(0, 10), (11, 17)]),
        ("<!-- a --> b", 0, 8, [(0, 8)]),  # open within the part: to its end
    ],
)
def test_inline_code_and_comments_within_a_part(text: str, start: int, end: int, spans: list) -> None:
    assert [(region.start, region.end) for region in _inline_regions(text, start, end)] == spans
    assert [(m.start(), m.end()) for m in _INLINE_RE.finditer(text, start, end)] == spans


# Where indented code may start, as one regex: a line starting with four spaces or a tab, first in the body
# or after a whitespace-only line ("\r\n" may pass for two breaks). `_may_hold_indented_code` answers the
# same without scanning every character with it.
_INDENTED_AFTER_BLANK_RE = re.compile(
    rf"(?:\A(?:\s*?[{_LINE_BREAKS}])?|[{_LINE_BREAKS}]\s*?[{_LINE_BREAKS}])(?:    |\t)"
)


@PROPERTIES
@given(
    st.lists(_block_pieces, max_size=6).map("".join),
    st.lists(_block_pieces | st.sampled_from(["\t", "\n\t", "\n\n\t", " \t", "\u3000"]), max_size=24).map(
        "".join
    ),
)
def test_indented_code_test_is_the_regexs(prefix: str, body: str) -> None:
    text = prefix + body
    expected = _INDENTED_AFTER_BLANK_RE.search(body) is not None
    assert _may_hold_indented_code(text, len(prefix), other_line_breaks(text)) == expected


@PROPERTIES
@given(
    st.lists(_block_pieces, max_size=6).map("".join),
    st.lists(
        _block_pieces | st.sampled_from(["  ```", "   ~~~~", "```x", "``` `", "a$$b", "\n```\n"]), max_size=24
    ).map("".join),
)
def test_block_regions_are_the_whole_walks(prefix: str, body: str) -> None:
    """Visiting only the lines with a fence's or `$$` mark finds what walking every line finds."""
    text = prefix + body
    assert _block_regions(text, len(prefix)) == _walk_block_regions(text, len(prefix), body)


@pytest.mark.parametrize(
    ("body", "spans"),
    [
        ("a\n```py\nx [[b]]\n```\nc $x$", [(2, 20, "code")]),
        ("a\n```\nnever closed", [(2, 18, "code")]),
        ("a\n   ```\nx\n  ```\n", [(2, 17, "code")]),
        ("a\n    ```\nnot a fence", []),  # four spaces: not a fence, and no blank line before: not code
        ("a\n``` `x`\nb", []),  # backticks after backticks: inline code, not a fence
        ("a\n````\n```\n````\nb", [(2, 16, "code")]),  # closed by as many ticks or more
        ("a\n~~~\n```\n~~~\n", [(2, 14, "code")]),  # closed by its own character
        ("a\r\n```\r\nx\r\n```\r\nb", [(3, 16, "code")]),
        ("a\u2028```\u2028x\u2028```", [(2, 11, "code")]),  # a break other than "\n" starts a line
        ("x $$ y\n  $$a$$ b\n$$\nm\nend $$ z\n$$", [(7, 14, "math"), (17, 28, "math"), (31, 33, "math")]),
        ("```\n$$\n```\n$$ open", [(0, 11, "code"), (11, 18, "math")]),
    ],
)
def test_walk_of_marked_lines_examples(body: str, spans: list[tuple[int, int, str]]) -> None:
    assert [tuple(region) for region in _block_regions(body, 0)] == spans
    assert _block_regions(body, 0) == _walk_block_regions(body, 0, body)


@pytest.mark.parametrize(
    "body",
    [
        "a\n\n    code",
        "    code",
        "\n    code",
        " \n\tcode",
        "a\n \t \n\tcode",
        "a\x0b\x0b    code",
        "a\u2028\n    code",
        "\n\r\n    x",
        "a\r\n\r\n    code",
        # Four spaces after a break other than "\n" (`_may_indent_by_spaces` looks for each alone first).
        "a\r\r    code",
        "a\x0c\x0c    code",
        "a\x1c\x1c    code",
        "a\x85\x85    code",
        "a\u2029\u2029    code",
        "\x0c    code",  # a break first in the body
        "\r    code",
        "a\n \x1e    code",
        "a\r\nb\r\n\x0b\x0b    code",  # CRLF lines, then code after another break
    ],
)
def test_quick_block_test_sees_indented_code(body: str) -> None:
    assert _may_hold_blocks(body) and _walk_block_regions(body, 0, body)


@pytest.mark.parametrize(
    "body",
    [
        "plain text",
        "a\n    not code after a line",
        "a    b\nc",
        "$x$ and `y`",
        "",
        "a\r\rb    c",
        "a\x85   b",
        "a\r\nb\r\n",  # CRLF prose (a Windows editor's note)
        "a\r\n  b\r\n   c\r\n",
    ],
)
def test_quick_block_test_rules_out_plain_bodies(body: str) -> None:
    assert not _may_hold_blocks(body)


# The loader before it was made faster: the grammar in one fullmatch, then the lines' groups.
_REFERENCE_BLOCK_RE = re.compile(rf"(?:(?:{_SIMPLE_LINE_RE.pattern}|\r?)\n)*(?:{_SIMPLE_LINE_RE.pattern})?")
_REFERENCE_LINES_RE = re.compile(rf"^{_SIMPLE_LINE_RE.pattern}$", re.MULTILINE)


def reference_simple_yaml(yaml_text: str) -> dict | None:
    if _NON_PRINTABLE_RE.search(yaml_text) or any(c in yaml_text for c in _YAML_EXTRA_BREAKS):
        return None
    if _REFERENCE_BLOCK_RE.fullmatch(yaml_text) is None:
        return None
    data: dict = {}
    for key, string, flow, integer, word in _REFERENCE_LINES_RE.findall(yaml_text):
        if key in data or key.lower() in _YAML11_WORDS:
            return None
        if string:
            data[key] = string[1:-1]
        elif flow:
            data[key] = re.findall(r'"([^"]*)"', flow)
        elif integer:
            data[key] = int(integer)
        elif word.lower() in _YAML11_WORDS:
            return None
        else:
            data[key] = word
    return data


_TRICKY = ["\\", "\t", "\r", "\n", "\r\n", "\x00", "\x0b", "\x1f", "\x7f", "\x85", "\x9f", "\u2028", "\ud7ff"]
_TRICKY += ["\xa0", "é", "🎉", '"', "'", "#", "[", "]", ",", ":", " ", "\ufffe", "\U0001f600"]
_chars = st.lists(st.one_of(st.sampled_from(_TRICKY), st.text("abc-_ ", max_size=3)), max_size=6).map("".join)
_yaml_value = st.one_of(
    _chars.map(lambda s: f'"{s}"'),
    st.lists(_chars, max_size=3).map(lambda items: "[" + ", ".join(f'"{i}"' for i in items) + "]"),
    st.sampled_from(
        ["12", "-3", "0", "007", "word", "yes", "Null", "ON", "yesterday", "no_", "[ ]", "[]", "1.5"]
    ),
    st.sampled_from(["~", '"a"  ', '"yes"']),
    _chars,
)
_yaml_line = st.tuples(
    st.sampled_from(["id", "related", "tags", "on", "Off", "Y", "yeſ", "é", "a-b", "x_1", "Key", "id"]),
    st.sampled_from([": ", ":  ", ":", " : "]),
    _yaml_value,
    st.sampled_from(["", " ", "\r", "  \r"]),
).map("".join)
_yaml_texts = st.tuples(
    st.lists(st.one_of(_yaml_line, _yaml_line, st.sampled_from(["", "\r", " ", "# c", "\r\r"])), max_size=5),
    st.sampled_from(["", "\n", "\r", "\r\n"]),
).map(lambda parts: "\n".join(parts[0]) + parts[1])


@settings(max_examples=1000, deadline=None)
@given(_yaml_texts)
def test_simple_yaml_loader_matches_its_reference(yaml_text: str) -> None:
    assert load_simple_yaml(yaml_text) == reference_simple_yaml(yaml_text)


def test_simple_yaml_loader_reads_the_usual_frontmatter() -> None:
    text = 'id: "a"\r\ntags: ["x", "y,z"]\r\n\r\nday: 3\r\nkind: word\r\nempty: [ ]\r\n'
    expected = {"id": "a", "tags": ["x", "y,z"], "day": 3, "kind": "word", "empty": []}
    assert load_simple_yaml(text) == reference_simple_yaml(text) == expected
    for refused in [
        'a: "x\\y"',
        'a: "x\ty"',
        'a: "x\ry"',
        'a: "x\x85"',
        'a: "x\x7f"',
        "a: 1\n\r",
        'a: "x\ny"',
        'a: "€\t"',
        'a: "€\\"',
        'a: "€\x01"',
        'a: "€\u2028"',
        'a: ["€", "\t"]',
        'a: "€\r"',
        "a: 1\r\r\n",
    ]:
        assert load_simple_yaml(refused) is None and reference_simple_yaml(refused) is None


@pytest.mark.parametrize(
    "yaml_text",
    [
        'related: ["a", "b", "c", "d", "e", "f", "g"]\r\n',  # a long flow list, CRLF
        'related: [ "a" ,"b",  "c" ]\nid: "x: y, z"\n',  # spaces around items; `:` and `,` in a string
        'related: ["a", "b",]\n',  # a trailing comma: outside the grammar
        'related: ["a", "b"] ]\n',
        'related: ["a" "b"]\n',
        'related: ["a", b]\n',
        'key2-x_y:   "v"\ncount: -12\nword: Caf\u00e9\n',
        'a: ""\nb: []\nc: [""]\n',
    ],
)
def test_simple_yaml_loader_examples_match_the_reference(yaml_text: str) -> None:
    assert load_simple_yaml(yaml_text) == reference_simple_yaml(yaml_text)


@pytest.mark.parametrize(
    "line",
    [
        'id: "a b"',
        'tags: ["x", "y"]',
        "e: []",
        "e: [ ]",
        "num: 0",
        "num: -12",
        "w: word",
        "w: Z9-x",
        'k:  "v"  \r',
    ],
)
def test_a_lines_value_kind_is_the_old_grammars_group(line: str) -> None:
    """One value group, its kind told by its first character: the (string, flow list, integer, word)
    slots are the four value groups of the grammar (`_SIMPLE_LINE_RE`), and a note reads each kind's value
    (`property_value`) as the full loader does."""
    match = _SIMPLE_LINE_RE.fullmatch(line)
    assert match is not None
    assert simple_line_values(line) == match.groups("")[1:]
    key = match.group(1)
    note = Note("n.md", f"---\n{line}\n---\n".encode())
    assert note.simple_yaml and note.property_value(key) == load_simple_yaml(line)[key]  # type: ignore[index]
    assert note.property_value(key) == reference_simple_yaml(line)[key]  # type: ignore[index]


@pytest.mark.parametrize("line", ["w: yes", 'a: "x\\y"', "a: 1.5", "a: 007", 'a: ["x", y]'])
def test_a_line_outside_the_grammar_has_no_values(line: str) -> None:
    assert simple_line_values(line) is None


_REFERENCE_CLOSER_RE = re.compile(r"^(---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.MULTILINE)


def reference_split_frontmatter(text: str) -> Frontmatter | None:
    opener = re.match(r"---[ \t]*\r?\n", text)
    if not opener:
        return None
    closer = _REFERENCE_CLOSER_RE.search(text, opener.end())
    if closer is None:
        return None
    return Frontmatter(opener.end(), closer.start(), closer.end(), closer.group(1))


@PROPERTIES
@given(
    st.lists(st.sampled_from(["---", "...", "\n", "\r\n", " ", "\t", "a: 1", "x", "--", "-"]), max_size=12)
)
def test_split_frontmatter_matches_its_reference(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert split_frontmatter(text)[0] == reference_split_frontmatter(text)


@PROPERTIES
@given(st.text(alphabet="ab\n\r", max_size=40), st.data())
def test_line_col_counts_as_the_table_does(text: str, data: st.DataObject) -> None:
    offsets = data.draw(st.lists(st.integers(0, len(text)), min_size=1, max_size=10))
    counted = Note("n.md", text.encode())
    tabled = Note("n.md", text.encode())
    tabled._line_starts  # noqa: B018 - build the table first: every call then bisects it
    assert [counted.line_col(o) for o in offsets] == [tabled.line_col(o) for o in offsets]


# --- resolution and reading ------------------------------------------------------------------------------------


def test_resolve_many_is_resolve_for_each_target_and_remembers_per_folder() -> None:
    index = LinkIndex(["a/x.md", "b/x.md", "c/y.md", "z.md"])
    targets = ["x", "y", "z", "missing", "", "  ", "./x", "/z"]
    for source in ["a/n.md", "b/n.md", "n.md", "a/n.md"]:
        expected = [LinkIndex(index.paths).resolve(t, source) for t in targets]
        assert index.resolve_many(targets, source) == expected
        assert [index.resolve(t, source) for t in targets] == expected
    assert index.resolve("x", "a/n.md").path == "a/x.md"
    assert index.resolve("x", "b/n.md").path == "b/x.md"
    assert index.resolve("x", "n.md").status == AMBIGUOUS
    assert index.resolve(" ", "q/n.md") == (RESOLVED, "q/n.md", ())
    index.add("q/x.md")
    assert index.resolve("x", "q/n.md").path == "q/x.md"  # the memo forgets when the index changes


@pytest.mark.parametrize("stated", [0, 4, 10, 20])
def test_read_all_reads_to_the_end_whatever_the_stated_size(stated: int) -> None:
    reader, writer = os.pipe()
    os.write(writer, b"0123456789")
    os.close(writer)
    try:
        assert read_all(reader, stated) == b"0123456789"
    finally:
        os.close(reader)


def read_stamped(root: str, paths: list[str]) -> Iterator[tuple[str, tuple[int, int, int, int], bytes]]:
    """Every note `facts.read_stamped_batches` reads, batch after batch."""
    with closing(facts.read_stamped_batches(root, paths)) as batches:
        for batch in batches:
            yield from batch


def test_read_stamped_gives_each_readable_note_with_its_stamp(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"---\nid: a\n---\nbody")
    (tmp_path / "empty.md").write_bytes(b"")
    (tmp_path / "big.md").write_bytes(big := os.urandom(300_000))
    paths = ["a.md", "missing.md", "empty.md", "big.md"]
    read = list(read_stamped(str(tmp_path), paths))
    assert [(path, raw) for path, _, raw in read] == [
        ("a.md", b"---\nid: a\n---\nbody"),
        ("empty.md", b""),
        ("big.md", big),
    ]
    assert [stamp for _, stamp, _ in read] == [stamp_of(tmp_path / p) for p in ("a.md", "empty.md", "big.md")]


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0


def test_read_stamped_opens_notes_in_folders_from_the_vault_folder(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.md").write_bytes(b"deep")
    (tmp_path / "top.md").write_bytes(b"top")
    before = _open_descriptors()
    read = list(read_stamped(str(tmp_path), ["a/b/deep.md", "a/missing.md", "top.md"]))
    assert [(path, raw) for path, _, raw in read] == [("a/b/deep.md", b"deep"), ("top.md", b"top")]
    assert _open_descriptors() == before  # the vault folder's descriptor is closed too


def test_read_stamped_left_early_closes_the_vault_folder(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_bytes(b"a")
    (tmp_path / "b.md").write_bytes(b"b")
    before = _open_descriptors()
    reading = read_stamped(str(tmp_path), ["a.md", "b.md"])
    assert next(reading)[0] == "a.md"
    reading.close()
    assert _open_descriptors() == before


@pytest.mark.parametrize(
    "count", [0, 1, facts.READ_AHEAD_NOTES - 1, facts.READ_AHEAD_NOTES, 2 * facts.READ_AHEAD_NOTES + 5]
)
def test_read_stamped_reads_ahead_a_few_notes_and_gives_them_all_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    """Notes are read `READ_AHEAD_NOTES` at a time before they are handed on, never more: every readable
    note comes back once, in order, missing ones (at a batch's start, middle and end) left out."""
    paths = [f"n{i:03}.md" for i in range(count)]
    for i, path in enumerate(paths):
        if i % 7 != 3:
            (tmp_path / path).write_bytes(f"note {i}".encode())
    reads: list[str] = []
    real_read = facts.read_with_stamp

    def counted(path: str, folder: int | None = None) -> tuple[tuple[int, int, int, int], bytes]:
        reads.append(path)
        return real_read(path, folder)

    monkeypatch.setattr(facts, "read_with_stamp", counted)
    given_out = []
    for path, _, raw in read_stamped(str(tmp_path), paths):
        # A note is handed on only after its batch is read, and before the next batch is.
        batch_end = min(
            len(paths), (paths.index(path) // facts.READ_AHEAD_NOTES + 1) * facts.READ_AHEAD_NOTES
        )
        assert len(reads) == batch_end
        given_out.append((path, raw))
    assert given_out == [(p, f"note {i}".encode()) for i, p in enumerate(paths) if i % 7 != 3]
    assert len(reads) == count


def test_read_stamped_batches_hand_on_each_batch_read_unreadable_notes_left_out(tmp_path: Path) -> None:
    """Batches of `READ_AHEAD_NOTES` paths, as lists of the notes that could be read, in order; a batch
    none of whose notes can be read is not handed on."""
    size = facts.READ_AHEAD_NOTES
    paths = [f"n{i:03}.md" for i in range(3 * size + 2)]
    missing = {3, *range(size, 2 * size), 2 * size + 1}
    for i, path in enumerate(paths):
        if i not in missing:
            (tmp_path / path).write_bytes(f"note {i}".encode())
    batches = [[path for path, _, _ in batch] for batch in facts.read_stamped_batches(str(tmp_path), paths)]
    expected = [
        [path for i, path in enumerate(paths[start : start + size], start) if i not in missing]
        for start in range(0, len(paths), size)
    ]
    assert batches == [batch for batch in expected if batch]
    assert len(batches) == 3


@PROPERTIES
@given(st.lists(_notes, max_size=6))
def test_quick_links_of_notes_are_each_notes_quick_links(texts: list[str]) -> None:
    notes = [Note(f"n{i}.md", text.encode("utf-8")) for i, text in enumerate(texts)]
    alone = [quick_links(Note(f"n{i}.md", text.encode("utf-8"))) for i, text in enumerate(texts)]
    assert quick_links_of(notes) == alone


def test_quick_links_of_notes_takes_each_step_for_every_note_before_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every frontmatter's targets, then every body's regions, then every body's links: not note after note."""
    steps: list[tuple[str, str]] = []
    real_targets, real_regions = links.frontmatter_targets, Note.link_regions.func  # type: ignore[attr-defined]
    real_links = links._quick_links

    def link_regions(note: Note) -> list:
        steps.append(("regions", note.path))
        return real_regions(note)

    monkeypatch.setattr(
        links, "frontmatter_targets", lambda n: steps.append(("targets", n.path)) or real_targets(n)
    )
    monkeypatch.setattr(Note, "link_regions", lazy_property(link_regions))  # kept by each note, as before
    monkeypatch.setattr(
        links, "_quick_links", lambda n, *a: steps.append(("links", n.path)) or real_links(n, *a)
    )
    texts = ["---\nid: a\n---\n`x` [[a]]", "plain [[b]]", "---\nid: c\n---\n```\n[[c]]\n```\n"]
    quick_links_of([Note(f"n{i}.md", text.encode()) for i, text in enumerate(texts)])
    assert [step for step, _ in steps] == ["targets"] * 3 + ["regions"] * 3 + ["links"] * 3
    assert [path for _, path in steps] == ["n0.md", "n1.md", "n2.md"] * 3


def test_check_notes_keeps_known_entries_in_place_among_notes_checked_again(tmp_path: Path) -> None:
    """Across batches, notes whose entries are kept (same bytes) and notes checked again (other bytes) come
    back in path order, each with the entry a check of it alone gives."""
    for i in range(2 * facts.READ_AHEAD_NOTES + 7):
        (tmp_path / f"n{i:03}.md").write_text(f"---\nid: n{i:03}\n---\n[[n{i + 1:03}]] [[gone-{i}]]\n")
    vault = Vault(tmp_path)
    matcher = SuffixMatcher(vault.note_paths, vault.config.suffix_rules)
    first = dict(check.check_notes(vault, matcher, vault.note_paths))
    for i in range(0, len(first), 3):
        (tmp_path / f"n{i:03}.md").write_text(f"---\nid: x{i}\n---\n[[n{i + 2:03}]]\n")
    again = check.check_notes(Vault(tmp_path), matcher, vault.note_paths, known=first)
    assert [path for path, _ in again] == vault.note_paths
    for path, entry in again:
        alone = check.check_notes(Vault(tmp_path), matcher, [path])[0][1]
        assert entry[1:] == alone[1:], path
        assert (entry[1:] == first[path][1:]) is (int(path[1:4]) % 3 != 0), path


def test_read_stamped_without_a_vault_folder_to_open_reads_by_whole_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the vault folder cannot be opened (no read permission on it, a system without `dir_fd`), each
    note is opened by its whole path: the same notes come back."""
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "a.md").write_bytes(b"a")
    real_open = os.open

    def no_folders(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if os.path.isdir(path):
            raise PermissionError(13, "Permission denied", path)
        assert kwargs.get("dir_fd") is None  # whole paths only
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", no_folders)
    monkeypatch.setattr(os, "supports_dir_fd", {no_folders})
    read = list(read_stamped(str(tmp_path), ["f/a.md", "f/missing.md"]))
    assert [(path, raw) for path, _, raw in read] == [("f/a.md", b"a")]


@pytest.mark.parametrize(
    "body",
    [
        "[a](b.md) and ![img](p%20q.png) and [c](<x y.md#h>) and [d](#local) and [e](https://x.y)",
        "[a](b.md\r\n[c](d%2Fe.md 'title')\r\n",
        "\ufeff[x](y)",
        "`[a](b)` [c](d.md.md)",
        "[[w]](x) [a](b[[c]]) [a [b](c)]",
        "[a](Caf\u0065\u0301.md) [b]( <> ) [c](%zz)",
    ],
)
def test_markdown_spans_are_the_markdown_links(body: str) -> None:
    from vaulttools.links import _markdown_links, _markdown_spans

    expected = [(link.start, link.end, link.target) for link in _markdown_links(body, 0, len(body))]
    assert _markdown_spans(body, 0, len(body)) == expected
    assert _markdown_spans(body, 1, len(body)) == [
        (link.start, link.end, link.target) for link in _markdown_links(body, 1, len(body))
    ]


_MARKDOWN_BODIES = [
    "",
    "[[a]] [[b]] no markdown link",
    "[[a]] [[b]]\n[c](d.md) [[e]] [f](g.md)\n[[h]]",
    "x ](y) on a line without a link\n[[a]]\n[b](c.md)",  # a `](` that opens nothing, a link lines later
    "[a](\n  b.md\n)",  # a destination on the next lines
    "[a\\](x) b](c.md)",  # an escaped bracket in the label
    "[a [b] c](d.md) [x]\n(y.md) [p](q.md)",  # nested brackets; a line break between `]` and `(`
    "[a](b.md)[c](d.md)\r\n![e](f.md)\r\n",  # adjacent links, an embed, CRLF
    "[[a](b.md)]] [x](<y z.md>) [t](u.md 'title')",
    "`[a](b.md)` [c](d.md)",  # in code: found here, made opaque by `find_links`
    "](](]( [a](b) ](",
]


@pytest.mark.parametrize("body", _MARKDOWN_BODIES)
@pytest.mark.parametrize("start", [0, 3])
def test_markdown_matches_are_the_regex_matches(body: str, start: int) -> None:
    from vaulttools.links import _MD_LINK_RE, _markdown_matches

    def spans(matches: Iterator[re.Match[str]]) -> list[tuple[int, int]]:
        return [match.span() for match in matches]

    expected = spans(_MD_LINK_RE.finditer(body, start, len(body)))
    assert spans(_markdown_matches(body, start, len(body))) == expected
    assert spans(_markdown_matches(body, start, len(body) - 1)) == spans(
        _MD_LINK_RE.finditer(body, start, len(body) - 1)
    )


@PROPERTIES
@given(_bodies)
def test_markdown_matches_are_the_regex_matches_on_random_bodies(body: str) -> None:
    from vaulttools.links import _MD_LINK_RE, _markdown_matches

    expected = [match.span() for match in _MD_LINK_RE.finditer(body)]
    assert [match.span() for match in _markdown_matches(body, 0, len(body))] == expected


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ({}, []),  # no note has an id
        ({"a.md": "x", "b.md": "y"}, []),  # every id once
        ({"a.md": "x", "b.md": "X"}, [("a.md", "x", "a.md, b.md"), ("b.md", "x", "a.md, b.md")]),  # folded
        (
            {"a.md": "Cafe\u0301", "b.md": "q", "c.md": "caf\u00e9", "d.md": "q", "e.md": "CAF\u00c9"},
            [
                ("a.md", "caf\u00e9", "a.md, c.md, e.md"),
                ("b.md", "q", "b.md, d.md"),
                ("c.md", "caf\u00e9", "a.md, c.md, e.md"),
                ("d.md", "q", "b.md, d.md"),
                ("e.md", "caf\u00e9", "a.md, c.md, e.md"),
            ],
        ),
    ],
)
def test_duplicate_ids_are_assembled_per_folded_id(ids: dict[str, str], expected: list) -> None:
    paths = ["a.md", "b.md", "c.md", "d.md", "e.md"]
    entries = {path: ((0, 0, 0, 0), (), 0, ids.get(path), 2, "", 0, b"", 0) for path in paths}
    report = check._assemble(paths, entries)
    found = [(f.path, f.target, f.message.partition(": ")[2]) for f in report.findings]
    assert found == expected
    assert all(f.kind == "duplicate-id" and f.line == 2 for f in report.findings)
    assert report.notes_scanned == len(paths)


@pytest.mark.parametrize(
    ("frontmatter", "loads_yaml"),
    [
        ('id: "n"\nrelated: ["a", "b"]\n', False),  # the simple grammar: no YAML library
        ('id: "n"\r\nrelated: ["a"]\r\n', False),  # CRLF too
        ("id: n\nrelated:\n  - a\n", True),  # a block list: PyYAML reads it
        ('id: "n" # comment\n', True),
    ],
)
def test_check_loads_pyyaml_only_for_frontmatter_outside_the_simple_grammar(
    tmp_path: Path, frontmatter: str, loads_yaml: bool
) -> None:
    """PyYAML takes ~30 ms to import: `check` of a vault in the simple grammar never pays it."""
    (tmp_path / "n.md").write_bytes(f"\ufeff---\n{frontmatter}---\nSee [[a]] and `[[code]]`.\n".encode())
    (tmp_path / "a.md").write_text("# A\n")
    assert _loaded_by_check(tmp_path, ("yaml",)) == (["yaml"] if loads_yaml else [])


def test_check_starts_without_git(tmp_path: Path) -> None:
    """`check` reads files only: it never loads the git layer, nor `subprocess` with it (~10 ms of each
    run's start). The journal it consults names blobs by `digests.blob_id`, not `git`'s."""
    (tmp_path / "n.md").write_text("See [[a]] and [[gone]].\n")
    (tmp_path / "a.md").write_text("# A\n")
    assert _loaded_by_check(tmp_path, ("vaulttools.git", "subprocess")) == []


def _loaded_by_check(vault: Path, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a `vaulttools check` of `vault` has loaded when it ends, in a fresh process."""
    import ast
    import subprocess
    import sys

    code = (
        "import sys\nfrom vaulttools.cli import main\nsys.argv = ['vaulttools', '-C', sys.argv[1], 'check']\n"
        f"import os\nos._exit = lambda code: (print(sorted(m for m in {modules!r} if m in sys.modules), "
        "file=sys.stderr), sys.exit(0))\nmain()\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(vault)], capture_output=True, text=True)
    return ast.literal_eval(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("count", "listed"),
    [
        (2, "n00.md, n01.md"),
        (check.DUPLICATE_ID_LISTED, ", ".join(f"n{i:02d}.md" for i in range(check.DUPLICATE_ID_LISTED))),
        (
            check.DUPLICATE_ID_LISTED + 1,
            ", ".join(f"n{i:02d}.md" for i in range(check.DUPLICATE_ID_LISTED)) + " and 1 more",
        ),
        (60, ", ".join(f"n{i:02d}.md" for i in range(check.DUPLICATE_ID_LISTED)) + " and 50 more"),
    ],
)
def test_a_duplicate_id_finding_names_a_bounded_number_of_notes(count: int, listed: str) -> None:
    """Every note sharing the id gets its own finding; each names the first few (a folder note's id in
    2,000 folders made 2,000 findings of 2,000 paths each)."""
    paths = [f"n{i:02d}.md" for i in range(count)]
    entries = {path: ((0, 0, 0, 0), (), 0, "index", 2, "", 0, b"", 0) for path in paths}
    report = check._assemble(paths, entries)
    assert [f.path for f in report.findings] == paths
    assert {f.message for f in report.findings} == {f"id 'index' is also used by: {listed}"}


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("", 0, 0, False),
        ("no parentheses", 0, 14, False),
        ("(a) (b) (c) (d) (e) [x](y)", 0, 26, True),  # past the parentheses looked at one by one
        ("(a) (b) (c) (d) (e) (f)", 0, 23, False),
        ("[x](y)", 3, 6, False),  # its `]` before the part
        ("[x](y)", 2, 6, True),
        ("[x](y)", 0, 3, False),  # its `(` after the part
        ("(((((](", 0, 7, True),  # found by the regex, from the fifth `(` on
        ("((((](", 0, 6, True),  # the fifth `(` right after a `]`
    ],
)
def test_markdown_link_opener_examples(text: str, start: int, end: int, expected: bool) -> None:
    assert _may_hold_markdown_links(text, start, end) is expected


@PROPERTIES
@given(st.lists(st.sampled_from(["(", "]", "](", "x", "[", "\n"]), max_size=40).map("".join), st.data())
def test_markdown_link_opener_is_the_regex_search(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert _may_hold_markdown_links(text, start, end) is (re.search(r"\]\(", text[start:end]) is not None)
