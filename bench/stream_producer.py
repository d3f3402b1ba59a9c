"""Appends transaction events to a Redis Stream for bench/stream.sh.

  stream_producer.py --port P --count N                 as fast as it goes (a backlog)
  stream_producer.py --port P --rate R --seconds S      R events/s, paced every --tick s (1 ms)

The events are made inside Redis by a Lua script (one call per tick or per 1000 events),
so this process costs almost no CPU next to the server under test, as a real producer on
another machine would: 10 000 customers (--customers) spread by a multiplicative hash,
event_timestamp = Redis's clock (epoch seconds, ms, up to 1 s in the past), amount 1-1000.
Prints one JSON line: events sent, seconds, events/s.
"""
import argparse
import json
import time

import redis

SCRIPT = """
local n, customers, prefix, serial = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1e6
for i = serial, serial + n - 1 do
  local h = (i * 2654435761) % 4294967296
  local customer = h % customers + 1
  local amount = 1 + (h % 99991) / 100.0
  local back = (h % 997) / 1000.0
  redis.call('XADD', KEYS[1], '*', 'transaction_id', prefix .. i, 'customer_id', customer,
    'amount', string.format('%.2f', amount), 'event_timestamp', string.format('%.3f', now - back))
end
return n
"""

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--stream", default="fs:events")
parser.add_argument("--customers", type=int, default=10000)
parser.add_argument("--count", type=int)
parser.add_argument("--rate", type=float)
parser.add_argument("--seconds", type=float, default=20)
parser.add_argument("--prefix", default="b")
# Redis runs a script to its end before serving anyone else: a 10 ms tick at 20 000 events/s
# held it ~0.4 ms every 10 ms, a stall no real producer (many clients, each XADD its own
# command) causes. 1 ms ticks hold it ~40 us.
parser.add_argument("--tick", type=float, default=0.001)
options = parser.parse_args()
client = redis.Redis(port=options.port)
produce = client.register_script(SCRIPT)
serial = 0


def send(n):
    global serial
    produce(keys=[options.stream], args=[n, options.customers, options.prefix, serial])
    serial += n


started = time.time()
if options.count:
    while serial < options.count:
        send(min(1000, options.count - serial))
else:
    tick = options.tick
    owed = 0.0
    deadline = started + options.seconds
    next_tick = started
    while time.time() < deadline:
        owed += options.rate * tick
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
