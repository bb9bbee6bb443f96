"""The `normalize-links` planner: one target at a time, then whole notes, exact bytes."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from vaulttools import changes, normalize, resolve
from vaulttools.check import BROKEN_LINK, BrokenLinksByNote, broken_links_by_note, check_vault
from vaulttools.links import BARE, EMBED, MARKDOWN, PROPERTY, WIKILINK
from vaulttools.normalize import (
    AMBIGUOUS,
    FIXED,
    STILL_BROKEN,
    UNCHANGED,
    LinkContext,
    NormalizeOptions,
    Outcome,
    _known_outcome,
    _link_at,
    _most_spooled,
    exact_case,
    may_hold_links,
    normalize_note,
    normalize_target,
    plan_normalize,
    shortest_path,
    without_md,
)
from vaulttools.note import Note
from vaulttools.planning import cyclic_gc_paused, note_change
from vaulttools.resolve import LinkIndex
from vaulttools.suffixes import SuffixMatcher
from vaulttools.vault import Vault

PATHS = [
    "claim-peer-feedback-d4.md",
    "concept-ai-augmentation-strategy.md",
    "claim-async-wins-d3.md",
    "claim-async-wins-d9.md",
    "entity-slack 1.md",
    "notes/hub.md",
    "people/entity-jane-doe.md",
    "people/entity-kim.md",
    "archive/entity-kim.md",
    "Café.md",
    "assets/diagram.png",
    "claim-x-d4.md",
    "folder/note-d2.md",
    "deep/a/b/topic.md",
    "other/b/topic.md",
]
RULES = (r"-d\d+", r" \d+")
DAY = r"-d\d+"
DUP = r" \d+"
SOURCE = "linker.md"
INDEX = LinkIndex(PATHS)
MATCHER = SuffixMatcher([p for p in PATHS if p.endswith(".md")], RULES)
NONE = NormalizeOptions()
CASE = NormalizeOptions(fix_case=True)
MD = NormalizeOptions(drop_md=True)
SHORT = NormalizeOptions(shorten_paths=True)
ALL = NormalizeOptions(fix_case=True, drop_md=True, shorten_paths=True)


def fixed(target: str, *rules: str) -> Outcome:
    return Outcome(FIXED, target, rules)


def unchanged(target: str) -> Outcome:
    return Outcome(UNCHANGED, target)


TARGET_CASES = [
    # (written target, link kind, originDay, options, expected outcome)
    # suffix rules: only broken links, one candidate
    ("claim-peer-feedback", WIKILINK, None, NONE, fixed("claim-peer-feedback-d4", DAY)),
    (
        "concept-ai-augmentation-strategy-d9",
        WIKILINK,
        None,
        NONE,
        fixed("concept-ai-augmentation-strategy", DAY),
    ),
    ("entity-slack", BARE, None, NONE, fixed("entity-slack 1", DUP)),
    ("Entity-Slack", WIKILINK, None, NONE, fixed("entity-slack 1", DUP)),
    ("claim-peer-feedback.md", MARKDOWN, None, NONE, fixed("claim-peer-feedback-d4.md", DAY)),
    ("folder/note", WIKILINK, None, NONE, fixed("folder/note-d2", DAY)),
    # several candidates: the day property decides, or nothing does
    ("claim-async-wins", WIKILINK, 9, NONE, fixed("claim-async-wins-d9", DAY)),
    ("claim-async-wins", PROPERTY, "3", NONE, fixed("claim-async-wins-d3", DAY)),
    (
        "claim-async-wins",
        WIKILINK,
        4,
        NONE,
        Outcome(AMBIGUOUS, "claim-async-wins", (), ("claim-async-wins-d3.md", "claim-async-wins-d9.md")),
    ),
    (
        "claim-async-wins",
        WIKILINK,
        None,
        NONE,
        Outcome(AMBIGUOUS, "claim-async-wins", (), ("claim-async-wins-d3.md", "claim-async-wins-d9.md")),
    ),
    (
        "claim-async-wins",
        WIKILINK,
        True,
        NONE,
        Outcome(AMBIGUOUS, "claim-async-wins", (), ("claim-async-wins-d3.md", "claim-async-wins-d9.md")),
    ),
    ("concept-does-not-exist", WIKILINK, 9, NONE, Outcome(STILL_BROKEN, "concept-does-not-exist")),
    ("other/claim-peer-feedback", WIKILINK, None, NONE, Outcome(STILL_BROKEN, "other/claim-peer-feedback")),
    # links that resolve are never touched by the suffix rules, nor by a flag that is off
    ("claim-async-wins-d3", WIKILINK, 9, ALL, unchanged("claim-async-wins-d3")),
    ("Claim-Async-Wins-D3", WIKILINK, 9, NONE, unchanged("Claim-Async-Wins-D3")),
    ("hub.md", WIKILINK, None, NONE, unchanged("hub.md")),
    ("people/entity-jane-doe", WIKILINK, None, NONE, unchanged("people/entity-jane-doe")),
    ("topic", WIKILINK, None, ALL, unchanged("topic")),  # an Obsidian tie: not ours to pick
    # --fix-case
    ("Claim-Async-Wins-D3", WIKILINK, None, CASE, fixed("claim-async-wins-d3", "fix-case")),
    ("CAFE\u0301", WIKILINK, None, CASE, fixed("Café", "fix-case")),
    ("Assets/Diagram.PNG", EMBED, None, CASE, fixed("assets/diagram.png", "fix-case")),
    ("Notes/Hub.md", MARKDOWN, None, CASE, fixed("notes/hub.md", "fix-case")),
    ("/People/Entity-Jane-Doe", WIKILINK, None, CASE, fixed("/people/entity-jane-doe", "fix-case")),
    ("ENTITY-JANE-DOE", BARE, None, CASE, fixed("entity-jane-doe", "fix-case")),
    ("Café", WIKILINK, None, CASE, unchanged("Café")),
    # --drop-md: wikilinks, embeds and "[[…]]" properties only
    ("hub.md", WIKILINK, None, MD, fixed("hub", "drop-md")),
    ("notes/hub.md", EMBED, None, MD, fixed("notes/hub", "drop-md")),
    ("hub.md", PROPERTY, None, MD, fixed("hub", "drop-md")),
    ("hub.md", MARKDOWN, None, MD, unchanged("hub.md")),
    ("hub.md", BARE, None, MD, unchanged("hub.md")),
    ("diagram.png", EMBED, None, MD, unchanged("diagram.png")),
    # --shorten-paths: only while the shorter path matches this one file
    ("people/entity-jane-doe", WIKILINK, None, SHORT, fixed("entity-jane-doe", "shorten-paths")),
    ("people/entity-jane-doe", BARE, None, SHORT, fixed("entity-jane-doe", "shorten-paths")),
    ("deep/a/b/topic", WIKILINK, None, SHORT, fixed("a/b/topic", "shorten-paths")),
    ("people/entity-kim", WIKILINK, None, SHORT, unchanged("people/entity-kim")),
    ("/people/entity-jane-doe", WIKILINK, None, SHORT, unchanged("/people/entity-jane-doe")),
    ("people/entity-jane-doe.md", MARKDOWN, None, SHORT, unchanged("people/entity-jane-doe.md")),
    # rules compose, in a fixed order, so that a second run finds nothing
    ("Notes/Hub.md", WIKILINK, None, ALL, fixed("hub", "fix-case", "drop-md", "shorten-paths")),
    ("claim-x.md", WIKILINK, None, ALL, fixed("claim-x-d4", DAY, "drop-md")),
    ("Notes/Hub.md", MARKDOWN, None, ALL, fixed("notes/hub.md", "fix-case")),
]


@pytest.mark.parametrize(("target", "kind", "day", "options", "expected"), TARGET_CASES)
def test_normalize_target(
    target: str, kind: str, day: object, options: NormalizeOptions, expected: Outcome
) -> None:
    context = LinkContext(INDEX, MATCHER, options)
    outcome = normalize_target(target, kind, SOURCE, lambda: day, context)
    assert outcome._replace(path=None) == expected
    if outcome.status == FIXED:  # names the file the new target resolves to; a second run changes nothing
        assert outcome.path is not None
        assert outcome.path == INDEX.resolve(outcome.target, SOURCE).path
        again = normalize_target(outcome.target, kind, SOURCE, lambda: day, context)
        assert again == unchanged(outcome.target)


# Folder notes: one name in several folders (namesakes).
NAMESAKE_PATHS = ["a/index.md", "b/index.md", "c/sub/index.md", "d/y-d3.md", "d/y-d9.md", "f/index"]
NAMESAKES = LinkIndex(NAMESAKE_PATHS)
NAMESAKE_MATCHER = SuffixMatcher([p for p in NAMESAKE_PATHS if p.endswith(".md")], RULES)
TIE = ("a/index.md", "b/index.md", "c/sub/index.md")


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        # the rewrite names every namesake alike: the one it resolves to from here (its own folder's)
        ("a/note.md", "index-d3", fixed("index", DAY)),
        ("c/sub/deeper.md", "index-d9", fixed("index", DAY)),
        # from a folder without one, the rewrite is a tie too (two shortest paths): left
        ("e/note.md", "index-d3", Outcome(AMBIGUOUS, "index-d3", (), TIE)),
        ("top.md", "index-d3", Outcome(AMBIGUOUS, "index-d3", (), TIE)),
        # … and where it reaches another file (`f/index`, no extension), no namesake is the answer
        ("f/note.md", "index-d3", Outcome(AMBIGUOUS, "index-d3", (), TIE)),
        # a tie between different names is the day's to break, not the folder's
        ("d/note.md", "y", Outcome(AMBIGUOUS, "y", (), ("d/y-d3.md", "d/y-d9.md"))),
    ],
)
def test_a_tie_between_namesakes_goes_to_the_one_the_rewrite_resolves_to(
    source: str, target: str, expected: Outcome
) -> None:
    context = LinkContext(NAMESAKES, NAMESAKE_MATCHER, NONE)
    outcome = normalize_target(target, WIKILINK, source, lambda: None, context)
    assert outcome._replace(path=None) == expected
    if outcome.status == FIXED:
        assert (
            outcome.path
            == NAMESAKES.resolve(outcome.target, source).path
            == f"{source.rpartition('/')[0]}/index.md"
        )


def test_day_is_read_only_when_a_tie_needs_it() -> None:
    def no_day() -> object:
        raise AssertionError("the day property was read for a link with one candidate")

    context = LinkContext(INDEX, MATCHER, ALL)
    assert normalize_target("claim-peer-feedback", WIKILINK, SOURCE, no_day, context).status == FIXED
    assert normalize_target("hub", WIKILINK, SOURCE, no_day, context).status == UNCHANGED


@pytest.mark.parametrize(
    ("step", "target", "path", "expected"),
    [
        (exact_case, "Hub", "notes/hub.md", "hub"),
        (exact_case, "HUB.MD", "notes/hub.md", "hub.md"),
        (exact_case, "../Notes/Hub", "notes/hub.md", "../notes/hub"),
        (exact_case, "x/y/z/hub", "notes/hub.md", "x/y/z/hub"),  # more names than the path: left
        (exact_case, "other", "notes/hub.md", "other"),  # not the same name: left
        (without_md, "hub.md", "notes/hub.md", "hub"),
        (without_md, ".md", "notes/hub.md", ".md"),
        (without_md, "hub", "notes/hub.md", "hub"),
        (shortest_path, "notes/hub", "notes/hub.md", "hub"),
        (shortest_path, "./notes/hub", "notes/hub.md", "./notes/hub"),
        (shortest_path, "hub", "notes/hub.md", "hub"),
    ],
)
def test_rule_steps(step, target: str, path: str, expected: str) -> None:
    assert step(target, path, LinkIndex([*PATHS, "hub-other/readme.md"])) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"no links here\n", False),
        (b"see [[x]]\n", True),
        (b"see [x](y.md)\n", True),
        (b"---\nrelated: [a]\n---\n", True),
    ],
)
def test_may_hold_links(raw: bytes, expected: bool) -> None:
    assert may_hold_links(raw, ("related",)) is expected


NOTE_CASES = [
    # (name, note bytes, options, expected bytes)
    (
        "every link form keeps its syntax",
        b'---\nup: "[[claim-peer-feedback]]"\nrelated: ["entity-slack", claim-async-wins]\noriginDay: 9\n---\n'
        b"[[claim-peer-feedback#H|shown]] ![[concept-ai-augmentation-strategy-d9]] "
        b"[t](<claim-peer-feedback.md#H>) [u](claim-peer-feedback.md) | [[entity-slack\\|S]] |\n",
        NONE,
        b'---\nup: "[[claim-peer-feedback-d4]]"\nrelated: ["entity-slack 1", claim-async-wins-d9]\noriginDay: 9\n---\n'
        b"[[claim-peer-feedback-d4#H|shown]] ![[concept-ai-augmentation-strategy]] "
        b"[t](<claim-peer-feedback-d4.md#H>) [u](claim-peer-feedback-d4.md) | [[entity-slack 1\\|S]] |\n",
    ),
    (
        "CRLF, BOM and no final newline stay",
        b"\xef\xbb\xbf---\r\nrelated:\r\n  - entity-slack  # chat\r\n---\r\nSee [[claim-peer-feedback]].",
        NONE,
        b"\xef\xbb\xbf---\r\nrelated:\r\n  - entity-slack 1  # chat\r\n---\r\nSee [[claim-peer-feedback-d4]].",
    ),
    (
        "links in code, math and comments are not links",
        b"`[[claim-peer-feedback]]` $[[entity-slack]]$ <!-- [[entity-slack]] -->\n\n```\n[[entity-slack]]\n```\n",
        ALL,
        None,
    ),
    (
        "unparsable frontmatter: its links stay, the body is fixed, ties are not broken",
        b'---\nup: "[[claim-peer-feedback]]"\ntags: [a\noriginDay: 9\n---\n[[claim-peer-feedback]] [[claim-async-wins]]\n',
        NONE,
        b'---\nup: "[[claim-peer-feedback]]"\ntags: [a\noriginDay: 9\n---\n[[claim-peer-feedback-d4]] [[claim-async-wins]]\n',
    ),
    (
        "nothing to fix",
        b"[[hub]] [[claim-async-wins-d3]] [[concept-does-not-exist]] [[#Local heading]]\n",
        ALL,
        None,
    ),
    (
        "optional flags",
        b'---\nup: "[[Notes/Hub.md]]"\nrelated: ["People/Entity-Jane-Doe"]\n---\n![[Assets/Diagram.PNG|100]] [h](Notes/Hub.md)\n',
        ALL,
        b'---\nup: "[[hub]]"\nrelated: ["entity-jane-doe"]\n---\n![[diagram.png|100]] [h](notes/hub.md)\n',
    ),
]


@pytest.mark.parametrize(
    ("raw", "options", "expected"), [case[1:] for case in NOTE_CASES], ids=[case[0] for case in NOTE_CASES]
)
def test_normalize_note_bytes(raw: bytes, options: NormalizeOptions, expected: bytes | None) -> None:
    from vaulttools.planning import note_change

    note = Note(SOURCE, raw)
    result = normalize_note(note, LinkContext(INDEX, MATCHER, options), "originDay")
    change = note_change(note, result.edits) if result.edits else None
    if expected is None:
        assert change is None
        assert result.fixed == []
    else:
        assert change is not None
        assert change.new == expected


def test_normalize_note_report() -> None:
    raw = (
        b'---\nup: "[[claim-peer-feedback]]"\ntags: [a\noriginDay: 9\n---\n'
        b"[[claim-peer-feedback]]\n[[claim-async-wins]]\n[[concept-does-not-exist]]\n"
    )
    result = normalize_note(Note(SOURCE, raw), LinkContext(INDEX, MATCHER), "originDay")
    assert [(e.line, e.link, e.new_target, e.rules) for e in result.fixed] == [
        (6, "[[claim-peer-feedback]]", "claim-peer-feedback-d4", (DAY,))
    ]
    assert [(e.line, e.candidates) for e in result.ambiguous] == [
        (7, ("claim-async-wins-d3.md", "claim-async-wins-d9.md"))
    ]
    assert [(e.line, e.link) for e in result.broken] == [(8, "[[concept-does-not-exist]]")]
    assert [(e.line, e.new_target) for e in result.skipped] == [(2, "claim-peer-feedback-d4")]
    assert result.skipped[0].reason.startswith("frontmatter does not parse")


LINK_AT_NOTE = '---\nrelated: "[[x-d1]]"\n---\nSee [[x-d1]] and ![[y-d2|s]], [t](x-d1.md).\n'


@pytest.mark.parametrize(
    ("place", "span"),
    [
        ((4, 5, "[[x-d1]]"), (32, 40)),  # a body wikilink where `check` found it
        ((4, 18, "![[y-d2|s]]"), (45, 56)),  # an embed
        ((2, 11, "[[x-d1]]"), None),  # in the frontmatter: a property link, decided with the note
        ((4, 31, "[t](x-d1.md)"), None),  # a markdown link
        ((4, 5, "[[x-d1]] and ![[y-d2|s]]"), None),  # two links: not one link's place
        ((4, 5, "[[x-d2]]"), None),  # the note holds other text there now
        ((9, 1, "[[x-d1]]"), None),  # past the last line
    ],
)
def test_a_place_of_check_gives_exactly_its_body_wikilink(
    place: tuple[int, int, str], span: tuple[int, int] | None
) -> None:
    note = Note("a.md", LINK_AT_NOTE.encode(), frozenset({"related"}))
    link = _link_at(note, (*place, None, (), None))
    assert (link if link is None else (link.start, link.end)) == span
    if link is not None:
        assert note.text[link.start : link.end] == place[2]


@pytest.mark.parametrize("enabled", [True, False])
def test_planning_pauses_the_cyclic_gc_and_gives_back_its_state(enabled: bool) -> None:
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(ValueError), cyclic_gc_paused():
            assert not gc.isenabled()
            raise ValueError  # an error while planning gives the collector back too
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize(
    ("available", "most"),
    [
        (10**12, 2 * 7000),  # every note's bytes fit: the notes with a link to no file are not told apart
        (4 * 2 * 7000 - 1, 2 * 1000),  # they do not: only the note with such a link counts
        (10, 2 * 1000),
    ],
)
def test_the_spool_is_sized_by_every_note_where_that_fits_in_memory(
    monkeypatch: pytest.MonkeyPatch, available: int, most: int
) -> None:
    monkeypatch.setattr(changes, "_memory_to_spare", lambda: available)
    monkeypatch.setattr(changes.os, "memfd_create", lambda *_args: 0, raising=False)
    entries = {
        "broken.md": ((1000, 1, 1, 1), (BROKEN_LINK,)),
        "fine.md": ((2000, 1, 1, 2), []),
        "other.md": ((4000, 1, 1, 3), []),
    }
    broken = BrokenLinksByNote(list(entries), entries)  # type: ignore[arg-type]
    assert _most_spooled(broken, NormalizeOptions()) == most
    assert _most_spooled(broken, NormalizeOptions(fix_case=True)) is None


@pytest.mark.parametrize(
    ("suggestion", "candidates", "fix", "expected"),
    [
        # `check` found the fix: its target, file and rule, with nothing resolved again
        ("x", ("x.md",), ("x.md", DAY), Outcome(FIXED, "x", (DAY,), (), "x.md")),
        # no suggestion: a tie, or no candidate at all
        (None, ("x-d1.md", "x-d2.md"), None, Outcome(AMBIGUOUS, "x-d1", (), ("x-d1.md", "x-d2.md"))),
        (None, (), None, Outcome(STILL_BROKEN, "x-d1")),
        # a suggestion without the fix's file and rule: decided with the note (None)
        ("x", ("x.md",), None, None),
    ],
)
def test_a_known_place_gives_checks_answer(
    suggestion: str | None, candidates: tuple[str, ...], fix: tuple[str, str] | None, expected: Outcome | None
) -> None:
    note = Note("k.md", b"See [[x-d1]].\n")
    link = _link_at(note, (1, 5, "[[x-d1]]", suggestion, candidates, fix))
    assert link is not None
    assert _known_outcome(link, (1, 5, "[[x-d1]]", suggestion, candidates, fix)) == expected


FIX_VAULT = {
    "a.md": "[[claim-peer-feedback]] [[hub-d9|the hub]] [[claim-async-wins]] [[gone]]\n",
    "b.md": "---\noriginDay: 9\n---\n![[claim-async-wins]] and [[sub/topic-d2#part]]\n",
    "hub.md": "# hub\n",
    "claim-peer-feedback-d4.md": "x\n",
    "claim-async-wins-d3.md": "x\n",
    "claim-async-wins-d9.md": "x\n",
    "sub/topic.md": "x\n",
}


def _fix_vault(root: Path) -> Vault:
    for name, text in FIX_VAULT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return Vault(root)


def test_checks_fix_is_the_answer_normalize_target_gives(tmp_path: Path) -> None:
    """Each broken link's `Finding.fix` names the file and rule `normalize_target` decides on its own."""
    vault = _fix_vault(tmp_path)
    findings = [f for f in check_vault(vault, use_cache=False).findings if f.kind == BROKEN_LINK]
    context = LinkContext(vault.index, vault.suffix_matcher)
    fixes = []
    for finding in findings:
        day = Note(finding.path, (tmp_path / finding.path).read_bytes()).property_value("originDay")
        outcome = normalize_target(finding.target or "", WIKILINK, finding.path, lambda: day, context)  # noqa: B023 - called at once
        expected = (outcome.path, outcome.rules[0]) if outcome.status == FIXED else None
        assert (finding.suggestion, finding.fix) == (outcome.target if expected else None, expected)
        fixes.append(finding.fix)
    assert sorted(filter(None, fixes)) == [
        ("claim-async-wins-d9.md", DAY),
        ("claim-peer-feedback-d4.md", DAY),
        ("hub.md", DAY),
        ("sub/topic.md", DAY),
    ]
    assert "fix" not in findings[0].to_json()


def test_normalize_after_check_resolves_no_link_and_builds_no_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `check`'s findings every link's answer is known: planning (in this process: a small vault)
    never builds the link index, and writes what deciding every link of each note with it writes."""
    check_vault(_fix_vault(tmp_path))  # the cache `normalize-links` reads
    indexed = Vault(tmp_path)
    context = LinkContext(indexed.index, indexed.suffix_matcher)
    expected = {}
    for path in indexed.note_paths:
        note = Note(path, (tmp_path / path).read_bytes())
        change = note_change(note, normalize_note(note, context, "originDay").edits)
        if change is not None:
            expected[path] = change.new
    vault = Vault(tmp_path)
    assert isinstance(broken_links_by_note(vault), BrokenLinksByNote)

    def no_index(*_args: object) -> None:
        raise AssertionError("the link index was built")

    monkeypatch.setattr(resolve.LinkIndex, "__init__", no_index)
    plan = plan_normalize(vault)
    assert {c.path: c.new for c in plan.changes} == expected
    assert len(expected) == 2
    assert plan.relies_on == ["claim-async-wins-d9.md", "claim-peer-feedback-d4.md", "hub.md", "sub/topic.md"]


def test_planning_decides_every_read_notes_edits_before_making_any_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The notes read together are planned a step at a time: every note's edits, then every note's change
    (not note after note), and the plan is the one note after note gives."""
    check_vault(_fix_vault(tmp_path))
    expected = {c.path: c.new for c in plan_normalize(Vault(tmp_path)).changes}
    steps: list[str] = []
    decide, change = normalize._decide_note, normalize._note_change
    monkeypatch.setattr(normalize, "_decide_note", lambda *a: steps.append("decide") or decide(*a))
    monkeypatch.setattr(normalize, "_note_change", lambda *a: steps.append("change") or change(*a))
    plan = plan_normalize(Vault(tmp_path))
    assert {c.path: c.new for c in plan.changes} == expected and len(expected) == 2
    assert steps == ["decide"] * steps.count("decide") + ["change"] * steps.count("change")
    assert steps.count("change") >= 2
