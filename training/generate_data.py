"""Generates the bundled FinServe data set: data/customers.csv, data/accounts.csv and
data/merchants.csv, with a fixed seed so every run writes the same bytes.

    python3 training/generate_data.py [--out data] [--seed 7]

Columns: the id (customer_id / account_id / merchant_id), event_timestamp (epoch seconds),
then one column per feature of the entity in registry/finserve.yaml, in the registry's order.
The same generator feeds the fraud model's training (training/train.py, issue 7), so the
features the server returns are the ones the model learned from.
"""
import argparse
import csv
import os
import random

# Event times lie in the 2 days before this instant (2026-11-01T00:00:00Z). The loader's
# --shift-timestamps-to-now moves them next to the present for demos.
BASE_TIME = 1_793_491_200
COUNTRIES = ["US", "US", "US", "GB", "DE", "FR", "CA", "BR", "IN", "NG"]
MERCHANT_CATEGORIES = [
    "grocery", "restaurants", "fuel", "electronics", "travel", "apparel", "digital_goods",
    "gambling", "crypto", "wire_transfer",
]
HIGH_RISK = {"crypto", "wire_transfer", "gambling"}
ACCOUNT_TYPES = ["checking", "savings", "credit"]


def customers(rng, count):
    """Yields the rows one at a time, so millions of them (bench/scale.sh) need no memory."""
    for customer_id in range(1, count + 1):
        age = rng.randint(18, 85)
        tenure = rng.randint(0, 7300)
        avg = round(rng.lognormvariate(3.8, 0.7), 2)
        std = round(avg * rng.uniform(0.2, 1.2), 2)
        yield [
            customer_id, BASE_TIME - rng.randint(0, 2 * 86400),
            age, tenure, avg, std, rng.randint(0, 180), rng.choices([0, 1, 2, 3], [90, 7, 2, 1])[0],
            rng.choice(COUNTRIES), "true" if rng.random() < 0.18 else "false",
        ]


def accounts(rng, count, customer_count):
    rows = []
    for account_id in range(1, count + 1):
        kind = rng.choice(ACCOUNT_TYPES)
        limit = round(rng.choice([500, 1000, 2500, 5000, 10000, 25000]) * 1.0, 2)
        balance = round(rng.uniform(0, limit * 1.5), 2)
        rows.append([
            account_id, BASE_TIME - rng.randint(0, 2 * 86400),
            rng.randint(1, customer_count), rng.randint(0, 5000), balance, limit,
            round(min(balance / limit, 1.5), 4), rng.choices([0, 1, 2, 5, 9], [85, 8, 4, 2, 1])[0], kind,
        ])
    return rows


def merchants(rng, count):
    rows = []
    for merchant_id in range(1, count + 1):
        category = rng.choice(MERCHANT_CATEGORIES)
        risky = category in HIGH_RISK
        rows.append([
            merchant_id, BASE_TIME - rng.randint(0, 2 * 86400),
            category, rng.randint(3, 5) if risky else rng.randint(1, 3),
            round(rng.uniform(0.01, 0.08) if risky else rng.uniform(0.0, 0.01), 5),
            round(rng.lognormvariate(3.5, 0.9), 2), rng.randint(10, 200000), rng.choice(COUNTRIES),
            "true" if category in {"digital_goods", "crypto", "gambling"} or rng.random() < 0.3 else "false",
        ])
    return rows


HEADERS = {
    "customers": ["customer_id", "event_timestamp", "age", "tenure_days", "avg_txn_amount_30d",
                  "std_txn_amount_30d", "txn_count_30d", "chargebacks_90d", "home_country", "is_premium"],
    "accounts": ["account_id", "event_timestamp", "customer_id", "account_age_days", "balance",
                 "credit_limit", "utilization", "failed_logins_24h", "account_type"],
    "merchants": ["merchant_id", "event_timestamp", "merchant_category", "risk_level", "fraud_rate_90d",
                  "avg_ticket", "txn_volume_30d", "country", "is_online"],
}


def generate(seed=7, customer_count=5000, account_count=6000, merchant_count=800):
    """The three tables as lists of rows (header order), the same for the same arguments."""
    rng = random.Random(seed)
    return {
        "customers": list(customers(rng, customer_count)),
        "accounts": accounts(rng, account_count, customer_count),
        "merchants": merchants(rng, merchant_count),
    }


def write_customers_only(seed, count, out):
    """customers.csv alone, streamed: the scale data of bench/scale.sh (1 M or 5 M rows, the
    bundled data's columns and distributions; its first 5 000 rows are the bundled ones)."""
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "customers.csv")
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADERS["customers"])
        writer.writerows(customers(random.Random(seed), count))
    print(f"wrote {count} rows to {os.path.normpath(path)}")


def write(tables, out):
    os.makedirs(out, exist_ok=True)
    for name, rows in tables.items():
        path = os.path.join(out, f"{name}.csv")
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(HEADERS[name])
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {os.path.normpath(path)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "data"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--accounts", type=int, default=6000)
    parser.add_argument("--merchants", type=int, default=800)
    parser.add_argument("--customers-only", action="store_true",
                        help="write customers.csv alone, streamed (for millions of rows)")
    args = parser.parse_args()
    if args.customers_only:
        write_customers_only(args.seed, args.customers, args.out)
    else:
        write(generate(args.seed, args.customers, args.accounts, args.merchants), args.out)


if __name__ == "__main__":
    main()
