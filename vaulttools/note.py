"""Split a note into BOM, frontmatter, body, line-ending style and opaque regions.

Every offset is an index into `Note.text`: the decoded file without its BOM. Writing a note back is
`BOM + text` encoded as UTF-8, so an untouched note round-trips to the very same bytes.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterable, Iterator, KeysView
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from vaulttools.resolve import stem_of

if TYPE_CHECKING:
    import yaml

    from vaulttools.links import Link

_T = TypeVar("_T")
_N = TypeVar("_N", bound=tuple[Any, ...])


def from_fields(cls: type[_N]) -> Callable[[tuple[Any, ...]], _N]:
    """A maker of `cls` (a named tuple) from a tuple of all its fields: `tuple.__new__` bound to it, called
    from C. A named tuple's own constructor is a Python function (~0.2 µs a call), and a first `check`
    makes some ten a note (regions, links, findings, suggestions): ~2 % of its time on notes with code."""
    return functools.partial(tuple.__new__, cls)


class lazy_property(Generic[_T]):
    """`functools.cached_property` without its lock (Python 3.11 takes an `RLock` on every first read): a
    note is parsed by one thread, and a first `check` reads two or three of these on each of 20,000 notes.
    The value goes into the instance's `__dict__`, which later reads find first (a non-data descriptor)."""

    def __init__(self, func: Callable[[Any], _T]) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> _T:
        if instance is None:
            return self  # type: ignore[return-value]  # read on the class: the descriptor itself
        value = instance.__dict__[self.name] = self.func(instance)
        return value


BOM = "\ufeff"
DEFAULT_LINK_PROPERTIES = frozenset({"related"})
# `Note.line_col` counts newlines for this many calls, then builds the table of line starts.
_COUNTED_LINE_COLS = 4


class Region(NamedTuple):
    """A span of the body where `[[…]]` is not a link (code, math, HTML comment)."""

    start: int
    end: int
    kind: str


_new_region = from_fields(Region)


class Frontmatter(NamedTuple):
    """The YAML block: `text[start:end]` is the YAML, `text[:block_end]` includes both delimiters. A named
    tuple, made for every note: a frozen dataclass's `__init__` sets each field through `object.__setattr__`
    (~1 % of a first `check`)."""

    start: int
    end: int
    block_end: int
    closer: str


_new_frontmatter = from_fields(Frontmatter)


class Note:
    """One parsed note. Cheap parts are computed eagerly, YAML and links on first use."""

    def __init__(
        self, path: str, raw: bytes, link_properties: frozenset[str] = DEFAULT_LINK_PROPERTIES
    ) -> None:
        self.path = path
        self.link_properties = link_properties
        self.raw = raw
        self.decode_error: str | None = None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.decode_error = f"not valid UTF-8 at byte {exc.start}"
            decoded = ""
        if self.decode_error is None and raw.find(b"\x00", 0, 8192) >= 0:
            self.decode_error = "looks like a binary file (NUL bytes)"
            decoded = ""
        self.bom = decoded.startswith(BOM)
        self.text = decoded[1:] if self.bom else decoded
        # "\r" alone is found at memchr speed and rules out most notes before the two-character search.
        self.newline = "\r\n" if "\r" in self.text and "\r\n" in self.text[:4096] else "\n"
        self.frontmatter, self.frontmatter_problem = split_frontmatter(self.text)
        self.body_start = self.frontmatter.block_end if self.frontmatter else 0
        self._line_col_calls = 0

    @property
    def editable(self) -> bool:
        return self.decode_error is None

    @property
    def stem(self) -> str:
        return stem_of(self.path)

    @property
    def body(self) -> str:
        return self.text[self.body_start :]

    @property
    def frontmatter_text(self) -> str:
        fm = self.frontmatter
        return self.text[fm.start : fm.end] if fm else ""

    def encode(self, text: str | None = None) -> bytes:
        """The file's bytes for `text` (default: unchanged), with the BOM put back."""
        body = self.text if text is None else text
        return ((BOM if self.bom else "") + body).encode("utf-8")

    @lazy_property
    def _simple_lines(self) -> dict[str, str] | None:
        """The frontmatter's values as written, by key, when it is in the simple grammar (see
        `simple_yaml_lines`), else None: `property_value` finds a key's value without a loop over them."""
        return simple_yaml_lines_by_key(self.frontmatter_text) if self.frontmatter else None

    @lazy_property
    def _yaml(self) -> tuple[dict[str, Any] | None, str | None, bool]:
        """(data, error, whether the simple grammar read it)."""
        if not self.frontmatter:
            return None, None, False
        lines = self._simple_lines
        if lines is not None:
            return simple_yaml_data(lines.items()), None, True
        return (*_load_full_yaml(self.frontmatter_text), False)

    @property
    def properties(self) -> dict[str, Any] | None:
        """The frontmatter as data; None when there is none or it does not parse."""
        return self._yaml[0]

    def property_value(self, key: str) -> Any:
        """`properties[key]`, None when absent or when the frontmatter does not parse. A simple frontmatter
        not yet loaded gives the one value: `check` reads two or three keys of a note, and building every
        list of a big frontmatter (tags, sources) cost more than reading its lines."""
        lines = self._simple_lines
        if lines is not None and "_yaml" not in self.__dict__:
            written = lines.get(key)
            return None if written is None else _simple_value(written)
        return (self.properties or {}).get(key)

    @property
    def yaml_error(self) -> str | None:
        """Why the frontmatter cannot be edited, or None."""
        if self.frontmatter_problem:
            return self.frontmatter_problem
        if self._simple_lines is not None:  # in the simple grammar: it parses, no need to load it
            return None
        return self._yaml[1]

    @property
    def frontmatter_editable(self) -> bool:
        return self.frontmatter is not None and self.yaml_error is None

    @property
    def simple_yaml(self) -> bool:
        """Whether the frontmatter is in the one-key-per-line grammar of `load_simple_yaml`: then
        `properties` mirrors the text value for value (no escapes, comments, block lists or anchors)."""
        return self._simple_lines is not None

    @property
    def simple_keys(self) -> KeysView[str] | None:
        """The frontmatter's keys when it is in the simple grammar (`simple_yaml`), else None."""
        lines = self._simple_lines
        return None if lines is None else lines.keys()

    @lazy_property
    def regions(self) -> list[Region]:
        blocks = self.__dict__.get("_blocks")  # `link_regions` found them first
        if blocks is None:
            blocks = _block_regions(self.text, self.body_start)
        return opaque_regions_around(self.text, self.body_start, blocks)

    @lazy_property
    def link_regions(self) -> list[Region]:
        """The opaque regions that can hold the start of a link: `regions`, but inline ones only where a
        `[` is between two blocks (every link starts with one, an embed's `!` right before it). Which links
        are opaque they tell as `regions` does; where code is, not. The `regions` when already found; the
        blocks, once found, kept for `regions` (`_blocks`)."""
        found = self.__dict__
        regions: list[Region] | None = found.get("regions")
        if regions is not None:
            return regions
        blocks = found["_blocks"] = _block_regions(self.text, self.body_start)
        return opaque_regions_around(self.text, self.body_start, blocks, True)

    def region_at(self, offset: int) -> Region | None:
        regions = self.regions
        index = bisect.bisect_right(regions, offset, key=lambda region: region.start) - 1
        if index >= 0 and regions[index].start <= offset < regions[index].end:
            return regions[index]
        return None

    @lazy_property
    def _line_starts(self) -> list[int]:
        # Each line's length plus its "\n", summed up by C-level iterators (a hot path in big checks).
        return [
            0,
            *itertools.accumulate(map(operator.add, map(len, self.text.split("\n")), itertools.repeat(1))),
        ][:-1]

    def offset_of(self, line: int, column: int) -> int | None:
        """The offset of a 1-based line and column (as `line_col` gives them), None past the last line."""
        starts = self._line_starts
        return starts[line - 1] + column - 1 if 0 < line <= len(starts) and column > 0 else None

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset (columns count characters)."""
        starts = self.__dict__.get("_line_starts")
        if starts is None and self._line_col_calls < _COUNTED_LINE_COLS and offset >= 0:
            # Most notes need one or two positions (a finding, the id line): counting newlines up to the
            # offset is cheaper than the table of every line start, which pays off only for many calls.
            self._line_col_calls += 1
            text = self.text
            return text.count("\n", 0, offset) + 1, offset - text.rfind("\n", 0, offset)
        if starts is None:
            starts = self._line_starts
        line = bisect.bisect_right(starts, offset)
        return line, offset - starts[line - 1] + 1

    @lazy_property
    def links(self) -> list[Link]:
        from vaulttools.links import find_links  # links imports note: keep the import cycle lazy

        return find_links(self)


_OPENER_RE = re.compile(r"---[ \t]*\r?\n")
# A closing line, found by its preceding newline: a literal first character lets the regex engine skip
# ahead at memchr speed (a `^` in MULTILINE mode is tried at every position).
_CLOSER_RE = re.compile(r"\n(---|\.\.\.)[ \t]*(?:\r?\n|\Z)")


def split_frontmatter(text: str) -> tuple[Frontmatter | None, str | None]:
    """Find the YAML block: `---` on the first line, closed by a line of `---` or `...`."""
    opener = _OPENER_RE.match(text)
    if not opener:
        return None, None
    closer = _CLOSER_RE.search(text, opener.end() - 1)  # the opener's own newline may precede the closer
    if closer is None:
        return None, "the frontmatter opened by '---' on line 1 never closes"
    return _new_frontmatter((opener.end(), closer.start(1), closer.end(), closer.group(1))), None


_DUPLICATE_KEY_RE = re.compile(r"^([^\s#'\"\-][^:\n]*?)[ \t]*:(?:[ \t]|$)", re.MULTILINE)


# The frontmatter most vaults write: `key: "string"`, `key: ["a", "b"]`, `key: 12`, `key: word`, one per
# line. Loading that with a hand-written matcher is ~20x faster than any YAML loader, and exact: anything
# outside this narrow grammar (escapes, comments, block lists, dates, floats, booleans…) goes to the real loader.
_SIMPLE_LINE_RE = re.compile(
    r'([A-Za-z_][\w-]*):[ ]+(?:("[^"\\\x00-\x1f]*")'
    r'|(\[[ ]*"[^"\\\x00-\x1f]*"(?:[ ]*,[ ]*"[^"\\\x00-\x1f]*")*[ ]*\]|\[[ ]*\])'
    r"|(0|-?[1-9][0-9]{0,15})"
    r"|([A-Za-z][A-Za-z0-9_-]*))[ ]*\r?"
)
_YAML11_WORDS = frozenset({"y", "yes", "n", "no", "true", "false", "on", "off", "null"})
# Those words in any case, spelled with ASCII classes: `str.lower` compares so, where `re.IGNORECASE` would
# also fold a few non-ASCII letters (`ſ`, the Kelvin sign) into them.
_YAML11_WORD = "|".join("".join(f"[{c.upper()}{c}]" for c in word) for word in sorted(_YAML11_WORDS))


# Every line's groups in one findall (no Python loop per line); together with the count of blank lines it
# also proves the whole block is in the grammar. For speed it differs from the grammar above in ways that
# change no answer:
# - strings are `"[^"]*"`, a third faster than the grammar's class: the backslashes, control characters
#   and stray "\r" that admits are ruled out for the whole text by `_outside_grammar`, and a string
#   running over a line break by the count of lines;
# - a plain value YAML 1.1 reads as a boolean or null leaves its line unmatched, so the count sends the
#   block to the real loader without a check per line; such a key is looked for among the keys found
#   (`_boolean_key`: a lookahead at every line start cost a sixth of the findall);
# - possessive repeats where giving back never lets the rest match (the next character is one the repeat
#   does not take: `:` after a key, a value after its spaces, `"` closing a string; a flow list's items
#   after the first start with `,`, where only `]` may follow the last): no backtracking state per item of
#   a long list. The grammar writes a list as its first item, then `, item` repeated: the same lists as
#   items each followed by `,` and a last one, a tenth faster to match (a repeat step ends at its first
#   character that is not `,`, with no item matched to give back).
def _simple_lines_pattern() -> str:
    pattern = _SIMPLE_LINE_RE.pattern
    for old, new in [
        (r'"[^"\\\x00-\x1f]*"', r'"[^"]*+"'),
        ("|([A-Za-z][A-Za-z0-9_-]*)", f"|(?!(?:{_YAML11_WORD})(?![A-Za-z0-9_-]))([A-Za-z][A-Za-z0-9_-]*)"),
        (r"([A-Za-z_][\w-]*):[ ]+", r"([A-Za-z_][\w-]*+):[ ]++"),
        (r'\[[ ]*"', r'\[[ ]*+"'),
        (r'(?:[ ]*,[ ]*"[^"]*+")*[ ]*\]', r'(?:[ ]*+,[ ]*+"[^"]*+")*+[ ]*+\]'),
    ]:
        assert old in pattern, old  # the grammar above changed: review these rewrites
        pattern = pattern.replace(old, new)
    # Each line is matched from the line feed before it (`simple_yaml_lines_by_key` puts one before the
    # first), not from `^`: a literal first character lets the regex engine skip to the next line at C
    # speed, where `^` was tried at every character (a findall over a 12-line frontmatter: ~9 µs, ~6 so).
    return f"\\n{pattern}$"


def _one_value_group(pattern: str) -> str:
    """`pattern` with its four value groups (string, flow list, integer, word) made one: findall then gives
    (key, value as written) pairs, and builds two strings a line instead of five (the first character of
    a value tells its kind: `_simple_value`)."""
    for old, new in [
        (':[ ]++(?:("', ':[ ]++((?:"'),
        (")|(\\[", ")|(?:\\["),
        (")|(0|", ")|(?:0|"),
        ("))([A-Za-z][A-Za-z0-9_-]*))", "))(?:[A-Za-z][A-Za-z0-9_-]*))"),
    ]:
        assert pattern.count(old) == 1, old  # the grammar above changed: review these rewrites
        pattern = pattern.replace(old, new)
    return pattern


def _boolean_key(keys: Iterable[str]) -> bool:
    """Whether a key is a word YAML 1.1 reads as a boolean or null, in any case: one set test, no
    `str.lower` per key (a frontmatter has a dozen; every note's is tested)."""
    return not _YAML11_WORDS_ANY_CASE.isdisjoint(keys)


# The words in every case: the keys whose `str.lower` is one of them (of the non-ASCII characters only the
# Kelvin sign lowers to an ASCII letter alone, `k`, which no word has; `İ` lowers to `i` and a combining dot).
_YAML11_WORDS_ANY_CASE = frozenset(
    "".join(spelling)
    for word in _YAML11_WORDS
    for spelling in itertools.product(*zip(word.lower(), word.upper(), strict=True))
)


_SIMPLE_LINES_RE = re.compile(_one_value_group(_simple_lines_pattern()), re.MULTILINE)
assert _SIMPLE_LINES_RE.groups == 2


def simple_line_values(line: str) -> tuple[str, ...] | None:
    """The (string, flow list, integer, word) texts of one line of the simple grammar, "" for the three it
    does not hold (strings and lists with their quotes and brackets); None for a line outside the grammar
    (escapes and control characters included, as `load_simple_yaml` rules them out)."""
    if _outside_grammar(line):
        return None
    match = _SIMPLE_LINES_RE.fullmatch("\n" + line)
    if match is None or _boolean_key((match.group(1),)):
        return None
    written = match.group(2)
    kind = _VALUE_KIND.get(written[0], 2)  # a digit or a minus: an integer
    return tuple(written if slot == kind else "" for slot in range(4))


# The kind of a value of the simple grammar by its first character (`simple_line_values`' slots).
_VALUE_KIND = {'"': 0, "[": 1, **dict.fromkeys("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", 3)}


# More values than any real frontmatter holds, few enough to walk in a millisecond.
MAX_EXPANDED_VALUES = 100_000
# Characters PyYAML refuses to read; a text holding one must get the real loader's error.
_YAML_EXTRA_BREAKS = ("\x85", "\u2028", "\u2029")
# YAML's non-printable characters: the complement of its printable set (`[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff
# \ue000-\ufffd\U00010000-\U0010ffff]`), spelled out: the same characters, but compiled in 0.5 ms instead of 5-8
# (a negated class over the whole of Unicode makes `re` walk 65,536 code points), at every start-up.
_NON_PRINTABLE_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")
# The Latin-1 characters a simple frontmatter may not hold, as bytes to delete: the ASCII controls but
# line breaks (the grammar admits none), the backslash (it has no escapes), and DEL and the C1 controls
# (PyYAML refuses them, or reads NEL as a line break).
_LATIN1_EXCLUDED = bytes([*range(0x00, 0x0A), 0x0B, 0x0C, *range(0x0E, 0x20), ord("\\"), *range(0x7F, 0xA0)])


def load_simple_yaml(yaml_text: str) -> dict[str, Any] | None:
    """The data of a frontmatter in the simple grammar above, or None to ask the real loader."""
    lines = simple_yaml_lines(yaml_text)
    return None if lines is None else simple_yaml_data(lines)


def simple_yaml_lines(yaml_text: str) -> list[tuple[str, str]] | None:
    """(key, value as written) of each line of a frontmatter in the simple grammar (strings and lists with
    their quotes and brackets), or None to ask the real loader."""
    by_key = simple_yaml_lines_by_key(yaml_text)
    return None if by_key is None else list(by_key.items())


def simple_yaml_lines_by_key(yaml_text: str) -> dict[str, str] | None:
    """`simple_yaml_lines` as a dictionary, in order (the keys of the simple grammar are all different)."""
    if _outside_grammar(yaml_text):
        return None
    found = _SIMPLE_LINES_RE.findall("\n" + yaml_text)
    # The block is in the grammar when every line is either one findall matched or blank. Each match starts
    # at a line's start, so there are at most as many as lines: as many as the lines between the first
    # and the last (which alone may be empty without a blank line inside) proves it without counting the
    # blank ones.
    if len(found) != _lines_but_empty_ends(yaml_text) and len(found) != _content_lines(yaml_text):
        return None
    by_key = dict(found)
    if len(by_key) != len(found) or _boolean_key(by_key):  # a repeated key needs the real loader's error
        return None
    return by_key


def _lines_but_empty_ends(text: str) -> int:
    """How many lines the text has, an empty first and an empty last one left out (a non-empty text)."""
    return text.count("\n") + 1 - text.startswith("\n") - text.endswith("\n")


def _content_lines(yaml_text: str) -> int:
    """How many lines of the text are not blank ("" or a lone "\r"); -1 when the last line is a lone "\r"
    (outside the grammar). Without a "\r" or an empty line inside, counted without splitting the text: only
    the first and the last line can then be empty (the block usually ends with its last line's "\n")."""
    if not yaml_text:
        return 0
    if "\r" not in yaml_text and "\n\n" not in yaml_text:
        return _lines_but_empty_ends(yaml_text)
    lines = yaml_text.split("\n")
    if lines[-1] == "\r":
        return -1
    return len(lines) - lines.count("") - lines.count("\r")


def _simple_value(written: str) -> Any:
    """The value of a line of `simple_yaml_lines` from its text, as `simple_yaml_data` reads it."""
    first = written[0]
    return written[1:-1] if first == '"' else written.split('"')[1::2] if first == "[" else _plain(written)


def _plain(written: str) -> int | str:
    return written if written[0].isalpha() else int(written)  # a word starts with a letter, an integer not


def simple_yaml_data(lines: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The data of `simple_yaml_lines`: a value's first character tells its kind. A string keeps its
    quotes, a list its brackets; a list's items are double-quoted strings without quotes inside: every
    other piece between quotes is an item."""
    return {key: _simple_value(written) for key, written in lines}


def _outside_grammar(yaml_text: str) -> bool:
    """Whether the text holds a character no simple frontmatter has: one PyYAML refuses to read, or reads as
    a line break (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: they fold or split a line), or one the grammar
    admits nowhere (a backslash, a tab or another control character, a "\r" that does not end a line)."""
    if "\r" in yaml_text and yaml_text.count("\r") != yaml_text.count("\r\n") + yaml_text.endswith("\r"):
        return True
    try:
        latin1 = yaml_text.encode("latin-1")
    except UnicodeEncodeError:  # rare: a regex search instead of a C-level delete
        return (
            _NON_PRINTABLE_RE.search(yaml_text) is not None
            or any(c in yaml_text for c in _YAML_EXTRA_BREAKS)
            or "\t" in yaml_text
            or "\\" in yaml_text
        )
    return len(latin1.translate(None, _LATIN1_EXCLUDED)) != len(latin1)


def load_frontmatter_yaml(yaml_text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Load frontmatter; return (data, None) or (None, why it is unusable)."""
    simple = load_simple_yaml(yaml_text)
    if simple is not None:
        return simple, None
    return _load_full_yaml(yaml_text)


def _load_full_yaml(yaml_text: str) -> tuple[dict[str, Any] | None, str | None]:
    """`load_frontmatter_yaml` for text outside the simple grammar: PyYAML plus vaulttools' own limits.
    PyYAML is imported here, on first use: a vault in the simple grammar never loads it."""
    if "\t" in _leading_whitespace(yaml_text):
        return None, "tabs used for indentation (YAML forbids them)"
    import yaml

    try:
        data = yaml.load(yaml_text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        return None, _describe_yaml_error(exc)
    except RecursionError:
        return None, "the YAML nests too deeply"
    if data is None:
        return {}, None
    if "*" in yaml_text and _expanded_size_exceeds(data, MAX_EXPANDED_VALUES):
        return None, (
            f"YAML aliases expand to more than {MAX_EXPANDED_VALUES} values (a 'billion laughs' bomb?); "
            "vaulttools will not read this frontmatter"
        )
    if not isinstance(data, dict):
        return None, f"the frontmatter is a YAML {type(data).__name__}, not a mapping of properties"
    keys = [m.group(1) for m in _DUPLICATE_KEY_RE.finditer(yaml_text)]
    if len(keys) != len(set(keys)):
        duplicate = next(k for k in keys if keys.count(k) > 1)
        return None, f"duplicate key {duplicate!r}"
    return data, None


def _expanded_size_exceeds(data: object, budget: int) -> bool:
    """Whether walking `data` (aliases repeat shared objects) visits more than `budget` values.

    PyYAML loads aliases as shared references, so a bomb costs little to load; but anything that walks
    the properties (facts, comparisons, JSON output) would expand it. Refusing it here protects them all.
    """
    stack = [data]
    visited = 0
    while stack:
        value = stack.pop()
        visited += 1
        if visited > budget:
            return True
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return False


def _describe_yaml_error(exc: yaml.YAMLError) -> str:
    """`line L, column C: problem` with L counted in the note (the YAML starts on line 2)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"line {mark.line + 2}, column {mark.column + 1}: {detail}" if mark is not None else detail


def _leading_whitespace(yaml_text: str) -> str:
    return "".join(m.group(0) for m in re.finditer(r"^[ \t]+", yaml_text, re.MULTILINE))


# --- opaque regions -------------------------------------------------------------------------------

_FENCE_RE = re.compile(r"[ ]{0,3}(`{3,}|~{3,})(.*)")
_LIST_ITEM_RE = re.compile(r"[ \t]*(?:[-*+]|\d+[.)])(?:[ \t]|$)")
# Inline math: `$…$` on one line (a backslash escapes the next character), not opened by an escaped or
# doubled dollar nor closed by one before a digit (`$5 and $6` is prose).
_INLINE_MATH_RE = re.compile(r"(?<![\\$])\$(?![\s$])(?:[^$\n\\]|\\.)*?(?<![\s\\])\$(?![\d$])", re.DOTALL)
# A blank line, which no inline code span crosses.
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\r?\n")


def find_opaque_regions(text: str, start: int = 0) -> list[Region]:
    """Code blocks, math blocks, inline code, inline math and HTML comments, in order."""
    return opaque_regions_around(text, start, _block_regions(text, start))


def opaque_regions_around(
    text: str, start: int, blocks: list[Region], links_only: bool = False
) -> list[Region]:
    """`blocks` (`_block_regions(text, start)`) with the inline regions between them, in order; `links_only`:
    those only between two blocks where a `[` is. No inline region reaches past a block, so one between
    blocks without a `[` holds no link's start (left out, the inline code and math of a paragraph of prose
    after a code block cost a first `check` nothing: ~7 % of a note's instructions on the `code` bench vault)."""
    end = len(text)
    if not blocks:  # the usual body: the loop below would look for inline regions in all of it
        if links_only and text.find("[", start) < 0:
            return []
        return _inline_regions(text, start, end) if _may_hold_inline(text, start, end) else []
    regions: list[Region] = []
    cursor = start
    for block in [*blocks, _new_region((end, end, ""))]:
        if (
            cursor < block.start
            and (not links_only or text.find("[", cursor, block.start) >= 0)
            and _may_hold_inline(text, cursor, block.start)
        ):
            regions.extend(_inline_regions(text, cursor, block.start))
        if block.kind:
            regions.append(block)
        cursor = max(cursor, block.end)
    return regions


def _may_hold_inline(text: str, start: int, end: int) -> bool:
    """Whether `text[start:end]` may hold inline code, math or a comment: a character the whole text lacks
    rules them out at memchr speed, without copying the part ("<!--" scans several times slower)."""
    return (
        ("`" in text and text.find("`", start, end) >= 0)
        or ("$" in text and text.find("$", start, end) >= 0)
        or ("<" in text and text.find("<!--", start, end) >= 0)
    )


def _inline_regions(text: str, start: int, end: int) -> list[Region]:
    """Inline code, inline math and HTML comments in `text[start:end]`, in order (as the text before
    `start` and none after `end` show them), looked for only where one can start: at a backtick, a dollar
    or a "<", each found by `str.find` at memchr speed, and searched for again only once passed. One regex
    for all three scanned ~65 ns a character (2 ms for a 30 KB body holding one inline code span); tried
    only at those starts, it still stepped through each code span a character at a time."""
    regions = []
    # Three calls, not a generator unpacked: a note of the `code` bench vault has two or three such stretches.
    tick = _next_at(text, "`", start, end)
    dollar = _next_at(text, "$", start, end)
    angle = _next_at(text, "<", start, end)
    at = min(tick, dollar, angle)
    while at < end:
        region = _inline_region_at(text, at, end)
        if region is None:
            at += 1
        else:
            at = region.end
            regions.append(region)
        if tick < at:
            tick = _next_at(text, "`", at, end)
        if dollar < at:
            dollar = _next_at(text, "$", at, end)
        if angle < at:
            angle = _next_at(text, "<", at, end)
        at = min(tick, dollar, angle)
    return regions


def _inline_region_at(text: str, at: int, end: int) -> Region | None:
    """The inline region starting at `at` (a backtick, a dollar or a "<") within `text[:end]`, if one does."""
    character = text[at]
    if character == "`":
        close = _code_span_end(text, at, end)
        return None if close < 0 else _new_region((at, close, "code"))
    if character == "<":
        if not text.startswith("<!--", at, end):
            return None
        close = text.find("-->", at + 4, end)  # a comment left open runs to the end
        return _new_region((at, end if close < 0 else close + 3, "html-comment"))
    math = _INLINE_MATH_RE.match(text, at, end)
    return None if math is None else _new_region((at, math.end(), "math"))


def _code_span_end(text: str, at: int, end: int) -> int:
    """Where the inline code span opened by the backticks at `at` ends within `text[:end]`, -1 if none does:
    a run of backticks not preceded by one, then at least one character, up to the first run of exactly as
    many; no blank line between. Found run by run with `str.find`, not a character at a time."""
    if at and text[at - 1] == "`":
        return -1
    body = _backticks_end(text, at, end)
    ticks = body - at
    if body >= end:
        return -1
    candidate = text.find("`", body + 1, end)  # each found starts a run: the one before ended before it
    while candidate >= 0:
        run_end = _backticks_end(text, candidate, end)
        if run_end - candidate == ticks:
            if text.find("\n", body, candidate) >= 0 and _BLANK_LINE_RE.search(text, body, candidate):
                return -1
            return run_end
        candidate = text.find("`", run_end, end)
    return -1


def _backticks_end(text: str, at: int, end: int) -> int:
    """Where the run of backticks at `at` ends within `text[:end]`."""
    while at < end and text[at] == "`":
        at += 1
    return at


def _next_at(text: str, character: str, at: int, end: int) -> int:
    """Where `character` next occurs in `text[at:end]`, `end` where it does not."""
    found = text.find(character, at, end)
    return end if found < 0 else found


def _block_regions(text: str, start: int) -> list[Region]:
    """Fenced and indented code, `$$` math and multi-line HTML comments, found line by line."""
    breaks = other_line_breaks(text)
    if _may_hold_indented_code(text, start, breaks):
        return _walk_block_regions(text, start, text[start:])
    if "`" not in text and "~" not in text and "$" not in text:  # the usual body: no mark, at memchr speed
        return []
    return _walk_marked_lines(text, start, breaks)


def _walk_block_regions(text: str, start: int, body: str) -> list[Region]:
    """`_block_regions` without its quick test: the walk over every line of `body` (`text[start:]`)."""
    regions: list[Region] = []
    fence: tuple[str, int, int] | None = None  # (char, length, region start)
    math_start: int | None = None
    indented_start: int | None = None
    previous_blank = True
    in_list = False
    offset = start
    for line in body.splitlines(keepends=True):
        line_start, offset = offset, offset + len(line)
        content = line.rstrip("\r\n")
        blank = not content.strip()
        if fence is not None:
            closing = _FENCE_RE.fullmatch(content)
            if _closes_fence(closing, fence):
                regions.append(Region(fence[2], offset, "code"))
                fence = None
            continue
        if math_start is not None:
            if "$$" in content:
                regions.append(Region(math_start, line_start + content.index("$$") + 2, "math"))
                math_start = None
            continue
        if indented_start is not None:
            if blank or content.startswith(("    ", "\t")):
                continue
            regions.append(
                Region(indented_start, _trim_trailing_blank_lines(text, indented_start, line_start), "code")
            )
            indented_start = None
        fence = _fence_opened_by(content, line_start)
        if fence is not None:
            previous_blank = False
            continue
        math = _math_opened_by(content, line_start)
        if math is not None:
            math_start = _math_started(math, regions)
            previous_blank = False
            continue
        if not blank and previous_blank and not in_list and content.startswith(("    ", "\t")):
            indented_start = line_start
            continue
        if _LIST_ITEM_RE.match(content):
            in_list = True
        elif not blank and not content.startswith((" ", "\t")):
            in_list = False
        previous_blank = blank
    return regions + _open_at_end(text, fence, math_start, indented_start)


def _walk_marked_lines(text: str, start: int, breaks: str) -> list[Region]:
    """`_walk_block_regions` for a body where no indented code can start (`_may_hold_indented_code`): only a
    line that opens or closes a fence or `$$` math can then change the walk, so only the lines holding a
    mark (`_marked_lines`) are visited. Every line of a 4 KB note ending in a code block took ~35 µs to
    walk in Python, its marked lines ~8 µs."""
    regions: list[Region] = []
    fence: tuple[str, int, int] | None = None  # (char, length, region start)
    math_start: int | None = None
    for line_start, line_end in _marked_lines(text, start, breaks):
        content = text[line_start:line_end].rstrip("\r\n")
        if fence is not None:
            if _closes_fence(_FENCE_RE.fullmatch(content), fence):
                regions.append(_new_region((fence[2], line_end, "code")))
                fence = None
        elif math_start is not None:
            if "$$" in content:
                regions.append(_new_region((math_start, line_start + content.index("$$") + 2, "math")))
                math_start = None
        else:
            fence = _fence_opened_by(content, line_start)
            math = None if fence is not None else _math_opened_by(content, line_start)
            if math is not None:
                math_start = _math_started(math, regions)
    return regions + _open_at_end(text, fence, math_start, None)


# The marks of the lines `_walk_marked_lines` visits.
_BLOCK_MARKS = ("```", "~~~", "$$")


def _marked_lines(text: str, start: int, breaks: str) -> list[tuple[int, int]]:
    """(start, end) of each line of `text[start:]` holding "```", "~~~" or "$$", in order: every line that can
    open or close a fence or math block, and some that cannot (the walk tells). Found with `str.find`
    (memchr speed): a regex for the marks took ~20 µs on a 4 KB body, one matching fences only at a line's
    start ~120 µs, three times the walk of every line; splitting the body into lines ~8 µs. `breaks`: the
    line breaks other than "\n" the text holds (`other_line_breaks`)."""
    firsts = []
    for mark in _BLOCK_MARKS:
        at = _find_mark(text, mark, start) if mark[0] in text else -1
        if at >= 0:
            firsts.append((mark, at))
    if not firsts:
        return []
    if breaks:
        return _marked_lines_split(text, start)
    if len(firsts) == 1:  # one kind of mark (a note's code blocks): its lines come in order, each once
        return _lines_of_mark(text, start, *firsts[0])
    return sorted(dict(line for first in firsts for line in _lines_of_mark(text, start, *first)).items())


def _lines_of_mark(text: str, start: int, mark: str, at: int) -> list[tuple[int, int]]:
    """(start, end) of each line of `text[start:]` holding `mark`, from the one holding it at `at`, in order."""
    lines = []
    while at >= 0:
        before = text.rfind("\n", start, at)
        after = text.find("\n", at)
        end = len(text) if after < 0 else after + 1
        lines.append((start if before < 0 else before + 1, end))
        at = _find_mark(text, mark, end)  # the line's other marks change nothing
    return lines


def _marked_lines_split(text: str, start: int) -> list[tuple[int, int]]:
    """`_marked_lines` for a text with line breaks other than "\n": lines as `str.splitlines` makes them."""
    ends = list(itertools.accumulate(map(len, text[start:].splitlines(keepends=True)), initial=start))
    numbers = set()
    for mark in _BLOCK_MARKS:
        at = _find_mark(text, mark, start)
        while at >= 0:
            number = bisect.bisect_right(ends, at)
            numbers.add(number)
            at = _find_mark(text, mark, ends[number])
    return [(ends[number - 1], ends[number]) for number in sorted(numbers)]


def _find_mark(text: str, mark: str, start: int) -> int:
    """`text.find(mark, start)` for a mark of one character repeated, found by that character: `str.find`
    of one character runs at memchr speed (~0.2 µs on a 4 KB body), of "```" or "$$" ~2.5 µs, more than
    the rest of a code-free body's walk. A body holds few single backticks or dollars."""
    at = text.find(mark[0], start)
    while at >= 0 and not text.startswith(mark, at):
        at = text.find(mark[0], at + 1)
    return at


def _fence_opened_by(content: str, line_start: int) -> tuple[str, int, int] | None:
    """The fence (char, length, region start) a line opens, if it does: three or more backticks or
    tildes after at most three spaces, and no backtick after backticks (inline code, not a fence)."""
    opener = _FENCE_RE.match(content)
    if opener and not (opener.group(1)[0] == "`" and "`" in opener.group(2)):
        return (opener.group(1)[0], len(opener.group(1)), line_start)
    return None


def _math_opened_by(content: str, line_start: int) -> Region | int | None:
    """For a line starting with `$$` (after whitespace): the math region it holds whole, or where a block
    it opens starts; None for any other line."""
    stripped = content.lstrip()
    if not stripped.startswith("$$"):
        return None
    rest = stripped[2:]
    if "$$" in rest:
        end = line_start + (len(content) - len(stripped)) + 2 + rest.index("$$") + 2
        return _new_region((line_start, end, "math"))
    return line_start


def _math_started(math: Region | int, regions: list[Region]) -> int | None:
    """Where an open math block starts (`_math_opened_by`), or None after adding a whole one to `regions`."""
    if isinstance(math, Region):
        regions.append(math)
        return None
    return math


def _open_at_end(
    text: str, fence: tuple[str, int, int] | None, math_start: int | None, indented_start: int | None
) -> list[Region]:
    """The regions still open when the text ends: they run to its end."""
    end_of_text = len(text)
    regions = []
    if fence is not None:
        regions.append(Region(fence[2], end_of_text, "code"))
    if math_start is not None:
        regions.append(Region(math_start, end_of_text, "math"))
    if indented_start is not None:
        regions.append(
            Region(indented_start, _trim_trailing_blank_lines(text, indented_start, end_of_text), "code")
        )
    return regions


# Where `str.splitlines` (the line walk below) starts a new line.
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Four spaces after a line feed, as a regex: its literal search is twice as fast as `str.find`'s for a
# needle of spaces, which are everywhere in prose (a 30 KB body: ~20 µs instead of ~45 µs).
_SPACES_AFTER_LINE_FEED_RE = re.compile("\n    ")
_OTHER_LINE_BREAKS = _LINE_BREAKS.replace("\n", "")
# Four spaces after each of those breaks, as regexes for the same reason (see `_indented_lines`).
_SPACES_AFTER_BREAK_RES = {c: re.compile(re.escape(c) + "    ") for c in _OTHER_LINE_BREAKS}


def _may_hold_indented_code(text: str, start: int, breaks: str) -> bool:
    """Whether a line of `text[start:]` may start indented code: one starting with four spaces or a tab,
    first in the body or right after a blank line (the walk requires the line before to be blank).
    Whitespace-only lines are blank; a "\r\n" may pass for two breaks, which only makes the answer more
    cautious. Each indented line is found at memchr or literal-search speed, then the line before it read
    backwards: one regex for the whole condition scanned ~24 ns a character, 0.8 ms for a 30 KB note
    holding a tab anywhere (Obsidian indents nested list items with tabs). `breaks`: the line breaks other
    than "\n" the text holds (`other_line_breaks`)."""
    if breaks:
        return any(_after_blank_line(text, start, line) for line in _indented_lines(text, start, breaks))
    # Lines broken by "\n" only: `_indented_lines`' loops inline, without a generator. Obsidian indents
    # nested list items with tabs, and each tab-indented item (not after a blank line) cost a note the
    # generator's steps besides the scans (~1 µs of a first `check` of a `code` bench note).
    if text.startswith(("\t", "    "), start):
        return True  # the body's first line: nothing before it
    tab = text.find("\t", start)
    while tab >= 0:
        if text[tab - 1] == "\n" and _after_blank_line(text, start, tab):
            return True
        tab = text.find("\t", tab + 1)
    spaces = _SPACES_AFTER_LINE_FEED_RE.search(text, start)
    while spaces is not None:
        if _after_blank_line(text, start, spaces.start() + 1):
            return True
        spaces = _SPACES_AFTER_LINE_FEED_RE.search(text, spaces.end())
    return False


def other_line_breaks(text: str) -> str:
    """The line breaks other than "\n" that `text` holds, in `_OTHER_LINE_BREAKS` order: "" for the usual
    note, "\r" for a CRLF one. Found once a note (seven memchr scans of it), for every line walk to ask."""
    if not any(map(text.__contains__, _OTHER_LINE_BREAKS)):
        return ""
    return "".join([break_ for break_ in _OTHER_LINE_BREAKS if break_ in text])


def _indented_lines(text: str, start: int, breaks: str) -> Iterator[int]:
    """Where each line of `text[start:]` starting with a tab or four spaces starts (lines as `str.splitlines`
    splits them), those starting with a tab first; `breaks`: the line breaks other than "\n" it holds."""
    if text.startswith(("\t", "    "), start):
        yield start
    at = text.find("\t", start + 1)
    while at >= 0:
        if text[at - 1] in _LINE_BREAKS:
            yield at
        at = text.find("\t", at + 1)
    for match in _SPACES_AFTER_LINE_FEED_RE.finditer(text, start):
        yield match.start() + 1
    # Searched only for the breaks it holds: nine searches for four spaces after each break, present or
    # not, made a first `check` of a CRLF vault 1.8 times slower.
    for break_ in breaks:
        for match in _SPACES_AFTER_BREAK_RES[break_].finditer(text, start):
            yield match.start() + 1


def _after_blank_line(text: str, start: int, line: int) -> bool:
    """Whether the line starting at `line` (> `start`: after a break) is first in the body or follows a
    whitespace-only line: read backwards from the break before it over whitespace, a break or the body's
    start comes before anything else."""
    position = line - 2
    while position >= start:
        character = text[position]
        if character in _LINE_BREAKS:
            return True
        if not character.isspace():
            return False
        position -= 1
    return True


def _closes_fence(closing: re.Match[str] | None, fence: tuple[str, int, int]) -> bool:
    """A closing fence uses the opening character, at least as many times, and nothing after it."""
    if closing is None:
        return False
    marker = closing.group(1)
    return marker[0] == fence[0] and len(marker) >= fence[1] and not closing.group(2).strip()


def _trim_trailing_blank_lines(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \t\r\n":
        end -= 1
    return end


# A Dataview query: a ```dataview / ```dataviewjs block, or inline `= …` / `$= …` code.
_QUERY_BLOCK_RE = re.compile(r"[ ]{0,3}(?:`{3,}|~{3,})[ \t]*dataview(?:js)?\b", re.IGNORECASE)
_INLINE_QUERY_RE = re.compile(r"`+[ ]?\$?=")
_QUERY_MARKERS = ("ataview", "ATAVIEW", "`=", "` =", "`$=", "` $=")  # [Dd]ataview in any case we meet


def dataview_queries(note: Note) -> list[Region]:
    """The note's Dataview queries (code regions): their text names properties, tags, folders and notes in
    a language vaulttools does not rewrite, so batches list what they name instead."""
    text = note.text
    # Plain substring tests first (no lowered copy of a 30 KB note): most notes hold no query at all. A
    # query is inline code or a fenced block, so a note without a backtick or `~~~` is done in two scans
    # (six took a rename of 2,000 long notes ~0.8 s of its workers' time).
    if "`" not in text and "~~~" not in text:
        return []
    if not any(marker in text for marker in _QUERY_MARKERS):
        return []
    return [
        region
        for region in note.regions
        if region.kind == "code"
        and (_QUERY_BLOCK_RE.match(text, region.start) or _INLINE_QUERY_RE.match(text, region.start))
    ]
