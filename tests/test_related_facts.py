"""`sync-related` on the facts cache: the index, the unparsed section check and the lean second run."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, make_git_vault
from tests.helpers import generate_vault
from vaulttools import parallel
from vaulttools.config import RelatedConfig
from vaulttools.facts import NoteFacts as FileFacts
from vaulttools.note import Note
from vaulttools.related import (
    RelatedScan,
    ScoringFacts,
    UnparsableNote,
    best_candidates,
    build_index,
    common_cutoff,
    plan_sync_related,
    scan_facts,
    scan_related,
    score_candidates,
    section_edit,
    section_is_current,
)
from vaulttools.related_rank import STRONG
from vaulttools.resolve import LinkIndex
from vaulttools.sections import find_section, section_at
from vaulttools.vault import Vault

HEADING = "Related across articles"

# (case, note bytes, entries, section_is_current) — a note whose section `section_edit` would leave alone
# is current; every other is not, and then `section_edit` must be the one to decide.
CURRENT_CASES = [
    ("same list", b"Body.\n\n\n## Related across articles\n- [[b]]\n- [[c]]\n", ["[[b]]", "[[c]]"], True),
    ("same list, CRLF", b"Body.\r\n\r\n## Related across articles\r\n- [[b]]\r\n", ["[[b]]"], True),
    ("same list, BOM", b"\xef\xbb\xbfBody.\n\n## Related across articles\n- [[b]]\n", ["[[b]]"], True),
    ("same list, no final newline", b"Body.\n\n## Related across articles\n- [[b]]", ["[[b]]"], True),
    (
        "blank line under the heading",
        b"B.\n\n## Related across articles\n\n- [[b]]\n\n## Next\n",
        ["[[b]]"],
        True,
    ),
    ("editors' words after the list", b"B.\n\n## Related across articles\n- [[b]]\nMine.\n", ["[[b]]"], True),
    ("other order", b"B.\n\n## Related across articles\n- [[c]]\n- [[b]]\n", ["[[b]]", "[[c]]"], False),
    ("star bullets", b"B.\n\n## Related across articles\n* [[b]]\n", ["[[b]]"], False),
    ("a hand-written item first", b"B.\n\n## Related across articles\n- mine\n- [[b]]\n", ["[[b]]"], False),
    ("text after a link", b"B.\n\n## Related across articles\n- [[b]] (see)\n", ["[[b]]"], False),
    ("one entry fewer", b"B.\n\n## Related across articles\n- [[b]]\n- [[c]]\n", ["[[b]]"], False),
    ("no entries, generated list", b"B.\n\n## Related across articles\n- [[b]]\n", [], False),
    ("no entries, only editors' words", b"B.\n\n## Related across articles\nMine.\n", [], True),
]


@pytest.mark.parametrize(
    ("raw", "entries", "current"),
    [case[1:] for case in CURRENT_CASES],
    ids=[case[0] for case in CURRENT_CASES],
)
def test_section_is_current_agrees_with_section_edit(raw: bytes, entries: list[str], current: bool) -> None:
    note = Note("x.md", raw)
    section = find_section(note, HEADING)
    assert section is not None
    assert section_at(note.text, section.heading_start, section.end) == section
    assert section_is_current(note, (section.heading_start, section.end), entries) is current
    edit, _ = section_edit(note, HEADING, entries)
    assert (edit is None) is current


@pytest.mark.parametrize("span", [(0, 5), (40, 10), (3, 999)], ids=["not a heading", "reversed", "too long"])
def test_section_is_current_refuses_a_span_that_does_not_fit(span: tuple[int, int]) -> None:
    note = Note("x.md", b"Body.\n\n## Related across articles\n- [[b]]\n")
    assert section_is_current(note, span, ["[[b]]"]) is False


# --- the index ---------------------------------------------------------------------------------------


def brute_force(facts: list[ScoringFacts], path: str, config: RelatedConfig) -> dict[str, float]:
    """The documented formula, pair by pair: what the inverted index must reproduce (no words here)."""
    by_path = {f.path: f for f in facts}
    total, cutoff = len(facts), common_cutoff(len(facts))
    me = by_path[path]

    def around(node: str) -> set[str]:
        out = set(by_path[node].targets) if node in by_path else set()
        return (out | {f.path for f in facts if node in f.targets}) - {node}

    raw: dict[str, dict[str, float]] = {"neighbours": {}, "link": {}, "tag": {}}
    for other in sorted(by_path):
        you = by_path[other]
        if you.group == me.group or other in me.targets:
            continue
        if path in you.targets:
            raw["link"][other] = 1.0
        for tag in sorted(me.tags & you.tags):
            on = sum(1 for f in facts if tag in f.tags)
            if on <= cutoff:
                raw["tag"][other] = raw["tag"].get(other, 0.0) + math.log(total / on)
        for middle in sorted(around(path) & around(other)):
            degree = len(around(middle))
            if 2 <= degree <= cutoff:
                raw["neighbours"][other] = raw["neighbours"].get(other, 0.0) + 1 / math.log(degree)
    weights = {"neighbours": config.target_weight, "link": config.link_weight, "tag": config.tag_weight}
    scores: dict[str, float] = {}
    for kind in ("neighbours", "link", "tag"):  # the order of `related_rank.KINDS`
        values = {k: v for k, v in raw[kind].items() if v}
        if values:
            scale = weights[kind] / max(STRONG[kind], max(values.values()))
            for other, value in values.items():
                scores[other] = scores.get(other, 0.0) + scale * value
    return {other: round(score, 6) for other, score in scores.items() if score > 0}


def random_facts(seed: int, count: int) -> list[ScoringFacts]:
    rng = random.Random(seed)
    paths = [f"n{i:03d}.md" for i in range(count)]
    return [
        ScoringFacts(
            path,
            f"g{rng.randrange(count // 4)}",
            frozenset(f"t{rng.randrange(12)}" for _ in range(rng.randrange(4))),
            frozenset(rng.choice(paths) for _ in range(rng.randrange(5))) - {path},
        )
        for path in paths
    ]


@pytest.mark.parametrize("seed", range(6))
def test_index_scores_match_the_formula(seed: int) -> None:
    facts = random_facts(seed, 80)
    index = build_index(facts)
    config = RelatedConfig(min_score=0.0, text_weight=0.0, mention_weight=0.0)
    for fact in facts[:20]:
        got = {c.path: c.score for c in score_candidates(index, fact.path, config)}
        assert got == brute_force(facts, fact.path, config)
        ranked = score_candidates(index, fact.path, config)
        assert best_candidates(index, fact.path, config, 3) == ranked[:3]


def test_common_features_are_dropped_from_the_index() -> None:
    common = [ScoringFacts(f"n{i}.md", f"g{i}", frozenset({"everywhere"})) for i in range(60)]
    index = build_index([*common, ScoringFacts("rare.md", "r", frozenset({"rare"}))])
    assert index.cutoff == 50
    assert index.tag_name == ["rare"]
    assert score_candidates(index, "n0.md", RelatedConfig(min_score=0.0)) == []


def test_common_share_sets_the_cutoff() -> None:
    facts = [
        ScoringFacts(f"n{i:03}.md", f"g{i}", frozenset({"half"} if i % 2 else {"odd"})) for i in range(200)
    ]
    assert build_index(facts).cutoff == 50  # 2% of 200 is 4: the floor of 50 holds
    assert build_index(facts, 0.5).cutoff == 100
    assert "half" in build_index(facts, 0.5).tag_name  # on exactly 100 notes: still counts
    assert build_index(facts).tag_name == []  # both tags on 100 notes: too common at 2%


# --- scanning the facts --------------------------------------------------------------------------------


def file_facts(path: str, properties: dict | None, **extra) -> FileFacts:
    fields = {
        "stamp": (0, 0, 0, 0),
        "decode_error": None,
        "has_frontmatter": properties is not None,
        "yaml_error": None,
        "links": (),
        "id_line": 0,
        "section": (-1, -1),
    }
    fields.update(extra)
    return FileFacts(path=path, properties=properties, **fields)


def test_scan_facts_groups_reports_and_lists() -> None:
    from vaulttools.facts import LinkFact

    def link(start: int, target: str) -> LinkFact:
        return LinkFact("wikilink", start, start + len(target) + 4, target, 1, 1, f"[[{target}]]", None, "")

    facts = [
        file_facts(
            "a.md",
            {"articleStem": "one", "tag": "x"},
            links=(link(10, "b"), link(60, "fed")),
            section=(50, 80),
        ),
        file_facts("b.md", {"articleStem": "two", "tags": ["X"]}),
        file_facts("fed.md", {"articleStem": "three"}),
        file_facts("loose.md", {"id": "loose"}),
        file_facts("broken.md", None, yaml_error="bad YAML", has_frontmatter=True),
        file_facts("broken-elsewhere.md", None, yaml_error="bad YAML", has_frontmatter=True),
        file_facts("binary.md", None, decode_error="not valid UTF-8 at byte 3"),
    ]
    raw = {"broken.md": b"articleStem: [", "broken-elsewhere.md": b"title: [", "binary.md": b"\xff\xfe"}
    scan = scan_facts(facts, LinkIndex([f.path for f in facts]), RelatedConfig(), raw.__getitem__)
    assert scan.index.paths == ["a.md", "b.md", "fed.md"]
    assert scan.unparsable == [UnparsableNote("broken.md", "bad YAML")]
    assert scan.ungrouped == 3
    assert scan.sections == {"a.md": (50, 80)}
    assert scan.listed == {"a.md": ("[[fed]]",)}
    # a.md links b.md, so b.md is no candidate; with include_linked it is, by the link and the shared tag
    # (any case, `tag` or `tags`). The link inside the related section (to fed.md) is no evidence.
    assert score_candidates(scan.index, "a.md", RelatedConfig(min_score=0.0)) == []
    linked = RelatedConfig(min_score=0.0, include_linked=True)
    ranked = score_candidates(scan.index, "a.md", linked, explain=True)
    assert [(c.path, [r.kind for r in c.reasons]) for c in ranked] == [("b.md", ["link", "tag"])]


# --- the second run --------------------------------------------------------------------------------------


def test_second_run_parses_no_note(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once every section is current, planning reads facts from the cache and parses no links or YAML."""
    from vaulttools import links, note
    from vaulttools.batch import BatchOptions, run_batch

    vault = make_git_vault(FIXTURES / "related" / "before", tmp_path / "vault")
    run_batch(Vault(vault), plan_sync_related(Vault(vault)), BatchOptions(commit=False))
    Vault(vault).facts()  # the run changed files: refresh the cache as any read-only command would
    parsed: list[str] = []
    real_links, real_yaml = links.find_links, note.load_frontmatter_yaml
    monkeypatch.setattr(
        links, "find_links", lambda n, *a, **k: parsed.append(n.path) or real_links(n, *a, **k)
    )
    monkeypatch.setattr(note, "load_frontmatter_yaml", lambda t: parsed.append("yaml") or real_yaml(t))
    assert plan_sync_related(Vault(vault)).empty
    assert parsed == []


# --- the scan on every core ------------------------------------------------------------------------------


def _index_state(scan: RelatedScan) -> tuple:
    """Everything scoring reads from a scan, the sparse matrices as their exact arrays."""
    index = scan.index
    kept = [index.words, index.champions, index.mentions, index.around, index.shared_through]
    kept += [index.note_tags, index.tag_postings, index.links_to_notes, index.linked_from]
    matrices = tuple((m.shape, m.indptr.tolist(), m.indices.tolist(), m.data.tolist()) for m in kept)
    return (
        index.paths,
        index.node_names,
        index.word_name,
        index.tag_name,
        index.groups_of,
        index.group_names,
        matrices,
        scan.sections,
        scan.listed,
        scan.unparsable,
        scan.ungrouped,
    )


@pytest.mark.parametrize(("forked", "chunk"), [(True, 1), (True, 7), (False, 10)])
def test_scan_on_every_core_is_the_serial_scan(
    forked: bool, chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scan_related` reads the facts in chunks (forked workers, each numbering its own words and
    sending targets as places): the index and sections it builds are those of one `scan_facts` pass,
    broken and ungrouped notes included."""
    vault_root = generate_vault(tmp_path / "vault", 120, 5)
    (vault_root / "broken.md").write_bytes(b"---\narticleStem: [\n---\nBody.\n")
    (vault_root / "binary.md").write_bytes(b"\xff\xfe articleStem")
    (vault_root / "loose.md").write_bytes(b"No group, [[broken]].\n")
    vault = Vault(vault_root)
    config = vault.config.related
    serial = scan_facts(vault.iter_facts(), vault.index, config, vault.read_bytes)
    monkeypatch.setattr(parallel, "PARALLEL_THRESHOLD", 0 if forked else 10**9)
    monkeypatch.setattr(parallel, "MIN_CHUNK", chunk)  # forked: chunks of about this many notes
    monkeypatch.setattr(parallel, "SERIAL_CHUNK", chunk)  # else: slices of this many, in this process
    monkeypatch.setattr(parallel, "FORCED_JOBS", 2)
    chunked = scan_related(Vault(vault_root), config)
    assert sorted(note.path for note in serial.unparsable) == ["binary.md", "broken.md"]
    assert serial.ungrouped >= 1  # loose.md
    assert _index_state(chunked) == _index_state(serial)


# Links whose answer depends on the linking note's folder or on the note itself, from notes in several
# folders: relative paths, names two folders share, path-qualified names, a blank target (the note itself),
# self links, links inside the related section, links in code (opaque), attachments and broken links.
FOLDER_NOTES = {
    "one/same.md": b'---\narticleStem: "a"\n---\n[[same]] [[../two/same]] [[./near]] [[ ]] [[two/same]]\n',
    "one/near.md": b'---\narticleStem: "a"\n---\n[[near]] [[same]] [x](../two/same.md) [[pic.png]] [[none]]\n',
    "two/same.md": b'---\narticleStem: "b"\n---\n[[same]] [[./near]] [[../one/near]] `[[unique]]`\n',
    "two/near.md": b'---\narticleStem: "b"\n---\n[[same]] [[unique]] [[/one/same]]\n\n'
    b"## Related across articles\n- [[unique]]\n",
    "unique.md": b'---\narticleStem: "c"\n---\n[[near]] [[ same ]] [[two/near|alias]]\n',
    "pic.png": b"\x89PNG",
}


def test_target_places_are_the_resolved_paths_of_each_note(tmp_path: Path) -> None:
    """Each note's targets, resolved once per folder and kept as places, are the paths the link index
    resolves that note's links to (its section, opaque links and itself left out), in path order."""
    from vaulttools.related import ScanContext, _target_places
    from vaulttools.resolve import RESOLVED

    vault_root = tmp_path / "vault"
    for path, data in FOLDER_NOTES.items():
        (vault_root / path).parent.mkdir(parents=True, exist_ok=True)
        (vault_root / path).write_bytes(data)
    vault = Vault(vault_root)
    context = ScanContext.of(vault.index, vault.config.related, vault.read_bytes)
    seen = set()
    for facts in [*vault.iter_facts(), *vault.iter_facts()]:  # twice: the second from remembered places
        skip_from, skip_to = facts.section
        written = [
            link.target
            for link in facts.links
            if link.opaque is None and link.target and not skip_from <= link.start < skip_to
        ]
        resolved = {r.path for r in vault.index.resolve_many(written, facts.path) if r.status == RESOLVED}
        expected = sorted(resolved - {facts.path})
        got = _target_places(facts, facts.section, context)
        assert got == context.link_places.packed(expected), facts.path
        seen.update(expected)
    assert {"one/same.md", "two/same.md", "one/near.md", "two/near.md", "pic.png", "unique.md"} <= seen
    # A name one file has is resolved once for every folder; one two folders share, once per folder.
    assert context.anywhere_places["unique"] == context.link_places.place["unique.md"]
    assert {"same", "near", "./near", "../two/same"}.isdisjoint(context.anywhere_places)
    # A blank target (the parser writes none, a hand-made fact may) means each note itself: never kept.
    from vaulttools.facts import LinkFact

    blank = (LinkFact("wikilink", 30, 35, " ", 4, 1, "[[ ]]", None, ""),)
    for path in ("one/same.md", "one/near.md"):
        assert _target_places(file_facts(path, {}, links=blank), (-1, -1), context) == b""
