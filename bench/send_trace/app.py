# The approach Canopy's relay replaces, for `make bench` (BENCH_ONLY=relay): the Flask backend's
# `/api/send-trace` endpoint from the user's write-up (Week 2, "Instrument Honeycomb for the
# frontend-application"), as the write-up shows it: the browser POSTs a JSON list of its spans, and
# the endpoint re-creates each one with the OpenTelemetry Python SDK (TracerProvider,
# BatchSpanProcessor, OTLPSpanExporter over HTTP/protobuf), plus the write-up's Flask and requests
# instrumentation. Only the OTLP endpoint differs: OTEL_EXPORTER_OTLP_ENDPOINT points at the
# bench's local sink on 127.0.0.1 instead of Honeycomb.
#
# Installed into bench/send_trace/.venv from requirements.txt (pinned) by bench/run.sh and served
# with gunicorn (see bench/relay.mjs for the exact command).
from flask import Flask, request
from flask_cors import cross_origin

from opentelemetry import trace
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider()
processor = BatchSpanProcessor(OTLPSpanExporter())
provider.add_span_processor(processor)
trace.set_tracer_provider(provider)
tracer = trace.get_tracer(__name__)
app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)
RequestsInstrumentor().instrument()


@app.route("/api/send-trace", methods=['POST'])
@cross_origin()
def send_trace():
    try:
        # Extract trace information from request body
        trace_data_list = request.json
        tracer = trace.get_tracer(__name__)   # Get a tracer instance from the OpenTelemetry library

        # Loop through the list of spans and create a new span for each one
        for trace_data in trace_data_list:
            trace_SpanContext = trace_data.get('_SpanContext')
            duration = trace_data.get("duration")
            start_time = trace_data.get("startTime")
            end_time = trace_data.get("endTime")
            name = trace_data.get("name")
            parent_span_id = trace_data.get("parentSpanId")
            print("--------------------",parent_span_id)

            # Create a new span and set attributes
            with tracer.start_as_current_span(
                name=name,              # Set the name of the span
                context=trace_SpanContext,   # Set the context of the span
            ) as span:
                span.set_attribute("duration", duration)   # Set the duration attribute of the span
                span.set_attribute("start_time", start_time)   # Set the start time attribute of the span
                span.set_attribute("end_time", end_time)   # Set the end time attribute of the span

        # Return success response
        return ({"message": "Trace sent successfully"}), 200

    except Exception as e:
        # Return error response if span fails to export
        return ({"error": str(e)}), 500
