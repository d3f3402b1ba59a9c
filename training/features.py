"""The fraud model's inputs and how each is computed: the one definition that training, the
FastAPI reference (bench/reference/app.py) and the Swift server (Sources/FeatureServer/
OnDemandFeatures.swift) share. Missing values are NaN; XGBoost sends them down each node's
default direction.

Stored features come from the customer, account and merchant hashes in Redis. On-demand
features are computed from the transaction in the request:

    amount                 the transaction amount
    amount_zscore          (amount - avg_txn_amount_30d) / max(std_txn_amount_30d, 1.0); NaN
                           when the customer's statistics are missing
    tx_velocity_ratio      transactions_last_hour / 4; NaN when not given
    is_high_risk_merchant  1 when the merchant category (the request's, else the stored one) is
                           crypto or wire_transfer, else 0; NaN when neither is known
    is_odd_hour            1 when the transaction's UTC hour is 0-5, else 0
    device_known           1/0 as given; NaN when not given
    location_match         1/0 as given; NaN when not given
    risk_score_raw         the number of these five risk factors that hold: amount_zscore > 3,
                           is_odd_hour, is_high_risk_merchant, device not known, location not
                           matching (a factor whose input is missing counts 0)
"""
import math

NAN = float("nan")

CUSTOMER_INPUTS = ["age", "tenure_days", "avg_txn_amount_30d", "std_txn_amount_30d", "txn_count_30d",
                   "chargebacks_90d", "is_premium"]
ACCOUNT_INPUTS = ["account_age_days", "balance", "credit_limit", "utilization", "failed_logins_24h"]
MERCHANT_INPUTS = ["risk_level", "fraud_rate_90d", "avg_ticket", "txn_volume_30d", "is_online"]
ON_DEMAND_INPUTS = ["amount", "amount_zscore", "tx_velocity_ratio", "is_high_risk_merchant", "is_odd_hour",
                    "risk_score_raw", "device_known", "location_match"]
MODEL_INPUTS = CUSTOMER_INPUTS + ACCOUNT_INPUTS + MERCHANT_INPUTS + ON_DEMAND_INPUTS

HIGH_RISK_CATEGORIES = {"crypto", "wire_transfer"}


def number(value):
    """A stored value as the model sees it: numbers as floats, booleans 1/0, absent NaN."""
    if value is None or value == "":
        return NAN
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if value in ("true", "True", "TRUE"):
        return 1.0
    if value in ("false", "False", "FALSE"):
        return 0.0
    return float(value)


def flag(value):
    return NAN if value is None else (1.0 if value else 0.0)


def on_demand(transaction, customer, merchant):
    """The on-demand inputs of one transaction (a dict with the request's fields) given the
    customer's and merchant's stored features (dicts, empty when missing)."""
    amount = float(transaction["amount"])
    mean = number(customer.get("avg_txn_amount_30d"))
    std = number(customer.get("std_txn_amount_30d"))
    zscore = NAN if math.isnan(mean) or math.isnan(std) else (amount - mean) / max(std, 1.0)
    count = transaction.get("transactions_last_hour")
    velocity = NAN if count is None else count / 4.0
    category = transaction.get("merchant_category") or merchant.get("merchant_category")
    high_risk = NAN if not category else (1.0 if category in HIGH_RISK_CATEGORIES else 0.0)
    hour = (int(transaction["timestamp"]) // 3600) % 24
    odd_hour = 1.0 if hour < 6 else 0.0
    device = flag(transaction.get("device_known"))
    location = flag(transaction.get("location_match"))
    factors = [zscore > 3, odd_hour == 1.0, high_risk == 1.0, device == 0.0, location == 0.0]
    return {
        "amount": amount, "amount_zscore": zscore, "tx_velocity_ratio": velocity,
        "is_high_risk_merchant": high_risk, "is_odd_hour": odd_hour,
        "risk_score_raw": float(sum(1 for factor in factors if factor)),
        "device_known": device, "location_match": location,
    }


def model_row(transaction, customer, account, merchant):
    """The complete model input vector, in MODEL_INPUTS order."""
    values = {name: number(customer.get(name)) for name in CUSTOMER_INPUTS}
    values.update({name: number(account.get(name)) for name in ACCOUNT_INPUTS})
    values.update({name: number(merchant.get(name)) for name in MERCHANT_INPUTS})
    values.update(on_demand(transaction, customer, merchant))
    return [values[name] for name in MODEL_INPUTS]
