"""The reference stack our users run today, for bench/features.sh: FastAPI + uvicorn +
redis-py asyncio (hiredis parser) with a 50-connection BlockingConnectionPool (the plain
ConnectionPool answers 500 "Too many connections" at 100 concurrent clients) and a cachetools
TTLCache. It serves GET /features/{entity}/{id} with the same JSON shape and typing as
featureserver, from the same Redis layout and registry.

    REDIS_URL=redis://127.0.0.1:6379/0 CACHE_TTL=5 uvicorn app:app --workers 2
"""
import os
import time

import cachetools
import redis.asyncio as redis
import yaml
from fastapi import FastAPI
from fastapi.responses import JSONResponse

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
