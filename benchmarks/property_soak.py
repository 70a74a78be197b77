"""The property tests of tests/test_properties.py with many more examples than the suite runs.

    python benchmarks/property_soak.py [--examples N]

Runs pytest on tests/test_properties.py under the Hypothesis "soak" profile (EDGE_OCR_HYPOTHESIS=soak;
--examples overrides its count) and records, per property, the examples that passed, failed or were discarded
and the time taken. Writes benchmarks/results/property-soak.{json,md}; exits with pytest's code.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import REPO, RESULTS, git_commit, machine, write_json, write_text  # noqa: E402

_BLOCK = re.compile(r"^tests/test_properties\.py::(\w+):\n(.*?)(?=^\S|\Z)", re.M | re.S)
_PHASE = re.compile(r"during (\w+) phase \(([\d.]+) seconds\).*?(\d+) passing, (\d+) failing, and (\d+) invalid",
                    re.S)
_STOPPED = re.compile(r"Stopped because (.*)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, help="examples per property (default: the soak profile's 5000)")
    parser.add_argument("--out", default=os.path.join(RESULTS, "property-soak"))
    args = parser.parse_args()
    env = {**os.environ, "EDGE_OCR_HYPOTHESIS": "soak"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_properties.py",
               "--hypothesis-show-statistics", "-k", "not profile_is_loaded"]
    if args.examples:
        env["EDGE_OCR_HYPOTHESIS_EXAMPLES"] = str(args.examples)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    properties = []
    for name, body in _BLOCK.findall(proc.stdout):
        phases = {phase: (float(t), int(ok), int(bad), int(invalid))
                  for phase, t, ok, bad, invalid in _PHASE.findall(body)}
        properties.append({
            "property": name,
            "passing_examples": sum(p[1] for p in phases.values()),
            "failing_examples": sum(p[2] for p in phases.values()),
            "invalid_examples": sum(p[3] for p in phases.values()),
            "seconds": round(sum(p[0] for p in phases.values()), 2),
            "stopped_because": next(iter(_STOPPED.findall(body)), "").strip(),
        })
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    flag = f" --examples {args.examples}" if args.examples else ""
    report = {"command": "python benchmarks/property_soak.py" + flag,
              "commit": git_commit(), "machine": machine(), "pytest_exit": proc.returncode, "pytest_summary": summary,
              "seconds": round(seconds, 1), "properties": properties}
    write_json(args.out + ".json", report)
    write_text(args.out + ".md", to_markdown(report))
    print(to_markdown(report))
    if proc.returncode:
        print(proc.stdout[-4000:], file=sys.stderr)
    return proc.returncode


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Property soak", "",
             f"`{report['command']}` at {report['commit']}, {m['cpu']}, {m['cores']} cores: pytest "
             f"{report['pytest_summary']!r} in {report['seconds']} s.", "",
             "| property | passing examples | failing | discarded | seconds |", "|---|---|---|---|---|"]
    for p in report["properties"]:
        lines.append(f"| {p['property']} | {p['passing_examples']} | {p['failing_examples']} | "
                     f"{p['invalid_examples']} | {p['seconds']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
