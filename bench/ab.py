"""Compare the per-note cost of a first `check` in two checkouts: alternating bursts, each pinned to one core.

    python bench/ab.py BASE NEW VAULT                  # BASE, NEW: folders holding a `vaulttools` package
    python bench/ab.py /work/base . bench/out/vault-code-20000-s1 --notes 3000 --rounds 16 --cpu 1

Each checkout runs in a process of its own (`PYTHONPATH` set to it) that builds the vault's index once, checks
the first `--notes` notes once to warm up, then checks them again each time it is asked (`check_notes`, the
per-note work of a first `check`'s workers; `--marshal` adds marshalling the results, as a worker sends
them). The two take turns, the order swapped every round, and each reports the CPU time of its pass.

Why pinned: a long-lived process stays on the core it started on, and the cores of a shared host do not run
alike; unpinned, two checkouts whose per-note code barely differed measured 0.98-1.15x across tries
(bench/RESULTS.md, session 44). Both processes on one core (`--cpu`) agree within ~1 %. Prints each side's
fastest, first quartile and median microseconds a note, the ratio of the fastest passes and the median of the
per-round ratios (NEW / BASE).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

# The process of one checkout: reads a line per pass, answers with the pass's CPU seconds.
SIDE_CODE = """
import gc, marshal, sys, time
from pathlib import Path
from vaulttools.check import check_notes
from vaulttools.vault import Vault
vault = Vault(Path(sys.argv[1]))
paths = vault.note_paths[: int(sys.argv[2])]
with_marshal = sys.argv[3] == "1"
vault.index.learn_unique_targets()
matcher = vault.suffix_matcher
matcher.tables()
gc.disable()
def one_pass():
    checked = check_notes(vault, matcher, paths, {})
    if with_marshal:
        marshal.dumps(dict(checked))
one_pass()
print(len(paths), flush=True)
for _ in sys.stdin:
    start = time.process_time()
    one_pass()
    print(time.process_time() - start, flush=True)
"""


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "base", type=Path, help="a folder holding the `vaulttools` package to compare against"
    )
    parser.add_argument("new", type=Path, help="a folder holding the `vaulttools` package to measure")
    parser.add_argument("vault", type=Path)
    parser.add_argument("--notes", type=int, default=3000, help="notes checked a pass (the vault's first)")
    parser.add_argument("--rounds", type=int, default=16, help="passes of each side")
    parser.add_argument(
        "--cpu", type=int, default=None, help="the core both sides run on (default: the first)"
    )
    parser.add_argument("--marshal", action="store_true", help="marshal each pass's results too")
    args = parser.parse_args(argv)
    for folder in (args.base, args.new):
        if not (folder / "vaulttools" / "__init__.py").is_file():
            parser.error(f"{folder}: holds no vaulttools package (give a checkout's top folder)")
    if args.notes < 1 or args.rounds < 1:
        parser.error("--notes and --rounds must be at least 1")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    if args.cpu is None:
        args.cpu = cores[0]
    elif args.cpu not in cores:
        parser.error(f"--cpu {args.cpu}: this process may run on cores {cores} only")
    return args


def start_side(checkout: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[str], int]:
    """The process of one checkout, pinned to `--cpu` where the system can, and how many notes it checks."""
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve()))
    command = [
        sys.executable,
        "-c",
        SIDE_CODE,
        str(args.vault),
        str(args.notes),
        "1" if args.marshal else "0",
    ]
    side = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=args.vault,
        preexec_fn=pin(args.cpu),
    )
    assert side.stdout is not None
    notes = side.stdout.readline()
    if not notes:
        raise SystemExit(f"{checkout}: its process ended before checking (see its error above)")
    return side, int(notes)


def pin(cpu: int) -> Callable[[], None] | None:
    """What pins a child process to `cpu` before it starts (None where the system cannot pin)."""
    if not hasattr(os, "sched_setaffinity"):
        print("this system cannot pin a process to a core: the sides run where it puts them", file=sys.stderr)
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def one_pass(side: subprocess.Popen[str]) -> float:
    assert side.stdin is not None and side.stdout is not None
    side.stdin.write("go\n")
    side.stdin.flush()
    reply = side.stdout.readline()
    if not reply:
        raise SystemExit("a side's process ended in the middle of the passes (see its error above)")
    return float(reply)


def run(args: argparse.Namespace) -> tuple[dict[str, list[float]], int]:
    """Each side's pass times (CPU seconds), the sides taking turns (the first of a round swapped every
    round), and how many notes a pass checks."""
    sides = {"base": start_side(args.base, args), "new": start_side(args.new, args)}
    times: dict[str, list[float]] = {"base": [], "new": []}
    try:
        for round_number in range(args.rounds):
            for name in ("base", "new") if round_number % 2 else ("new", "base"):
                times[name].append(one_pass(sides[name][0]))
    finally:
        for side, _ in sides.values():
            assert side.stdin is not None
            side.stdin.close()
            side.wait()
    counts = {count for _, count in sides.values()}
    if len(counts) != 1:
        raise SystemExit(f"the sides checked different numbers of notes: {sorted(counts)}")
    return times, counts.pop()


def summary(times: dict[str, list[float]], notes: int) -> list[str]:
    """The lines printed: each side's fastest, first quartile and median µs a note, then the ratios."""
    lines = []
    for name, found in times.items():
        ordered = sorted(found)
        fastest, quartile, median = ordered[0], ordered[len(ordered) // 4], statistics.median(found)
        lines.append(
            f"{name}: fastest {fastest / notes * 1e6:.1f} µs a note, q1 {quartile / notes * 1e6:.1f}, "
            f"median {median / notes * 1e6:.1f}"
        )
    pairs = [new / base for base, new in zip(times["base"], times["new"], strict=True)]
    lines.append(
        f"new / base: fastest {min(times['new']) / min(times['base']):.3f}, "
        f"median of the rounds {statistics.median(pairs):.3f}"
    )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    times, notes = run(args)
    print(f"{args.vault}: {notes} notes a pass, {args.rounds} rounds, both sides on core {args.cpu}")
    print("\n".join(summary(times, notes)))


if __name__ == "__main__":
    main()
