"""Cruddur's backend, as in the seed: Flask instrumented with OpenTelemetry, exporting
OTLP/HTTP (protobuf) to the Canopy relay, which keeps the Honeycomb key.

The browser reaches it through the Vite dev server's proxy (same origin), so canopy-web sends
`traceparent` and the Flask server span continues the browser's trace; no CORS is needed.

Configured by the standard OpenTelemetry variables (scripts/demo.sh sets them):
  OTEL_SERVICE_NAME                 backend-flask
  OTEL_EXPORTER_OTLP_ENDPOINT       the relay, e.g. http://127.0.0.1:7318 (/v1/traces is added)
  OTEL_BSP_SCHEDULE_DELAY           ms between exports (the SDK's default is 5000)
and CANOPY_DEMO_BACKEND_PORT (7311) for the port it listens on, on 127.0.0.1.
"""

import os
import signal
import sys

from flask import Flask, jsonify, request
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from services.home_activities import HomeActivities

# Initialize tracing and an exporter that can send data to the relay.
provider = TracerProvider()
processor = BatchSpanProcessor(OTLPSpanExporter())
provider.add_span_processor(processor)
trace.set_tracer_provider(provider)

# Initialize automatic instrumentation with Flask: a SERVER span per request, continuing the
# trace of the request's `traceparent` header (the health check is not traced).
app = Flask(__name__)
FlaskInstrumentor().instrument_app(app, excluded_urls="healthz")


@app.route("/api/activities/home", methods=["GET"])
def data_home():
    if request.args.get("fail"):
        # The demo's "break the feed": Flask's instrumentation records the exception on its span.
        raise RuntimeError("home activities are broken (the demo asked for it)")
    return jsonify(HomeActivities.run())


@app.route("/healthz")
def healthz():
    return "ok\n"


def main():
    # SIGTERM (scripts/demo.sh stopping) exits normally, so the SDK's atexit hook flushes spans.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(os.environ.get("CANOPY_DEMO_BACKEND_PORT", "7311"))
    try:
        app.run(host="127.0.0.1", port=port, debug=False, use_reloader=False)
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
