"""`SuffixMatcher.rule_between` names the rule `candidates` gives each candidate (normalize-links relies on it)."""

from __future__ import annotations

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
