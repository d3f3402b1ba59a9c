"""Trains the FinServe fraud model and writes everything the server and its tests need.

    python3 -m venv .venv && .venv/bin/pip install -r training/requirements.txt
    .venv/bin/python training/train.py [--seed 7] [--transactions 150000]

Writes (paths relative to the repository):
    data/{customers,accounts,merchants}.csv   the FinServe data set (training/generate_data.py)
    models/fraud_xgb.json                     the XGBoost model (Booster.save_model)
    models/fraud_xgb.reference.json           reference distribution of every input (drift)
    models/fraud_xgb.md                       the model card
    Tests/FeatureServerTests/Fixtures/fraud_xgb_parity.csv
                                              1 000 input rows with XGBoost's own predictions

Everything is seeded: the same versions and arguments write the same model.
"""
import argparse
import csv
import datetime
import json
import math
import os
import sys

import numpy as np
import xgboost as xgb
from sklearn.metrics import precision_score, recall_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import features  # noqa: E402
import generate_data  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
THRESHOLD = 0.7
DAY = 86400


def table(rows, header):
    """Rows keyed by id, each a dict of feature name to value."""
    return {row[0]: dict(zip(header[2:], row[2:])) for row in rows}


def transactions(rng, customers, accounts, merchants, count):
    """Labelled synthetic transactions. A latent fraud flag, more likely for risky customers,
    accounts and merchants, shapes each transaction: fraud is larger, at odd hours, at high-risk
    merchants, from unknown devices and places, in velocity bursts."""
    accounts_of = {}
    for account_id, account in accounts.items():
        accounts_of.setdefault(account["customer_id"], []).append(account_id)
    merchant_ids = list(merchants)
    risky_merchants = [m for m in merchant_ids if merchants[m]["merchant_category"] in features.HIGH_RISK_CATEGORIES]
    customer_ids = list(customers)
    account_ids = list(accounts)
    out = []
    for _ in range(count):
        customer_id = customer_ids[rng.integers(len(customer_ids))]
        owned = accounts_of.get(customer_id)
        account_id = owned[rng.integers(len(owned))] if owned else account_ids[rng.integers(len(account_ids))]
        merchant_id = merchant_ids[rng.integers(len(merchant_ids))]
        customer, account, merchant = customers[customer_id], accounts[account_id], merchants[merchant_id]
        prior = (0.012 + 0.35 * merchant["fraud_rate_90d"] + 0.02 * customer["chargebacks_90d"]
                 + 0.006 * account["failed_logins_24h"] + (0.01 if account["utilization"] > 1.0 else 0.0))
        fraud = rng.random() < min(prior, 0.5)
        if fraud and rng.random() < 0.4:
            merchant_id = risky_merchants[rng.integers(len(risky_merchants))]
            merchant = merchants[merchant_id]
        average = customer["avg_txn_amount_30d"]
        amount = average * rng.lognormal(1.3 if fraud else 0.0, 0.8 if fraud else 0.45)
        day = generate_data.BASE_TIME - int(rng.integers(0, 30)) * DAY
        odd = rng.random() < (0.45 if fraud else 0.06)
        hour = int(rng.integers(0, 6)) if odd else int(rng.integers(6, 24))
        transaction = {
            "amount": round(float(amount), 2),
            "timestamp": day + hour * 3600 + int(rng.integers(0, 3600)),
            "merchant_category": merchant["merchant_category"],
            "device_known": bool(rng.random() >= (0.55 if fraud else 0.07)),
            "location_match": bool(rng.random() >= (0.5 if fraud else 0.06)),
            "transactions_last_hour": int(rng.poisson(7.0 if fraud and rng.random() < 0.5 else 0.8)),
        }
        # Requests omit optional fields now and then; entities are sometimes missing.
        for field in ("merchant_category", "device_known", "location_match", "transactions_last_hour"):
            if rng.random() < 0.04:
                transaction[field] = None
        stored = [customer, account, merchant]
        for position in range(3):
            if rng.random() < 0.015:
                stored[position] = {}
        out.append((features.model_row(transaction, *stored), 1 if fraud else 0))
    return out


def reference_distribution(matrix, names, bins=10):
    """Fixed bin edges (deciles of the training values) and the share of training rows in each
    bin, plus the share missing: what the server's drift gauges compare against."""
    reference = {}
    for column, name in enumerate(names):
        values = matrix[:, column]
        present = values[~np.isnan(values)]
        edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1]))
        # Bins: (-inf, e0), [e0, e1), ..., [e_last, +inf); then missing.
        counts = np.bincount(np.searchsorted(edges, present, side="right"), minlength=len(edges) + 1)
        reference[name] = {
            "edges": [float(edge) for edge in edges],
            "proportions": [float(count) / len(values) for count in counts],
            "missing_proportion": float(np.isnan(values).sum()) / len(values),
        }
    return reference


def write_parity(path, booster, matrix, names, rng):
    """1 000 held-out rows (a fifth with extra missing values) and XGBoost's probabilities."""
    rows = matrix[rng.choice(len(matrix), 1000, replace=False)].copy()
    for row in rows[:200]:
        row[rng.choice(len(names), int(rng.integers(1, 6)), replace=False)] = np.nan
    rows = rows.astype(np.float32)
    predictions = booster.predict(xgb.DMatrix(rows, feature_names=names, missing=np.nan))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names + ["xgboost_probability"])
        for row, prediction in zip(rows, predictions):
            writer.writerow(["" if math.isnan(value) else repr(float(value)) for value in row]
                            + [repr(float(prediction))])
    return int(np.isnan(rows).any(axis=1).sum())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--transactions", type=int, default=150_000)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--max-depth", type=int, default=6)
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="training date for the card")
    args = parser.parse_args()

    tables = generate_data.generate(args.seed)
    generate_data.write(tables, os.path.join(ROOT, "data"))
    customers = table(tables["customers"], generate_data.HEADERS["customers"])
    accounts = table(tables["accounts"], generate_data.HEADERS["accounts"])
    merchants = table(tables["merchants"], generate_data.HEADERS["merchants"])
    rng = np.random.default_rng(args.seed)
    labelled = transactions(rng, customers, accounts, merchants, args.transactions)
    matrix = np.array([row for row, _ in labelled], dtype=np.float64)
    labels = np.array([label for _, label in labelled])
    order = rng.permutation(len(labels))
    split = int(len(order) * 0.8)
    train, test = order[:split], order[split:]
    names = features.MODEL_INPUTS

    dtrain = xgb.DMatrix(matrix[train], label=labels[train], feature_names=names, missing=np.nan)
    dtest = xgb.DMatrix(matrix[test], label=labels[test], feature_names=names, missing=np.nan)
    params = {
        "objective": "binary:logistic", "eval_metric": "auc", "max_depth": args.max_depth, "eta": 0.1,
        "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 2, "tree_method": "hist",
        "seed": args.seed, "nthread": 2,
    }
    booster = xgb.train(params, dtrain, args.rounds, evals=[(dtest, "test")], verbose_eval=50)
    version = f"fraud_xgb-{args.date}"
    booster.set_attr(model_version=version)
    probabilities = booster.predict(dtest)
    predicted = probabilities >= THRESHOLD
    metrics = {
        "auc": float(roc_auc_score(labels[test], probabilities)),
        "precision": float(precision_score(labels[test], predicted, zero_division=0)),
        "recall": float(recall_score(labels[test], predicted, zero_division=0)),
        "precision_at_0.5": float(precision_score(labels[test], probabilities >= 0.5, zero_division=0)),
        "recall_at_0.5": float(recall_score(labels[test], probabilities >= 0.5, zero_division=0)),
    }
    print(json.dumps(metrics, indent=2))

    os.makedirs(os.path.join(ROOT, "models"), exist_ok=True)
    booster.save_model(os.path.join(ROOT, "models", "fraud_xgb.json"))
    with open(os.path.join(ROOT, "models", "fraud_xgb.reference.json"), "w") as handle:
        json.dump({"model_version": version, "rows": len(train),
                   "features": reference_distribution(matrix[train], names)}, handle, indent=1)
        handle.write("\n")
    fixtures = os.path.join(ROOT, "Tests", "FeatureServerTests", "Fixtures")
    os.makedirs(fixtures, exist_ok=True)
    with_missing = write_parity(os.path.join(fixtures, "fraud_xgb_parity.csv"), booster, matrix[test], names, rng)
    write_card(args, version, metrics, labels, train, test, names, with_missing)


def write_card(args, version, metrics, labels, train, test, names, with_missing):
    inputs = "\n".join(f"| {index} | `{name}` | {source(name)} |" for index, name in enumerate(names))
    card = f"""# Model card: {version}

The FinServe card-fraud model served by `POST /predict`. Trained by `training/train.py` on
{args.date} with XGBoost {xgb.__version__} (`binary:logistic`, {args.rounds} trees, max depth
{args.max_depth}, eta 0.1, seed {args.seed}).

## Data
{args.transactions:,} synthetic transactions over the bundled FinServe data set (`data/*.csv`,
seed {args.seed}), {labels.mean():.2%} fraudulent. A latent fraud flag, likelier for customers with
chargebacks, accounts with failed logins or over their limit and merchants with high fraud rates,
shapes each transaction: fraud is larger against the customer's average, more often at odd hours
(00-05 UTC), at crypto and wire-transfer merchants, from unknown devices and places, and in
velocity bursts. 4 % of requests omit each optional field and 1.5 % of entities are missing, so
the trees learn default directions for missing values. Split 80/20 at random:
{len(train):,} rows to train, {len(test):,} held out.

## Held-out quality
| metric | value |
|---|---|
| ROC AUC | {metrics['auc']:.4f} |
| precision at 0.7 (the server's default threshold) | {metrics['precision']:.4f} |
| recall at 0.7 | {metrics['recall']:.4f} |
| precision at 0.5 | {metrics['precision_at_0.5']:.4f} |
| recall at 0.5 | {metrics['recall_at_0.5']:.4f} |

## Inputs (in the model's order)
| # | input | source |
|---|---|---|
{inputs}

On-demand inputs are defined in `training/features.py`; the server computes them the same way.

## Parity
`Tests/FeatureServerTests/Fixtures/fraud_xgb_parity.csv`: 1 000 held-out rows ({with_missing} with
missing values) and XGBoost's own probabilities; the Swift evaluator must match each within 1e-6.

## Limits
Synthetic data: the patterns are the ones the generator planted. Retrain on real labelled
transactions before trusting it with money.
"""
    with open(os.path.join(ROOT, "models", "fraud_xgb.md"), "w") as handle:
        handle.write(card)


def source(name):
    if name in features.CUSTOMER_INPUTS:
        return "customer (Redis)"
    if name in features.ACCOUNT_INPUTS:
        return "account (Redis)"
    if name in features.MERCHANT_INPUTS:
        return "merchant (Redis)"
    return "on demand, from the request"


if __name__ == "__main__":
    main()
