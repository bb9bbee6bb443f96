"""`check`'s `property-type` findings: values of another type than `.obsidian/types.json` declares.

Kept apart from the property batch commands so that `check` does not load the batch layer.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from vaulttools.note import Note
from vaulttools.vault import Vault

KNOWN_TYPES = ("text", "multitext", "number", "checkbox", "date", "datetime", "aliases", "tags")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\Z")


def declared_types(vault: Vault) -> dict[str, str]:
    """`.obsidian/types.json`'s `{"types": {property: type}}` (known types only); {} without the file or
    when it does not read as that shape (Obsidian would ignore it too)."""
    path = vault.root / ".obsidian" / "types.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    types = document.get("types") if isinstance(document, dict) else None
    if not isinstance(types, dict):
        return {}
    return {str(k): v for k, v in types.items() if isinstance(v, str) and v in KNOWN_TYPES}


def type_mismatch(value: Any, declared: str) -> str | None:
    """What is wrong with `value` for a property of type `declared` (None: it fits; empty always fits)."""
    if value is None:
        return None
    if declared == "text":
        return None if not isinstance(value, (list, dict)) else "one line of text"
    if declared in ("multitext", "aliases", "tags"):
        if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
            return None
        return None if isinstance(value, str) else "a list"
    if declared == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "a number"
    if declared == "checkbox":
        return None if isinstance(value, bool) else "true or false"
    if declared == "date":
        ok = (isinstance(value, datetime.date) and not isinstance(value, datetime.datetime)) or (
            isinstance(value, str) and bool(_DATE_RE.match(value))
        )
        return None if ok else "a date (YYYY-MM-DD)"
    if declared == "datetime":
        ok = isinstance(value, (datetime.date, datetime.datetime)) or (
            isinstance(value, str) and bool(_DATETIME_RE.match(value) or _DATE_RE.match(value))
        )
        return None if ok else "a date and time (YYYY-MM-DDTHH:MM)"
    return None


def property_type_findings(vault: Vault) -> list[tuple[str, int, str]]:
    """(path, line, message) of each typed property whose value is of another type. Only notes whose
    bytes name a typed key at a line start are parsed."""
    types = declared_types(vault)
    if not types:
        return []
    pattern = re.compile(
        b"^(?:" + b"|".join(re.escape(k.encode()) for k in types) + rb")[ \t]*:", re.MULTILINE
    )

    def chunk(paths: list[str]) -> list[tuple[str, int, str]]:
        found = []
        for path in paths:
            raw = vault.read_bytes(path)
            if raw.startswith((b"---", b"\xef\xbb\xbf---")) and pattern.search(raw):
                found += _note_type_findings(Note(path, raw), types)
        return found

    from vaulttools.parallel import map_notes

    return map_notes(chunk, vault.note_paths, label="Checking property types", on_progress=vault.on_progress)


def _note_type_findings(note: Note, types: dict[str, str]) -> list[tuple[str, int, str]]:
    if not note.frontmatter_editable or not isinstance(note.properties, dict):
        return []
    from vaulttools.facts import key_line

    found = []
    for key, value in note.properties.items():
        declared = types.get(str(key))
        problem = type_mismatch(value, declared) if declared else None
        if problem:
            message = f"{key}: {value!r} is not {problem} (types.json: {declared})"
            found.append((note.path, key_line(note, str(key)) or 1, message))
    return found
