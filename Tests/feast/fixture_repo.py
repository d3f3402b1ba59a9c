"""Builds the Feast feature repository the Feast tests run against.

Three entities (an Int64, a String and an Int32 join key), feature views that cover every scalar
Feast type and some list types, one view keyed by two entities, one with no entity, a push source, and a feature
service; parquet data for 200 cards with nulls, NaN and infinities among the values, and empty
lists in two of the list features (`recent_amounts` is never empty: Feast's own remote client
cannot read an empty list, see sdk_acceptance.py). The same
repository serves `feast apply`, `feast materialize`, `feast serve` and `featureserver serve
--feast-repo`.

    python fixture_repo.py DIR REDIS_HOST:PORT
"""
import math
import os
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd

PROJECT = "fraud"
CARDS = 200
# Cards 1..CARDS exist; 180..CARDS have no merchant row, ids above CARDS do not exist at all.
BASE_TIME = datetime(2026, 11, 30, 12, 0, 0, tzinfo=timezone.utc)

DEFINITIONS = '''
from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource, ValueType
from feast.types import Array, Bool, Bytes, Float32, Float64, Int32, Int64, String, UnixTimestamp

card = Entity(name="card", join_keys=["card_id"], value_type=ValueType.INT64)
merchant = Entity(name="merchant", join_keys=["merchant_id"], value_type=ValueType.STRING)
customer = Entity(name="customer", join_keys=["customer_id"], value_type=ValueType.INT32)

card_source = FileSource(name="card_source", path="data/card_stats.parquet", timestamp_field="event_timestamp",
                         created_timestamp_column="created")
card_push = PushSource(name="card_push", batch_source=card_source)
merchant_source = FileSource(name="merchant_source", path="data/merchant_stats.parquet",
                             timestamp_field="event_timestamp")
pair_source = FileSource(name="pair_source", path="data/card_merchant.parquet", timestamp_field="event_timestamp")
customer_source = FileSource(name="customer_source", path="data/customer_profile.parquet",
                             timestamp_field="event_timestamp")
global_source = FileSource(name="global_source", path="data/global_stats.parquet", timestamp_field="event_timestamp")

card_stats = FeatureView(
    name="card_stats",
    entities=[card],
    ttl=timedelta(days=2),
    schema=[
        Field(name="card_id", dtype=Int64),
        Field(name="amt_avg_7d", dtype=Float64),
        Field(name="amt_std_7d", dtype=Float32),
        Field(name="txn_count_7d", dtype=Int64),
        Field(name="declines_24h", dtype=Int32),
        Field(name="is_flagged", dtype=Bool),
        Field(name="last_seen", dtype=UnixTimestamp),
        Field(name="country", dtype=String),
        Field(name="fingerprint", dtype=Bytes),
        Field(name="recent_amounts", dtype=Array(Float64)),
        Field(name="recent_countries", dtype=Array(String)),
        Field(name="recent_counts", dtype=Array(Int64)),
    ],
    source=card_push,
    online=True,
)

merchant_stats = FeatureView(
    name="merchant_stats",
    entities=[merchant],
    ttl=timedelta(days=7),
    schema=[
        Field(name="merchant_id", dtype=String),
        Field(name="risk_score", dtype=Float64),
        Field(name="category", dtype=String),
        Field(name="chargebacks_30d", dtype=Int64),
    ],
    source=merchant_source,
    online=True,
)

card_merchant = FeatureView(
    name="card_merchant",
    entities=[card, merchant],
    ttl=timedelta(days=30),
    schema=[
        Field(name="card_id", dtype=Int64),
        Field(name="merchant_id", dtype=String),
        Field(name="txn_count_30d", dtype=Int64),
        Field(name="amt_sum_30d", dtype=Float64),
    ],
    source=pair_source,
    online=True,
)

customer_profile = FeatureView(
    name="customer_profile",
    entities=[customer],
    ttl=timedelta(days=365),
    schema=[
        Field(name="customer_id", dtype=Int32),
        Field(name="age", dtype=Int32),
        Field(name="tenure_days", dtype=Int64),
        Field(name="segment", dtype=String),
    ],
    source=customer_source,
    online=True,
)

# No entities: Feast keys its one row by the dummy entity `__dummy_id`.
global_stats = FeatureView(
    name="global_stats",
    entities=[],
    ttl=timedelta(days=2),
    schema=[Field(name="fraud_rate_1h", dtype=Float64), Field(name="txn_volume_1h", dtype=Int64)],
    source=global_source,
    online=True,
)

fraud_v1 = FeatureService(
    name="fraud_v1",
    features=[card_stats[["amt_avg_7d", "txn_count_7d", "is_flagged"]], merchant_stats],
)
fraud_full = FeatureService(name="fraud_full", features=[card_stats, merchant_stats, card_merchant])
'''


def merchant_of(card):
    return f"m-{card % 17:03d}"


def card_rows():
    rows = []
    for card in range(1, CARDS + 1):
        rng = np.random.default_rng(card)
        amounts = [round(float(x), 2) for x in rng.gamma(2.0, 30.0, size=1 + card % 4)]
        special = {0: float("nan"), 1: float("inf"), 2: -float("inf")}.get(card % 50)
        rows.append({
            "card_id": card,
            "amt_avg_7d": None if card % 23 == 0 else (special if special is not None else round(float(rng.gamma(2.0, 40.0)), 4)),
            "amt_std_7d": float(np.float32(rng.random() * 10)),
            "txn_count_7d": None if card % 31 == 0 else int(rng.integers(0, 5000)) * (10 ** 12 if card % 40 == 0 else 1),
            "declines_24h": int(rng.integers(-3, 20)),
            "is_flagged": None if card % 29 == 0 else bool(card % 7 == 0),
            "last_seen": BASE_TIME - timedelta(seconds=int(rng.integers(0, 86400)), microseconds=int(rng.integers(0, 10**6))),
            "country": None if card % 19 == 0 else ["US", "DE", "GB", "FR", "Zürich ✓", 'quote"back\\slash'][card % 6],
            "fingerprint": None if card % 13 == 0 else bytes(rng.integers(0, 256, size=card % 9, dtype=np.uint8)),
            "recent_amounts": amounts,
            "recent_countries": [["US", "DE"], [], ["FR"]][card % 3],
            "recent_counts": [int(x) for x in rng.integers(-5, 100, size=card % 3)],
            "event_timestamp": BASE_TIME - timedelta(hours=card % 48, microseconds=(card * 1234) % 1000000 if card % 5 else 0),
            "created": BASE_TIME,
        })
    return rows


def write_parquet(path, rows, schema=None):
    frame = pd.DataFrame(rows)
    frame.to_parquet(path, index=False)


def build(directory, redis_address):
    os.makedirs(os.path.join(directory, "data"), exist_ok=True)
    with open(os.path.join(directory, "feature_store.yaml"), "w") as file:
        file.write(
            f"project: {PROJECT}\n"
            "registry: data/registry.db\n"
            "provider: local\n"
            "online_store:\n"
            "  type: redis\n"
            f"  connection_string: \"{redis_address}\"\n"
            "offline_store:\n"
            "  type: file\n"
            "entity_key_serialization_version: 3\n"
        )
    with open(os.path.join(directory, "definitions.py"), "w") as file:
        file.write(DEFINITIONS)
    import pyarrow as pa
    import pyarrow.parquet as pq

    cards = card_rows()
    table = pa.Table.from_pylist(cards, schema=pa.schema([
        ("card_id", pa.int64()), ("amt_avg_7d", pa.float64()), ("amt_std_7d", pa.float32()),
        ("txn_count_7d", pa.int64()), ("declines_24h", pa.int32()), ("is_flagged", pa.bool_()),
        ("last_seen", pa.timestamp("us", tz="UTC")), ("country", pa.string()), ("fingerprint", pa.binary()),
        ("recent_amounts", pa.list_(pa.float64())), ("recent_countries", pa.list_(pa.string())),
        ("recent_counts", pa.list_(pa.int64())),
        ("event_timestamp", pa.timestamp("us", tz="UTC")), ("created", pa.timestamp("us", tz="UTC")),
    ]))
    pq.write_table(table, os.path.join(directory, "data", "card_stats.parquet"))
    merchants = sorted({merchant_of(card) for card in range(1, CARDS + 1)})
    pq.write_table(pa.Table.from_pylist([
        {"merchant_id": m, "risk_score": round(index * 0.061, 3), "category": ["grocery", "travel", "gaming"][index % 3],
         "chargebacks_30d": index * 3, "event_timestamp": BASE_TIME - timedelta(days=1)}
        for index, m in enumerate(merchants) if index != 5  # m-005 has no row
    ]), os.path.join(directory, "data", "merchant_stats.parquet"))
    pq.write_table(pa.Table.from_pylist([
        {"card_id": card, "merchant_id": merchant_of(card), "txn_count_30d": card % 11, "amt_sum_30d": card * 12.5,
         "event_timestamp": BASE_TIME - timedelta(days=3)}
        for card in range(1, 180)
    ]), os.path.join(directory, "data", "card_merchant.parquet"))
    pq.write_table(pa.Table.from_pylist([
        {"customer_id": customer, "age": 18 + customer % 60, "tenure_days": customer * 40,
         "segment": ["retail", "premium"][customer % 2], "event_timestamp": BASE_TIME - timedelta(days=10)}
        for customer in range(1, 101)
    ], schema=pa.schema([("customer_id", pa.int32()), ("age", pa.int32()), ("tenure_days", pa.int64()),
                         ("segment", pa.string()), ("event_timestamp", pa.timestamp("us", tz="UTC"))])),
        os.path.join(directory, "data", "customer_profile.parquet"))
    pq.write_table(pa.Table.from_pylist([
        {"fraud_rate_1h": 0.0125, "txn_volume_1h": 48213, "event_timestamp": BASE_TIME - timedelta(minutes=5)},
    ]), os.path.join(directory, "data", "global_stats.parquet"))


if __name__ == "__main__":
    build(sys.argv[1], sys.argv[2])
