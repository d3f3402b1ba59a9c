"""Turns a soak run's files into the RELIABILITY numbers of BENCHMARKS.md.

    python3 report.py WORKDIR

WORKDIR holds loadgen.json (loadgen --json, with its per-second history), faults.tsv
(name, start epoch, end epoch: the fault itself), samples.tsv (epoch, rss_kb, fds, redis command
timeouts so far, connections) and slow.json (the slow clients' counts).
"""
import json
import statistics
import sys

work = sys.argv[1]
result = json.load(open(f"{work}/loadgen.json"))
history = result["history"]
faults = [line.split("\t") for line in open(f"{work}/faults.tsv").read().split("\n") if line.strip()]
faults = [(name, float(start), float(end)) for name, start, end in faults]
samples = [list(map(float, line.split("\t"))) for line in open(f"{work}/samples.tsv").read().split("\n") if line.strip()]
slow = json.load(open(f"{work}/slow.json")) if open(f"{work}/slow.json").read().strip() else {}
RECOVERY_BUDGET = 2.0


def in_fault_window(t, margin=RECOVERY_BUDGET):
    # A history point covers the second before its timestamp.
    return any(start - 1 <= t <= end + margin + 1 for _, start, end in faults)


outside = [p for p in history if not in_fault_window(p["timestamp"])]
errors_outside = sum(p["failures_per_s"] for p in outside)
p99s = [p["p99_ms"] for p in outside if p["rps"] > 0]

normal_p99 = statistics.median(p99s) if p99s else 0
print("| fault | began | lasted (s) | failed requests | worst second's p99 (ms) | recovery (s) |")
print("|---|---|---|---|---|---|")
for name, start, end in faults:
    # Recovery: from the end of the fault to the first second from which 5 seconds in a row have
    # no failures and a p99 within twice the usual one.
    after = [p for p in history if p["timestamp"] > end]
    recovered = None
    for index, point in enumerate(after):
        window = after[index:index + 5]
        if all(q["failures_per_s"] == 0 and q["p99_ms"] <= max(2 * normal_p99, 10) for q in window):
            recovered = max(0.0, point["timestamp"] - 1 - end)
            break
    during = [p for p in history if start - 1 <= p["timestamp"] <= end + RECOVERY_BUDGET + 1]
    failed = sum(p["failures_per_s"] for p in during)
    worst = max((p["p99_ms"] for p in during), default=0)
    print(f"| {name} | {start - history[0]['timestamp']:.0f} s | {end - start:.1f} | {failed:.0f} | {worst:.1f} | "
          f"{'not within the run' if recovered is None else f'{recovered:.1f}'} |")


def sample_at(t):
    return min(samples, key=lambda s: abs(s[0] - t))


start, end = history[0]["timestamp"], history[-1]["timestamp"]
warm = sample_at(start + 60)
first, last = sample_at(start), sample_at(end)
timeouts_outside = 0
for a, b in zip(samples, samples[1:]):
    if not in_fault_window(b[0]) and not in_fault_window(a[0]):
        timeouts_outside += max(0, b[3] - a[3])
print()
unsent = sum(f["occurrences"] for f in result["failures"] if f["error"].startswith("not sent"))
print(f"requests: {result['total']['requests']}, failed: {result['total']['failures'] - unsent} "
      f"(and {unsent} the generator had not sent when the run ended), "
      f"rate {result.get('rate', 0):.0f}/s for {result['duration_s']:.0f} s, generator's worst lag "
      f"{result.get('schedule', {}).get('max_lag_ms', 0):.1f} ms")
for failure in result["failures"]:
    if not failure["error"].startswith("not sent"):
        print(f"  {failure['method']} {failure['name']}: {failure['error']} x{failure['occurrences']}")
print(f"errors outside fault windows (fault + {RECOVERY_BUDGET:.0f} s): {errors_outside:.0f}")
print(f"redis command timeouts outside fault windows: {timeouts_outside:.0f}")
if p99s:
    print(f"per-second p99 outside fault windows: median {statistics.median(p99s):.2f} ms, "
          f"95th {sorted(p99s)[int(len(p99s) * 0.95)]:.2f} ms, max {max(p99s):.2f} ms")
print(f"RSS: start {first[1] / 1024:.1f} MiB, after warm-up {warm[1] / 1024:.1f} MiB, end {last[1] / 1024:.1f} MiB "
      f"(growth after warm-up {100 * (last[1] - warm[1]) / warm[1]:+.1f} %)")
print(f"open fds: start {first[2]:.0f}, after warm-up {warm[2]:.0f}, end {last[2]:.0f}")
print(f"slow clients: {json.dumps(slow)}")
