"""The pure enrich planner: input parsing and validation, and where the paragraph goes in one note."""

from __future__ import annotations

import pytest

from vaulttools.edits import apply_edits
from vaulttools.enrich import (
    CSV_FORMAT,
    ENRICHED,
    JSONL_FORMAT,
    REPLACED,
    SKIPPED_EXISTING,
    UNCHANGED,
    YAML_FORMAT,
    EnrichmentEntry,
    clean_text,
    enrichment_paragraph,
    input_format,
    parse_enrichment,
    plan_placement,
)
from vaulttools.errors import VaultError
from vaulttools.note import Note

HEADING = "Related across articles"
P = "**Enrichment context:** New context. **Counterpoint:** New counterpoint."
FM = '---\nid: "n"\ntags: ["a", "b"]  # comment\n---\n'


def place(raw: bytes, *, replace: bool = False) -> tuple[str, bytes]:
    note = Note("n.md", raw)
    placement = plan_placement(note, P, heading=HEADING, replace=replace)
    return placement.status, note.encode(apply_edits(note.text, placement.edits))


# (case, note bytes, expected bytes after placement, status)
PLACEMENT_CASES = [
    (
        "plain note: one blank line, then the paragraph and a final newline",
        (FM + "# T\n\nBody.\n").encode(),
        (FM + "# T\n\nBody.\n\n" + P + "\n").encode(),
        ENRICHED,
    ),
    (
        "no frontmatter",
        b"Body only.\n",
        ("Body only.\n\n" + P + "\n").encode(),
        ENRICHED,
    ),
    (
        "related section: before it, the blank lines above the heading kept",
        (FM + "Body.\n\n\n## Related across articles\n- [[x]]\n").encode(),
        (FM + "Body.\n\n" + P + "\n\n\n## Related across articles\n- [[x]]\n").encode(),
        ENRICHED,
    ),
    (
        "related section with one blank line above it",
        b"Body.\n\n## Related across articles\n- [[x]]\n",
        ("Body.\n\n" + P + "\n\n## Related across articles\n- [[x]]\n").encode(),
        ENRICHED,
    ),
    (
        "related heading right after the text: a blank line is added before it",
        b"Body.\n## Related across articles\n- [[x]]\n",
        ("Body.\n\n" + P + "\n\n## Related across articles\n- [[x]]\n").encode(),
        ENRICHED,
    ),
    (
        "related heading is the first line",
        b"## Related across articles\n- [[x]]\n",
        (P + "\n\n## Related across articles\n- [[x]]\n").encode(),
        ENRICHED,
    ),
    (
        "related heading in another case and level, closing hashes",
        b"Body.\n\n### related ACROSS articles ##\n- [[x]]\n",
        ("Body.\n\n" + P + "\n\n### related ACROSS articles ##\n- [[x]]\n").encode(),
        ENRICHED,
    ),
    (
        "a related heading inside a code block is not the section",
        b"Body.\n\n```\n## Related across articles\n```\n",
        ("Body.\n\n```\n## Related across articles\n```\n\n" + P + "\n").encode(),
        ENRICHED,
    ),
    (
        "other headings are not the related section",
        b"Body.\n\n## Related works\n- [[x]]\n",
        ("Body.\n\n## Related works\n- [[x]]\n\n" + P + "\n").encode(),
        ENRICHED,
    ),
    (
        "CRLF note gets CRLF",
        (FM + "Body.\n\n## Related across articles\n- [[x]]\n").replace("\n", "\r\n").encode(),
        (FM + "Body.\n\n" + P + "\n\n## Related across articles\n- [[x]]\n").replace("\n", "\r\n").encode(),
        ENRICHED,
    ),
    (
        "CRLF note at the end",
        b"Body.\r\n",
        ("Body.\r\n\r\n" + P + "\r\n").encode(),
        ENRICHED,
    ),
    (
        "BOM kept",
        ("\ufeff" + FM + "Body.\n").encode(),
        ("\ufeff" + FM + "Body.\n\n" + P + "\n").encode(),
        ENRICHED,
    ),
    (
        "no final newline: the last line is ended first, and the note still ends without one",
        b"Body.",
        ("Body.\n\n" + P).encode(),
        ENRICHED,
    ),
    (
        "no final newline, CRLF",
        b"a\r\nBody.",
        ("a\r\nBody.\r\n\r\n" + P).encode(),
        ENRICHED,
    ),
    (
        "one trailing blank line is the separator",
        b"Body.\n\n",
        ("Body.\n\n" + P + "\n").encode(),
        ENRICHED,
    ),
    (
        "several trailing blank lines: one separates, the rest stay after",
        b"Body.\n\n\n\n",
        ("Body.\n\n" + P + "\n\n\n").encode(),
        ENRICHED,
    ),
    (
        "a last line of spaces without a newline (and still none at the end)",
        b"Body.\n  ",
        ("Body.\n  \n" + P).encode(),
        ENRICHED,
    ),
    (
        "frontmatter only",
        FM.encode(),
        (FM + "\n" + P + "\n").encode(),
        ENRICHED,
    ),
    (
        "frontmatter closer without a newline",
        b"---\nid: x\n---",
        ("---\nid: x\n---\n\n" + P).encode(),
        ENRICHED,
    ),
    (
        "frontmatter then the related heading",
        b"---\nid: x\n---\n## Related across articles\n",
        ("---\nid: x\n---\n\n" + P + "\n\n## Related across articles\n").encode(),
        ENRICHED,
    ),
    ("empty note", b"", (P + "\n").encode(), ENRICHED),
]


@pytest.mark.parametrize(
    ("raw", "expected", "status"),
    [case[1:] for case in PLACEMENT_CASES],
    ids=[case[0] for case in PLACEMENT_CASES],
)
def test_placement(raw: bytes, expected: bytes, status: str) -> None:
    assert place(raw) == (status, expected)


OLD = "**Enrichment context:** Old, wrapped\nover two lines. **Counterpoint:** old."

# (case, note text, replace?, expected text, status)
EXISTING_CASES = [
    (
        "different paragraph: skipped by default",
        f"Body.\n\n{OLD}\n\n## Related across articles\n- [[x]]\n",
        False,
        f"Body.\n\n{OLD}\n\n## Related across articles\n- [[x]]\n",
        SKIPPED_EXISTING,
    ),
    (
        "different paragraph: --replace swaps only its bytes",
        f"Body.\n\n{OLD}\n\n## Related across articles\n- [[x]]\n",
        True,
        f"Body.\n\n{P}\n\n## Related across articles\n- [[x]]\n",
        REPLACED,
    ),
    (
        "replace at the end of a note without final newline",
        f"Body.\n\n{OLD}",
        True,
        f"Body.\n\n{P}",
        REPLACED,
    ),
    (
        "replace in a CRLF note keeps CRLF around it",
        f"Body.\r\n\r\n{OLD.replace(chr(10), chr(13) + chr(10))}\r\n",
        True,
        f"Body.\r\n\r\n{P}\r\n",
        REPLACED,
    ),
    ("same paragraph: no-op", f"Body.\n\n{P}\n", False, f"Body.\n\n{P}\n", UNCHANGED),
    ("same paragraph with --replace: no-op", f"Body.\n\n{P}\n", True, f"Body.\n\n{P}\n", UNCHANGED),
    (
        "same words wrapped differently: no-op",
        "Body.\n\n**Enrichment context:** New\ncontext. **Counterpoint:**  New counterpoint.\n",
        True,
        "Body.\n\n**Enrichment context:** New\ncontext. **Counterpoint:**  New counterpoint.\n",
        UNCHANGED,
    ),
    (
        "paragraph ends at a heading",
        "**Enrichment context:** a **Counterpoint:** b\n## Related across articles\n",
        True,
        f"{P}\n## Related across articles\n",
        REPLACED,
    ),
    (
        "the marker inside a code block is not a paragraph",
        "Body.\n\n```\n**Enrichment context:** code\n```\n",
        False,
        f"Body.\n\n```\n**Enrichment context:** code\n```\n\n{P}\n",
        ENRICHED,
    ),
    (
        "the marker in the middle of a line is not a paragraph",
        "See the **Enrichment context:** convention.\n",
        False,
        f"See the **Enrichment context:** convention.\n\n{P}\n",
        ENRICHED,
    ),
]


@pytest.mark.parametrize(
    ("text", "replace", "expected", "status"),
    [case[1:] for case in EXISTING_CASES],
    ids=[case[0] for case in EXISTING_CASES],
)
def test_existing_paragraph(text: str, replace: bool, expected: str, status: str) -> None:
    assert place(text.encode(), replace=replace) == (status, expected.encode())


def test_paragraph_text() -> None:
    assert enrichment_paragraph("C.", "K.") == "**Enrichment context:** C. **Counterpoint:** K."
    assert EnrichmentEntry("s", "C.", "K.").paragraph == "**Enrichment context:** C. **Counterpoint:** K."


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  plain  ", "plain"),
        ("two\nlines", "two lines"),
        ("crlf \r\n  indented\r\n\r\nparagraph", "crlf indented paragraph"),
        ("keeps  inner  spaces", "keeps  inner  spaces"),
    ],
)
def test_clean_text(value: str, expected: str) -> None:
    assert clean_text(value) == expected


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.yaml", YAML_FORMAT),
        ("a.YML", YAML_FORMAT),
        ("a.jsonl", JSONL_FORMAT),
        ("a.ndjson", JSONL_FORMAT),
        ("a.csv", CSV_FORMAT),
    ],
)
def test_input_format(name: str, fmt: str) -> None:
    assert input_format(name) == fmt


@pytest.mark.parametrize("name", ["a.txt", "a.json", "noext"])
def test_unknown_input_format(name: str) -> None:
    with pytest.raises(VaultError, match="unknown input format"):
        input_format(name)


# --- parsing: valid input of each format gives the same entries -------------------------------------

GOOD_INPUTS = [
    (
        YAML_FORMAT,
        '# comment\na:\n  context: "C a"\n  counterpoint: K a\nfolder/b:\n  context: >-\n    C\n    b\n'
        "  counterpoint: 'K b'\n",
    ),
    (
        JSONL_FORMAT,
        '{"slug": "a", "context": "C a", "counterpoint": "K a"}\n\n'
        '{"slug": "folder/b", "counterpoint": "K b", "context": "C\\nb"}\n',
    ),
    (CSV_FORMAT, 'slug,context,counterpoint\na,C a,K a\n\nfolder/b,"C\nb",K b\n'),
    (CSV_FORMAT, "\ufeffSlug, Context ,COUNTERPOINT\r\na,C a,K a\r\nfolder/b,C b,K b\r\n"),
]


@pytest.mark.parametrize(("fmt", "text"), GOOD_INPUTS)
def test_parse_good_input(fmt: str, text: str) -> None:
    parsed = parse_enrichment(text.lstrip("\ufeff"), fmt)
    assert parsed.problems == []
    assert [(e.slug, e.context, e.counterpoint) for e in parsed.entries] == [
        ("a", "C a", "K a"),
        ("folder/b", "C b", "K b"),
    ]
    assert [slug for slug, _ in parsed.slugs] == ["a", "folder/b"]


def test_entry_lines() -> None:
    yaml_entries = parse_enrichment(GOOD_INPUTS[0][1], YAML_FORMAT).entries
    jsonl_entries = parse_enrichment(GOOD_INPUTS[1][1], JSONL_FORMAT).entries
    csv_entries = parse_enrichment(GOOD_INPUTS[2][1], CSV_FORMAT).entries
    assert [e.line for e in yaml_entries] == [2, 5]
    assert [e.line for e in jsonl_entries] == [1, 3]
    assert [e.line for e in csv_entries] == [2, 4]


# --- validation: each kind of problem, with its line -----------------------------------------------

YAML_PROBLEMS = [
    ("missing field", "a:\n  context: c\n", [(1, "'a': missing field 'counterpoint'")]),
    ("empty field", "a:\n  context: c\n  counterpoint: ''\n", [(3, "'a': empty field 'counterpoint'")]),
    ("blank field", "a:\n  context: '   '\n  counterpoint: k\n", [(2, "'a': empty field 'context'")]),
    ("null field", "a:\n  context:\n  counterpoint: k\n", [(2, "'a': empty field 'context'")]),
    (
        "non-string number",
        "a:\n  context: 12\n  counterpoint: k\n",
        [(2, "'a': context must be a string, got int 12")],
    ),
    (
        "non-string boolean",
        "a:\n  context: c\n  counterpoint: yes\n",
        [(3, "'a': counterpoint must be a string, got bool yes")],
    ),
    (
        "non-string list",
        "a:\n  context: [x]\n  counterpoint: k\n",
        [(2, "'a': context must be a string, got a list")],
    ),
    (
        "duplicate slug",
        "a:\n  context: c\n  counterpoint: k\nb:\n  context: c\n  counterpoint: k\nA:\n  context: c\n  counterpoint: k\n",
        [(7, "duplicate slug 'A' (first on line 1)")],
    ),
    (
        "unknown field",
        "a:\n  context: c\n  counterpoint: k\n  contxt: typo\n",
        [(4, "'a': unknown field 'contxt'; expected context and counterpoint")],
    ),
    (
        "field given twice",
        "a:\n  context: c\n  context: d\n  counterpoint: k\n",
        [(3, "'a': field 'context' given twice")],
    ),
    (
        "entry is not a mapping",
        "a: just text\n",
        [(1, "'a': expected a mapping with context and counterpoint")],
    ),
    ("malformed YAML", "a:\n  context: [c\n", [(3, "not valid YAML: did not find expected ',' or ']'")]),
    (
        "top level is a list",
        "- a\n- b\n",
        [(1, "expected a mapping of slug: {context: ..., counterpoint: ...}")],
    ),
    (
        "empty file",
        "# nothing\n",
        [(None, "no entries; expected at least one slug with context and counterpoint")],
    ),
    (
        "several problems, all listed in line order",
        "a:\n  context: ''\nb:\n  counterpoint: 3\n",
        [
            (1, "'a': missing field 'counterpoint'"),
            (2, "'a': empty field 'context'"),
            (3, "'b': missing field 'context'"),
            (4, "'b': counterpoint must be a string, got int 3"),
        ],
    ),
]

JSONL_PROBLEMS = [
    ("missing field", '{"slug": "a", "context": "c"}\n', [(1, "'a': missing field 'counterpoint'")]),
    ("missing slug", '{"context": "c", "counterpoint": "k"}\n', [(1, "missing field 'slug'")]),
    (
        "empty field",
        '{"slug": "a", "context": "c", "counterpoint": "k"}\n{"slug": "b", "context": "", "counterpoint": "k"}\n',
        [(2, "'b': empty field 'context'")],
    ),
    (
        "non-string value",
        '{"slug": "a", "context": 1.5, "counterpoint": true}\n',
        [
            (1, "'a': context must be a string, got number 1.5"),
            (1, "'a': counterpoint must be a string, got boolean true"),
        ],
    ),
    (
        "non-string slug",
        '{"slug": 7, "context": "c", "counterpoint": "k"}\n',
        [(1, "slug must be a string, got number 7")],
    ),
    (
        "duplicate slug",
        '{"slug": "a", "context": "c", "counterpoint": "k"}\n\n{"slug": "a", "context": "d", "counterpoint": "k"}\n',
        [(3, "duplicate slug 'a' (first on line 1)")],
    ),
    (
        "malformed line",
        '{"slug": "a", "context": "c", "counterpoint": "k"}\n{"slug": "b",\n',
        [(2, "not valid JSON: Expecting property name enclosed in double quotes (column 14)")],
    ),
    (
        "a U+2028 inside a string is not a line break",
        '{"slug": "a", "context": "c\u2028d", "counterpoint": "k"}\n{"slug": "a"}\n',
        [
            (2, "duplicate slug 'a' (first on line 1)"),
            (2, "'a': missing field 'context'"),
            (2, "'a': missing field 'counterpoint'"),
        ],
    ),
    (
        "not an object",
        '["a", "c", "k"]\n',
        [(1, 'expected an object {"slug": ..., "context": ..., "counterpoint": ...}')],
    ),
    (
        "key given twice",
        '{"slug": "a", "context": "c", "context": "d", "counterpoint": "k"}\n',
        [(1, "key 'context' given twice")],
    ),
    (
        "unknown field",
        '{"slug": "a", "context": "c", "counterpoint": "k", "source": "x"}\n',
        [(1, "'a': unknown field 'source'; expected context and counterpoint")],
    ),
]

CSV_PROBLEMS = [
    (
        "missing column",
        "slug,context\na,c\n",
        [(1, "the header has no 'counterpoint' column (expected slug,context,counterpoint)")],
    ),
    (
        "unknown column",
        "slug,context,counterpoint,notes\na,c,k,x\n",
        [(1, "unknown column 'notes'; expected slug, context and counterpoint")],
    ),
    ("empty field", "slug,context,counterpoint\na,c,k\nb,,k\n", [(3, "'b': empty field 'context'")]),
    ("empty slug", "slug,context,counterpoint\n,c,k\n", [(2, "empty field 'slug'")]),
    (
        "wrong number of fields",
        "slug,context,counterpoint\na,c\n",
        [(2, "the row has 2 fields, the header 3")],
    ),
    (
        "duplicate slug, line of the row start after a multi-line cell",
        'slug,context,counterpoint\na,"c\nmore",k\na,c,k\n',
        [(4, "duplicate slug 'a' (first on line 2)")],
    ),
    (
        "malformed quoting",
        'slug,context,counterpoint\na,"c"x,k\n',
        [(2, "not valid CSV: ',' expected after '\"'")],
    ),
    (
        "only a header",
        "slug,context,counterpoint\n",
        [(None, "no entries; expected at least one slug with context and counterpoint")],
    ),
]


def _problem_cases() -> list:
    cases = []
    for fmt, table in (
        (YAML_FORMAT, YAML_PROBLEMS),
        (JSONL_FORMAT, JSONL_PROBLEMS),
        (CSV_FORMAT, CSV_PROBLEMS),
    ):
        cases += [pytest.param(fmt, text, expected, id=f"{fmt}: {name}") for name, text, expected in table]
    return cases


@pytest.mark.parametrize(("fmt", "text", "expected"), _problem_cases())
def test_validation_problems(fmt: str, text: str, expected: list[tuple[int | None, str]]) -> None:
    parsed = parse_enrichment(text, fmt)
    assert [(p.line, p.message) for p in parsed.problems] == expected


def test_problem_rendering() -> None:
    problems = parse_enrichment("a:\n  context: c\n", YAML_FORMAT).problems
    assert [p.render("in.yaml") for p in problems] == ["in.yaml:1: 'a': missing field 'counterpoint'"]
    empty = parse_enrichment("", JSONL_FORMAT).problems
    assert [p.render("in.jsonl") for p in empty] == [
        "in.jsonl: no entries; expected at least one slug with context and counterpoint"
    ]
