#!/usr/bin/env python3
"""Generate a synthetic benchmark vault in the style of the article-distilled knowledge vaults.

Usage::

    python bench/generate.py OUT_DIR [--notes N] [--seed S] [--force]

Options:
    OUT_DIR      directory to create the vault in; must be empty or missing unless --force is given.
    --notes N    number of notes to write (default 20000). Each note is about 3 KB.
    --seed S     random seed (default 1). The output is byte-for-byte deterministic for a given N and seed.
    --force      write into a non-empty OUT_DIR (existing files with the same names are overwritten).

What the vault contains (all proportions approximate):
    * notes named ``concept-/claim-/quote-/entity-/contrarian-`` + slug, with frontmatter in the real style:
      double-quoted scalars, flow lists, keys id, type, source_timestamps, tags, related (3-6 bare slugs),
      definition, sources, sourceVaultSlug, originDay (1-12), articleStem, sourceUrl, sourceTitle;
    * ``tags`` drawn from a Zipf-like pool of 2,000 tags (a few very common, a long tail of rare ones), half
      of them from the note's topic's own slice of the pool;
    * ``articleStem`` groups of about 25 notes, each group with its own originDay, URL and title;
    * topics of ~50 notes spread over many articles (each article touches two), so that text and links
      agree as in real vaults: a topic has its own words (some of them its own coined terms) in note names
      and sentences, and its own tags; a note's links to other articles go mostly to notes of its topic,
      the popular ones more often (some notes are cited by many);
    * 5-15 body wikilinks per note: plain ``[[slug]]``, ``[[slug|alias]]``, ``[[slug#Heading]]``;
      ~5% are day-suffixed links that dangle (``[[slug-d9]]`` where only ``slug.md`` exists) and ~2% are
      links without a suffix to notes that only exist as ``slug-dK.md``;
    * an ``**Enrichment context:** ... **Counterpoint:** ...`` paragraph on ~40% of notes;
    * a ``## Related across articles`` section (links to notes of other articles) on ~30% of notes;
    * one hub note ``concept-hub-note`` with about N/20 inbound references, as body wikilinks and as bare
      slugs in ``related``;
    * ``.obsidian/app.json``.

At the end the script prints the hub slug and counts of what it wrote.
Standard library only.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import posixpath
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HUB = "concept-hub-note"
KINDS = ["concept", "claim", "quote", "entity", "contrarian"]
KIND_WEIGHTS = [35, 30, 12, 13, 10]
HEADINGS = ["Why it matters", "Details"]  # every generated note has both
GROUP_SIZE = 25
TAG_POOL_SIZE = 2000
TOPIC_SIZE = 50  # notes per topic, spread over many articles
TOPIC_WORDS = 4  # words of WORDS that mark a topic (topics may share some)
TOPIC_TERMS = 3  # coined words only one topic uses
SYLLABLES = ["ka", "lo", "mi", "ren", "tu", "sa", "vel", "no", "ri", "das", "pe", "zor", "qui", "ban", "el"]
SAME_TOPIC_LINKS = 0.8  # share of links to other articles that stay in the note's topic

_WORD_TEXT = (
    "ai team feedback remote hybrid trust async meeting focus coaching learning skill manager peer culture "
    "strategy augmentation empathy judgment norms rhythm overlap review praise candor safety onboarding "
    "mentoring agent copilot workflow handoff transparency accountability decision delegation burnout wellbeing "
    "recognition autonomy purpose alignment goal metric outcome habit ritual retro standup calendar inbox "
    "document knowledge context signal noise bias fairness inclusion junior senior leader ownership experiment "
    "prototype customer support sales product design engineering research data privacy risk governance policy "
    "training upskilling reskilling career growth promotion performance rating conflict repair apology listening "
    "curiosity humility resilience change adoption pilot rollout champion network silo collaboration friction"
)
WORDS = _WORD_TEXT.split()

SUBJECTS = [
    "Teams that adopt AI tools",
    "Managers who give frequent feedback",
    "Distributed teams",
    "Hybrid teams",
    "New hires",
    "Senior engineers",
    "Support teams",
    "Product managers",
    "Team leads",
    "Knowledge workers",
    "Organizations piloting agents",
    "Peer reviewers",
    "Cross-functional squads",
    "Remote-first companies",
]
VERBS = [
    "tend to underestimate",
    "benefit most from",
    "often struggle with",
    "can deliberately redesign",
    "report better results from",
    "quietly abandon",
    "should protect",
    "need explicit norms for",
    "gain the most when they invest in",
    "lose trust without",
    "measure the wrong things about",
]
OBJECTS = [
    "the time AI saves",
    "short feedback loops",
    "written handoffs",
    "protected focus blocks",
    "psychological safety",
    "overlap hours",
    "specific praise",
    "transparent work logs",
    "shared rituals",
    "mentoring conversations",
    "decision records",
    "meeting-free days",
    "team-level experiments",
    "the parts of the job only people can do",
    "clear ownership of AI output",
]
TAILS = [
    "according to the article",
    "in the teams the authors studied",
    "when the rollout is rushed",
    "once the novelty wears off",
    "in the first three months",
    "especially for junior staff",
    "unless managers model the behavior",
    "even when the tools are good",
    "across time zones",
    "when the workload is already high",
    "if nobody owns the change",
]
CONTEXTS = [
    "Aligns with research on task-based automation, which predicts that interpersonal work gains relative value.",
    "Echoes Google's Project Aristotle findings on what makes teams effective.",
    "Consistent with the productivity-paradox literature on earlier waves of workplace IT.",
    "Mirrors the async-first practices documented in several public company handbooks.",
    "Parallels self-determination theory, where autonomy, competence and relatedness drive motivation.",
]
COUNTERPOINTS = [
    "critics note the evidence comes from small, self-selected samples of early adopters.",
    "the same change can raise spans of control and leave managers with less time per person.",
    "in low-trust teams the practice tends to collapse into box-ticking.",
    "the effect may fade once the tools become routine and the novelty is gone.",
    "for client-facing roles the constraint is external and the advice does not transfer.",
]


@dataclass(frozen=True)
class Profile:
    """The shape of a generated vault. `article` is the default and reproduces the original output byte for
    byte: every other field's default is the article value, and the extra features draw from the random
    generator only when they are switched on, so the article sequence of draws is unchanged."""

    name: str
    links: tuple[int, int] = (5, 15)  # body wikilinks per note (inclusive range)
    max_day: int = 12  # originDay and day suffixes run from -d1 to -d<max_day>
    family_rate: float = 0.0  # share of notes that join a suffix family (`base-dK.md`, many K per base)
    family_heads: int = 0  # notes per family head: N // family_heads family bases
    folders: int = 0  # notes spread over this many folders (0: all in the vault root)
    folder_depth: int = 5
    same_name_rate: float = 0.0  # share of notes that take the name of a note in another folder
    path_link_rate: float = 0.0  # share of links written `[[folder/path/name]]`
    markdown_link_rate: float = 0.0  # share of links written `[text](../relative/name.md)`
    related: tuple[int, int] = (3, 6)
    tags: tuple[int, int] = (2, 5)
    filler_paragraphs: int = 0  # extra paragraphs of 4-6 sentences (makes long notes)
    # Folder notes (profile `folders`): every folder holds a note of this stem ("": none), in a tree of
    # its own (`folder_tree`; not with `folders`, whose tree it replaces). A hostile vault with `index.md` in
    # each of its folders made `check` 4x and `rename` 6x slower: a name shared by thousands of files.
    folder_notes: str = ""
    notes_per_folder: int = 10  # with folder_notes: the notes of a folder that holds notes, its own included
    folder_note_link_rate: float = 0.0  # with folder_notes: share of links sent to another folder's note
    line_ends: str = "\n"  # "\r\n": every note written with Windows line ends (the same draws otherwise)
    code: bool = False  # every note ends with a fenced code block, inline code and math (draws nothing)

    def __post_init__(self) -> None:
        if self.folder_notes and self.folders:
            raise ValueError(f"profile {self.name}: folder_notes brings its own folders; set folders=0")


# What the `code` profile adds to a note: code that holds a wikilink (opaque: counted, not resolved), inline
# code and math; at the end (`CODE_TAIL`), and inline code in a list nested with a tab (as Obsidian indents
# it) after the title (`CODE_LEAD`), as a programmer writes them anywhere in a note.
CODE_TAIL = '\n```python\nnote = "[[not-a-link]]"\nprint(note)\n```\n\nRun `make check` first; the cost is $O(n \\log n)$.\n'
CODE_LEAD = "- Run `vaulttools check` first:\n\t- `[[not-a-link-either]]` in code links nothing.\n\n"


def with_code(text: str) -> str:
    """A note of the `code` profile from its article text: `CODE_LEAD` after the title, `CODE_TAIL` at the end."""
    paragraph = text.index("\n\n", text.index("\n# ") + 1) + 2
    return text[:paragraph] + CODE_LEAD + text[paragraph:] + CODE_TAIL


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("article"),
        # 15-25 links per note; a quarter of the notes belong to suffix families -d1..-d60 of ~10 notes.
        Profile("dense", links=(15, 25), max_day=60, family_rate=0.25, family_heads=40),
        # 200 folders five levels deep; 10 % of names repeat in another folder; path-qualified wikilinks and
        # relative markdown links.
        Profile("deep", folders=200, same_name_rate=0.1, path_link_rate=0.3, markdown_link_rate=0.2),
        # ~30 KB notes with large frontmatter lists.
        Profile("long", related=(20, 60), tags=(15, 40), filler_paragraphs=60),
        # ~N/10 folders two or three levels deep (`area-3/topic-17/part-2`), each with a folder note
        # `index.md`; notes link `[[index]]` (their own folder's) and, in 5 % of their links, another
        # folder's by path (`[[area-5/topic-2/index]]`).
        Profile("folders", folder_notes="index", notes_per_folder=10, folder_note_link_rate=0.05),
        # The article vault as a Windows editor saves it: every line ends with CRLF. Such notes once fell off
        # `check`'s quick paths (a first check 1.8x slower than on the same notes with LF).
        Profile("crlf", line_ends="\r\n"),
        # The article vault as a programmer's or a mathematician's: each note has inline code after its title
        # and ends with a fenced code block (a `[[…]]` inside each, not a link), inline code and inline math.
        # Such notes once took `check`'s full parse (a first check 4x slower than the same notes without
        # them), then a scan of every character for inline code (~65 ns a character) and for indented code
        # when a line starts with a tab (~24 ns).
        Profile("code", code=True),
    )
}


def zipf_cum_weights(n: int, s: float = 1.07) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**s) for rank in range(1, n + 1)))


def flow(items: list[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def make_slugs(
    rng: random.Random, n: int, words_of: Callable[[int], list[str]] | None = None
) -> tuple[list[str], list[str]]:
    """Return (slug, kind) lists; index 0 is the hub. Slugs are unique, case-insensitively.

    `words_of(i)`: the words note i's name prefers (its topic's); half of a name's words come from them."""
    seen = {HUB}
    slugs, kinds = [HUB], ["concept"]
    while len(slugs) < n:
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        k = rng.randint(2, 4)
        own = words_of(len(slugs)) if words_of is not None else []
        picked = rng.sample(own, min(len(own), (k + 1) // 2))
        picked += [w for w in rng.sample(WORDS, k) if w not in picked][: k - len(picked)]
        slug = f"{kind}-" + "-".join(picked)
        if slug in seen:
            slug = f"{slug}-{len(slugs)}"
        seen.add(slug)
        slugs.append(slug)
        kinds.append(kind)
    return slugs, kinds


def sentence(rng: random.Random, topic_words: list[str] | None = None) -> str:
    """One sentence; with `topic_words`, about two of them woven in (the topic's vocabulary)."""
    text = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}."
    if topic_words:
        first, second = rng.sample(topic_words, 2)
        text = f"{text[:-1]} for {first} and {second}."
    return text


def make_folders(rng: random.Random, count: int, depth: int) -> list[str]:
    """`count` distinct folder paths `depth` levels deep, sharing their upper levels like a real tree."""
    tops = rng.sample(WORDS, 4)
    folders: list[str] = []
    seen: set[str] = set()
    while len(folders) < count:
        path = "/".join([rng.choice(tops), *(rng.choice(WORDS) for _ in range(depth - 1))])
        if path not in seen:
            seen.add(path)
            folders.append(path)
    return folders


def join_families(rng: random.Random, slugs: list[str], profile: Profile) -> dict[int, tuple[int, int]]:
    """{note: (family head, day)}: the notes renamed `<head slug>-d<day>` (days distinct within a family)."""
    n = len(slugs)
    if not profile.family_rate or n < 3:
        return {}
    heads = rng.sample(range(1, n), max(1, n // profile.family_heads))
    head_set = set(heads)
    days_taken: dict[int, set[int]] = {h: set() for h in heads}
    members: dict[int, tuple[int, int]] = {}
    for i in range(1, n):
        if i in head_set or rng.random() >= profile.family_rate:
            continue
        head = heads[rng.randrange(len(heads))]
        free = [d for d in range(1, profile.max_day + 1) if d not in days_taken[head]]
        if free:
            day = rng.choice(free)
            days_taken[head].add(day)
            members[i] = (head, day)
    return members


def syllables_needed(topics: int) -> int:
    """The most syllables of a coined word. Two or three give 2,940 words, too few past ~25,000 notes (the
    loop never ended at 50,000), so larger vaults also coin four-syllable words; smaller ones keep the
    words (and the bytes) they always had."""
    return 3 if topics * TOPIC_TERMS <= 1500 else 4


def coin_terms(rng: random.Random, coined: set[str], longest: int) -> list[str]:
    """TOPIC_TERMS new words no earlier topic coined (`coined` grows)."""
    terms: list[str] = []
    while len(terms) < TOPIC_TERMS:
        term = "".join(rng.sample(SYLLABLES, rng.randint(2, longest)))
        if term not in coined:
            coined.add(term)
            terms.append(term)
    return terms


def folder_tree(rng: random.Random, count: int) -> list[str]:
    """Folder paths, each after its parent: `count` folders that hold notes, two or three levels deep
    (`area-A/topic-T`, a third of them `area-A/topic-T/part-P`), and the ~sqrt(count)/2 areas above them
    (which hold only their folder note). Any prefix of the list is a tree too, so a small vault can take
    fewer folders than it was given."""
    areas = max(1, round(math.sqrt(count) / 2))
    topics: list[str] = []
    per_parent: dict[str, int] = {}  # the next topic or part number in a folder
    tree: list[str] = []
    held = 0
    while held < count:
        if topics and rng.random() < 1 / 3:
            parent = topics[rng.randrange(len(topics))]
        else:
            parent = f"area-{rng.randint(1, areas)}"
            if parent not in per_parent:
                per_parent[parent] = 1
                tree.append(parent)
        number = per_parent.get(parent, 1)
        per_parent[parent] = number + 1
        folder = f"{parent}/{'part' if parent.count('/') else 'topic'}-{number}"
        if "/" not in parent:
            topics.append(folder)
        tree.append(folder)
        held += 1
    return tree


@dataclass
class FolderNotes:
    """Which notes are folder notes (one per folder, each named `stem`) and where the others live
    (`place_in_folders`), and how links name them."""

    stem: str
    note_of: dict[str, int]  # folder → its folder note, each folder after its parent
    notes_in: dict[str, list[int]]  # folder → its other notes, in note order
    link_rate: float  # share of body links sent to a random folder's note instead
    members: list[int] = field(init=False)  # the folder notes, in folder order
    _member_set: set[int] = field(init=False)
    paths: set[str] = field(init=False)  # every folder note's vault path without `.md`
    children: dict[str, list[str]] = field(init=False)  # folder → its subfolders

    def __post_init__(self) -> None:
        self.members = list(self.note_of.values())
        self._member_set = set(self.members)
        self.paths = {f"{folder}/{self.stem}" for folder in self.note_of}
        self.children = {folder: [] for folder in self.note_of}
        for folder in self.note_of:
            parent = folder.rpartition("/")[0]
            if parent:
                self.children[parent].append(folder)

    def holds(self, i: int) -> bool:
        return i in self._member_set

    def link(self, rng: random.Random, i: int, j: int, folder_of: list[str], counts: dict[str, int]) -> str:
        """A body link of note i to note j when j is a folder note, and now and then to a random folder's
        note in j's place; "" for the link to j to be written as ever. A folder note is named bare from its
        own folder (vaulttools, like Obsidian, prefers the linking note's folder among many `index.md`) and
        by its vault path from anywhere else: bare, the shortest of thousands of paths (or a tie) wins."""
        if j not in self._member_set:
            if rng.random() >= self.link_rate:
                return ""
            j = self.members[rng.randrange(len(self.members))]
        if folder_of[j] == folder_of[i]:
            return self.own_link(counts)
        counts["folder_note_links"] += 1
        counts["path_folder_note_links"] += 1
        return f"[[{folder_of[j]}/{self.stem}]]"

    def own_link(self, counts: dict[str, int]) -> str:
        """The link of a note to its own folder's note: bare (`[[index]]`)."""
        counts["folder_note_links"] += 1
        counts["bare_folder_note_links"] += 1
        return f"[[{self.stem}]]"

    def text(self, folder: str, file_slug: list[str], hub: tuple[bool, bool], counts: dict[str, int]) -> str:
        """The folder note of `folder`: `id` its stem (every note's id is its file's stem), a link up to its
        parent folder's note by path, and lists of the folder's notes (bare: their names are unique) and of
        its subfolders' notes (by path). `hub`: (links the hub in its body, names it in `related`)."""
        parent = folder.rpartition("/")[0]
        children = self.children[folder]
        lines = [
            "---",
            f'id: "{self.stem}"',
            'type: "folder"',
            *([f"related: {flow([HUB])}"] if hub[1] else []),
            "---",
            f"# {folder.rpartition('/')[2].replace('-', ' ').capitalize()}",
            "",
            f"The notes of `{folder}/`." + (f" Up: [[{parent}/{self.stem}]]." if parent else ""),
        ]
        if hub[0]:
            lines.append(f"Everything starts at [[{HUB}]].")
        if self.notes_in[folder]:  # an area holds only its subfolders
            lines += ["", "## Notes", *(f"- [[{file_slug[i]}]]" for i in self.notes_in[folder])]
        if children:
            lines += ["", "## Folders", *(f"- [[{sub}/{self.stem}]]" for sub in children)]
        counts["folder_note_links"] += bool(parent) + len(children)
        counts["path_folder_note_links"] += bool(parent) + len(children)
        return "\n".join(lines) + "\n"


def place_in_folders(
    rng: random.Random, n: int, suffixed_only: list[bool], profile: Profile
) -> tuple[list[str], FolderNotes]:
    """Every note but the hub (0) in a folder of `folder_tree`, one of each folder's notes made its folder
    note (never a note that exists only under a suffixed name); (folder of each note, the folder notes)."""
    tree = folder_tree(rng, max(1, round((n - 1) / profile.notes_per_folder)))
    candidates = [i for i in range(1, n) if not suffixed_only[i]]
    rng.shuffle(candidates)
    tree = tree[: len(candidates)]  # a tiny vault: fewer folders (a prefix of the tree is a tree)
    note_of = dict(zip(tree, candidates, strict=False))
    homes = [folder for folder in tree if "/" in folder] or tree or [""]  # areas hold only their folder note
    chosen = set(note_of.values())
    others = [i for i in range(1, n) if i not in chosen]
    rng.shuffle(others)
    folder_of = [""] * n
    for folder, i in note_of.items():
        folder_of[i] = folder
    for place, i in enumerate(others):
        folder_of[i] = homes[place % len(homes)]
    notes_in: dict[str, list[int]] = {folder: [] for folder in tree}
    for i in sorted(others):
        notes_in.setdefault(folder_of[i], []).append(i)
    return folder_of, FolderNotes(profile.folder_notes, note_of, notes_in, profile.folder_note_link_rate)


def generate(out: Path, n: int, seed: int, profile: Profile = PROFILES["article"]) -> dict[str, int]:
    rng = random.Random(seed)
    # Topics first: each article touches two topics, each note is about one of its article's.
    order = list(range(1, n))
    rng.shuffle(order)
    order.insert(0, 0)
    topic_count = max(1, round(n / TOPIC_SIZE))
    article_count = (n + GROUP_SIZE - 1) // GROUP_SIZE
    article_topics = [[rng.randrange(topic_count) for _ in range(2)] for _ in range(article_count)]
    note_topic = [0] * n
    for place, note in enumerate(order):
        note_topic[note] = rng.choice(article_topics[place // GROUP_SIZE])
    coined: set[str] = set()
    longest = syllables_needed(topic_count)
    topic_words = [
        coin_terms(rng, coined, longest) + rng.sample(WORDS, TOPIC_WORDS) for _ in range(topic_count)
    ]

    def words_of_note(i: int) -> list[str]:
        return topic_words[note_topic[i]]

    slugs, kinds = make_slugs(rng, n, words_of_note)

    tags: list[str] = []
    tag_seen: set[str] = set()
    while len(tags) < TAG_POOL_SIZE:
        t = "-".join(rng.sample(WORDS, rng.randint(1, 2)))
        if t not in tag_seen:
            tag_seen.add(t)
            tags.append(t)
    tag_cw = zipf_cum_weights(TAG_POOL_SIZE)
    # Each topic draws half its tags from its own slice of the pool (the slice's order keeps it Zipf-like).
    slice_size = max(1, TAG_POOL_SIZE // (topic_count + 1))
    topic_tags = [tags[slice_size * (t + 1) : slice_size * (t + 2)] or tags for t in range(topic_count)]
    topic_tag_cw = [zipf_cum_weights(len(pool)) for pool in topic_tags]

    # Articles: groups of ~GROUP_SIZE consecutive notes after shuffling (the hub stays in group 0).
    article_of = [0] * n
    articles: list[dict] = []
    members: list[list[int]] = []
    for a, start in enumerate(range(0, n, GROUP_SIZE)):
        group = order[start : start + GROUP_SIZE]
        words = rng.sample(WORDS, 4)
        stem = f"hbr-edu-{a + 1}-" + "-".join(words)
        title = " ".join(w.capitalize() for w in words)
        articles.append(
            {
                "stem": stem,
                "day": rng.randint(1, profile.max_day),
                "segment": rng.choice(["adoption", "feedback", "remote", "trust", "leadership", "learning"]),
                "url": f"https://hbr.org/{rng.randint(2019, 2025)}/{rng.randint(1, 12):02d}/{'-'.join(words)}",
                "title": f"How to {title}",
                "sections": [f"§ {i}. {sentence(rng)[:-1]}" for i in range(1, 5)],
            }
        )
        members.append(group)
        for i in group:
            article_of[i] = a
    topic_members: list[list[int]] = [[] for _ in range(topic_count)]
    for i in range(1, n):
        topic_members[note_topic[i]].append(i)
    # Popularity within a topic: Zipf over a shuffled member list, so some notes are cited by many.
    for notes in topic_members:
        rng.shuffle(notes)
    topic_cw = [zipf_cum_weights(len(notes), 0.8) for notes in topic_members]

    # ~4% of notes exist only as a day-suffixed file: slug-dK.md, K = the note's originDay.
    file_slug = list(slugs)
    suffixed_only = [False] * n
    for i in range(1, n):
        if rng.random() < 0.04:
            suffixed_only[i] = True
            file_slug[i] = f"{slugs[i]}-d{articles[article_of[i]]['day']}"
    # Suffix families (dense): a member is `<head>-dK.md`; links name it `[[head]]` or `[[head-dK]]`.
    for i, (head, day) in join_families(rng, slugs, profile).items():
        if f"{slugs[head]}-d{day}" == file_slug[head]:
            continue  # the head itself exists only as that suffixed file
        slugs[i] = slugs[head]
        suffixed_only[i] = True
        file_slug[i] = f"{slugs[head]}-d{day}"
    # Folders (deep): every note but the hub lives in one; some names repeat in another folder.
    folder_of = [""] * n
    if profile.folders:
        folders = make_folders(rng, profile.folders, profile.folder_depth)
        for i in range(1, n):
            folder_of[i] = folders[rng.randrange(len(folders))]
        taken = {(folder_of[i], file_slug[i]) for i in range(n)}
        for i in range(2, n):
            if rng.random() < profile.same_name_rate:
                j = rng.randrange(1, i)
                if not suffixed_only[j] and (folder_of[i], file_slug[j]) not in taken:
                    taken.add((folder_of[i], file_slug[j]))
                    file_slug[i] = slugs[i] = file_slug[j]
    # Folder notes (folders): a tree of folders, each with its folder note, named alike in every folder.
    folder_notes: FolderNotes | None = None
    if profile.folder_notes:
        folder_of, folder_notes = place_in_folders(rng, n, suffixed_only, profile)
        for i in folder_notes.members:
            slugs[i] = file_slug[i] = profile.folder_notes
    path_of = [f"{folder_of[i]}/{file_slug[i]}" if folder_of[i] else file_slug[i] for i in range(n)]
    name_count: dict[str, int] = {}
    for slug in file_slug:
        name_count[slug] = name_count.get(slug, 0) + 1

    # Hub inbound references: ~N/20 distinct notes; ~60% body wikilink, ~40% bare slug in related.
    hub_sources = rng.sample(range(1, n), min(n - 1, max(1, n // 20)))
    hub_body = set()
    hub_related = set()
    for i in hub_sources:
        (hub_body if rng.random() < 0.6 else hub_related).add(i)

    counts = {
        "notes": n,
        "links": 0,
        "alias_links": 0,
        "heading_links": 0,
        "dangling_suffixed_links": 0,
        "missing_suffix_links": 0,
        "hub_body_links": len(hub_body),
        "hub_related_refs": len(hub_related),
        "enrichment": 0,
        "related_sections": 0,
        "suffixed_only_files": sum(suffixed_only),
        "markdown_links": 0,
        "path_links": 0,
        "folders": len({folder for folder in folder_of if folder}),
        "folder_notes": len(folder_notes.members) if folder_notes else 0,
        # wikilinks to folder notes: bare from their own folder, by path from elsewhere (folder notes' own
        # links up and down the tree included); `related` entries and related-section items apart
        "folder_note_links": 0,
        "bare_folder_note_links": 0,
        "path_folder_note_links": 0,
        "folder_note_related_refs": 0,
        "bytes": 0,
    }

    def reference(j: int) -> str:
        """How a wikilink or `related` names note j: by path when its name is not unique."""
        return path_of[j] if name_count[file_slug[j]] > 1 else file_slug[j]

    def topic_of(i: int) -> int:
        return note_topic[i]

    def pick_target(i: int) -> int:
        if rng.random() < 0.5:
            group = members[article_of[i]]
            j = group[rng.randrange(len(group))]
        elif rng.random() < SAME_TOPIC_LINKS and topic_members[topic_of(i)]:
            topic = topic_of(i)
            j = rng.choices(topic_members[topic], cum_weights=topic_cw[topic])[0]
        else:
            j = rng.randrange(1, n)
        return j if j != i else (j % (n - 1)) + 1

    def link_text(i: int, j: int) -> str:
        counts["links"] += 1
        if folder_notes is not None:
            text = folder_notes.link(rng, i, j, folder_of, counts)
            if text:
                return text
        if profile.folders and not suffixed_only[j]:
            form = rng.random()
            if form < profile.markdown_link_rate:
                counts["markdown_links"] += 1
                relative = posixpath.relpath(f"{path_of[j]}.md", folder_of[i] or ".")
                return f"[{rng.choice(OBJECTS)}]({relative})"
            if form < profile.markdown_link_rate + profile.path_link_rate or name_count[file_slug[j]] > 1:
                counts["path_links"] += 1
                return f"[[{path_of[j]}]]"
        if suffixed_only[j]:
            if rng.random() < 0.5:
                counts["missing_suffix_links"] += 1
                return f"[[{slugs[j]}]]"
            return f"[[{file_slug[j]}]]"
        r = rng.random()
        if r < 0.05:
            counts["dangling_suffixed_links"] += 1
            return f"[[{file_slug[j]}-d{rng.randint(1, profile.max_day)}]]"
        if r < 0.17:
            counts["alias_links"] += 1
            return f"[[{file_slug[j]}|{rng.choice(OBJECTS)}]]"
        if r < 0.25:
            counts["heading_links"] += 1
            return f"[[{file_slug[j]}#{rng.choice(HEADINGS)}]]"
        return f"[[{file_slug[j]}]]"

    out.mkdir(parents=True, exist_ok=True)
    (out / ".obsidian").mkdir(exist_ok=True)
    (out / ".obsidian" / "app.json").write_text(
        json.dumps({"useMarkdownLinks": False, "newLinkFormat": "shortest"}, indent=2) + "\n",
        encoding="utf-8",
    )

    def save(i: int, text: str) -> None:
        if profile.code:
            text = with_code(text)
        if profile.line_ends != "\n":
            text = text.replace("\n", profile.line_ends)
        data = text.encode("utf-8")
        counts["bytes"] += len(data)
        target = out / f"{path_of[i]}.md"
        if folder_of[i]:
            target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    for i in range(n):
        if folder_notes is not None and folder_notes.holds(i):  # its own shape; draws nothing
            save(i, folder_notes.text(folder_of[i], file_slug, (i in hub_body, i in hub_related), counts))
            continue
        art = articles[article_of[i]]
        slug = file_slug[i]
        kind = kinds[i]
        group = members[article_of[i]]
        related: list[str] = []
        for _ in range(rng.randint(*profile.related)):
            j = group[rng.randrange(len(group))] if rng.random() < 0.7 else rng.randrange(1, n)
            if j != i and reference(j) not in related:
                related.append(reference(j))
        if i in hub_related and HUB not in related:
            related.insert(rng.randint(0, len(related)), HUB)
        note_tags: list[str] = []
        topic = topic_of(i)
        own = rng.choices(topic_tags[topic], cum_weights=topic_tag_cw[topic], k=rng.randint(1, 3))
        for t in own + rng.choices(
            tags, cum_weights=tag_cw, k=rng.randint(max(1, profile.tags[0] - 1), max(1, profile.tags[1] - 3))
        ):
            if t not in note_tags:
                note_tags.append(t)
        vocabulary = topic_words[topic]
        title = slugs[i].split("-", 1)[1].replace("-", " ").capitalize()
        lines = [
            "---",
            f'id: "{slug}"',
            f'type: "{kind}"',
            f"source_timestamps: {flow(rng.sample(art['sections'], rng.randint(1, 2)))}",
            f"tags: {flow(note_tags)}",
            f"related: {flow(related)}",
            f'definition: "{title}: {sentence(rng)[:-1]}, {rng.choice(TAILS)}."',
            f'sources: ["{art["segment"]}"]',
            f'sourceVaultSlug: "hbr-seg-{art["segment"]}"',
            f"originDay: {art['day']}",
            f'articleStem: "{art["stem"]}"',
            f'sourceUrl: "{art["url"]}"',
            f'sourceTitle: "{art["title"]}"',
            "---",
            f"# {title}",
            "",
        ]
        # Body: paragraphs of sentences with the note's links spread through them.
        links = [link_text(i, pick_target(i)) for _ in range(rng.randint(*profile.links))]
        if i in hub_body:
            links.insert(rng.randint(0, len(links)), f"[[{HUB}]]")
        if folder_notes is not None and folder_of[i]:  # every note in a folder links the folder's note
            links.insert(rng.randint(0, len(links)), folder_notes.own_link(counts))
        paragraphs: list[str] = []
        sections = ["", "## Why it matters", "## Details"]
        per_section = (len(links) + 2) // 3
        for s_idx, heading in enumerate(sections):
            if heading:
                paragraphs.append(heading)
            chunk = links[s_idx * per_section : (s_idx + 1) * per_section]
            halves = [chunk[: (len(chunk) + 1) // 2], chunk[(len(chunk) + 1) // 2 :]]
            for take in halves:
                sents = [sentence(rng, vocabulary) for _ in range(rng.randint(2, 4))]
                spots = rng.sample(range(len(sents)), min(len(take), len(sents)))
                for k, lk in itertools.zip_longest(spots, take, fillvalue=len(sents) - 1):
                    sents[k] = sents[k][:-1] + f", as {lk} shows."
                paragraphs.append(" ".join(sents))
        for _ in range(profile.filler_paragraphs):  # long notes: prose without links
            paragraphs.append(" ".join(sentence(rng) for _ in range(rng.randint(4, 6))))
        if i == 0:
            paragraphs.append("This hub ties the whole vault together. ^hub-core")
        if rng.random() < 0.4:
            counts["enrichment"] += 1
            paragraphs.append(
                f"**Enrichment context:** {rng.choice(CONTEXTS)} {sentence(rng)} "
                f"**Counterpoint:** {rng.choice(COUNTERPOINTS)}"
            )
        text = "\n".join(lines) + "\n" + "\n\n".join(paragraphs) + "\n"
        if rng.random() < 0.3:
            counts["related_sections"] += 1
            others = []
            for _ in range(rng.randint(2, 4)):
                j = rng.randrange(1, n)
                if article_of[j] != article_of[i] and j != i and reference(j) not in others:
                    others.append(reference(j))
            if others:
                text += "\n\n## Related across articles\n" + "".join(f"- [[{s}]]\n" for s in others)
            if folder_notes is not None:
                counts["folder_note_related_refs"] += len(folder_notes.paths.intersection(others))
        if folder_notes is not None:
            counts["folder_note_related_refs"] += len(folder_notes.paths.intersection(related))
        save(i, text)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--notes", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="article", help="the vault's shape")
    parser.add_argument("--force", action="store_true", help="write into a non-empty OUT_DIR")
    args = parser.parse_args(argv)
    if args.notes < 2:
        parser.error("--notes must be at least 2")
    if args.out_dir.exists() and any(args.out_dir.iterdir()) and not args.force:
        parser.error(f"{args.out_dir} is not empty (use --force)")
    t0 = time.perf_counter()
    counts = generate(args.out_dir, args.notes, args.seed, PROFILES[args.profile])
    elapsed = time.perf_counter() - t0
    print(f"hub: {HUB}")
    for key, value in counts.items():
        print(f"{key}: {value}")
    print(f"hub_inbound_total: {counts['hub_body_links'] + counts['hub_related_refs']}")
    print(f"avg_note_bytes: {counts['bytes'] // counts['notes']}")
    print(f"seconds: {elapsed:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
