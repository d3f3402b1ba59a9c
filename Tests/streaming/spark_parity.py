"""Parity of `featureserver windows` with PySpark Structured Streaming.

Generates an event file (out-of-order and late events), feeds it to PySpark as one file per
micro-batch (window + withWatermark; append mode for the windows the watermark closed, update
mode for the ones still open; stddev_samp) and to `featureserver windows`, and compares every
window. Prints one JSON line with what was compared; exits 1 on any difference.

Batching is designed so that an event-at-a-time engine and Spark must agree (see
ENGINEERING-NOTES "Spark's sliding windows"): PySpark judges late rows of micro-batch N with the
watermark of batch N-1, so late events are only put in batches after one that did not raise the
maximum event time, and every watermark sits 7.5 s from any window end (no drop decision is near
one).

usage: spark_parity.py --featureserver BIN --workdir DIR [--events 20000] [--customers 500]
"""
import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

WINDOW, SLIDE, DELAY = 60.0, 15.0, 120.0
T0 = 1767225600  # 2026-01-01T00:00:00Z, a multiple of the slide


def rfc3339(seconds):
    millis = int(round(seconds * 1000))
    whole, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%03dZ" % ms


def generate(events, customers, seed):
    """Batches of (transaction_id, customer_id, seconds, amount): per cycle a batch that raises
    the maximum event time, a filler batch that does not, and a batch of late events."""
    rng = random.Random(seed)
    cycles = 10
    per_cycle = events // cycles
    late_count, filler_count = per_cycle // 10, per_cycle // 40
    normal_count = per_cycle - late_count - filler_count
    batches, serial = [], 0

    def event(seconds):
        nonlocal serial
        serial += 1
        seconds = round(seconds, 3)
        amount = round(math.exp(rng.gauss(3.5, 1.2)), 2)
        return ("t%06d" % serial, rng.randint(1, customers), seconds, amount)

    for cycle in range(cycles):
        base = T0 + 90 * cycle  # a multiple of 15 s
        top = base + 52.5  # the batch maximum: the watermark then sits 7.5 s from every window end
        normal = [event(rng.uniform(base, top - 0.001)) for _ in range(normal_count - 1)] + [event(top)]
        rng.shuffle(normal)  # out of order within the batch, never late
        watermark = top - DELAY
        filler = [event(rng.uniform(watermark + 10, top - 2)) for _ in range(filler_count)]
        late = []
        for index in range(late_count):
            if index % 10 == 0:  # too late for every window
                late.append(event(rng.uniform(watermark - WINDOW - 60, watermark - WINDOW - 1)))
            else:  # dropped from the closed windows, counted in the open ones
                late.append(event(rng.uniform(watermark - WINDOW + 0.5, watermark - 0.5)))
        batches += [normal, filler, late]
    return batches


def write_inputs(batches, workdir):
    spark_in = os.path.join(workdir, "spark-in")
    os.makedirs(spark_in, exist_ok=True)
    all_path = os.path.join(workdir, "events.jsonl")
    past = time.time() - 10000
    with open(all_path, "w") as everything:
        for index, batch in enumerate(batches):
            path = os.path.join(spark_in, "b%03d.json" % index)
            with open(path, "w") as one:
                for tid, customer, seconds, amount in batch:
                    line = json.dumps({"transaction_id": tid, "customer_id": customer,
                                       "event_timestamp": rfc3339(seconds), "amount": amount})
                    one.write(line + "\n")
                    everything.write(line + "\n")
            os.utime(path, (past + 10 * index, past + 10 * index))  # one file per batch, in order
    return spark_in, all_path


def run_spark(spark_in, workdir):
    from pyspark.sql import SparkSession, functions as F

    spark = (SparkSession.builder.master("local[1]").appName("parity")
             .config("spark.sql.shuffle.partitions", "1").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.streaming.numRecentProgressUpdates", "1000").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    results = {}
    for mode in ("append", "update"):
        source = (spark.readStream
                  .schema("transaction_id string, customer_id long, event_timestamp timestamp, amount double")
                  .option("maxFilesPerTrigger", 1).json(spark_in))
        windows = (source.withWatermark("event_timestamp", "2 minutes")
                   .groupBy(F.col("customer_id"), F.window("event_timestamp", "1 minute", "15 seconds"))
                   .agg(F.count("*").alias("count"), F.sum("amount").alias("sum"),
                        F.avg("amount").alias("mean"), F.stddev_samp("amount").alias("std"),
                        F.min("amount").alias("min"), F.max("amount").alias("max")))
        rows = {}

        def collect(frame, batch_id, rows=rows):
            for row in frame.collect():
                key = (row.customer_id, row.window.start.timestamp(), row.window.end.timestamp())
                rows[key] = {"count": row["count"], "sum": row["sum"], "mean": row["mean"],
                             "std": row["std"], "min": row["min"], "max": row["max"]}

        query = (windows.writeStream.outputMode(mode).foreachBatch(collect)
                 .option("checkpointLocation", os.path.join(workdir, "checkpoint-" + mode))
                 .trigger(availableNow=True).start())
        query.awaitTermination()
        dropped = sum(((p.get("stateOperators") or [{}])[0].get("numRowsDroppedByWatermark") or 0)
                      for p in query.recentProgress)
        results[mode] = (rows, dropped, len(query.recentProgress))
    spark.stop()
    return results


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--featureserver", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    os.makedirs(options.workdir, exist_ok=True)
    batches = generate(options.events, options.customers, options.seed)
    spark_in, all_path = write_inputs(batches, options.workdir)

    ours_path = os.path.join(options.workdir, "featureserver-windows.jsonl")
    dropped_path = os.path.join(options.workdir, "featureserver-dropped.jsonl")
    replay = subprocess.run(
        [options.featureserver, "windows", "--events", all_path, "--key", "customer_id", "--value", "amount",
         "--window", "1m", "--slide", "15s", "--watermark", "2m", "--output", ours_path, "--dropped", dropped_path],
        capture_output=True, text=True, check=True)
    summary = json.loads(replay.stderr.strip().splitlines()[-1])
    ours_closed, ours_open = {}, {}
    with open(ours_path) as lines:
        for line in lines:
            window = json.loads(line)
            key = (window["key"], float(window["window_start"]), float(window["window_end"]))
            target = ours_open if window.get("open") else ours_closed
            assert key not in target, "window emitted twice: %r" % (key,)
            target[key] = window

    spark = run_spark(spark_in, options.workdir)
    appended, dropped, batches_run = spark["append"]
    updated, _, _ = spark["update"]
    spark_open = {key: value for key, value in updated.items() if key not in appended}

    problems = []

    def compare(label, theirs, mine):
        for key in sorted(set(theirs) | set(mine)):
            if key not in mine:
                problems.append("%s: Spark has %r, featureserver does not" % (label, key))
            elif key not in theirs:
                problems.append("%s: featureserver has %r, Spark does not" % (label, key))
            else:
                a, b = theirs[key], mine[key]
                same = (a["count"] == b["count"] and a["min"] == b["min"] and a["max"] == b["max"]
                        and all(close(a[f], b[f]) for f in ("sum", "mean", "std")))
                if not same:
                    problems.append("%s %r: Spark %r, featureserver %r" % (label, key, a, b))

    compare("closed", appended, ours_closed)
    compare("open", spark_open, ours_open)
    # Spark counts the rows its partial aggregation hands the state store: one per (key, window)
    # of a micro-batch, however many events of the batch it merged. Group ours the same way.
    batch_of = {tid: index for index, batch in enumerate(batches) for tid, _, _, _ in batch}
    with open(dropped_path) as lines:
        pairs = [json.loads(line) for line in lines]
    groups = {(batch_of[p["transaction_id"]], p["key"], p["window_start"]) for p in pairs}
    if len(pairs) != summary["dropped_pairs"]:
        problems.append("--dropped wrote %d pairs, the summary says %d" % (len(pairs), summary["dropped_pairs"]))
    if dropped != len(groups):
        problems.append("dropped (batch, key, window) rows: Spark %d, featureserver %d" % (dropped, len(groups)))
    if summary["dropped_pairs"] == 0 or summary["dropped_events"] == 0:
        problems.append("the data made no late drops: the test would not see a lateness difference")
    print(json.dumps({"events": summary["events"], "micro_batches": batches_run, "closed_windows": len(appended),
                      "open_windows": len(spark_open), "dropped_pairs": summary["dropped_pairs"],
                      "dropped_rows_spark": dropped,
                      "dropped_events": summary["dropped_events"], "problems": problems[:20],
                      "problem_count": len(problems)}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
