"""Demo service for docker-compose.yaml: a small shop whose traces go through tailgate.

Every DEMO_INTERVAL seconds it sends one trace over OTLP/HTTP JSON to DEMO_OTLP_ENDPOINT:
frontend "GET /checkout" (server) -> checkout "POST /pay" (server) -> payments "charge"
(client), with a user_id for the redaction processor to pseudonymise. About 1 trace in 20
fails in payments (status ERROR, propagated up) and 1 in 25 is slow (payments takes
1.2-2 s), so the tail sampler keeps them and the RED dashboard shows errors and a p99.
Python standard library only. DEMO_TRACES > 0 stops after that many traces (tests).
"""
import json
import os
import random
import time
import urllib.request

ENDPOINT = os.environ.get("DEMO_OTLP_ENDPOINT", "http://localhost:4318/v1/traces")
INTERVAL = float(os.environ.get("DEMO_INTERVAL", "0.2"))
TRACES = int(os.environ.get("DEMO_TRACES", "0"))
SEED = os.environ.get("DEMO_SEED")

KIND_SERVER, KIND_CLIENT = 2, 3
STATUS_UNSET, STATUS_ERROR = 0, 2


def hexid(rng, nbytes):
    return "".join("%02x" % rng.randrange(256) for _ in range(nbytes))


def span(trace_id, span_id, parent, name, kind, start_ns, end_ns, error, attrs):
    s = {
        "traceId": trace_id, "spanId": span_id, "name": name, "kind": kind,
        "startTimeUnixNano": str(start_ns), "endTimeUnixNano": str(end_ns),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        "status": {"code": STATUS_ERROR if error else STATUS_UNSET,
                   "message": "card declined" if error else ""},
    }
    if parent:
        s["parentSpanId"] = parent
    return s


def resource_spans(service, spans):
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "tailgate-demo"}, "spans": spans}],
    }


def one_trace(rng, now_ns):
    """Returns (request body, trace id, error, slow) for one shop trace ending at now_ns."""
    trace_id = hexid(rng, 16)
    error = rng.random() < 0.05
    slow = not error and rng.random() < 0.04
    pay_ms = rng.uniform(1200, 2000) if slow else rng.uniform(5, 60)
    total_ms = pay_ms + rng.uniform(5, 20)
    start = now_ns - int(total_ms * 1e6)
    f_id, c_id, p_id = hexid(rng, 8), hexid(rng, 8), hexid(rng, 8)
    user = "customer-%d" % rng.randrange(1000)
    body = {"resourceSpans": [
        resource_spans("frontend", [span(trace_id, f_id, None, "GET /checkout", KIND_SERVER, start,
                                         now_ns, error, {"http.method": "GET", "user_id": user})]),
        resource_spans("checkout", [span(trace_id, c_id, f_id, "POST /pay", KIND_SERVER,
                                         start + 2_000_000, now_ns - 1_000_000, error,
                                         {"user_id": user})]),
        resource_spans("payments", [span(trace_id, p_id, c_id, "charge", KIND_CLIENT,
                                         start + 4_000_000, start + 4_000_000 + int(pay_ms * 1e6),
                                         error, {"payment.provider": "demo-bank"})]),
    ]}
    return body, trace_id, error, slow


def main():
    rng = random.Random(SEED)
    sent = 0
    while TRACES <= 0 or sent < TRACES:
        body, trace_id, error, slow = one_trace(rng, time.time_ns())
        req = urllib.request.Request(ENDPOINT, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                resp.read()
            print(json.dumps({"trace_id": trace_id, "error": error, "slow": slow}), flush=True)
        except OSError as e:  # tailgate not up yet, or restarting: try again next time
            print(json.dumps({"trace_id": trace_id, "send_error": str(e)}), flush=True)
        sent += 1
        time.sleep(INTERVAL)


if __name__ == "__main__":
    main()
