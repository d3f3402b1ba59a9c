"""Sends the same requests to `feast serve` and to featureserver and compares the answers.

Both servers read the same Redis, materialized by Feast. An answer is equal when the status is
the same and, for 200, every column (matched by name: Feast orders the features of a view as a
set) has the same values, statuses and event timestamps, floats compared numerically. For errors
the Feast error type must match.

    python compare_servers.py FEAST_URL OURS_URL [--random N]
Exit status 0 when everything matched; each difference is printed.
"""
import json
import math
import random
import sys
import urllib.error
import urllib.request

# (name, body) pairs covering lookups, services, every value type and the error paths.
CASES = [
    ("one card", {"features": ["card_stats:amt_avg_7d", "card_stats:country"], "entities": {"card_id": [1]}}),
    ("all card features", {"features": [f"card_stats:{f}" for f in (
        "amt_avg_7d", "amt_std_7d", "txn_count_7d", "declines_24h", "is_flagged", "last_seen", "country",
        "fingerprint", "recent_amounts", "recent_countries", "recent_counts")],
        "entities": {"card_id": list(range(1, 60)) + [0, 999, -5]}}),
    ("two keys", {"features": ["card_merchant:txn_count_30d", "card_merchant:amt_sum_30d"],
                  "entities": {"card_id": [1, 2, 3, 190], "merchant_id": ["m-001", "m-002", "m-003", "m-003"]}}),
    ("mixed views", {"features": ["card_merchant:txn_count_30d", "card_stats:country", "merchant_stats:category"],
                     "entities": {"merchant_id": ["m-001", "m-005"], "card_id": [1, 5]}}),
    ("service", {"feature_service": "fraud_v1", "entities": {"card_id": [1, 3, 77], "merchant_id": ["m-001", "m-005", "x"]}}),
    ("service full names", {"feature_service": "fraud_v1", "entities": {"card_id": [1, 3], "merchant_id": ["m-001", "m-005"]},
                            "full_feature_names": True}),
    ("full names", {"features": ["card_stats:amt_avg_7d", "merchant_stats:risk_score"],
                    "entities": {"card_id": [2], "merchant_id": ["m-002"]}, "full_feature_names": True}),
    ("a view with no entity beside a card", {"features": ["global_stats:fraud_rate_1h", "card_stats:country",
                                                          "global_stats:txn_volume_1h"],
                                             "entities": {"card_id": [1, 2, 999]}}),
    ("int32 entity", {"features": ["customer_profile:age", "customer_profile:segment", "customer_profile:tenure_days"],
                      "entities": {"customer_id": [1, 2, 101, 5000]}}),
    ("string for int key", {"features": ["card_stats:country"], "entities": {"card_id": ["1", "2"]}}),
    ("float for int key", {"features": ["card_stats:country"], "entities": {"card_id": [1.0, 2.0]}}),
    # Rows sdk_acceptance.py wrote through featureserver (1e300, -0.0, 2**62, extreme int32s).
    ("rows written through featureserver", {"features": [f"card_stats:{f}" for f in (
        "amt_avg_7d", "amt_std_7d", "txn_count_7d", "declines_24h", "last_seen", "country", "recent_amounts",
        "recent_counts")], "entities": {"card_id": [5, 6, 1001, 1002]}}),
    ("unknown view", {"features": ["nope:x"], "entities": {"card_id": [1]}}),
    ("unknown feature", {"features": ["card_stats:nope"], "entities": {"card_id": [1]}}),
    ("name collision", {"features": ["card_stats:card_id", "card_merchant:card_id"],
                        "entities": {"card_id": [1], "merchant_id": ["m-001"]}}),
    ("duplicate reference", {"features": ["card_stats:country", "card_stats:country"], "entities": {"card_id": [1]}}),
    ("one of two join keys", {"features": ["card_merchant:txn_count_30d", "card_stats:country"],
                              "entities": {"card_id": [1, 2]}}),
    ("none of the view's join keys", {"features": ["merchant_stats:category"], "entities": {"card_id": [1, 2]}}),
    ("uneven entity columns", {"features": ["card_merchant:txn_count_30d"],
                               "entities": {"card_id": [1, 2], "merchant_id": ["m-001"]}}),
    ("no entities", {"features": ["card_stats:country"]}),
    ("unknown service", {"feature_service": "nope", "entities": {"card_id": [1]}}),
    ("extra entity column", {"features": ["card_stats:country"], "entities": {"card_id": [1, 2], "foo": [5, 6]}}),
]


def post(url, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "/get-online-features", data=data,
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def same_value(a, b):
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12)
        return False
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def columns(answer):
    names = answer["metadata"]["feature_names"]
    return {name: result for name, result in zip(names, answer["results"])}


def error_type(body):
    try:
        decoded = json.loads(body)
        if isinstance(decoded, str):
            decoded = json.loads(decoded)
        if isinstance(decoded, dict):
            return decoded.get("error_type") or ("detail" if "detail" in decoded else None)
    except ValueError:
        return None
    return None


def compare(name, body, feast_url, ours_url):
    feast_status, feast_body = post(feast_url, body)
    our_status, our_body = post(ours_url, body)
    problems = []
    if feast_status != our_status:
        # Feast answers its own errors with 500; ours names the client's mistake with a 4xx.
        if not (feast_status == 500 and 400 <= our_status < 500):
            problems.append(f"status feast={feast_status} ours={our_status}")
    if feast_status != 200 or our_status != 200:
        # Where Feast's answer is an unstructured 500 (a bare message string), ours is a 422 in
        # FastAPI's shape naming the field; where Feast names an error class, ours must name it too.
        feast_type = error_type(feast_body)
        if feast_type is None and feast_status == 500 and 400 <= our_status < 500:
            return problems
        if feast_type != error_type(our_body):
            problems.append(f"error feast={feast_body[:200]!r} ours={our_body[:200]!r}")
        return problems
    feast_columns, our_columns = columns(json.loads(feast_body)), columns(json.loads(our_body))
    if list(feast_columns) != list(our_columns) and sorted(feast_columns) != sorted(our_columns):
        problems.append(f"columns feast={list(feast_columns)} ours={list(our_columns)}")
    for column, expected in feast_columns.items():
        actual = our_columns.get(column)
        if actual is None:
            continue
        for field in ("values", "statuses", "event_timestamps"):
            if not same_value(expected[field], actual[field]):
                problems.append(f"{column}.{field}: feast={expected[field]} ours={actual[field]}")
    return problems


def random_cases(count, seed=7):
    rng = random.Random(seed)
    views = {
        "card_stats": ["amt_avg_7d", "amt_std_7d", "txn_count_7d", "declines_24h", "is_flagged", "last_seen",
                       "country", "fingerprint", "recent_amounts", "recent_countries", "recent_counts"],
        "merchant_stats": ["risk_score", "category", "chargebacks_30d"],
    }
    for index in range(count):
        features = [f"{view}:{feature}" for view, names in views.items()
                    for feature in rng.sample(names, rng.randint(1, len(names)))]
        rows = rng.randint(1, 20)
        yield f"random {index}", {
            "features": features,
            "entities": {"card_id": [rng.randint(-2, 210) for _ in range(rows)],
                         "merchant_id": [f"m-{rng.randint(0, 18):03d}" for _ in range(rows)]},
            "full_feature_names": rng.random() < 0.3,
        }


def main():
    feast_url, ours_url = sys.argv[1], sys.argv[2]
    extra = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--random" else 0
    failures = 0
    cases = CASES + list(random_cases(extra))
    for name, body in cases:
        problems = compare(name, body, feast_url, ours_url)
        if problems:
            failures += 1
            print(f"DIFFERENT {name}:")
            for problem in problems[:8]:
                print("   ", problem)
    print(f"{len(cases) - failures}/{len(cases)} requests answered the same")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
