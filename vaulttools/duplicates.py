"""`vaulttools duplicates`: families of notes that are the same note by the vault's own rules.

Two notes are one family when their names are equal once a suffix rule (`suffix_rules`: `-d9`, Obsidian's
` 1`) is taken off, or when they carry the same `id` property. Read-only: names, the facts cache (ids,
days, links) and the link index; nothing is written.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from vaulttools.resolve import RESOLVED, fold, strip_md
from vaulttools.vault import Vault

BY_SUFFIX = "suffix"
BY_ID = "id"


@dataclass(frozen=True)
class Member:
    path: str
    origin_day: Any
    inbound_links: int
    suffixed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "origin_day": self.origin_day,
            "inbound_links": self.inbound_links,
            "suffixed": self.suffixed,
        }


@dataclass(frozen=True)
class Family:
    keep: str  # the member `merge --all` keeps (the others are merged into it)
    members: tuple[Member, ...]  # sorted by path
    rules: tuple[str, ...]  # BY_SUFFIX and/or BY_ID: why they are one family

    @property
    def sources(self) -> list[str]:
        return [m.path for m in self.members if m.path != self.keep]

    def to_json(self) -> dict[str, Any]:
        return {"keep": self.keep, "rules": list(self.rules), "members": [m.to_json() for m in self.members]}


def stem_of(path: str) -> str:
    return posixpath.basename(strip_md(path))


def suffix_base(stem: str, rules: list[re.Pattern[str]]) -> str | None:
    """The name without its suffix (the first rule that matches), or None when it has none."""
    for pattern in rules:
        match = pattern.search(stem)
        if match and match.start() > 0:
            return stem[: match.start()]
    return None


def find_families(vault: Vault) -> list[Family]:
    """Every family of two or more notes, in path order of their kept member."""
    rules = [re.compile(f"(?:{rule})$") for rule in vault.config.suffix_rules]
    paths = vault.note_paths
    by_base: dict[str, list[str]] = defaultdict(list)
    suffixed: set[str] = set()
    for path in paths:
        stem = stem_of(path)
        base = suffix_base(stem, rules)
        if base is not None:
            suffixed.add(path)
        by_base[fold(base if base is not None else stem)].append(path)
    groups = [members for members in by_base.values() if len(members) > 1 and suffixed & set(members)]
    facts = {f.path: f for f in vault.facts()}
    id_key, day_key = vault.config.id_property, vault.config.day_property
    by_id: dict[str, list[str]] = defaultdict(list)
    for path, fact in facts.items():
        value = (fact.properties or {}).get(id_key)
        if isinstance(value, str) and value.strip():
            by_id[fold(value.strip())].append(path)
    id_groups = [members for members in by_id.values() if len(members) > 1]
    joined = _join([*(("suffix", g) for g in groups), *(("id", g) for g in id_groups)])
    if not joined:
        return []
    in_family = {path for members, _ in joined for path in members}
    inbound = _inbound_counts(vault, facts.values(), in_family)
    families = []
    for members, why in joined:
        built = tuple(
            Member(
                path,
                (facts[path].properties or {}).get(day_key) if path in facts else None,
                inbound[path],
                path in suffixed,
            )
            for path in sorted(members)
        )
        ids = {
            path: (facts[path].properties or {}).get(id_key) if path in facts else None for path in members
        }
        families.append(Family(_kept(built, ids), built, tuple(sorted(why))))
    return sorted(families, key=lambda family: family.keep)


def _join(groups: list[tuple[str, list[str]]]) -> list[tuple[set[str], set[str]]]:
    """Groups that share a note become one family (a suffix family whose member repeats another id)."""
    parent: dict[str, str] = {}

    def root(path: str) -> str:
        while parent.setdefault(path, path) != path:
            parent[path] = parent[parent[path]]
            path = parent[path]
        return path

    for _, members in groups:
        for other in members[1:]:
            parent[root(other)] = root(members[0])
    families: dict[str, tuple[set[str], set[str]]] = {}
    for why, members in groups:
        family = families.setdefault(root(members[0]), (set(), set()))
        family[0].update(members)
        family[1].add(why)
    return list(families.values())


def _inbound_counts(vault: Vault, all_facts: Any, members: set[str]) -> Counter[str]:
    """Links from other notes that resolve to each family member (links in code do not count)."""
    names = {fold(stem_of(path)) for path in members}
    counts: Counter[str] = Counter()
    index = vault.index
    for fact in all_facts:
        for link in fact.links:
            if link.opaque is not None or not link.target:
                continue
            if fold(stem_of(link.target)) not in names:
                continue
            resolution = index.resolve(link.target, fact.path)
            if resolution.status == RESOLVED and resolution.path in members and resolution.path != fact.path:
                counts[resolution.path] += 1
    return counts


def _kept(members: tuple[Member, ...], ids: dict[str, Any]) -> str:
    """The unsuffixed member (the one named like the shared id first), else the most linked, else the one
    of the lowest day, else the first path."""

    def rank(member: Member) -> tuple[bool, bool, int, float, str]:
        shared_id = ids.get(member.path)
        named_like_id = isinstance(shared_id, str) and fold(shared_id) == fold(stem_of(member.path))
        day = _day_number(member.origin_day)
        return (member.suffixed, not named_like_id, -member.inbound_links, day, member.path)

    return min(members, key=rank).path


def _day_number(day: Any) -> float:
    if isinstance(day, bool) or day is None:
        return float("inf")
    try:
        return float(day)
    except (TypeError, ValueError):
        return float("inf")
