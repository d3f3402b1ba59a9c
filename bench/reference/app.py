"""The reference stack our users run today, for bench/features.sh: FastAPI + uvicorn +
redis-py asyncio (hiredis parser) with a 50-connection BlockingConnectionPool (the plain
ConnectionPool answers 500 "Too many connections" at 100 concurrent clients) and a cachetools
TTLCache. It serves GET /features/{entity}/{id} with the same JSON shape and typing as
featureserver, from the same Redis layout and registry, and POST /predict the way such a
service does it: the three entities in one pipelined round trip (through the same TTLCache),
the on-demand features of training/features.py, and the model scored with the xgboost package
(Booster.inplace_predict on one row).

    REDIS_URL=redis://127.0.0.1:6379/0 CACHE_TTL=5 uvicorn app:app --workers 2
"""
import os
import time

import math
import sys

import cachetools
import numpy as np
import xgboost as xgb
import redis.asyncio as redis
import yaml
from fastapi import FastAPI
from fastapi import Request
from fastapi.responses import JSONResponse

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "training"))
import features as model_features  # noqa: E402

REGISTRY = yaml.safe_load(open(os.environ.get("REGISTRY", os.path.join(os.path.dirname(__file__), "../../registry/finserve.yaml"))))
PREFIX = REGISTRY["redis_key_prefix"]
MAX_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
ENTITIES = {
    name: {
        "features": [(f["name"], f["type"], f.get("default")) for f in spec["features"]],
        "max_age": float(spec["max_age"][:-1]) * MAX_AGE_UNITS[spec["max_age"][-1]],
    }
    for name, spec in REGISTRY["entities"].items()
}
CONVERT = {
    "int64": int,
    "double": float,
    "string": str,
    "bool": lambda text: text in ("true", "1", "True", "TRUE"),
}
CACHE_TTL = float(os.environ.get("CACHE_TTL", "5"))
cache = cachetools.TTLCache(maxsize=100_000, ttl=CACHE_TTL) if CACHE_TTL > 0 else None
pool = redis.BlockingConnectionPool.from_url(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), max_connections=50, timeout=5, decode_responses=True)
client = redis.Redis(connection_pool=pool)
app = FastAPI()


@app.get("/features/{entity}/{entity_id}")
async def features(entity: str, entity_id: str):
    spec = ENTITIES.get(entity)
    if spec is None:
        return JSONResponse({"error": "unknown_entity", "message": f"no entity '{entity}'"}, status_code=404)
    key = f"{PREFIX}:{entity}:{entity_id}"
    row = cache.get(key) if cache is not None else None
    if row is None:
        row = await client.hgetall(key)
        if cache is not None:
            cache[key] = row
    if not row:
        return JSONResponse({"error": "not_found", "message": f"{entity} '{entity_id}' not found"}, status_code=404)
    values = {}
    for name, kind, default in spec["features"]:
        text = row.get(name)
        try:
            values[name] = CONVERT[kind](text) if text is not None else default
        except ValueError:
            values[name] = None
    timestamp = int(row["_ts"]) if "_ts" in row else None
    status = "OUTSIDE_MAX_AGE" if timestamp is not None and time.time() - timestamp > spec["max_age"] else "PRESENT"
    return {"entity": entity, "id": entity_id, "features": values, "event_timestamp": timestamp, "status": status}


MODEL = xgb.Booster(model_file=os.environ.get("MODEL", os.path.join(ROOT, "models", "fraud_xgb.json")))
MODEL.set_param({"nthread": 1})
MODEL_VERSION = MODEL.attr("model_version") or "unknown"
THRESHOLD = float(os.environ.get("FRAUD_THRESHOLD", "0.7"))


async def read_rows(keys):
    """Rows for keys: cached ones from the TTLCache, the rest in one pipelined round trip."""
    rows = {key: cache.get(key) for key in keys} if cache is not None else {key: None for key in keys}
    missing = [key for key, row in rows.items() if row is None]
    if missing:
        async with client.pipeline(transaction=False) as pipe:
            for key in missing:
                pipe.hgetall(key)
            fetched = await pipe.execute()
        for key, row in zip(missing, fetched):
            rows[key] = row
            if cache is not None:
                cache[key] = row
    return rows


@app.post("/predict")
async def predict(request: Request):
    started = time.perf_counter()
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"error": "invalid_request", "message": "body is not valid JSON"}, status_code=400)
    for field in ("transaction_id", "customer_id", "account_id", "merchant_id", "amount"):
        if body.get(field) is None:
            return JSONResponse({"error": "invalid_request", "message": f"missing field '{field}'"}, status_code=400)
    amount = body["amount"]
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not math.isfinite(amount) or amount < 0:
        return JSONResponse({"error": "invalid_request", "message": "field 'amount' must be a non-negative number"},
                            status_code=400)
    body.setdefault("timestamp", int(time.time()))
    keys = [f"{PREFIX}:customer:{body['customer_id']}", f"{PREFIX}:account:{body['account_id']}",
            f"{PREFIX}:merchant:{body['merchant_id']}"]
    rows = await read_rows(keys)
    fetched = time.perf_counter()
    vector = model_features.model_row(body, rows[keys[0]] or {}, rows[keys[1]] or {}, rows[keys[2]] or {})
    probability = float(MODEL.inplace_predict(np.array([vector], dtype=np.float32))[0])
    scored = time.perf_counter()
    missing = [name for name, value in zip(model_features.MODEL_INPUTS, vector) if math.isnan(value)]
    return {
        "transaction_id": body["transaction_id"], "fraud_probability": probability,
        "is_fraud": probability >= THRESHOLD, "confidence": abs(probability - 0.5) * 2,
        "model_version": MODEL_VERSION,
        "latency_ms": {"feature_retrieval": (fetched - started) * 1000, "inference": (scored - fetched) * 1000,
                       "total": (time.perf_counter() - started) * 1000},
        "degraded": any(not rows[key] for key in keys), "missing_features": missing,
    }
