#!/usr/bin/env python3
"""How well `sync-related` predicts links, next to simple baselines (issue 16).

Usage::

    python bench/related_quality.py                       # brain, the sample vault, generated vaults,
                                                          # reference-shaped vaults (bench/reference_vault.py)
    python bench/related_quality.py --seeds 1,2,3 --generated 1500 --vault PATH --vault PATH2

Method, per vault and seed:

1. Copy the vault to a temporary folder. Groups: the vault's own `articleStem` when notes carry it, else
   each note's top-level folder, written into its frontmatter as `articleStem` (root notes: "(root)").
   Existing "Related across articles" sections are removed, so every note starts without one.
2. Per grouped note, each distinct note of another group that the note links in its body (and not in a
   property) is hidden with probability 20 %: every link to it is replaced by its display text (the alias,
   else the target as written).
3. `python -m vaulttools sync-related --limit 5` runs on the reduced copy (a git repository), as a user
   would run it; its entries are read back from the written sections.
4. The baselines rank, for the same notes, the same candidates (notes of other groups that the note does
   not link) on the same reduced copy, and keep their 5 best (score > 0; ties by name):
   TF-IDF cosine and BM25 of the note's text (name + body, terms on more than 20 % of the notes dropped),
   Adamic-Adar and Jaccard over link neighbours (either direction), co-citation (notes linking both),
   backlink-only (the candidate links the note) and random.

Vaults of fewer than 100 notes run with seeds 1-15 (few links are hidden per seed). The generated vaults
are one per seed (generator seed = hiding seed). Scores over the notes with at least one hidden link: recall@5 = hidden targets found / hidden targets;
precision@5 = mean of hits / 5; MRR = mean of 1 / rank of the first hidden target found (0 if none).
The goal: sync-related's recall@5 at least the best baseline's + 0.05 on every vault.
Not a test: it prints tables (Markdown) and whether each vault meets the goal.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vaulttools.note import Note
from vaulttools.related import section_edit
from vaulttools.resolve import RESOLVED
from vaulttools.sections import find_section
from vaulttools.vault import Vault

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BRAIN = Path("/work/shared/corpora/brain")
SAMPLE = ROOT / "vaulttools" / "sample_vault"
GROUP = "articleStem"
HEADING = "Related across articles"
HIDE_SHARE = 0.2
LIMIT = 5
MAX_DF = 0.2  # baselines' text: terms on more notes than this share say little (and are slow to walk)
GOAL_MARGIN = 0.05
# A vault this small hides only a few links per seed: it runs with more seeds.
SMALL_VAULT = 100
SMALL_VAULT_SEEDS = 15
BODY_KINDS = ("wikilink", "markdown")
_TERM_RE = re.compile(r"[^\W_]{2,}")


@dataclass
class Reduced:
    """The reduced vault: what each grouped note links, its group, its text, and what was hidden."""

    root: Path
    group: dict[str, str]
    links: dict[str, set[str]]  # grouped note -> grouped notes it links (body + properties), after hiding
    text: dict[str, str]  # name + body without the related section
    hidden: dict[str, set[str]]


@dataclass
class Scores:
    hits: int = 0
    hidden: int = 0
    precision: list[float] = field(default_factory=list)
    reciprocal: list[float] = field(default_factory=list)

    def add(self, ranked: list[str], hidden: set[str]) -> None:
        found = [rank for rank, path in enumerate(ranked[:LIMIT], start=1) if path in hidden]
        self.hits += len(found)
        self.hidden += len(hidden)
        self.precision.append(len(found) / LIMIT)
        self.reciprocal.append(1 / found[0] if found else 0.0)

    def row(self) -> tuple[float, float, float]:
        count = max(1, len(self.precision))
        return (self.hits / max(1, self.hidden), sum(self.precision) / count, sum(self.reciprocal) / count)


# --- the reduced copy ----------------------------------------------------------------------------------


def top_folder(path: str) -> str:
    return path.split("/", 1)[0] if "/" in path else "(root)"


def group_value(note: Note) -> str | None:
    value = (note.properties or {}).get(GROUP)
    if value is None or isinstance(value, (bool, list, dict)):
        return None
    return str(value).strip() or None


def with_group(note: Note, group: str) -> str | None:
    """The note's text with `articleStem: "<group>"` as its first property; None if its YAML is unusable."""
    text, line = note.text, f"{GROUP}: {quote(group)}{note.newline}"
    if note.frontmatter is None:
        return None if note.yaml_error else f"---{note.newline}{line}---{note.newline}{text}"
    if not note.frontmatter_editable:
        return None
    return text[: note.frontmatter.start] + line + text[note.frontmatter.start :]


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write(root: Path, note: Note, text: str) -> None:
    (root / note.path).write_bytes(note.encode(text))


def copy_vault(source: Path, work: Path) -> None:
    shutil.copytree(source, work, ignore=shutil.ignore_patterns(".git", ".vaulttools"), symlinks=True)
    for item in [work, *work.rglob("*")]:  # a read-only corpus gives a read-only copy
        if not item.is_symlink():
            item.chmod(item.stat().st_mode | 0o200)
    config = work / ".vaulttools.toml"
    config.unlink(missing_ok=True)  # the defaults are what is measured


def assign_groups(work: Path) -> tuple[dict[str, str], str]:
    """Every grouped note's group; writes `articleStem` from the top-level folder if no note has one."""
    vault = Vault(work)
    own = {path: g for path in vault.note_paths if (g := group_value(vault.note(path))) is not None}
    if own:
        return own, "own articleStem"
    groups: dict[str, str] = {}
    for path in vault.note_paths:
        note = vault.note(path)
        if note.decode_error:
            continue
        text = with_group(note, top_folder(path))
        if text is not None:
            write(work, note, text)
            groups[path] = top_folder(path)
    return groups, "top-level folder"


def reduce_vault(work: Path, groups: dict[str, str], seed: int) -> dict[str, set[str]]:
    """Removes related sections and hides ~20 % of each note's cross-group body targets; returns them."""
    vault = Vault(work)
    hidden: dict[str, set[str]] = {}
    for path in sorted(groups):
        note = vault.note(path)
        edit, _ = section_edit(note, HEADING, [])
        text = note.text if edit is None else note.text[: edit.start] + edit.new + note.text[edit.end :]
        note = Note(path, note.encode(text), vault.config.link_property_set)
        body: dict[str, list] = defaultdict(list)
        in_properties: set[str] = set()
        for link in note.links:
            if not link.is_link or link.embed:
                continue
            resolution = vault.index.resolve(link.target, path)
            target = resolution.path if resolution.status == RESOLVED else None
            if target is None or groups.get(target, groups[path]) == groups[path]:
                continue
            if link.kind in BODY_KINDS:
                body[target].append(link)
            else:
                in_properties.add(target)
        rng = random.Random(f"{seed}:{path}")
        chosen = {t for t in sorted(body) if t not in in_properties and rng.random() < HIDE_SHARE}
        if chosen:
            hidden[path] = chosen
            spans = sorted((lk for t in chosen for lk in body[t]), key=lambda lk: lk.start, reverse=True)
            for link in spans:
                shown = link.display if link.display else text[link.target_start : link.target_end]
                text = text[: link.start] + shown + text[link.end :]
        if text != vault.note(path).text:
            write(work, note, text)
    return hidden


def read_reduced(work: Path, groups: dict[str, str], hidden: dict[str, set[str]]) -> Reduced:
    vault = Vault(work)
    links: dict[str, set[str]] = {}
    text: dict[str, str] = {}
    for path in groups:
        note = vault.note(path)
        section = find_section(note, HEADING)
        end = section.heading_start if section else len(note.text)
        targets = set()
        for link in note.links:
            if link.is_link and not link.embed and not (section and link.start >= section.heading_start):
                resolution = vault.index.resolve(link.target, path)
                if resolution.status == RESOLVED and resolution.path in groups and resolution.path != path:
                    targets.add(resolution.path)
        links[path] = targets
        text[path] = note.stem + "\n" + note.text[note.body_start : end]
    return Reduced(work, groups, links, text, hidden)


def git(work: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(work), *args], check=True, capture_output=True)


def run_sync_related(work: Path) -> dict[str, list[str]]:
    """Runs the CLI on the copy (committed first, as a user's vault would be); its entries per note."""
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "reduced")
    command = [
        sys.executable,
        "-m",
        "vaulttools",
        "-C",
        str(work),
        "-q",
        "sync-related",
        "--limit",
        str(LIMIT),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"sync-related failed on {work}: {done.stderr.strip()}")
    vault = Vault(work)
    entries: dict[str, list[str]] = {}
    for path in vault.note_paths:
        note = vault.note(path)
        section = find_section(note, HEADING)
        if section is None:
            continue
        listed = [
            vault.index.resolve(link.target, path).path
            for link in note.links
            if section.list_start <= link.start < section.list_end
        ]
        entries[path] = [p for p in listed if p is not None]
    return entries


# --- baselines -----------------------------------------------------------------------------------------

Ranker = Callable[[str], dict[str, float]]


def candidates_of(data: Reduced, path: str) -> list[str]:
    group, linked = data.group[path], data.links[path]
    return [p for p in data.group if data.group[p] != group and p not in linked and p != path]


def top(scores: dict[str, float], candidates: list[str]) -> list[str]:
    scored = [(-scores[c], c) for c in candidates if scores.get(c, 0.0) > 0]
    return [c for _, c in sorted(scored)[:LIMIT]]


def neighbours(data: Reduced) -> dict[str, set[str]]:
    around: dict[str, set[str]] = defaultdict(set)
    for source, targets in data.links.items():
        for target in targets:
            around[source].add(target)
            around[target].add(source)
    return around


def graph_rankers(data: Reduced, seed: int) -> dict[str, Ranker]:
    around = neighbours(data)
    linked_by: dict[str, set[str]] = defaultdict(set)
    for source, targets in data.links.items():
        for target in targets:
            linked_by[target].add(source)

    def adamic_adar(path: str) -> dict[str, float]:
        scores: Counter[str] = Counter()
        for middle in around[path]:
            if len(around[middle]) > 1:
                for other in around[middle]:
                    scores[other] += 1 / math.log(len(around[middle]))
        return scores

    def jaccard(path: str) -> dict[str, float]:
        mine = around[path]
        shared: Counter[str] = Counter(other for middle in mine for other in around[middle])
        return {other: n / len(mine | around[other]) for other, n in shared.items()}

    def co_citation(path: str) -> dict[str, float]:
        return Counter(other for source in linked_by[path] for other in data.links[source])

    def backlinks(path: str) -> dict[str, float]:
        return {source: 1.0 for source in linked_by[path]}

    def random_rank(path: str) -> dict[str, float]:
        rng = random.Random(f"random:{seed}:{path}")
        return {other: rng.random() for other in data.group}

    return {
        "Adamic-Adar": adamic_adar,
        "Jaccard": jaccard,
        "co-citation": co_citation,
        "backlink-only": backlinks,
        "random": random_rank,
    }


def text_rankers(data: Reduced) -> dict[str, Ranker]:
    counts = {path: Counter(_TERM_RE.findall(text.lower())) for path, text in data.text.items()}
    total = len(counts)
    df: Counter[str] = Counter(term for terms in counts.values() for term in terms)
    kept = {term for term, n in df.items() if n <= max(2, MAX_DF * total)}
    postings: dict[str, list[str]] = defaultdict(list)
    for path, terms in counts.items():
        for term in terms:
            if term in kept:
                postings[term].append(path)
    idf = {term: math.log(total / df[term]) for term in kept}
    bm25_idf = {term: math.log(1 + (total - df[term] + 0.5) / (df[term] + 0.5)) for term in kept}
    weights = {
        path: {t: (1 + math.log(n)) * idf[t] for t, n in terms.items() if t in kept}
        for path, terms in counts.items()
    }
    norms = {path: math.sqrt(sum(w * w for w in ws.values())) or 1.0 for path, ws in weights.items()}
    lengths = {path: sum(terms.values()) for path, terms in counts.items()}
    average = sum(lengths.values()) / max(1, total)

    def tfidf(path: str) -> dict[str, float]:
        scores: Counter[str] = Counter()
        for term, weight in weights[path].items():
            for other in postings[term]:
                scores[other] += weight * weights[other][term]
        return {other: s / (norms[path] * norms[other]) for other, s in scores.items()}

    def bm25(path: str) -> dict[str, float]:
        scores: Counter[str] = Counter()
        for term in weights[path]:
            for other in postings[term]:
                tf = counts[other][term]
                scale = 1.2 * (0.25 + 0.75 * lengths[other] / average)
                scores[other] += bm25_idf[term] * tf * 2.2 / (tf + scale)
        return scores

    return {"TF-IDF": tfidf, "BM25": bm25}


# --- one vault -----------------------------------------------------------------------------------------


def evaluate(source: Path, seed: int, keep: bool = False) -> tuple[dict[str, Scores], dict[str, object]]:
    work = Path(tempfile.mkdtemp(prefix="related-quality-")) / "vault"
    try:
        copy_vault(source, work)
        groups, grouping = assign_groups(work)
        hidden = reduce_vault(work, groups, seed)
        data = read_reduced(work, groups, hidden)
        started = time.perf_counter()
        written = run_sync_related(work)
        seconds = time.perf_counter() - started
        rankers: dict[str, Ranker] = {**text_rankers(data), **graph_rankers(data, seed)}
        results = {name: Scores() for name in ["sync-related", *rankers]}
        for path in sorted(hidden):
            results["sync-related"].add(written.get(path, []), hidden[path])
            candidates = candidates_of(data, path)
            for name, ranker in rankers.items():
                results[name].add(top(ranker(path), candidates), hidden[path])
        info = {
            "notes": len(groups),
            "groups": len(set(groups.values())),
            "grouping": grouping,
            "hidden": sum(len(h) for h in hidden.values()),
            "seconds": seconds,
        }
        return results, info
    finally:
        if not keep:
            shutil.rmtree(work.parent, ignore_errors=True)


def merge(runs: list[dict[str, Scores]]) -> dict[str, Scores]:
    merged: dict[str, Scores] = {}
    for run in runs:
        for name, scores in run.items():
            into = merged.setdefault(name, Scores())
            into.hits += scores.hits
            into.hidden += scores.hidden
            into.precision += scores.precision
            into.reciprocal += scores.reciprocal
    return merged


def table(title: str, results: dict[str, Scores], info: dict[str, object]) -> tuple[str, bool]:
    """A Markdown table of every method, best recall first, and whether the goal is met."""
    ours = results["sync-related"].row()[0]
    best_name, best = max(
        ((name, s.row()[0]) for name, s in results.items() if name != "sync-related"), key=lambda x: x[1]
    )
    met = ours >= min(1.0, best + GOAL_MARGIN)  # a perfect baseline can only be matched
    lines = [
        f"### {title}",
        "",
        f"{info['notes']} grouped notes in {info['groups']} groups ({info['grouping']}); "
        f"{info['hidden']} hidden links over the seeds.",
        "",
        "| method | recall@5 | precision@5 | MRR |",
        "|---|---|---|---|",
    ]
    for name, scores in sorted(results.items(), key=lambda item: -item[1].row()[0]):
        recall, precision, mrr = scores.row()
        lines.append(f"| {name} | {recall:.3f} | {precision:.3f} | {mrr:.3f} |")
    verdict = "met" if met else "NOT met"
    lines += ["", f"Goal (>= {best_name} {best:.3f} + {GOAL_MARGIN}): {verdict} ({ours:.3f})", ""]
    return "\n".join(lines), met


def generated_vault(notes: int, seed: int, folder: Path) -> Path:
    out = folder / f"generated-{notes}-s{seed}"
    if not out.exists():
        command = [
            sys.executable,
            str(HERE / "generate.py"),
            str(out),
            "--notes",
            str(notes),
            "--seed",
            str(seed),
        ]
        subprocess.run(command, check=True, capture_output=True)
    return out


def reference_vault(classes: int, seed: int, folder: Path) -> Path:
    out = folder / f"reference-{classes}-s{seed}"
    if not out.exists():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "reference_vault.py"),
                str(out),
                "--seed",
                str(seed),
                "--classes",
                str(classes),
            ],
            check=True,
            capture_output=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vault", action="append", type=Path, help="a vault to measure (repeatable)")
    parser.add_argument("--seeds", default="1,2,3", help="hiding seeds, comma-separated (default 1,2,3)")
    parser.add_argument("--generated", type=int, default=1500, help="notes per generated vault (0: none)")
    parser.add_argument(
        "--reference", type=int, default=40, help="classes per reference-shaped vault (0: none)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the reduced copies (printed)")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    vaults: list[tuple[str, Path]] = []
    if args.vault:
        vaults += [(str(v), v) for v in args.vault]
    else:
        if BRAIN.is_dir():
            vaults.append(("brain", BRAIN))
        vaults.append(("bundled sample vault", SAMPLE))
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    all_met = True
    for title, path in vaults:
        few_notes = sum(1 for _ in path.rglob("*.md")) < SMALL_VAULT
        vault_seeds = list(range(1, SMALL_VAULT_SEEDS + 1)) if few_notes else seeds
        runs = [evaluate(path, seed, args.keep) for seed in vault_seeds]
        label = f"seeds 1-{SMALL_VAULT_SEEDS}" if few_notes else f"seeds {args.seeds}"
        text, met = table(f"{title} ({label})", merge([r for r, _ in runs]), _info(runs))
        print(text, flush=True)
        all_met &= met
    if args.generated and not args.vault:
        # A different generated vault per seed: the generator's seed is the hiding seed.
        runs = [evaluate(generated_vault(args.generated, seed, out), seed, args.keep) for seed in seeds]
        text, met = table(
            f"generated, {args.generated} notes (seeds {args.seeds})",
            merge([r for r, _ in runs]),
            _info(runs),
        )
        print(text, flush=True)
        all_met &= met
    if args.reference and not args.vault:
        # The co-citation shape (bench/reference_vault.py): one vault per seed, as for the generated ones.
        runs = [evaluate(reference_vault(args.reference, seed, out), seed, args.keep) for seed in seeds]
        title = f"reference-shaped, {args.reference} classes (seeds {args.seeds})"
        text, met = table(title, merge([r for r, _ in runs]), _info(runs))
        print(text, flush=True)
        all_met &= met
    print("Goal met on every vault." if all_met else "Goal NOT met on every vault.")
    return 0 if all_met else 1


def _info(runs: list[tuple[dict[str, Scores], dict[str, object]]]) -> dict[str, object]:
    first = dict(runs[0][1])
    first["hidden"] = sum(int(info["hidden"]) for _, info in runs)  # type: ignore[call-overload]
    return first


if __name__ == "__main__":
    sys.exit(main())
