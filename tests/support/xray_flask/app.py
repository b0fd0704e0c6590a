"""A Flask backend traced with the AWS X-Ray SDK as in the seed (`xray_recorder.configure(service=...)`,
`XRayMiddleware(app, xray_recorder)`), for tests/e2e/xray-flask.test.mjs.

    AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:<udp port> python app.py

listens on 127.0.0.1, a free port, and prints "listening <port>" once it accepts connections.
The SDK sends each request's segment as one UDP datagram to AWS_XRAY_DAEMON_ADDRESS (the test's
stand-in for the X-Ray daemon). The page calling it is on another port, so it answers CORS:
every response allows any origin, and preflights are answered before Flask sees them (as a
front proxy would): with Flask-CORS they would reach XRayMiddleware and each be recorded as a
trace of its own, header-less, taking the 1-per-second reservoir of the default sampling rule
from the GET that follows.
"""

import os
import signal
import sys

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.ext.flask.middleware import XRayMiddleware
from flask import Flask, jsonify
from werkzeug.serving import make_server

ALLOW_HEADERS = "traceparent, tracestate, x-amzn-trace-id"

app = Flask(__name__)

# As in the seed.
xray_url = os.getenv("AWS_XRAY_URL")
xray_recorder.configure(service="backend-flask", dynamic_naming=xray_url)
XRayMiddleware(app, xray_recorder)


@app.route("/api/activities/home", methods=["GET"])
def data_home():
    return jsonify([{"uuid": "68f126b0-1ceb-4a33-88be-d90fa7109eee", "handle": "Andrew Brown",
                     "message": "Cloud is fun!"}])


@app.after_request
def cors(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
    return response


def preflight(wsgi_app):
    """Answers CORS preflights (OPTIONS with Access-Control-Request-Method) with 204 itself."""

    def answer(environ, start_response):
        if environ.get("REQUEST_METHOD") == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"):
            start_response("204 No Content", [
                ("Access-Control-Allow-Origin", "*"),
                ("Access-Control-Allow-Methods", "GET, OPTIONS"),
                ("Access-Control-Allow-Headers", ALLOW_HEADERS),
                ("Access-Control-Max-Age", "0"),
                ("Content-Length", "0"),
            ])
            return [b""]
        return wsgi_app(environ, start_response)

    return answer


app.wsgi_app = preflight(app.wsgi_app)


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
