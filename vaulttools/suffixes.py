"""Suffix rules: a link that misses its note only by a suffix (`-d9`, Obsidian's ` 1`).

`check` suggests and `normalize-links` applies the very same answer, computed here.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

from vaulttools.note import Note, from_fields
from vaulttools.resolve import RESOLVED, LinkIndex, fold, stem_of, strip_md

_DAY_RE = re.compile(r"-d(\d+)$")


class Candidate(NamedTuple):
    path: str  # vault path of the note the link may have meant
    rule: str  # the suffix rule that relates the two names
    direction: str  # "strip": the link has a suffix the file lacks; "add": the file has one the link lacks


class Suggestion(NamedTuple):
    path: str | None  # the chosen note, or None when there is no unique answer
    candidates: tuple[Candidate, ...]
    reason: str  # "unique", "day", "folder" (`_namesake_from_here`), "ambiguous" or "none"


class Proposal(NamedTuple):
    target: str | None  # the link's new target, written in the author's style; None: no fix
    suggestion: Suggestion


# Made from C (`from_fields`): a first `check` makes one of each per dangling target.
_new_candidate = from_fields(Candidate)
_new_suggestion = from_fields(Suggestion)
_new_proposal = from_fields(Proposal)


class SuffixMatcher:
    """Indexes every note stem by its suffix-less base, once per vault."""

    def __init__(self, note_paths: Iterable[str], rules: Iterable[str]) -> None:
        self.rules = [(rule, re.compile(f"(?:{rule})$")) for rule in rules]
        self._note_paths = list(note_paths)
        # The stems by base, built on the first search (`tables`): `rule_between` needs none, and
        # normalize-links, whose fixes `check` already found, often runs no search at all (30-50 ms on
        # 20,000 notes, before its workers fork).
        self._tables: tuple[dict[str, list[str]], dict[str, list[tuple[str, str]]]] | None = None
        self._rules_between: dict[tuple[str, str], str | None] = {}
        # A dangling target is often written in many notes: its candidates are found once.
        self._candidates: dict[str, tuple[Candidate, ...]] = {}
        self._by_day: dict[str, dict[str | None, list[Candidate]]] = {}

    def tables(self) -> tuple[dict[str, list[str]], dict[str, list[tuple[str, str]]]]:
        """Every note path by its folded stem, and (path, rule) by the folded stem a rule strips it to.
        Built once; call it before forking workers that will search (`check`), so they inherit it."""
        if self._tables is None:
            self._tables = self._build_tables()
        return self._tables

    def _build_tables(self) -> tuple[dict[str, list[str]], dict[str, list[tuple[str, str]]]]:
        by_stem: dict[str, list[str]] = defaultdict(list)
        by_base: dict[str, list[tuple[str, str]]] = defaultdict(list)
        patterns = self.rules
        for path in self._note_paths:  # once per note of the vault: locals and an inlined `strip_md`
            stem = path.rpartition("/")[2]
            if stem.lower().endswith(".md"):
                stem = stem[:-3]
            by_stem[fold(stem)].append(path)
            for rule, pattern in patterns:
                match = pattern.search(stem)
                if match and match.start() > 0:
                    by_base[fold(stem[: match.start()])].append((path, rule))
        return by_stem, by_base

    def candidates(self, target: str) -> list[Candidate]:
        """Notes named `target` with one suffix stripped, or `target` plus one suffix."""
        found = self._candidates.get(target)
        if found is None:
            found = self._candidates[target] = self._find_candidates(target)
        return list(found)

    def _find_candidates(self, target: str) -> tuple[Candidate, ...]:
        # Once per dangling target a worker meets (a first `check` of a vault of day-suffix families: most of
        # its notes link one): ASCII names folded inline, one candidate unsorted.
        folder, _, name = strip_md(target).rpartition("/")
        by_stem, by_base = self.tables()
        found: dict[str, Candidate] = {}
        for rule, pattern in self.rules:
            match = pattern.search(name)
            if match is not None and match.start() > 0:
                base = name[: match.start()]
                for path in by_stem.get(base.lower() if base.isascii() else fold(base), ()):
                    if path not in found:
                        found[path] = _new_candidate((path, rule, "strip"))
        for path, rule in by_base.get(name.lower() if name.isascii() else fold(name), ()):
            if path not in found:
                found[path] = _new_candidate((path, rule, "add"))
        if folder:
            wanted = fold(folder) + "/"
            found = {
                p: c
                for p, c in found.items()
                if ("/" + fold(p)).endswith("/" + wanted + fold(posixpath.basename(p)))
            }
        return tuple(found.values()) if len(found) < 2 else tuple(sorted(found.values()))

    def rule_between(self, target: str, path: str) -> str | None:
        """The rule `candidates(target)` gives `path` (None if it is no candidate): a suffix the target has
        and the name lacks comes first, then one the name has and the target lacks, each in rule order."""
        key = (target, path)
        if key not in self._rules_between:  # a vault links the same few notes from many notes
            self._rules_between[key] = self._rule_between(target, path)
        return self._rules_between[key]

    def _rule_between(self, target: str, path: str) -> str | None:
        name = stem_of(target)
        stem = fold(stem_of(path))
        for rule, pattern in self.rules:
            match = pattern.search(name)
            if match and match.start() > 0 and fold(name[: match.start()]) == stem:
                return rule
        folded_name = fold(name)
        original_stem = stem_of(path)
        for rule, pattern in self.rules:
            match = pattern.search(original_stem)
            if match and match.start() > 0 and fold(original_stem[: match.start()]) == folded_name:
                return rule
        return None

    def suggest(self, target: str, day: object = None) -> Suggestion:
        candidates = self._candidates.get(target)
        if candidates is None:  # `candidates`, without its copy
            candidates = self._candidates[target] = self._find_candidates(target)
        if len(candidates) < 2:
            return pick(candidates, day)
        # A tie: the candidates by day are found once per target (a hub's many `-dN` copies are linked
        # from many notes, each with its own day).
        by_day = self._by_day.get(target)
        if by_day is None:
            by_day = self._by_day[target] = candidates_by_day(candidates)
        return pick(candidates, day, by_day)


def propose(matcher: SuffixMatcher, index: LinkIndex, target: str, source: str, day: object) -> Proposal:
    """The one answer to "what should this broken link point to?": `check` shows it, `normalize-links` writes it."""
    suggestion = matcher.suggest(target, day)
    if suggestion.path is None and len(suggestion.candidates) > 1:
        suggestion = _namesake_from_here(index, target, source, suggestion)
    if suggestion.path is None:
        return _new_proposal((None, suggestion))
    new_target = written_like(target, suggestion.path)
    # A rewrite that Obsidian would resolve elsewhere (a same-named attachment, a closer tie) is no fix.
    # The chosen note is among the files the rewrite can mean: when it means one only, it is that note.
    if not index.resolves_alone(new_target) and index.resolve(new_target, source).path != suggestion.path:
        return Proposal(None, suggestion._replace(path=None, reason="unreachable"))
    return _new_proposal((new_target, suggestion))


def _namesake_from_here(index: LinkIndex, target: str, source: str, tie: Suggestion) -> Suggestion:
    """A tie between namesakes (`a/index.md`, `b/index.md` for `[[index-d3]]`): the rewrite names them all
    alike, so the one Obsidian resolves it to from the linking note's folder (its own folder's) is the
    fix. A tie between different names, or a rewrite that stays ambiguous from here, stays a tie."""
    paths = [candidate.path for candidate in tie.candidates]
    name = posixpath.basename(paths[0])
    if any(posixpath.basename(path) != name for path in paths):  # a suffix family: the second differs
        return tie
    resolved = index.resolve(written_like(target, paths[0]), source)
    if resolved.status != RESOLVED or resolved.path not in paths:
        return tie
    return tie._replace(path=resolved.path, reason="folder")


def note_day(note: Note, day_property: str) -> object:
    """The note's day property, or None when it has none or its frontmatter does not parse."""
    if not note.frontmatter_editable:
        return None
    return note.property_value(day_property)


def pick(
    candidates: tuple[Candidate, ...],
    day: object,
    by_day: dict[str | None, list[Candidate]] | None = None,
) -> Suggestion:
    """One candidate wins outright; several are narrowed by the linking note's day property (`by_day`:
    `candidates_by_day(candidates)`, when the caller keeps it)."""
    if not candidates:
        return _new_suggestion((None, (), "none"))
    if len(candidates) == 1:
        return _new_suggestion((candidates[0].path, candidates, "unique"))
    if callable(day):
        day = day()  # a lazy day: the note's YAML is parsed only when a tie needs it
    if day is not None and not isinstance(day, bool):
        same_day = (by_day or candidates_by_day(candidates)).get(str(day).strip(), [])
        if len(same_day) == 1:
            return _new_suggestion((same_day[0].path, candidates, "day"))
    return _new_suggestion((None, candidates, "ambiguous"))


def candidates_by_day(candidates: Iterable[Candidate]) -> dict[str | None, list[Candidate]]:
    """The candidates by the day their name's `-dN` suffix gives (None: no day), in order."""
    by_day: dict[str | None, list[Candidate]] = {}
    for candidate in candidates:
        by_day.setdefault(_day_of(candidate.path), []).append(candidate)
    return by_day


def _day_of(path: str) -> str | None:
    match = _DAY_RE.search(posixpath.basename(strip_md(path)))
    return str(int(match.group(1))) if match else None


def written_like(original: str, chosen_path: str) -> str:
    """The new target in the author's style: the same folder prefix and `.md` habit as the original."""
    chosen_stem = strip_md(chosen_path).rpartition("/")[2]
    folder = original.rpartition("/")[0]
    new = f"{folder}/{chosen_stem}" if "/" in original else chosen_stem
    return new + (".md" if original.lower().endswith(".md") else "")
