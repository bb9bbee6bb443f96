"""`.vaulttools.toml` at the vault root: every key, its default, and strict validation."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vaulttools.errors import ConfigError
from vaulttools.findings import FINDING_KINDS

CONFIG_FILE = ".vaulttools.toml"


# The heading of the section `sync-related` writes (and the facts cache records), unless configured.
RELATED_HEADING = "Related across articles"


@dataclass(frozen=True)
class RelatedConfig:
    heading: str = RELATED_HEADING
    group_by: str = "property"
    group_property: str = "articleStem"
    folder_depth: int = 1
    include_linked: bool = False
    limit: int = 5
    min_score: float = 0.5
    link_weight: float = 0.25
    tag_weight: float = 0.25
    target_weight: float = 1.0
    text_weight: float = 1.0
    mention_weight: float = 2.0
    common_share: float = 0.02


@dataclass(frozen=True)
class CheckConfig:
    kinds: tuple[str, ...] = ()  # empty: every kind
    ignore_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    link_properties: tuple[str, ...] = ("related",)
    exclude: tuple[str, ...] = ()
    suffix_rules: tuple[str, ...] = (r"-d\d+", r" \d+")
    day_property: str = "originDay"
    id_property: str = "id"
    related: RelatedConfig = field(default_factory=RelatedConfig)
    check: CheckConfig = field(default_factory=CheckConfig)
    # Where each value came from ("default" or the config file), for `vaulttools config`.
    sources: tuple[tuple[str, str], ...] = ()

    @property
    def link_property_set(self) -> frozenset[str]:
        return frozenset(self.link_properties)


# Every key with its documentation; README and `vaulttools config` read this table.
KEY_DOCS: dict[str, str] = {
    "link_properties": "frontmatter properties whose bare string values are note names (links)",
    "exclude": "glob patterns (vault-relative, e.g. 'archive/**') of notes vaulttools never reads or edits",
    "suffix_rules": "regular expressions for a suffix at the end of a note name (normalize-links, check)",
    "day_property": "the property holding a note's day number; breaks ties between day-suffixed candidates",
    "id_property": "the property that repeats the note's file name (updated by rename)",
    "check.kinds": "the finding kinds `check` reports (empty: every kind); `check --kind` overrides it",
    "check.ignore_kinds": "finding kinds `check` leaves out (e.g. ['missing-attachment']); "
    "`check --ignore-kind` adds to it",
    "related.heading": "heading text of the generated related section",
    "related.group_by": "how notes are grouped: 'property' (related.group_property) or 'folder' "
    "(related.folder_depth); candidates come from groups the note is not in",
    "related.group_property": "property naming a note's group (a list names several groups)",
    "related.folder_depth": "with group_by = 'folder': how many leading folders of a note's path name its group",
    "related.include_linked": "list notes the note already links too (default: only notes it does not link)",
    "related.limit": "number of entries in each related section",
    "related.min_score": "entries scoring below this are left out (each kind of evidence gives its best "
    "candidate exactly its weight)",
    "related.link_weight": "weight of a link from the candidate to the note (either way with include_linked)",
    "related.tag_weight": "weight of shared tags, each by its rarity",
    "related.target_weight": "weight of shared link neighbours (co-citation, shared targets), Adamic-Adar style",
    "related.text_weight": "weight of body-text similarity (TF-IDF cosine; 0 turns it off)",
    "related.mention_weight": "weight of the note naming the candidate in its text without linking it",
    "related.common_share": "a tag, link target or word on more than this share of the grouped notes "
    "(and more than 50) is too common to count",
}


def load_config(vault_root: Path) -> Config:
    path = vault_root / CONFIG_FILE
    if not path.is_file():
        return Config()
    import tomllib  # only a vault with a config file needs the parser (~4 ms of every command's start-up)

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{CONFIG_FILE}: not valid TOML ({exc}); fix the file or remove it") from exc
    return config_from_dict(data, origin=CONFIG_FILE)


# The `[table]`s of the file: each a frozen dataclass of its own keys.
TABLES = ("related", "check")


def config_from_dict(data: dict[str, Any], origin: str = CONFIG_FILE) -> Config:
    defaults = Config()
    top = {f.name: f for f in fields(Config) if f.name not in (*TABLES, "sources")}
    values: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    sources: list[tuple[str, str]] = []
    for key, value in data.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: [{key}] must be a table")
            tables[key] = _table(origin, key, value, getattr(defaults, key), sources)
            continue
        if key not in top:
            raise _unknown_key(origin, key)
        values[key] = _check_value(origin, key, value, getattr(defaults, key))
        sources.append((key, origin))
    for rule in values.get("suffix_rules", ()):
        try:
            re.compile(rule)
        except re.error as exc:
            raise ConfigError(
                f"{origin}: suffix_rules: {rule!r} is not a valid regular expression ({exc})"
            ) from exc
    related = tables.get("related", defaults.related)
    if related.limit < 1:
        raise ConfigError(f"{origin}: related.limit must be at least 1, got {related.limit}")
    if related.group_by not in ("property", "folder"):
        raise ConfigError(
            f'{origin}: related.group_by must be "property" or "folder", got {related.group_by!r}'
        )
    if related.folder_depth < 1:
        raise ConfigError(f"{origin}: related.folder_depth must be at least 1, got {related.folder_depth}")
    if not 0 < related.common_share <= 1:
        raise ConfigError(
            f"{origin}: related.common_share must be above 0 and at most 1 (a share of the notes), "
            f"got {related.common_share}"
        )
    check = tables.get("check", defaults.check)
    for key in ("kinds", "ignore_kinds"):
        for kind in getattr(check, key):
            refuse_unknown_kind(kind, f"{origin}: check.{key}")
    return replace(defaults, **values, **tables, sources=tuple(sources))


def _table(
    origin: str, name: str, data: dict[str, Any], defaults: Any, sources: list[tuple[str, str]]
) -> Any:
    known = {f.name for f in fields(defaults)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise _unknown_key(origin, f"{name}.{key}")
        values[key] = _check_value(origin, f"{name}.{key}", value, getattr(defaults, key))
        sources.append((f"{name}.{key}", origin))
    return replace(defaults, **values)


def refuse_unknown_kind(kind: str, where: str) -> None:
    """A finding kind named in the configuration or on the command line must be one `check` reports."""
    if kind not in FINDING_KINDS:
        suggestion = difflib.get_close_matches(kind, FINDING_KINDS, n=1)
        hint = f"did you mean {suggestion[0]!r}? " if suggestion else ""
        raise ConfigError(f"{where}: unknown finding kind {kind!r}; {hint}kinds: {', '.join(FINDING_KINDS)}")


def _unknown_key(origin: str, key: str) -> ConfigError:
    known = ", ".join(sorted(KEY_DOCS))
    return ConfigError(f"{origin}: unknown key {key!r}; known keys: {known}")


def _check_value(origin: str, key: str, value: Any, default: Any) -> Any:
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{origin}: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    if isinstance(default, (bool, str)):
        if type(value) is not type(default):
            raise ConfigError(f"{origin}: {key} must be a {type(default).__name__}, got {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{origin}: {key} must be an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ConfigError(f"{origin}: {key} must be a number, got {value!r}")
        return float(value)
    raise AssertionError(key)  # pragma: no cover - every default has one of the types above


def effective_values(config: Config) -> list[tuple[str, Any, str]]:
    """(key, value, where it came from) for every key, for `vaulttools config`."""
    origins = dict(config.sources)
    rows = []
    for key in KEY_DOCS:
        table, _, name = key.rpartition(".")
        value = getattr(getattr(config, table) if table else config, name)
        rows.append((key, list(value) if isinstance(value, tuple) else value, origins.get(key, "default")))
    return rows


def toml_value(value: Any) -> str:
    """A value as TOML writes it: strings as literal strings ('-d\\d+' reads back as the same regex) unless
    they hold a quote or a control character, then as basic strings with escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        if "'" not in value and not any(ord(c) < 32 or ord(c) == 127 for c in value):
            return f"'{value}'"
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")  # pragma: no cover - every key has one of the types above


def effective_toml(config: Config) -> str:
    """Every key as a `.vaulttools.toml` would set it (top-level keys first, then each table), each with a
    comment saying where its value came from: pasted into the file, it reads back to the same settings."""
    lines: list[str] = []
    current_table = ""
    for key, value, source in sorted(effective_values(config), key=lambda row: "." in row[0]):
        table, _, name = key.rpartition(".")
        if table != current_table:
            lines += ["", f"[{table}]"]
            current_table = table
        lines.append(f"{name} = {toml_value(value)}  # {source}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ObsidianSettings:
    """The few `.obsidian/app.json` keys that change what vaulttools reads or writes."""

    use_markdown_links: bool = False
    new_link_format: str = "shortest"
    user_ignore_filters: tuple[str, ...] = ()


def load_obsidian_settings(vault_root: Path) -> ObsidianSettings:
    path = vault_root / ".obsidian" / "app.json"
    if not path.is_file():
        return ObsidianSettings()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f".obsidian/app.json: not valid JSON ({exc}); fix it in Obsidian or by hand"
        ) from exc
    if not isinstance(data, dict):
        return ObsidianSettings()
    filters = data.get("userIgnoreFilters") or []
    return ObsidianSettings(
        use_markdown_links=bool(data.get("useMarkdownLinks", False)),
        new_link_format=str(data.get("newLinkFormat", "shortest")),
        user_ignore_filters=tuple(str(f) for f in filters if isinstance(f, str)),
    )
