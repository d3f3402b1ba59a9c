"""The Feast SDK, pointed at featureserver, against the same SDK reading Redis itself.

REPO is a repository built by fixture_repo.py, applied and materialized. A second repository
sharing its registry uses `online_store: {type: remote, path: URL}`, so every online read and
write of that store goes through featureserver's HTTP API. Checks:
  1. get_online_features through featureserver returns the same dict as the SDK's own Redis
     store, for 200 entity rows (some missing), by feature list and by feature service, with
     full_feature_names both ways;
  2. write_to_online_store through featureserver is read back identically by the SDK's Redis
     store (new rows, and newer values over existing ones);
  3. an older write does not replace a newer row (Feast's rule), and Feast's errors reach the
     SDK as errors.

    python sdk_acceptance.py REPO URL
Exit status 0 when every check passed.
"""
import base64
import math
import os
import sys
import tempfile
from datetime import datetime, timedelta, timezone

import pandas as pd
from feast import FeatureStore

CARD_FEATURES = ["amt_avg_7d", "amt_std_7d", "txn_count_7d", "declines_24h", "is_flagged", "last_seen",
                 "country", "fingerprint", "recent_amounts", "recent_countries", "recent_counts"]
# What the SDK's remote client can read: every scalar type and a list that is never empty.
REMOTE_READABLE = CARD_FEATURES[:9]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL", message)


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def transported(value):
    """A value as Feast's HTTP protocol carries it to the SDK's remote store, which has no types:
    infinities as the strings Python's server writes, bytes as base64 text, UNIX_TIMESTAMP as
    epoch seconds. (The remote client cannot read an empty list or NaN at all, whichever server
    answers, so the compared features hold neither.)"""
    if isinstance(value, float) and math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, list):
        return [transported(item) for item in value]
    return value


def compare_dicts(label, expected, actual):
    expected = {column: [transported(value) for value in values] for column, values in expected.items()}
    check(sorted(expected) == sorted(actual), f"{label}: columns {sorted(expected)} != {sorted(actual)}")
    for column, values in expected.items():
        got = actual.get(column)
        if got is None:
            continue
        for row, (want, have) in enumerate(zip(values, got)):
            if not same(want, have):
                check(False, f"{label}: {column}[{row}] direct={want!r} remote={have!r}")
                break
        check(len(values) == len(got), f"{label}: {column} has {len(got)} rows, expected {len(values)}")


def remote_repository(repo, url):
    directory = tempfile.mkdtemp(prefix="feast-remote-")
    with open(os.path.join(directory, "feature_store.yaml"), "w") as file:
        file.write(
            "project: fraud\n"
            f"registry: {os.path.join(repo, 'data', 'registry.db')}\n"
            "provider: local\n"
            "online_store:\n"
            "  type: remote\n"
            f"  path: {url}\n"
            "offline_store:\n"
            "  type: file\n"
            "entity_key_serialization_version: 3\n"
        )
    return directory


def check_reads(direct, remote):
    """200 rows: cards 1..200 exist, some merchants and pairs do not, ids above 200 none."""
    rows = [{"card_id": card, "merchant_id": f"m-{card % 17:03d}"} for card in range(1, 181)]
    rows += [{"card_id": card, "merchant_id": f"m-{card % 23:03d}"} for card in range(190, 210)]
    features = [f"card_stats:{name}" for name in REMOTE_READABLE] + [
        "merchant_stats:risk_score", "merchant_stats:category", "merchant_stats:chargebacks_30d",
        "card_merchant:txn_count_30d", "card_merchant:amt_sum_30d"]
    service = direct.get_feature_service("fraud_v1")
    for full_names in (False, True):
        for label, selected in (("feature list", features), ("service fraud_v1", service)):
            try:
                compare_dicts(f"{label} full_feature_names={full_names}",
                              direct.get_online_features(features=selected, entity_rows=rows,
                                                         full_feature_names=full_names).to_dict(),
                              remote.get_online_features(features=selected, entity_rows=rows,
                                                         full_feature_names=full_names).to_dict())
            except Exception as error:  # noqa: BLE001 - reported as a failure, the run goes on
                check(False, f"{label} full_feature_names={full_names}: {type(error).__name__}: {error}")
    profile = [{"customer_id": customer} for customer in (1, 2, 50, 100, 101, 7000)]
    names = ["customer_profile:age", "customer_profile:segment", "customer_profile:tenure_days"]
    compare_dicts("int32 entity", direct.get_online_features(features=names, entity_rows=profile).to_dict(),
                  remote.get_online_features(features=names, entity_rows=profile).to_dict())


def check_writes(direct, remote):
    """Rows written through featureserver, read back by the SDK's own Redis store; an older
    event does not replace a newer row (Feast's rule)."""
    now = datetime.now(timezone.utc).replace(microsecond=123456)
    written = {
        "card_id": [5, 6, 1001, 1002],
        # The SDK's remote client refuses NaN and bytes (its JSON encoder), whichever server.
        "amt_avg_7d": [11.5, None, 1e300, -0.0],
        "amt_std_7d": [1.25, 2.5, 0.0, 3.75],
        "txn_count_7d": [7, 2**62, -3, 0],
        "declines_24h": [1, 2, -2147483648, 2147483647],
        "is_flagged": [True, False, True, False],
        "last_seen": [now - timedelta(days=1), now, now, now - timedelta(seconds=1)],
        "country": ["NZ", "Zürich ✓", "", 'q"b\\s'],
        "fingerprint": [None, None, None, None],
        "recent_amounts": [[1.5, 2.5], [9.5], [], [0.1, 0.2, 0.3]],
        "recent_countries": [["NZ"], [], ["DE", "FR"], ["é"]],
        "recent_counts": [[1, 2, 3], [], [-1], [2**40]],
    }
    frame = pd.DataFrame({**written, "event_timestamp": [now] * 4, "created": [now] * 4})
    remote.write_to_online_store("card_stats", frame)
    rows = [{"card_id": card} for card in written["card_id"]]
    read_back = direct.get_online_features(features=[f"card_stats:{name}" for name in CARD_FEATURES],
                                           entity_rows=rows).to_dict()
    for column, values in written.items():
        have = [transported(value) for value in read_back[column]]
        want = [transported(value) for value in values]
        check(same(have, want), f"write read back: {column} = {have!r}, wrote {want!r}")

    older = frame.iloc[[0]].copy()
    older["country"] = ["OLD"]
    older["event_timestamp"] = [now - timedelta(days=5)]
    remote.write_to_online_store("card_stats", older)
    after = direct.get_online_features(features=["card_stats:country"], entity_rows=[{"card_id": 5}]).to_dict()
    check(after["country"] == ["NZ"], f"an older write replaced a newer row: {after['country']!r}")


def check_errors(remote):
    try:
        remote.get_online_features(features=["no_such_view:x"], entity_rows=[{"card_id": 1}]).to_dict()
        check(False, "an unknown feature view did not raise")
    except Exception as error:  # noqa: BLE001 - any SDK error is the expected outcome
        check("no_such_view" in str(error), f"unknown view error does not name it: {error}")


def main():
    repo, url = sys.argv[1], sys.argv[2]
    direct = FeatureStore(repo_path=repo)
    remote = FeatureStore(repo_path=remote_repository(repo, url))
    check_reads(direct, remote)
    check_writes(direct, remote)
    check_errors(remote)
    print("sdk acceptance:", "OK" if not failures else f"{len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
