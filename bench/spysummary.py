"""Summarise a py-spy raw (collapsed stacks) file: where the server's CPU time went.

    .venv/bin/python bench/spysummary.py LOGDIR/fanout-ours-embedded.pyspy.txt [--top 30]

Prints the functions with the largest inclusive share (on the stack) and self share (on top).
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path


def summarise(path: Path, top: int) -> str:
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    if not total:
        return "no samples"
    out = [f"{total} samples", "", "inclusive:"]
    out += [f"{n / total:6.1%}  {f[:140]}" for f, n in inclusive.most_common(top)]
    out += ["", "self:"]
    out += [f"{n / total:6.1%}  {f[:140]}" for f, n in own.most_common(top)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    print(summarise(args.path, args.top))


if __name__ == "__main__":
    main()
