"""`SuffixMatcher.rule_between` names the rule `candidates` gives each candidate (normalize-links relies on it)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vaulttools.suffixes import SuffixMatcher

RULES = [r"-d\d+", r" \d+", r"-v\d"]
OVERLAPPING = [r"[0-9]", r"\d", r" \d+"]  # the first two match the same suffixes: order decides
base = st.sampled_from(["note", "Note", "a-d1", "x 2", "caf\u00e9", "Caf\u00e9-d2"])
suffix = st.sampled_from(["", "-d1", "-d12", " 1", " 2 3", "-v1", "-d1 2"])
folder = st.sampled_from(["", "a/", "b/c/"])


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.tuples(folder, base, suffix), min_size=1, max_size=12),
    target=st.tuples(folder, base, suffix, st.booleans()),
    rules=st.sampled_from([RULES, OVERLAPPING]),
)
def test_rule_between_is_the_candidates_rule(
    names: list[tuple[str, str, str]], target: tuple[str, str, str, bool], rules: list[str]
) -> None:
    matcher = SuffixMatcher(sorted({f"{f}{b}{s}.md" for f, b, s in names}), rules)
    written = f"{target[0]}{target[1]}{target[2]}" + (".md" if target[3] else "")
    for candidate in matcher.candidates(written):
        assert matcher.rule_between(written, candidate.path) == candidate.rule


def test_rule_between_examples() -> None:
    matcher = SuffixMatcher(["claim-d3.md", "claim.md", "Entity 1.md", "x-d1 2.md"], RULES)
    assert matcher.rule_between("claim-d3", "claim.md") == r"-d\d+"  # the link has the suffix
    assert matcher.rule_between("claim", "claim-d3.md") == r"-d\d+"  # the file has it
    assert matcher.rule_between("entity", "Entity 1.md") == r" \d+"
    assert matcher.rule_between("x-d1", "x-d1 2.md") == r" \d+"
    assert matcher.rule_between("claim", "Entity 1.md") is None


def test_rule_between_follows_rule_order_when_rules_overlap() -> None:
    matcher = SuffixMatcher(["note-d12.md", "page.md"], OVERLAPPING)
    for target, path in (("note-d1", "note-d12.md"), ("page7", "page.md")):
        [candidate] = matcher.candidates(target)
        assert candidate.rule == "[0-9]"
        assert matcher.rule_between(target, path) == "[0-9]"


# --- a tie decided by the linking note's day: `suggest` keeps the candidates by day per target ---------

TIE_NOTES = [
    "claim-async-wins-d3.md",
    "claim-async-wins-d9.md",
    "claim-async-wins-d09.md.md",  # the same day as -d9 (days compare as numbers), a `.md.md` name
    "a/claim-async-wins-d4.md",
    "b/claim-async-wins-d4.md",  # two notes of day 4
    "claim-async-wins 1.md",  # no day
    "Cafe\u0301-d2.md",  # NFD
    "Caf\u00e9-d5.md",
]


def _reference_pick(matcher: SuffixMatcher, target: str, day: object) -> str | None:
    """The tie-break as `pick` wrote it before it kept the candidates by day: every candidate's day read."""
    candidates = matcher.candidates(target)
    if len(candidates) == 1:
        return candidates[0].path
    if day is None or isinstance(day, bool) or not candidates:
        return None
    import re

    days = [re.search(r"-d(\d+)$", c.path.rpartition("/")[2].removesuffix(".md")) for c in candidates]
    same = [
        c for c, m in zip(candidates, days, strict=True) if m and str(int(m.group(1))) == str(day).strip()
    ]
    return same[0].path if len(same) == 1 else None


TIE_TARGETS = ["claim-async-wins", "claim-async-wins-d7", "Café", "Cafe\u0301", "Caf\u00e9-d9", "none"]
TIE_DAYS: list[object] = [3, "3", " 3 ", 9, "09", 4, 5, 2, None, True, False, "x", 0, 3.0]


def test_tie_by_day_is_the_reference_pick_for_every_target_and_day() -> None:
    matcher = SuffixMatcher(TIE_NOTES, [r"-d\d+", r" \d+"])
    # One matcher asked for every target and day, in both orders: what it keeps for one target or day
    # must not carry over to another.
    for day in [*TIE_DAYS, *reversed(TIE_DAYS)]:
        for target in [*TIE_TARGETS, *reversed(TIE_TARGETS)]:
            suggestion = matcher.suggest(target, day)
            assert suggestion.path == _reference_pick(matcher, target, day), (target, day)
            assert suggestion.candidates == tuple(matcher.candidates(target))
    assert matcher.suggest("claim-async-wins", 4).reason == "ambiguous"  # two notes of day 4
    assert matcher.suggest("Café", 5).path == "Caf\u00e9-d5.md"


@pytest.mark.parametrize("target", TIE_TARGETS)
def test_tie_reads_the_lazy_day_only_for_a_tie(target: str) -> None:
    matcher = SuffixMatcher(TIE_NOTES, [r"-d\d+", r" \d+"])
    lazy_calls: list[int] = []
    matcher.suggest(target, lambda: lazy_calls.append(1) or 3)
    assert len(lazy_calls) == (1 if len(matcher.candidates(target)) > 1 else 0)
