"""`vaulttools duplicates`: families of notes that are the same note by the vault's own rules.

Two notes are one family when their names are equal once a suffix rule (`suffix_rules`: `-d9`, Obsidian's
` 1`) is taken off, or when they carry the same `id` property; but notes of one name in different folders
(namesakes: a folder note `index.md` in every folder) are different notes, and a copy joins only its own
folder's (`_apart_by_folder`). Read-only: names, the facts cache (ids, days, links) and the link index;
nothing is written.
"""

from __future__ import annotations

import hashlib
import marshal
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from vaulttools.links import Link
from vaulttools.note import Note, split_frontmatter
from vaulttools.parallel import map_notes
from vaulttools.rename import spelling_test
from vaulttools.resolve import RESOLVED, fold, stem_of
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


def suffix_base(stem: str, rules: list[re.Pattern[str]]) -> str | None:
    """The name without its suffix (the first rule that matches), or None when it has none."""
    found = _suffix(stem, rules)
    return None if found is None else found[0]


def _suffix(stem: str, rules: list[re.Pattern[str]]) -> tuple[str, str] | None:
    """(the name without its suffix, the rule that matched it), or None when it has none."""
    for pattern in rules:
        match = pattern.search(stem)
        if match and match.start() > 0:
            return stem[: match.start()], pattern.pattern
    return None


# Obsidian's "Note 1" duplicate rule, as written in `suffix_rules`. People number a series the same way
# ("Weekly Catchup 1", "… 2"), so a family named only by it needs evidence that its notes are copies.
COPY_RULE = r" \d+"
# Share of a numbered note's body lines another must have to be its copy (edits after copying allowed).
COPY_SIMILARITY = 0.9


@dataclass
class FamilyScan:
    families: list[Family]
    # Notes whose bytes spell a member's name (or its name without the suffix): the only notes that can
    # link a member. None where the scan did not search (`count_every_link` false: `merge --all` reads
    # every note's link targets instead, see `merge._plan_notes`).
    spelling_notes: list[str] | None
    # The links of the notes the scan parsed (see `ParsedLinks`), by path: `merge --all` reuses them.
    parsed_links: dict[str, ParsedLinks] = field(default_factory=dict)


# A note's links as a scan parsed them: the sha256 of the bytes they were parsed from, and its `Link`s'
# fields marshalled as plain tuples (a third of the memory of the objects; five times cheaper to write than
# a pickle of the `Link`s, each a namedtuple reduced in Python).
ParsedLinks = tuple[bytes, bytes]


def find_families(vault: Vault) -> list[Family]:
    """Every family of two or more notes, in path order of their kept member."""
    return scan_families(vault).families


def scan_families(vault: Vault, *, count_every_link: bool = True) -> FamilyScan:
    """The families, and the notes that may link their members.

    Names need no reading. One byte-level pass over the notes reads each frontmatter's `id:` line (parsed
    properly only where it is not a plain one-line string) and, in the notes whose bytes spell a suffix
    family's name, counts the links to its members (as `rename` picks the notes to parse). Notes sharing an
    id are confirmed by a full parse; members found only by id get a second pass of their own names.

    Without `count_every_link` (`merge --all`, which needs only the kept member), links are counted only in
    the families whose kept member they decide (`inbound_links` is 0 in the others): the first pass reads
    ids only (no search for names: the merge's own pass over the notes reads their link targets, which on
    long notes costs less than searching their bytes for hundreds of names), and a second pass over the
    notes counts them in those that spell those members' names. `spelling_notes` is None then.
    """
    rules = [re.compile(f"(?:{rule})$") for rule in vault.config.suffix_rules]
    by_base: dict[str, list[str]] = defaultdict(list)
    suffixed: dict[str, str] = {}  # path → the (compiled) rule of its suffix
    for path in vault.note_paths:
        stem = stem_of(path)
        found = _suffix(stem, rules)
        if found is not None:
            suffixed[path] = found[1]
        by_base[fold(found[0] if found is not None else stem)].append(path)
    groups = _suffix_groups(vault, by_base, suffixed)
    by_suffix = {path for members in groups for path in members}
    ids, inbound, spelling = _read_pass(vault, by_suffix, rules, with_ids=True, count=count_every_link)
    joined = _join([*((BY_SUFFIX, g) for g in groups), *((BY_ID, g) for g in _same_id_groups(vault, ids))])
    if not joined:
        return FamilyScan([], [])
    by_id_only = {path for members, _ in joined for path in members} - by_suffix
    if by_id_only and count_every_link:  # (without counting, a pass of their names would find nothing)
        _, more_inbound, more_spelling = _read_pass(
            vault, by_id_only, rules, with_ids=False, count=count_every_link
        )
        inbound += more_inbound
        order = {path: number for number, path in enumerate(vault.note_paths)}
        spelling = sorted({*spelling, *more_spelling}, key=order.__getitem__)
    parsed: dict[str, ParsedLinks] = {}
    id_key, day_key = vault.config.id_property, vault.config.day_property
    properties = {path: _properties(vault, path) for members, _ in joined for path in members}
    member_ids = {path: values.get(id_key) for path, values in properties.items()}
    if not count_every_link:
        inbound, parsed = _deciding_links(
            vault, [members for members, _ in joined], vault.note_paths, suffixed, member_ids
        )
    families = []
    for members, why in joined:
        built = tuple(
            Member(path, properties[path].get(day_key), inbound[path], path in suffixed)
            for path in sorted(members)
        )
        families.append(Family(_kept(built, member_ids), built, tuple(sorted(why))))
    spelling_notes = spelling if count_every_link else None
    return FamilyScan(sorted(families, key=lambda family: family.keep), spelling_notes, parsed)


def _deciding_links(
    vault: Vault,
    families: list[set[str]],
    spelling: list[str],
    suffixed: Mapping[str, str],
    ids: Mapping[str, Any],
) -> tuple[Counter[str], dict[str, ParsedLinks]]:
    """The links to the members of the families whose kept member they decide, counted in the notes of
    `spelling` that spell those members' names, and the links of those notes."""
    tied = _tied_members(families, suffixed, ids)
    if not tied:
        return Counter(), {}
    names = {fold(stem_of(path)) for members in families for path in members}
    return _inbound_links(vault, spelling, tied, names)


def _tied_members(families: list[set[str]], suffixed: Mapping[str, str], ids: Mapping[str, Any]) -> set[str]:
    """The members of the families whose kept member their inbound links decide: more than one member
    ranks first before links count (see `_kept`)."""
    tied: set[str] = set()
    for members in families:
        heads = [_rank_head(path, path in suffixed, ids) for path in members]
        if heads.count(min(heads)) > 1:
            tied |= members
    return tied


def _suffix_groups(vault: Vault, by_base: dict[str, list[str]], suffixed: dict[str, str]) -> list[list[str]]:
    """Notes one name apart up to a suffix, when at least one has a suffix. A group with no unsuffixed member
    whose names differ only by Obsidian's duplicate counter (only "X 1", "X 2", …, no "X") is a numbered
    series unless its notes are copies: only members with near-identical bodies stay together (an `id`
    they share joins them later all the same)."""
    groups = []
    for bucket in by_base.values():
        if len(bucket) < 2 or not any(path in suffixed for path in bucket):
            continue
        for members in _apart_by_folder(bucket, lambda path: path not in suffixed):
            if not any(path in suffixed for path in members):
                continue
            if all(suffixed.get(path) == f"(?:{COPY_RULE})$" for path in members):
                groups += _copies(vault, members)
            else:
                groups.append(members)
    return groups


def _apart_by_folder(members: list[str], is_namesake: Callable[[str], bool]) -> list[list[str]]:
    """`members` as one group; but when two or more of them are namesakes (each a note of that very name
    in its own folder: a folder note `index.md` in every folder), one group per folder of two or more.
    Namesakes are different notes (Obsidian tells them apart by their folders), and which of them a copy
    elsewhere belongs to is anyone's guess: `merge --all` would otherwise merge every folder's `index.md`
    into one."""
    if sum(map(is_namesake, members)) < 2:
        return [members]
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in members:
        by_folder[path.rpartition("/")[0]].append(path)
    return [group for group in by_folder.values() if len(group) > 1]


def _copies(vault: Vault, members: list[str]) -> list[list[str]]:
    """The members that are copies of one another (near-identical, non-empty bodies), grouped."""
    bodies = {path: _body_lines(vault.read_bytes(path)) for path in members}
    pairs = [
        (BY_SUFFIX, [a, b])
        for number, a in enumerate(members)
        for b in members[number + 1 :]
        if _near_identical(bodies[a], bodies[b])
    ]
    return [sorted(family, key=members.index) for family, _ in _join(pairs)]


def _body_lines(raw: bytes) -> Counter[str]:
    """A note's body (frontmatter left out) as its non-blank lines, blanks inside each line squeezed."""
    text = raw.decode("utf-8", "replace").removeprefix("\ufeff")
    frontmatter, _ = split_frontmatter(text)
    body = text[frontmatter.end :] if frontmatter is not None else text
    return Counter(" ".join(line.split()) for line in body.splitlines() if line.strip())


def _near_identical(a: Counter[str], b: Counter[str]) -> bool:
    """Both bodies have text and share at least `COPY_SIMILARITY` of their lines."""
    sizes = a.total() + b.total()
    return bool(a) and bool(b) and 2 * (a & b).total() >= COPY_SIMILARITY * sizes


def _properties(vault: Vault, path: str) -> dict[str, Any]:
    note = vault.note(path)
    return (note.properties or {}) if note.frontmatter_editable else {}


_PLAIN_ID_RE = re.compile(r"[^\s\"'#&*!|>%@`\[\]{},?:-][^#\"'\\]*")


def _written_id(value: str) -> str | None:
    """The string a one-line `id:` value holds when it is plainly written ("x", 'x' or x), else None."""
    value = value.strip()
    if (
        len(value) >= 2
        and value[0] == value[-1]
        and value[0] in "\"'"
        and not set(value[1:-1]) & {"\\", value[0]}
    ):
        return value[1:-1]
    if _PLAIN_ID_RE.fullmatch(value) and ": " not in value and not value.endswith(":"):
        return value
    return None


def _read_pass(
    vault: Vault, members: set[str], rules: list[re.Pattern[str]], *, with_ids: bool, count: bool = True
) -> tuple[list[tuple[str, str]], Counter[str], list[str]]:
    """One pass over every note: (path, folded id) pairs, and, where `count` is true, links to `members`
    per member and the notes whose bytes spell a member's name or its name without the suffix."""
    names = _naming({fold(stem_of(path)) for path in members})
    spelled = {stem_of(path) for path in members}
    spelled |= {base for base in (suffix_base(stem, rules) for stem in list(spelled)) if base}
    spells = spelling_test(spelled) if spelled and count else None
    key = vault.config.id_property
    key_bytes = key.encode()
    line_re = re.compile(rf"^{re.escape(key)}[ \t]*:[ \t]*(?P<value>[^\r\n]*)", re.MULTILINE)

    def chunk(paths: list[str]) -> list[tuple[str, str, str]]:
        found: list[tuple[str, str, str]] = []
        for path in paths:
            raw = vault.read_bytes(path)
            if with_ids and key_bytes in raw:
                value = _id_of(vault, path, raw, key, line_re)
                if value:
                    found.append(("id", path, value))
            if spells is None or not spells(raw):
                continue
            found.append(("spells", path, ""))
            found += (("link", linked, "") for linked in _links_to(vault, path, raw, members, names))
        return found

    ids: list[tuple[str, str]] = []
    inbound: Counter[str] = Counter()
    spelling: list[str] = []
    for kind, path, value in map_notes(chunk, vault.note_paths, on_progress=vault.on_progress):
        if kind == "id":
            ids.append((path, value))
        elif kind == "link":
            inbound[path] += 1
        else:
            spelling.append(path)
    return ids, inbound, spelling


def _links_to(
    vault: Vault,
    path: str,
    raw: bytes,
    members: set[str],
    names: Callable[[str], bool],
    links: list[Link] | None = None,
) -> Iterator[str]:
    """The member each link of the note resolves to, per link (`names`: whether a link target may name
    one, see `_naming`; `links`: the note's, when parsed already)."""
    index = vault.index
    if links is None:
        links = Note(path, raw, vault.config.link_property_set).links
    for link in links:
        if link.opaque is not None or not link.target or not names(link.target):
            continue
        resolution = index.resolve(link.target, path)
        if resolution.status == RESOLVED and resolution.path in members and resolution.path != path:
            yield resolution.path


def _naming(names: set[str]) -> Callable[[str], bool]:
    """Whether a link target's name (folded) is one of `names`, remembered per target: a vault's links
    name the same few thousand targets again and again (~15 links per note)."""
    answers: dict[str, bool] = {}

    def named(target: str) -> bool:
        known = answers.get(target)
        if known is None:
            known = answers[target] = fold(stem_of(target)) in names
        return known

    return named


def _inbound_links(
    vault: Vault, paths: list[str], members: set[str], names: set[str]
) -> tuple[Counter[str], dict[str, ParsedLinks]]:
    """Links to `members` in those of `paths` whose bytes spell a member's name, and the links of those
    notes (`merge --all` plans most of them next: it reuses them instead of parsing them again)."""
    spells = spelling_test({stem_of(path) for path in members})
    named = _naming(names)

    def chunk(chunk_paths: list[str]) -> list[tuple[str, ParsedLinks, list[str]]]:
        found = []
        for path in chunk_paths:
            raw = vault.read_bytes(path)
            if spells(raw):
                links = Note(path, raw, vault.config.link_property_set).links
                linked = list(_links_to(vault, path, raw, members, named, links))
                fields = marshal.dumps([tuple(link) for link in links])
                found.append((path, (hashlib.sha256(raw).digest(), fields), linked))
        return found

    inbound: Counter[str] = Counter()
    parsed: dict[str, ParsedLinks] = {}
    for path, links, linked in map_notes(chunk, paths, on_progress=vault.on_progress):
        inbound.update(linked)
        parsed[path] = links
    return inbound, parsed


def _id_of(vault: Vault, path: str, raw: bytes, key: str, line_re: re.Pattern[str]) -> str | None:
    """A note's folded id from its frontmatter's `id:` line; YAML decides only where it is not plain."""
    if not raw.startswith((b"---", b"\xef\xbb\xbf---")):
        return None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    frontmatter, _ = split_frontmatter(text)
    if frontmatter is None:
        return None
    match = line_re.search(text, frontmatter.start, frontmatter.end)
    if match is None:
        return None
    value = _written_id(match.group("value"))
    if value is None:  # written with escapes, over several lines, or not a string: ask YAML
        parsed = Note(path, raw).properties
        value = parsed.get(key) if parsed and isinstance(parsed.get(key), str) else None
    return fold(value.strip()) if value and value.strip() else None


def _same_id_groups(vault: Vault, ids: list[tuple[str, str]]) -> list[list[str]]:
    """Notes that share an `id` (letter case ignored), each group confirmed by parsing its notes."""
    key = vault.config.id_property
    by_id: dict[str, list[str]] = defaultdict(list)
    for path, value in ids:
        by_id[value].append(path)
    groups = []
    for paths in by_id.values():
        if len(paths) < 2:
            continue
        confirmed: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            parsed = _properties(vault, path).get(key)
            if isinstance(parsed, str) and parsed.strip():
                confirmed[fold(parsed.strip())].append(path)
        for note_id, members in confirmed.items():
            if len(members) > 1:
                # Notes whose id is their own name share it with a namesake only by being named alike.
                groups += _apart_by_folder(members, _named(note_id))
    return groups


def _named(folded: str) -> Callable[[str], bool]:
    """Whether a note's name, folded, is `folded`."""
    return lambda path: fold(stem_of(path)) == folded


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


def _kept(members: tuple[Member, ...], ids: dict[str, Any]) -> str:
    """The unsuffixed member (the one named like the shared id first), else the most linked, else the one
    of the lowest day, else the first path."""

    def rank(member: Member) -> tuple[bool, bool, int, float, str]:
        head = _rank_head(member.path, member.suffixed, ids)
        return (*head, -member.inbound_links, _day_number(member.origin_day), member.path)

    return min(members, key=rank).path


def _rank_head(path: str, suffixed: bool, ids: Mapping[str, Any]) -> tuple[bool, bool]:
    """The part of a member's rank (`_kept`) that needs no counting: suffixed, not named like its id."""
    shared_id = ids.get(path)
    named_like_id = isinstance(shared_id, str) and fold(shared_id) == fold(stem_of(path))
    return (suffixed, not named_like_id)


def _day_number(day: Any) -> float:
    if isinstance(day, bool) or day is None:
        return float("inf")
    try:
        return float(day)
    except (TypeError, ValueError):
        return float("inf")
