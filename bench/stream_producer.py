"""Appends transaction events to a Redis Stream for bench/stream.sh.

  stream_producer.py --port P --count N                 as fast as pipelining allows (a backlog)
  stream_producer.py --port P --rate R --seconds S      R events/s, paced every 10 ms

Events: 10 000 customers (--customers), event_timestamp = now (epoch seconds, ms), amount
log-normal. Prints one JSON line: events sent, seconds, events/s.
"""
import argparse
import json
import math
import random
import time

import redis

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--stream", default="fs:events")
parser.add_argument("--customers", type=int, default=10000)
parser.add_argument("--count", type=int)
parser.add_argument("--rate", type=float)
parser.add_argument("--seconds", type=float, default=20)
parser.add_argument("--prefix", default="b")
options = parser.parse_args()
client = redis.Redis(port=options.port)
rng = random.Random(1)
serial = 0


def send(n):
    global serial
    pipe = client.pipeline(transaction=False)
    now = time.time()
    for _ in range(n):
        serial += 1
        pipe.xadd(options.stream, {
            "transaction_id": "%s%d" % (options.prefix, serial),
            "customer_id": rng.randint(1, options.customers),
            "amount": round(math.exp(rng.gauss(3.5, 1.2)), 2),
            "event_timestamp": "%.3f" % (now - rng.random()),
        })
    pipe.execute()


started = time.time()
if options.count:
    while serial < options.count:
        send(min(1000, options.count - serial))
else:
    tick = 0.01
    per_tick = options.rate * tick
    owed = 0.0
    deadline = started + options.seconds
    next_tick = started
    while time.time() < deadline:
        owed += per_tick
        whole = int(owed)
        owed -= whole
        if whole:
            send(whole)
        next_tick += tick
        pause = next_tick - time.time()
        if pause > 0:
            time.sleep(pause)
elapsed = time.time() - started
print(json.dumps({"events": serial, "seconds": round(elapsed, 3), "events_per_second": round(serial / elapsed)}))
