"""Summarise a gateway's phase log (ETHERGATE_PHASE_LOG): where the time of the slowest requests went.

    python -m bench.phases FILE

Each phase is the time from the previous stamp: auth (request line read -> key admitted), hold (-> credits
held), upstream (-> provider answered), capture (-> capture committed), send (-> last byte written).
Prints p50/p90/p99/max per phase for all requests, then the same for the slowest 1%, so the phase that
makes the tail stands out.
"""
from __future__ import annotations

import json
import sys

PHASES = ("auth", "hold", "upstream", "capture", "sent")
NAMES = {"sent": "send"}


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def durations(line: dict) -> dict:
    spans, previous = {}, 0.0
    for phase in PHASES:
        if phase in line:
            spans[NAMES.get(phase, phase)] = line[phase] - previous
            previous = line[phase]
    spans["total"] = line["sent"]
    return spans


def summarize(lines: list[dict]) -> dict:
    rows = [durations(line) for line in lines if "sent" in line]
    if not rows:
        return {"requests": 0}
    cut = percentile([row["total"] for row in rows], 99)
    tail = [row for row in rows if row["total"] >= cut]

    def table(subset: list[dict]) -> dict:
        names = [NAMES.get(p, p) for p in PHASES] + ["total"]
        return {name: {f"p{pct}": round(percentile([r[name] for r in subset if name in r], pct), 3)
                       for pct in (50, 90, 99, 100)} for name in names}

    return {"requests": len(rows), "all": table(rows), "slowest_1pct": table(tail), "slowest_1pct_from_ms": cut}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0]) as source:
        lines = [json.loads(text) for text in source if text.strip()]
    result = summarize(lines)
    print(f"{result['requests']} requests")
    for label in ("all", "slowest_1pct"):
        if label not in result:
            continue
        print(f"\n{label}" + (f" (total >= {result['slowest_1pct_from_ms']} ms)" if label != "all" else ""))
        print(f"{'phase':10} {'p50':>9} {'p90':>9} {'p99':>9} {'max':>9}  (ms)")
        for name, stats in result[label].items():
            print(f"{name:10} {stats['p50']:9.3f} {stats['p90']:9.3f} {stats['p99']:9.3f} {stats['p100']:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
