"""Obsidian's link resolution (obsidian-links.md §3) over an index of the vault's files."""

from __future__ import annotations

import itertools
import posixpath
import re
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


_BROKEN = Resolution(BROKEN)  # immutable, so one shared answer for every broken target


def fold(name: str) -> str:
    """The form names are compared in: NFC, then lower-cased (`str.lower`, not `str.casefold`, which would
    also match "ß" with "ss")."""
    if name.isascii():  # nothing to normalise: the common case, several times faster
        return name.lower()
    return unicodedata.normalize("NFC", name).lower()


def strip_md(path: str) -> str:
    return path[:-3] if path.endswith(_MD_IN_ANY_CASE) else path


# ".md" in every case: `str.endswith` of a tuple tests them without lowering a copy of the whole path.
_MD_IN_ANY_CASE = (".md", ".MD", ".Md", ".mD")


def stem_of(path: str) -> str:
    """A file's name as a link names it: the last part of its vault path, without `.md` (`a/B.md` → `B`)."""
    return strip_md(path.rpartition("/")[2])


class LinkIndex:
    """Every file of the vault, keyed by each folded path suffix (with and without `.md`)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths: set[str] = set()
        # Files by their folded name (the last part of the path), and by that name without `.md`: every
        # file a target can mean has the target's last part as its name, so a path-qualified target's files
        # are found among a few (`files_at`) instead of indexing every suffix of every path, which costs
        # six times more on a vault five folders deep.
        self._by_name: dict[str, list[str]] = defaultdict(list)
        self._by_folded_path: dict[str, str] = {}
        # Remember each answer until the index changes: an answer that no folder can change (a target only
        # one file matches, or none; a vault-absolute path) once, the others per folder of the linking note
        # (all the rest of an answer depends on). A vault of many folders links the same targets from each.
        self._anywhere: dict[str, Resolution] = {}
        self._memo: dict[str, dict[str, Resolution]] = {}
        # The targets known to resolve to one file, from any folder and per folder: a note whose every link
        # is among them is checked by one C-level set operation instead of a lookup per link.
        self._resolving_anywhere: set[str] = set()
        self._resolving: dict[str, set[str]] = {}
        self._exact_answers: dict[str, Resolution] = {}  # by folded vault path (`_exact`), until a change
        self._folded_folders: dict[str, str] = {}  # (`_folded_folder`) depends on no file: kept
        # For names many files share (a folder note `index.md` in each of 2,000 folders), made on first
        # use until the index changes: the bucket by path suffix (`files_at`), the tie-break's parts
        # (`_choose_among_many`). Walking such a bucket per link cost a first `check` 8 s on 18,000 notes.
        self._bucket_suffixes: dict[str, dict[str, list[str]]] = {}
        self._many_choices: dict[str, _ManyChoices] = {}
        by_name = self._by_name
        by_folded_path = self._by_folded_path
        add_path = self.paths.add
        for path in paths:  # `add`, inlined: this loop runs once per file of the vault
            add_path(path)
            folded = path.lower() if path.isascii() else fold(path)
            by_folded_path[folded] = path
            name = folded[folded.rfind("/") + 1 :]
            by_name[name].append(path)
            if name.endswith(".md"):
                by_name[name[:-3]].append(path)

    def copy(self) -> LinkIndex:
        """An independent index with the same files (cheaper than indexing every path again)."""
        twin = LinkIndex(())
        twin.paths = set(self.paths)
        twin._by_name = defaultdict(list, {key: list(bucket) for key, bucket in self._by_name.items()})
        twin._by_folded_path = dict(self._by_folded_path)
        return twin

    def add(self, path: str) -> None:
        self._forget_answers()
        self.paths.add(path)
        folded = fold(path)
        self._by_folded_path[folded] = path
        name = folded.rpartition("/")[2]
        self._by_name[name].append(path)
        if name.endswith(".md"):
            self._by_name[name[:-3]].append(path)

    def remove(self, path: str) -> None:
        self._forget_answers()
        self.paths.discard(path)
        folded = fold(path)
        self._by_folded_path.pop(folded, None)
        name = folded.rpartition("/")[2]
        for key in (name, name[:-3]) if name.endswith(".md") else (name,):
            bucket = self._by_name.get(key)
            if bucket and path in bucket:
                bucket.remove(path)

    def files_at(self, key: str) -> list[str]:
        """The files a folded target `key` names as a path suffix, in index order: those whose folded path,
        or that path without `.md`, is `key` or ends with `/` + `key` (`b/c` → `a/b/c.md`, `b/c`)."""
        slash = key.rfind("/")
        name = key[slash + 1 :]
        bucket = self._by_name.get(name)
        if not bucket:
            return []
        if slash < 0:  # a bare name: its bucket is the answer
            return list(bucket)
        if len(bucket) > _BIG_BUCKET:  # one lookup, not a walk of every file of that name
            return list(self._by_path_suffix(name, bucket).get(key, ()))
        tail = "/" + key
        return [path for path in bucket if _named_by(fold(path), key, tail)]

    def _by_path_suffix(self, name: str, bucket: list[str]) -> dict[str, list[str]]:
        """The files of a big name bucket by each folded path suffix `files_at` matches a key with: the
        folded path and that path without `.md`, whole and from after each `/`; each list in bucket order.
        A folder note (`index.md` in each of 2,000 folders) linked by its vault path from every folder cost
        a first `check` a walk of the ~130 such notes in folders of the same name per link (~0.1 s a
        worker); this map costs a few entries per file, made once per name."""
        by_suffix = self._bucket_suffixes.get(name)
        if by_suffix is not None:
            return by_suffix
        by_suffix = self._bucket_suffixes[name] = {}
        for path in bucket:
            folded = fold(path)
            forms = (folded, folded[:-3]) if folded.endswith(".md") else (folded,)
            for form in forms:
                start = 0
                while True:
                    paths = by_suffix.setdefault(form[start:], [])
                    if not paths or paths[-1] is not path:  # a path once per suffix
                        paths.append(path)
                    slash = form.find("/", start)
                    if slash < 0:
                        break
                    start = slash + 1
        return by_suffix

    def _forget_answers(self) -> None:
        self._bucket_suffixes.clear()
        self._many_choices.clear()
        self._anywhere.clear()
        self._memo.clear()
        self._resolving_anywhere.clear()
        self._resolving.clear()
        self._exact_answers.clear()

    def learn_unique_targets(self) -> None:
        """Know before any lookup that a target written as the folded name or vault path of exactly one
        file (of all the files a target of that name can mean) resolves, from any folder: a first `check` of
        a big vault then checks most notes with the one set operation of `unresolved_positions`, instead of
        resolving each link once per worker (every target is new to a worker). Other path suffixes
        (`c/deep` for `a/b/c/deep.md`) are left to `resolve`. Worth its one pass over the index only before
        many notes are checked."""
        keys: list[str] = []
        add = keys.append
        for name, bucket in self._by_name.items():  # once per name of the vault: no call for most
            if len(bucket) == 1:
                add(name)
                if "/" in bucket[0]:  # in a folder: its vault path too
                    add(_full_key(bucket[0], name))
            elif 1 < len(bucket) <= _BIG_BUCKET:  # which vault paths among names a few files share
                keys += _unique_full_keys(bucket, name)
            elif 1 < len(bucket) <= _MAX_TIED_TO_LEARN:
                for path in bucket:
                    key = _full_key(path, name)
                    if set(self.files_at(key)) == {path}:
                        add(key)
        self._resolving_anywhere.update(
            [
                key
                for key in keys
                if key.isascii()
                and key
                and " " < key[0] != "/"
                and key[-1] > " "
                and not key.startswith(("./", "../"))
            ]
        )
        self._resolving_anywhere.update(filter(_learnable, [key for key in keys if not key.isascii()]))

    def resolves_alone(self, target: str) -> bool:
        """Whether `target` is known to resolve to one file from any folder (`learn_unique_targets`, or an
        answer of `unresolved_positions`): the one file it can mean. False says nothing: ask `resolve`."""
        return target in self._resolving_anywhere

    def notes_named(self, name: str) -> list[str]:
        """Notes whose file stem is `name` (folded), anywhere in the vault."""
        if "/" in name:
            return []
        return [p for p in self._by_name.get(fold(name), ()) if p.lower().endswith(".md")]

    def files_named(self, name: str) -> list[str]:
        """Files whose name (the last part of the path, folded) is `name` or `name` + `.md`: every file a
        link whose last part is `name` can reach, in any folder (`report.md` → `Report.md`, `Report.md.md`)."""
        key = fold(name)
        return [p for p in self.files_at(key) if fold(p.rpartition("/")[2]) in (key, key + ".md")]

    def similar_note_names(self, name: str, limit: int = 3) -> list[str]:
        """Note names (file stems) that look like `name`, closest first: "did you mean" for a typo."""
        import difflib

        stems: dict[str, str] = {}
        for path in self.paths:
            if path.lower().endswith(".md"):
                stem = stem_of(path)
                stems.setdefault(fold(stem), stem)
        close = difflib.get_close_matches(fold(name.rpartition("/")[2]), list(stems), n=limit, cutoff=0.75)
        return [stems[key] for key in close]

    def matches(self, target: str) -> list[str]:
        """Every file a plain target (no leading `/`, `./`, `../`) can mean, before any tie-break."""
        key = fold(target.strip())
        return sorted(set(self.files_at(key) or self.files_at(key + ".md")))

    def exists(self, path: str) -> bool:
        return fold(path) in self._by_folded_path

    def resolve(self, target: str, source: str) -> Resolution:
        """Which file `target`, written in the note at `source`, points to."""
        answer = self._anywhere.get(target)
        if answer is not None:
            return answer
        memo = self._folder_memo(source)
        answer = memo.get(target)
        if answer is None:
            stripped = target.strip()
            if not stripped:  # never remembered: the answer is the source itself
                return Resolution(RESOLVED, source)
            answer, from_anywhere = self._resolve(fold(stripped), source)
            (self._anywhere if from_anywhere else memo)[target] = answer
        return answer

    def answers_anywhere(self, target: str) -> bool:
        """Whether `resolve` found `target`'s answer to be the same from every folder (False: it did not,
        or was not asked yet)."""
        return target in self._anywhere

    def resolve_many(self, targets: Iterable[str], source: str) -> list[Resolution]:
        """`resolve` for each of the targets written in one note: one dictionary lookup per known target."""
        anywhere, memo = self._anywhere, self._folder_memo(source)
        resolve = self.resolve
        return [anywhere.get(target) or memo.get(target) or resolve(target, source) for target in targets]

    def unresolved_positions(self, targets: list[str], source: str) -> list[int]:
        """The positions of the targets (written in the note at `source`) that do not resolve to one file,
        broken or ambiguous: `resolve` for each, but most notes link only targets that resolved before, from
        the same folder, and cost one set operation."""
        # The targets no earlier answer covers, found at C speed: a set of the note's targets asks each of
        # them once (its `difference` walks the smaller set), and only those left are looked at in Python.
        # Two `issuperset` tests and a test of every target after them took a tenth of a first `check` of
        # notes of 25 links where one often dangles.
        left = set(targets).difference(self._resolving_anywhere)
        if not left:
            return []
        folder = source.rpartition("/")[0]
        resolving = self._resolving.get(folder)
        if resolving is None:
            resolving = self._resolving[folder] = set()
        if resolving:
            left = left.difference(resolving)
            if not left:
                return []
        unresolved = []
        resolve = self.resolve
        folded_folder = None
        # Asked lazily, as the loop goes: a target written twice and resolved at its first place is no
        # longer `left` at its second.
        for position in itertools.compress(itertools.count(), map(left.__contains__, targets)):
            target = targets[position]
            if target.startswith(("../", "./")):  # a vault of folders: each folder's own relative path
                if folded_folder is None:
                    folded_folder = self._folded_folder(source)
                if self._joins_a_file(folded_folder, target):
                    resolving.add(target)
                    left.discard(target)
                    continue
            if resolve(target, source).status == RESOLVED:
                # Status only: an empty target resolves to each source alike.
                (self._resolving_anywhere if target in self._anywhere else resolving).add(target)
                left.discard(target)
            else:
                unresolved.append(position)
        return unresolved

    def _joins_a_file(self, folded_folder: str, target: str) -> bool:
        """Whether the relative `target`, written in a note of the folder folded as `folded_folder`, reaches
        a file (`resolve` says RESOLVED): its answer found without `resolve`'s memos and `Resolution`, as
        each is asked once per folder. False says nothing: ask `resolve`."""
        stripped = target.strip()
        joined = join_relative(folded_folder, stripped.lower() if stripped.isascii() else fold(stripped))
        by_folded_path = self._by_folded_path
        return not joined.startswith("..") and (joined in by_folded_path or joined + ".md" in by_folded_path)

    def _folder_memo(self, source: str) -> dict[str, Resolution]:
        folder = source.rpartition("/")[0]
        memo = self._memo.get(folder)
        if memo is None:
            memo = self._memo[folder] = {}
        return memo

    def _resolve(self, key: str, source: str) -> tuple[Resolution, bool]:
        """The answer for a folded, stripped target, and whether it is the same from every folder."""
        if key.startswith("/"):
            return self._exact(key.lstrip("/")), True
        if key.startswith(("./", "../")):
            joined = join_relative(self._folded_folder(source), key)
            if joined.startswith(".."):
                return Resolution(BROKEN), False
            # Many folders reach one note by as many relative paths: its answer is found once.
            answer = self._exact_answers.get(joined)
            if answer is None:
                answer = self._exact_answers[joined] = self._exact(joined)
            return answer, False
        candidates = self.files_at(key) or self.files_at(key + ".md")
        if not candidates:
            return _BROKEN, True
        if len(candidates) > _BIG_BUCKET:  # `choose`, its parts made once for every folder asking
            choices = self._many_choices.get(key)
            if choices is None:
                choices = self._many_choices[key] = _ManyChoices.of(candidates, key)
            return choices.choose(source), False
        # One file: no tie for the linking note's folder to break.
        return choose(candidates, key, source), len(candidates) == 1

    def _folded_folder(self, source: str) -> str:
        """`posixpath.dirname(fold(source))`, once per folder: a vault of folders links relatively from
        every note of each (folding keeps the `/` between a folder and a name, so the folder decides)."""
        folder = source.rpartition("/")[0]
        folded = self._folded_folders.get(folder)
        if folded is None:
            folded = self._folded_folders[folder] = posixpath.dirname(fold(source))
        return folded

    def _exact(self, key: str) -> Resolution:
        for candidate in (key, key + ".md"):
            path = self._by_folded_path.get(candidate)
            if path:
                return Resolution(RESOLVED, path)
        return Resolution(BROKEN)


def join_relative(folder: str, key: str) -> str:
    """`posixpath.normpath(posixpath.join(folder, key))` for a target starting with `./` or `../` written
    in a note of `folder`; without normpath's general walk when both are plain (no empty, `.` or `..` part
    past the leading ones): a vault of folders links every note so, and each folder is asked anew."""
    lead = _RELATIVE_LEAD_RE.match(key).end()  # type: ignore[union-attr]  # matches every string
    rest = key[lead:]
    if not _plain_relative(folder, rest):
        return posixpath.normpath(posixpath.join(folder, key))
    # The lead is a run of `./` and `../`: each `../` in it is one of them (none starts inside another).
    up = key.count("../", 0, lead)
    if not up:
        return f"{folder}/{rest}" if folder else rest
    kept = folder.rsplit("/", up) if folder else []  # the folders left, as one string, then the `up` last
    if len(kept) > up:
        return f"{kept[0]}/{rest}"
    return "../" * (up - len(kept)) + rest


# The leading `./` and `../` parts of a relative target.
_RELATIVE_LEAD_RE = re.compile(r"(?:\.\.?/)*")


def _plain_relative(folder: str, rest: str) -> bool:
    """Whether `join_relative` may join these without normpath: no part of either is empty, `.` or `..`."""
    probe = f"/{folder}/{rest}/" if folder else f"/{rest}/"
    return bool(rest) and "//" not in probe and "/./" not in probe and "/../" not in probe


# Names shared by more files than this (a folder note's name): their vault paths are left to `resolve`, in
# each worker of a first `check`, as they are linked (learning them here cost ~0.04 s, in the parent alone,
# on a vault with `index.md` in 2,000 folders).
_MAX_TIED_TO_LEARN = 64
# Candidates past which a lookup uses the per-name structures made once (`files_at`, `_ManyChoices`).
_BIG_BUCKET = 32


class _ManyChoices(NamedTuple):
    """`choose` among many candidates (a name shared by many files), its parts made once: the answers that
    do not depend on the linking note's folder, and the candidates by folder."""

    settled: Resolution | None  # one file, or one exact path: the answer from every folder
    by_folder: dict[str, list[str]]  # `posixpath.dirname` → the candidates there, sorted
    shortest: Resolution  # the answer when the linking note's folder holds none or several

    @classmethod
    def of(cls, candidates: list[str], key: str) -> _ManyChoices:
        unique = sorted(set(candidates))
        if len(unique) == 1:
            return cls(Resolution(RESOLVED, unique[0]), {}, _BROKEN)
        folded = [fold(p) for p in unique]
        exact = [p for p, f in zip(unique, folded, strict=True) if f == key] or [
            p for p, f in zip(unique, folded, strict=True) if f == key + ".md"
        ]
        if len(exact) == 1:
            return cls(Resolution(RESOLVED, exact[0]), {}, _BROKEN)
        by_folder: defaultdict[str, list[str]] = defaultdict(list)
        for path in unique:
            by_folder[posixpath.dirname(path)].append(path)
        least = min(len(p) for p in unique)
        tied = [p for p in unique if len(p) == least]
        shortest = (
            Resolution(RESOLVED, tied[0]) if len(tied) == 1 else Resolution(AMBIGUOUS, None, tuple(tied))
        )
        return cls(None, dict(by_folder), shortest)

    def choose(self, source: str) -> Resolution:
        if self.settled is not None:
            return self.settled
        same_folder = self.by_folder.get(posixpath.dirname(source), ())
        return Resolution(RESOLVED, same_folder[0]) if len(same_folder) == 1 else self.shortest


def _full_key(path: str, name: str) -> str:
    """The folded vault path of `path` as a target ends with `name`: without `.md` when `name` has it not."""
    folded = path.lower() if path.isascii() else fold(path)
    size = len(name)
    if folded.endswith(name) and (len(folded) == size or folded[-size - 1] == "/"):
        return folded
    return folded[:-3]


def _named_by(folded: str, key: str, tail: str) -> bool:
    """Whether the file whose folded vault path is `folded` is one the folded target `key` names (`files_at`):
    that path, or it without `.md`, is `key` or ends with `tail` (`/` + `key`)."""
    if folded == key or folded.endswith(tail):
        return True
    return folded.endswith(".md") and (folded[:-3] == key or folded[:-3].endswith(tail))


def _unique_full_keys(bucket: list[str], name: str) -> list[str]:
    """The vault paths (`_full_key`) of the files of a bucket of `name` that no other file of it matches as
    a target: `files_at(key)` is the file alone. Each file's path is folded once and compared with the
    others' (a vault of folders shares most names between two or three files: asking `files_at` for each
    folded the whole bucket again; the `deep` bench vault's unique targets took ~48 ms before a first
    `check` could fork, now ~42)."""
    folded_paths = [(path, path.lower() if path.isascii() else fold(path)) for path in bucket]
    keys = []
    for path, _ in folded_paths:
        key = _full_key(path, name)
        tail = "/" + key
        if not any(other is not path and _named_by(folded, key, tail) for other, folded in folded_paths):
            keys.append(key)
    return keys


def _learnable(key: str) -> bool:
    """Whether a target written as `key` is looked up as `key` itself: not empty, no leading `/`, `./` or
    `../`, no surrounding whitespace, a form folding keeps. (Keys starting or ending with a control
    character are not learned either: `resolve` answers them when asked.)"""
    if not key or key[0] <= " " or key[-1] <= " " or key[0] == "/" or key.startswith(("./", "../")):
        return False
    return key.isascii() or (key == key.strip() and fold(key) == key)


def choose(candidates: list[str], key: str, source: str) -> Resolution:
    """Obsidian's tie-break: exact vault path, then the linking note's folder, then the shortest path."""
    if len(candidates) == 1:  # the usual answer, without building a set
        return Resolution(RESOLVED, candidates[0])
    unique = sorted(set(candidates))
    if not unique:
        return Resolution(BROKEN)
    if len(unique) == 1:
        return Resolution(RESOLVED, unique[0])
    # The exact file name before the name with `.md` added: `[[Report.md]]` means `Report.md` over
    # `Report.md.md` when both are at that vault path.
    exact = [p for p in unique if fold(p) == key] or [p for p in unique if fold(p) == key + ".md"]
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
