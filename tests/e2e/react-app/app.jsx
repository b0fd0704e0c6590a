// The React test page: canopy-web/react under React.StrictMode, bundled by
// tests/e2e/react-provider.test.mjs with esbuild (React's development build, so StrictMode
// really mounts, unmounts and remounts every effect). The test drives it through window.harness.
import { StrictMode, useEffect, useRef, useState } from "react";
import { createRoot, hydrateRoot } from "react-dom/client";
import * as canopy from "canopy-web";
import { TraceErrorBoundary, TraceProvider, useTracedCallback, useTracer } from "canopy-web/react";

const query = new URLSearchParams(location.search);
const config = {
  serviceName: "react-test",
  endpoint: query.get("endpoint") || "/v1/traces",
  // Spans leave only on forceFlush (or shutdown), so the test can count export requests.
  batch: { scheduledDelayMillis: 60000 },
};
const DATA = new URL("data.json", location.href).href;

window.nativeFetch = window.fetch;
window.nativeXhrSend = XMLHttpRequest.prototype.send;
window.canopy = canopy;
window.effectRuns = 0;
window.loadsDone = 0; // loadData callbacks settled
window.xhrsDone = 0;

/** The seed's feed: loadData → fetch → (after an await) processData, on mount. */
function Feed() {
  const [items, setItems] = useState(null);
  const { startActiveSpan } = useTracer();
  useEffect(() => {
    window.effectRuns++;
    let live = true;
    startActiveSpan("loadData", async (span) => {
      const res = await fetch(DATA);
      const data = await res.json();
      span.startSpan("processData", { attributes: { "feed.items": data.length } }).end();
      if (live) setItems(data);
      window.loadsDone++;
    });
    const xhr = new XMLHttpRequest();
    xhr.onloadend = () => { window.xhrsDone++; };
    xhr.open("GET", DATA);
    xhr.send();
    return () => {
      live = false;
    };
  }, [startActiveSpan]);
  if (items === null) return <p id="loading">loading</p>;
  return (
    <ul id="feed">
      {items.map((a) => <li key={a.uuid}>{a.handle}: {a.message}</li>)}
    </ul>
  );
}

function Bomb({ id }) {
  const [boom, setBoom] = useState(false);
  if (boom) throw new Error(`kaboom ${id}`);
  return <button id={id} onClick={() => setBoom(true)}>boom</button>;
}

/** A failing startActiveSpan whose error the component then renders (throws). */
function FailedSave() {
  const [error, setError] = useState(null);
  if (error) throw error;
  const save = () => canopy.startActiveSpan("save", async () => { throw new Error("kaboom save"); }).catch(setError);
  return <button id="bomb3" onClick={save}>save</button>;
}

function Errors() {
  return (
    <>
      <TraceErrorBoundary
        attributes={{ "app.area": "feed" }}
        onError={(error, info, span) => { window.onErrorSeen = { message: error.message, traceId: span && span.spanContext().traceId }; }}
        fallback={({ error, reset }) => (
          <div id="fallback">{error.message}<button id="reset" onClick={reset}>reset</button></div>
        )}
      >
        <Bomb id="bomb" />
      </TraceErrorBoundary>
      <TraceErrorBoundary name="sidebar.error" fallback={<p id="fallback2">sidebar failed</p>}>
        <Bomb id="bomb2" />
      </TraceErrorBoundary>
      <TraceErrorBoundary
        name="save.error"
        onError={(error, info, span) => { window.saveErrorSpan = span === undefined ? "none" : "recorded"; }}
        fallback={<p id="fallback3">save failed</p>}
      >
        <FailedSave />
      </TraceErrorBoundary>
    </>
  );
}

function Clicker() {
  const [n, setN] = useState(0);
  const tracer = useTracer();
  const onClick = useTracedCallback("click", async (span, event) => {
    const res = await fetch(DATA);
    await res.json();
    span.startSpan("afterAwait").end();
    setN((x) => x + 1);
    return `${event.type} ${n}`;
  }, { attributes: { "ui.action": "load" } });
  const first = useRef({ onClick, tracer });
  window.stable = first.current.onClick === onClick && first.current.tracer === tracer;
  window.clickResult = (e) => onClick(e);
  return <button id="click" data-n={n} onClick={(e) => { window.lastClick = onClick(e); }}>clicked {n}</button>;
}

/** Starts a span in its effect; ends it at once. Before Canopy runs, the span is kept and recorded later. */
function Early() {
  useEffect(() => {
    window.earlyRunning = canopy.isRunning();
    canopy.startSpan("early", { attributes: { running: canopy.isRunning() } }).end();
  }, []);
  return <p id="early">early</p>;
}

const scenarios = { feed: Feed, errors: Errors, clicker: Clicker, early: Early };

let root = null;
window.harness = {
  mount(name, props = {}) {
    const Scenario = scenarios[name];
    root = createRoot(document.getElementById("root"));
    root.render(
      <StrictMode>
        <TraceProvider config={config} fallback={<p id="waiting">starting</p>} {...props}>
          <Scenario />
        </TraceProvider>
      </StrictMode>,
    );
  },
  /** Hydrates `html`, what a server rendered for the same tree (the provider renders its
   *  children there). React's recoverable errors (a hydration mismatch) go to hydrationErrors. */
  hydrate(name, html, props = {}) {
    const Scenario = scenarios[name];
    const container = document.getElementById("root");
    container.innerHTML = html;
    window.hydrationErrors = [];
    root = hydrateRoot(
      container,
      <StrictMode>
        <TraceProvider config={config} fallback={<p id="waiting">starting</p>} {...props}>
          <Scenario />
        </TraceProvider>
      </StrictMode>,
      { onRecoverableError: (e) => window.hydrationErrors.push(String(e && e.message || e)) },
    );
  },
  unmount() {
    root.unmount();
    root = null;
  },
};
document.body.dataset.ready = "1";
