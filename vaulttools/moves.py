"""Which deleted file became which added one: rename detection for a commit too big for git's.

`undo` restores a renamed note as a move, which needs the commit's renames paired. git's exhaustive rename
detection (`diff-tree -M -l0`) compares every deleted file with every added one: for a `rename --map` of
5,000 notes that is 25 million comparisons, 18.5 s. Here each file is reduced to the set of its lines
(hashed), and a deleted file is compared only with the added files that share one of its rarer lines:
time linear in the files' lines. A pair needs the same share of common lines git asks for by default
(half, `-M50%`), measured on distinct non-blank lines.

The pairing decides only how the plan describes the files (a move, or a deletion and an addition): the
files the plan writes are the same either way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

# The least share of a pair's distinct lines that both files hold (git's default `-M50%`).
MIN_SIMILARITY = 0.5
# A line held by more deleted files than this is too common to suggest a pair (a frontmatter key with a
# shared value, a template's heading); it still counts in the similarity of the pairs found otherwise.
RARE_LINE_FILES = 8
# The candidates per added file (those sharing most rare lines) whose whole similarity is computed.
CANDIDATES_PER_FILE = 4

Features = frozenset[int]


def line_features(data: bytes) -> Features:
    """The file as the set of its distinct non-blank lines (hashed; line endings and trailing spaces
    ignored): what two versions of a note keep in common when a rename rewrote a few of its lines."""
    return frozenset(hash(line.rstrip()) for line in data.splitlines() if not line.isspace() and line)


def similarity(first: Features, second: Features) -> float:
    """The share of the larger file's distinct lines that the other one holds too (0 for an empty file)."""
    larger = max(len(first), len(second))
    return len(first & second) / larger if larger else 0.0


def pair_moves(
    deleted: Mapping[str, Features], added: Iterable[tuple[str, Features]]
) -> list[tuple[str, str]]:
    """(deleted path, added path) pairs, each path in one pair at most: the most similar pairs first, each
    at least `MIN_SIMILARITY` alike. Ties go to the pair whose paths sort first, so the answer does not
    depend on the files' order. The added files are taken one at a time (only the deleted ones are held)."""
    holders = _rare_line_holders(deleted)
    scored: list[tuple[float, str, str]] = []
    for added_path, features in added:
        for deleted_path in _candidates(features, holders):
            score = similarity(features, deleted[deleted_path])
            if score >= MIN_SIMILARITY:
                scored.append((-score, deleted_path, added_path))
    scored.sort()
    pairs: list[tuple[str, str]] = []
    taken_deleted: set[str] = set()
    taken_added: set[str] = set()
    for _, deleted_path, added_path in scored:
        if deleted_path not in taken_deleted and added_path not in taken_added:
            taken_deleted.add(deleted_path)
            taken_added.add(added_path)
            pairs.append((deleted_path, added_path))
    return pairs


def _rare_line_holders(files: Mapping[str, Features]) -> dict[int, list[str]]:
    """Each line held by at most `RARE_LINE_FILES` of the files, with the files that hold it."""
    holders: defaultdict[int, list[str]] = defaultdict(list)
    for path in sorted(files):
        for feature in files[path]:
            holders[feature].append(path)
    return {feature: paths for feature, paths in holders.items() if len(paths) <= RARE_LINE_FILES}


def _candidates(features: Iterable[int], holders: Mapping[int, list[str]]) -> list[str]:
    """The files sharing most of these rare lines, at most `CANDIDATES_PER_FILE` (ties: by path)."""
    shared: Counter[str] = Counter()
    for feature in features:
        paths = holders.get(feature)
        if paths is not None:
            shared.update(paths)
    ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
    return [path for path, _ in ranked[:CANDIDATES_PER_FILE]]
