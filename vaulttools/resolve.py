"""Obsidian's link resolution (obsidian-links.md §3) over an index of the vault's files."""

from __future__ import annotations

import posixpath
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

RESOLVED = "resolved"
AMBIGUOUS = "ambiguous"
BROKEN = "broken"


class Resolution(NamedTuple):
    status: str
    path: str | None = None  # the file a resolved link points to
    candidates: tuple[str, ...] = ()  # the tied files of an ambiguous link


def fold(name: str) -> str:
    """The form names are compared in: NFC, case-folded."""
    if name.isascii():  # nothing to normalise: the common case, several times faster
        return name.lower()
    return unicodedata.normalize("NFC", name).lower()


def strip_md(path: str) -> str:
    return path[:-3] if path.lower().endswith(".md") else path


class LinkIndex:
    """Every file of the vault, keyed by each folded path suffix (with and without `.md`)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths: set[str] = set()
        self._by_suffix: dict[str, list[str]] = defaultdict(list)
        self._by_folded_path: dict[str, str] = {}
        # Most targets are linked many times from the same folder: remember each answer until the index changes.
        self._memo: dict[tuple[str, str], Resolution] = {}
        by_suffix = self._by_suffix
        for path in paths:  # `add`, inlined: this loop runs once per file of the vault
            self.paths.add(path)
            folded = fold(path)
            self._by_folded_path[folded] = path
            parts = folded.split("/")
            for i in range(len(parts)):
                suffix = "/".join(parts[i:]) if i else folded
                by_suffix[suffix].append(path)
                if suffix.endswith(".md"):
                    by_suffix[suffix[:-3]].append(path)

    def copy(self) -> LinkIndex:
        """An independent index with the same files (cheaper than indexing every path again)."""
        twin = LinkIndex(())
        twin.paths = set(self.paths)
        twin._by_suffix = defaultdict(list, {key: list(bucket) for key, bucket in self._by_suffix.items()})
        twin._by_folded_path = dict(self._by_folded_path)
        return twin

    def add(self, path: str) -> None:
        self._memo.clear()
        self.paths.add(path)
        folded = fold(path)
        self._by_folded_path[folded] = path
        parts = folded.split("/")
        for i in range(len(parts)):
            suffix = "/".join(parts[i:])
            self._by_suffix[suffix].append(path)
            if suffix.endswith(".md"):
                self._by_suffix[suffix[:-3]].append(path)

    def remove(self, path: str) -> None:
        self._memo.clear()
        self.paths.discard(path)
        folded = fold(path)
        self._by_folded_path.pop(folded, None)
        parts = folded.split("/")
        for i in range(len(parts)):
            suffix = "/".join(parts[i:])
            for key in (suffix, suffix[:-3]) if suffix.endswith(".md") else (suffix,):
                bucket = self._by_suffix.get(key)
                if bucket and path in bucket:
                    bucket.remove(path)

    def notes_named(self, name: str) -> list[str]:
        """Notes whose file stem is `name` (folded), anywhere in the vault."""
        return [
            p for p in self._by_suffix.get(fold(name), ()) if p.lower().endswith(".md") and "/" not in name
        ]

    def matches(self, target: str) -> list[str]:
        """Every file a plain target (no leading `/`, `./`, `../`) can mean, before any tie-break."""
        key = fold(target.strip())
        return sorted(set(self._by_suffix.get(key) or self._by_suffix.get(key + ".md") or ()))

    def exists(self, path: str) -> bool:
        return fold(path) in self._by_folded_path

    def resolve(self, target: str, source: str) -> Resolution:
        """Which file `target`, written in the note at `source`, points to."""
        if not target.strip():
            return Resolution(RESOLVED, source)
        memo_key = (target, source.rpartition("/")[0])
        answer = self._memo.get(memo_key)
        if answer is None:
            answer = self._memo[memo_key] = self._resolve(fold(target.strip()), source)
        return answer

    def _resolve(self, key: str, source: str) -> Resolution:
        if key.startswith("/"):
            return self._exact(key.lstrip("/"))
        if key.startswith(("./", "../")):
            joined = posixpath.normpath(posixpath.join(posixpath.dirname(fold(source)), key))
            return Resolution(BROKEN) if joined.startswith("..") else self._exact(joined)
        candidates = self._by_suffix.get(key) or self._by_suffix.get(key + ".md") or []
        return choose(candidates, key, source)

    def _exact(self, key: str) -> Resolution:
        for candidate in (key, key + ".md"):
            path = self._by_folded_path.get(candidate)
            if path:
                return Resolution(RESOLVED, path)
        return Resolution(BROKEN)


def choose(candidates: list[str], key: str, source: str) -> Resolution:
    """Obsidian's tie-break: exact vault path, then the linking note's folder, then the shortest path."""
    unique = sorted(set(candidates))
    if not unique:
        return Resolution(BROKEN)
    if len(unique) == 1:
        return Resolution(RESOLVED, unique[0])
    exact = [p for p in unique if fold(p) in (key, key + ".md")]
    if len(exact) == 1:
        return Resolution(RESOLVED, exact[0])
    folder = posixpath.dirname(source)
    same_folder = [p for p in unique if posixpath.dirname(p) == folder]
    if len(same_folder) == 1:
        return Resolution(RESOLVED, same_folder[0])
    shortest = min(len(p) for p in unique)
    tied = [p for p in unique if len(p) == shortest]
    if len(tied) == 1:
        return Resolution(RESOLVED, tied[0])
    return Resolution(AMBIGUOUS, None, tuple(tied))
