"""Writes dashboards/grafana/featureserver.json, the Grafana dashboard for featureserver.
Edit the panels here and run `python3 dashboards/generate.py`; the JSON is committed so Grafana
users import it without Python. Every expression is checked against a real Prometheus scraping
a real server by Tests/OperationsTests.
"""
import json
import os

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SERVING = 'route=~"/features.*|/predict|/get-online-features"'
panels = []
y = 0


def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                   "id": len(panels) + 1, "panels": []})
    y += 1


def panel(title, targets, unit="short", width=12, kind="timeseries", thresholds=None, description="", stack=False):
    global y
    x = sum(p["gridPos"]["w"] for p in panels if p["gridPos"]["y"] == y and p["type"] != "row")
    if x + width > 24:
        y += 8
        x = 0
    field = {"defaults": {"unit": unit, "custom": {}}, "overrides": []}
    if kind == "timeseries":
        field["defaults"]["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                       "stacking": {"mode": "normal" if stack else "none"}}
    if thresholds:
        field["defaults"]["thresholds"] = {"mode": "absolute", "steps": [{"color": "green", "value": None}] + [
            {"color": color, "value": value} for value, color in thresholds]}
        if kind == "timeseries":
            field["defaults"]["custom"]["thresholdsStyle"] = {"mode": "line"}
    panels.append({
        "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width, "x": x, "y": y}, "id": len(panels) + 1, "fieldConfig": field,
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "desc"}} if kind == "timeseries" else {
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area", "textMode": "auto"},
        "targets": [{"datasource": DATASOURCE, "refId": chr(65 + index), "expr": expr, "legendFormat": legend}
                    for index, (expr, legend) in enumerate(targets)],
    })
    if x + width >= 24:
        y += 8


def rate(selector):
    return f"rate({selector}[$__rate_interval])"


row("Traffic")
panel("Requests per second by route", [
    (f"sum by (route) ({rate('featureserver_http_requests_total')})", "{{route}}")], unit="reqps")
panel("Requests per second by status", [
    (f"sum by (status) ({rate('featureserver_http_requests_total')})", "{{status}}")], unit="reqps", stack=True)

row("Latency")
SERVED_BUCKETS = "featureserver_http_request_duration_seconds_bucket{" + SERVING + "}"
panel("Latency by route (p50, p95, p99) against the 10 ms SLO", [
    (f"histogram_quantile({q}, sum by (le, route) ({rate(SERVED_BUCKETS)}))", f"p{label} {{{{route}}}}")
    for q, label in (("0.5", "50"), ("0.95", "95"), ("0.99", "99"))],
    unit="s", width=16, thresholds=[(0.010, "red")],
    description="The red line is the SLO: p99 under 10 ms.")
UNDER_10MS = "featureserver_http_request_duration_seconds_bucket{" + SERVING + ',le="0.01"}'
ALL_SERVED = "featureserver_http_request_duration_seconds_count{" + SERVING + "}"
panel("Share of requests under 10 ms", [
    ("sum(" + rate(UNDER_10MS) + ") / sum(" + rate(ALL_SERVED) + ")", "under 10 ms")],
    unit="percentunit", width=8, kind="stat", thresholds=[(0.99, "green")])

row("Errors")
SERVER_ERRORS = 'featureserver_http_requests_total{status=~"5.."}'
CLIENT_ERRORS = 'featureserver_http_requests_total{status=~"4.."}'
panel("Error ratio (5xx / all)", [
    ("sum(" + rate(SERVER_ERRORS) + ") / sum(" + rate("featureserver_http_requests_total") + ")", "5xx ratio")],
    unit="percentunit", thresholds=[(0.01, "red")])
panel("Client errors by route and status", [
    ("sum by (route, status) (" + rate(CLIENT_ERRORS) + ")", "{{route}} {{status}}")], unit="reqps")

row("Cache")
CACHE_HITS = 'featureserver_cache_requests_total{result=~"hit|negative"}'
panel("Cache hit ratio", [
    ("sum(" + rate(CACHE_HITS) + ") / sum(" + rate("featureserver_cache_requests_total") + ")", "hit ratio")],
    unit="percentunit", width=8)
panel("Cache entries", [("featureserver_cache_entries", "entries"), ("featureserver_cache_max_entries", "capacity")],
      width=8)
panel("Cache results, evictions and stale answers", [
    (f"sum by (result) ({rate('featureserver_cache_requests_total')})", "{{result}}"),
    (f"{rate('featureserver_cache_evictions_total')}", "evictions")], unit="ops", width=8)

row("Redis pool")
panel("Connections up / configured", [("featureserver_redis_connections_up", "up"),
                                        ("featureserver_redis_connections", "configured")], width=6)
panel("Commands in flight", [("featureserver_redis_commands_in_flight", "in flight")], width=6)
panel("Redis command latency (p50, p99)", [
    (f"histogram_quantile({q}, sum by (le) ({rate('featureserver_redis_command_duration_seconds_bucket')}))", f"p{label}")
    for q, label in (("0.5", "50"), ("0.99", "99"))], unit="s", width=6)
panel("Commands by outcome and reconnects", [
    (f"sum by (outcome) ({rate('featureserver_redis_commands_total')})", "{{outcome}}"),
    (f"{rate('featureserver_redis_reconnects_total')}", "reconnects")], unit="ops", width=6)

row("Redis Cluster (empty for a single Redis)")
panel("Slots served by a healthy primary", [("featureserver_redis_cluster_slots_served", "slots")], width=6,
      kind="stat", thresholds=[(16384, "green")],
      description="Of 16384. Fewer: a primary failed and no replica has taken over yet; reads of its slots fail fast.")
panel("Cluster nodes by role and health", [
    ("sum by (role, health) (featureserver_redis_cluster_nodes)", "{{role}} {{health}}")], width=6)
panel("Redirects followed, by kind", [
    (f"sum by (kind) ({rate('featureserver_redis_cluster_redirects_total')})", "{{kind}}")], unit="ops", width=6,
    description="moved/ask: slots migrating (resharding); clusterdown: the cluster refused while failing over.")
panel("Topology reads, by result", [
    (f"sum by (result) ({rate('featureserver_redis_cluster_topology_refreshes_total')})", "{{result}}")],
    unit="ops", width=6)

row("Streaming windows (empty without --stream)")
panel("Events stored, bad and late", [
    (f"sum({rate('featureserver_stream_events_total')})", "stored"),
    (f"sum by (problem) ({rate('featureserver_stream_bad_events_total')})", "bad {{problem}}"),
    (f"sum({rate('featureserver_stream_late_events_total')})", "late")], unit="ops", width=6)
panel("XADD to servable (p50, p99)", [
    (f"histogram_quantile({q}, sum by (le) ({rate('featureserver_stream_processing_seconds_bucket')}))", f"p{label}")
    for q, label in (("0.5", "50"), ("0.99", "99"))], unit="s", width=6)
panel("Consumer group lag and pending", [
    ("sum(featureserver_stream_group_lag)", "undelivered"),
    ("sum(featureserver_stream_group_pending)", "pending")], width=6,
    description="XINFO GROUPS: entries not yet delivered to any consumer, and delivered but not acknowledged.")
panel("Watermark lag", [("max(featureserver_stream_watermark_lag_seconds)", "now - newest event time")], unit="s",
      width=6, description="Grows while no events arrive; the watermark itself trails the newest event by its delay.")
panel("Window events cache: invalidations", [
    ("sum(" + rate('featureserver_window_invalidations_total{kind="key"}') + ")", "changed events hashes"),
    ("min(featureserver_window_invalidation_listening)", "listening (1/0)")], width=6,
    description="Events stay cached until Redis reports a change; while not listening they expire after --window-cache-ttl.")
panel("Window events cache: the consumer's own writes", [
    (f"sum by (outcome) ({rate('featureserver_window_cache_own_writes_total')})", "{{outcome}}")], unit="ops", width=6,
    description="Events this server's consumer stored: applied to the cached copy (write-through), dropped (the copy no "
    "longer matched Redis, or the hash was pruned), or not cached.")

row("Predictions")
ALL_PREDICTIONS = "sum(" + rate("featureserver_predictions_total") + ")"
panel("Fraud rate and degraded rate", [
    ("sum(" + rate('featureserver_predictions_total{outcome="fraud"}') + ") / " + ALL_PREDICTIONS, "fraud"),
    ("sum(" + rate('featureserver_predictions_total{outcome="degraded"}') + ") / " + ALL_PREDICTIONS, "degraded")],
    unit="percentunit", width=8, thresholds=[(0.05, "orange")])
panel("Inference time (p50, p99)", [
    (f"histogram_quantile({q}, sum by (le) ({rate('featureserver_model_inference_seconds_bucket')}))", f"p{label}")
    for q, label in (("0.5", "50"), ("0.99", "99"))], unit="s", width=8)
panel("Model version", [("featureserver_model_info", "{{version}} ({{trees}} trees)")], width=8, kind="stat")

row("Feature freshness")
panel("Feature age at read time (p50, p99) by entity", [
    (f"histogram_quantile({q}, sum by (le, entity) ({rate('featureserver_feature_age_seconds_bucket')}))", f"p{label} {{{{entity}}}}")
    for q, label in (("0.5", "50"), ("0.99", "99"))], unit="s", width=24)

row("Feast API and stored data")
panel("Feast entity rows read, by result", [
    (f"sum by (result) ({rate('featureserver_feast_entity_rows_total')})", "{{result}}")], unit="ops", width=12,
    stack=True, description="found: the key had the view's row; absent: it did not (null values); invalid: the key holds something else than a Feast hash.")
panel("Stored data that could not be read", [
    (f"sum({rate('featureserver_feature_decode_errors_total')})", "values"),
    (f"sum by (entity, feature_view) ({rate('featureserver_stored_row_errors_total')})", "rows {{entity}}{{feature_view}}")],
    unit="ops", width=12, description="Values that did not decode as their type, and keys that hold no feature row: served as null, never a crash. A writer is storing data this server cannot read.")

row("Drift")
panel("PSI per model input", [("featureserver_feature_drift_psi", "{{feature}}")], width=12,
      thresholds=[(0.25, "red")], description="Population stability index over the drift window; 0.25 is the usual alarm.")
panel("KS statistic per model input", [("featureserver_feature_drift_ks", "{{feature}}")], width=6)
panel("Drift share (inputs with PSI > 0.25)", [("featureserver_feature_drift_share", "share")], unit="percentunit",
      width=6, kind="stat", thresholds=[(0.3, "red")])

dashboard = {
    "title": "featureserver", "uid": "featureserver", "tags": ["featureserver", "fraud"], "timezone": "",
    "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1, "refresh": "10s",
    "time": {"from": "now-1h", "to": "now"},
    "annotations": {"list": []},
    "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
                             "current": {}, "hide": 0, "refresh": 1, "regex": "", "options": []}]},
    "panels": panels,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "grafana", "featureserver.json")
with open(path, "w") as handle:
    json.dump(dashboard, handle, indent=2)
    handle.write("\n")
print("wrote", path, len([p for p in panels if p["type"] != "row"]), "panels")
