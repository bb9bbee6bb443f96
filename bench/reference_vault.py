#!/usr/bin/env python3
"""A vault shaped like a game or product reference, for `bench/related_quality.py` (issue 16).

Usage::

    python bench/reference_vault.py OUT [--seed 1] [--classes 40]

The shape the article generator does not have: four folders (`Classes`, `Abilities`, `Items`,
`Creatures`) of notes written from one template, so their text says almost nothing about what they relate
to. Ability notes link nothing at all: they are only *cited*, by their class and by the creatures that use
them, so what relates two abilities is that the same notes cite both (co-citation). Items are cited by
creatures and link the class that uses them; creatures link two classes, a few of their abilities and a few
items. A ranking that walks only a note's own links, or only its words, finds nothing for an ability note.

Names are made of random syllables (seeded), so no two runs of the benchmark on different seeds share them,
and a title says nothing about a note's class.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from pathlib import Path

SYLLABLES = ["ka", "lo", "mi", "ra", "tu", "ne", "shi", "vo", "da", "re", "fa", "gu", "ze", "pi"]
ABILITY_KINDS = ("Strike", "Ward", "Bolt", "Step", "Call", "Veil")
ITEM_KINDS = ("Blade", "Ring", "Cloak", "Staff", "Charm")
TEMPLATE = (
    "## Stats\n\nLevel: {level}. Cost: {cost}. Range: {range}.\n\n"
    "## Notes\n\nSee the rules page for details. Values follow the current patch.\n"
)


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3)).title()


def _unique(make: Callable[[], str], count: int, taken: set[str]) -> list[str]:
    """COUNT names from MAKE that no note has yet (in any letter case)."""
    names: list[str] = []
    while len(names) < count:
        name = make()
        if name.lower() not in taken:
            taken.add(name.lower())
            names.append(name)
    return names


def _stats(rng: random.Random) -> str:
    return TEMPLATE.format(level=rng.randint(1, 20), cost=rng.randint(0, 5), range=rng.randint(0, 30))


def _write(root: Path, folder: str, name: str, kind: str, body: str) -> None:
    (root / folder / f"{name}.md").write_text(f"---\ntype: {kind}\n---\n# {name}\n\n{body}", encoding="utf-8")


def generate(root: Path, seed: int = 1, classes: int = 40) -> Path:
    """Write the vault into ROOT (made if missing) and return ROOT."""
    rng = random.Random(seed)
    for folder in ("Classes", "Abilities", "Items", "Creatures", ".obsidian"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    class_names = _unique(lambda: f"Class {_name(rng)}", classes, taken)
    pools = {
        name: _unique(lambda: f"{_name(rng)} {rng.choice(ABILITY_KINDS)}", rng.randint(10, 18), taken)
        for name in class_names
    }
    items = _unique(lambda: f"{_name(rng)} {rng.choice(ITEM_KINDS)}", classes * 7, taken)
    item_class = {item: rng.choice(class_names) for item in items}
    for pool in pools.values():
        for ability in pool:
            _write(root, "Abilities", ability, "ability", _stats(rng))
    for name, pool in pools.items():
        cited = " ".join(f"[[{a}]]" for a in rng.sample(pool, min(len(pool), 12)))
        _write(root, "Classes", name, "class", _stats(rng) + f"\nAbilities: {cited}\n")
    for item, owner in item_class.items():
        _write(root, "Items", item, "item", f"Used by [[{owner}]].\n\n" + _stats(rng))
    for number in range(classes * 20):
        first, second = rng.sample(class_names, 2)
        abilities = rng.sample(pools[first], 3) + rng.sample(pools[second], rng.randint(1, 3))
        own_items = [i for i in items if item_class[i] in (first, second)]
        drops = rng.sample(own_items, min(len(own_items), rng.randint(1, 3)))
        body = (
            f"Fights like [[{first}]] and [[{second}]]. Uses {', '.join(f'[[{a}]]' for a in abilities)}. "
            f"Drops {', '.join(f'[[{d}]]' for d in drops)}.\n"
        )
        _write(
            root, "Creatures", f"Creature {number:04d} {_name(rng)}", "creature", _stats(rng) + "\n" + body
        )
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--classes", type=int, default=40)
    args = parser.parse_args(argv)
    generate(args.out, args.seed, args.classes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
