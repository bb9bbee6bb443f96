"""An independent oracle for link tests, and hostile generated vaults.

`oracle_resolve` resolves links from the rules of ../shared/docs/obsidian-links.md §3 and shares no code
with `vaulttools.resolve`. `vaults()` makes small vaults (same names in several folders, letter case, NFD,
spaces, `Note 1` and `-d9` names) that link every note in every written form: bare, `.md`, path suffix,
vault path with `/`, `./` and `../`, heading, alias, embed, `\\|` in a table, markdown links with `%20` or
`<…>`, quoted frontmatter links. Each link sits on a line of its own (frontmatter links on line 2).
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from hypothesis import strategies as st

FOLDERS = ["", "a", "a/b", "c", "c/a"]
STEMS = [
    "Alpha",
    "alpha beta",
    "Café",
    "note",
    "Note 1",
    "x-d9",
    "Über Ding",
    "v1.2 notes",
    "Report.md",
    "Report",
    "flow.png",
]
ATTACHMENTS = ["flow.png", "img.png", "Note 1.pdf"]
AMBIGUOUS = "<ambiguous>"


# --- the oracle: Obsidian's resolution rules, written from the docs -----------------------------------


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).lower()


def _exact(files: list[str], path: str) -> str | None:
    for candidate in (path, path + ".md"):
        hits = [f for f in files if fold(f) == fold(candidate)]
        if hits:
            return hits[0]
    return None


def oracle_resolve(files: list[str], target: str, source: str) -> str | None:
    """The file a link from `source` to `target` opens, None when none, AMBIGUOUS on an equal-length tie."""
    if target.startswith(("./", "../")):
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(source), target))
        return None if joined.startswith("..") else _exact(files, joined)
    if target.startswith("/"):
        return _exact(files, target[1:])
    wanted = (fold(target), fold(target) + ".md")
    candidates = [f for f in files if any(fold(f) == w or fold(f).endswith("/" + w) for w in wanted)]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    for name in wanted:  # the exact file name first, then the name with `.md` added
        exact = [f for f in candidates if fold(f) == name]
        if exact:
            return exact[0]
    beside = [f for f in candidates if posixpath.dirname(f) == posixpath.dirname(source)]
    if len(beside) == 1:
        return beside[0]
    shortest = min(len(f) for f in candidates)
    best = [f for f in candidates if len(f) == shortest]
    return best[0] if len(best) == 1 else AMBIGUOUS


WIKILINK = re.compile(r"!?\[\[([^\]|#\n\\]*)(?:#[^\]|\n]*)?(?:\\?\|[^\]\n]*)?\]\]")
MARKDOWN_LINK = re.compile(r"\[[^\]\n]*\]\((<[^>\n]*>|[^)\s]*)\)")
ANY_LINK = re.compile(f"{WIKILINK.pattern}|{MARKDOWN_LINK.pattern}")


# Inline code and HTML comments hold no links (obsidian-links.md §2): blanked before links are looked for.
NOT_LINKS = re.compile(r"`[^`\n]*`|<!--.*?-->")


def without_code(text: str) -> str:
    return NOT_LINKS.sub(lambda match: " " * len(match.group(0)), text)


def link_targets(text: str) -> list[str]:
    """Each link's target as written, in order (wikilinks as is, markdown links percent-decoded); none
    from inline code or HTML comments."""
    targets = []
    for match in ANY_LINK.finditer(without_code(text)):
        if match.group(1) is not None:
            targets.append(match.group(1).strip())
        else:
            destination = match.group(2).removeprefix("<").removesuffix(">")
            targets.append(unquote(destination.split("#", 1)[0]))
    return targets


def outside_links(text: str) -> str:
    """`text` with each link (not those in code or comments) replaced by `<link>`: what a rename keeps."""
    pieces, end = [], 0
    for match in ANY_LINK.finditer(without_code(text)):
        pieces += [text[end : match.start()], "<link>"]
        end = match.end()
    return "".join(pieces) + text[end:]


# --- generated vaults ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkSpec:
    file: int  # index into the vault's files, or -1 for a name no file has
    spelling: str  # one of SPELLINGS
    form: str  # one of FORMS


SPELLINGS = [
    "bare",
    "md",
    "suffix",
    "vault",
    "absolute",
    "relative",
    "upper",
    "nfd",
    "plus-day",
    "minus-suffix",
]
FORMS = ["plain", "alias", "heading", "embed", "table", "markdown", "angle", "property", "code", "comment"]


def spelled(path: str, spelling: str, source: str) -> str:
    stem_path = path.removesuffix(".md")
    stem = posixpath.basename(stem_path)
    if spelling == "md":
        return stem + ".md" if path.endswith(".md") else stem
    if spelling == "suffix":
        return "/".join(stem_path.split("/")[-2:])
    if spelling == "vault":
        return stem_path
    if spelling == "absolute":
        return "/" + stem_path
    if spelling == "relative":
        relative = posixpath.relpath(stem_path, posixpath.dirname(source) or ".")
        return relative if relative.startswith("../") else "./" + relative
    if spelling == "plus-day":  # a day suffix no file has: broken, `normalize-links` strips it
        return stem + "-d4"
    if spelling == "minus-suffix":  # without the suffix the file has: broken unless another file has it
        return re.sub(r"(-d\d+| \d+)$", "", stem)
    if spelling == "upper":
        return stem.upper()
    if spelling == "nfd":
        return unicodedata.normalize("NFD", stem)
    return stem


def written_link(target: str, form: str, is_note: bool = True) -> str:
    if form == "alias":
        return f"[[{target}|shown]]"
    if form == "heading":
        return f"[[{target}#Part two]]"
    if form == "embed":
        return f"![[{target}]]"
    if form == "code":  # not a link: stays as written whatever a rename does
        return f"`[[{target}]]`"
    if form == "comment":
        return f"<!-- [[{target}]] -->"
    if form == "table":
        return f"| cell | [[{target}\\|shown]] |"
    destination = target + ".md" if is_note and not target.endswith(".md") else target
    if form == "markdown":
        return f"[text]({quote(destination, safe='/.')})"
    if form == "angle":
        return f"[text](<{destination}>)"
    return f"[[{target}]]"


def note_text(
    source: str, files: list[str], specs: list[LinkSpec], line_end: str = "\n", bom: str = ""
) -> str:
    properties = [s for s in specs if s.form == "property"]
    body = [s for s in specs if s.form != "property"]
    lines = []
    if properties:
        values = ", ".join(f'"[[{target_of(s, files, source)}]]"' for s in properties)
        lines += ["---", f"related: [{values}]", "title: kept", "---"]
    lines.append("Some prose before the links.")
    for spec in body:
        is_note = spec.file < 0 or files[spec.file % len(files)].endswith(".md")
        lines.append(f"A line with {written_link(target_of(spec, files, source), spec.form, is_note)} in it.")
    return bom + line_end.join(lines) + line_end


def target_of(spec: LinkSpec, files: list[str], source: str) -> str:
    if spec.file < 0:
        return "nowhere at all"
    return spelled(files[spec.file % len(files)], spec.spelling, source)


note_paths = st.lists(
    st.tuples(st.sampled_from(FOLDERS), st.sampled_from(STEMS)).map(
        lambda pair: posixpath.join(pair[0], pair[1] + ".md")
    ),
    min_size=2,
    max_size=7,
    unique_by=fold,
)
# Attachments, some named like a note of STEMS (`flow.png` beside the note `flow.png.md`).
attachment_paths = st.lists(
    st.tuples(st.sampled_from(FOLDERS), st.sampled_from(ATTACHMENTS)).map(lambda pair: posixpath.join(*pair)),
    max_size=2,
    unique_by=fold,
)
link_specs = st.lists(
    st.builds(
        LinkSpec,
        st.integers(min_value=-1, max_value=6),
        st.sampled_from(SPELLINGS),
        st.sampled_from(FORMS),
    ),
    max_size=6,
)


CANVAS = "board.canvas"


def canvas_text(files: list[str], specs: list[LinkSpec]) -> str:
    """A canvas (JSON Canvas 1.0, tab-indented as Obsidian writes it): a file node per linked file, and a
    text card with each link written in the spec's spelling."""
    nodes: list[dict[str, object]] = []
    for number, spec in enumerate(specs):
        if spec.file >= 0:
            file = files[spec.file % len(files)]
            nodes.append(
                {"id": f"f{number}", "type": "file", "file": file, "x": 0, "y": 0, "width": 1, "height": 1}
            )
    card = "\n".join(f"- [[{target_of(spec, files, CANVAS)}]]" for spec in specs)
    nodes.append({"id": "t", "type": "text", "text": card, "x": 0, "y": 0, "width": 1, "height": 1})
    return json.dumps({"nodes": nodes, "edges": []}, indent="\t", ensure_ascii=False) + "\n"


@st.composite
def vaults(draw: st.DrawFn) -> tuple[dict[str, str], str, str]:
    notes = draw(note_paths)
    files = notes + [p for p in draw(attachment_paths) if fold(p) not in {fold(n) for n in notes}]
    texts = {path: "" for path in files}
    for path in notes:
        line_end = draw(st.sampled_from(["\n", "\r\n"]))
        bom = draw(st.sampled_from(["", "\ufeff"]))
        texts[path] = note_text(path, files, draw(link_specs), line_end, bom)
    if draw(st.booleans()):
        texts[CANVAS] = canvas_text(files, draw(link_specs))
    old = draw(st.sampled_from(notes))
    new_folder = draw(st.sampled_from([posixpath.dirname(old), *FOLDERS]))
    new_stem = draw(st.sampled_from([*STEMS, "Renamed", "renamed one"]))
    new = "/" + posixpath.join(new_folder, new_stem) if new_folder != posixpath.dirname(old) else new_stem
    return texts, old, new


def write_vault(root: Path, texts: dict[str, str]) -> None:
    for path, text in texts.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(text.encode())


def read_vault(root: Path) -> dict[str, str]:
    """Every file of the vault but vaulttools' own folder, by vault path."""
    paths = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    return {path: p.read_bytes().decode() for path, p in paths.items() if not path.startswith(".vaulttools/")}


# --- the real corpus ---------------------------------------------------------------------------------

# The oracle reads links with a regex: notes with code blocks, math or comments, where that is not enough,
# are left out of the corpus comparison, and so are frontmatter lines.
NOT_FOR_THE_ORACLE = re.compile(r"```|~~~|\$|%%|\n {4}|\n\t")
URL = re.compile(r"[a-zA-Z][a-zA-Z+.-]*:")


def body_start(text: str) -> int:
    """The line number of the first body line (after the frontmatter)."""
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":
        for number, line in enumerate(lines[1:], start=2):
            if line.strip() in ("---", "..."):
                return number + 1
    return 1


def writable_copy(source: Path, target: Path) -> Path:
    """A copy of a read-only corpus that commands may write (and keep their cache in)."""
    shutil.copytree(source, target, copy_function=shutil.copyfile)
    for folder in [target, *(p for p in target.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)
    return target
