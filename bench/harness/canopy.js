// Canopy's side of the benchmark (see common.js).
import { forceFlush, init, startActiveSpan, startSpan } from "canopy-web";
import { actionSpans, expose } from "./common.js";

// The wasm instance's memory, for the memory rows: noted when the glue instantiates the module.
let memory = null;
for (const name of ["instantiateStreaming", "instantiate"]) {
  const orig = WebAssembly[name];
  WebAssembly[name] = async function (...args) {
    const r = await orig.apply(this, args);
    const instance = r instanceof WebAssembly.Instance ? r : r.instance;
    // The production .wasm's export names are minified: its memory is the export of that type.
    const mem = instance && Object.values(instance.exports).find((v) => v instanceof WebAssembly.Memory);
    if (mem) memory = mem;
    return r;
  };
}

const l4 = () => {};
const l3 = () => startActiveSpan("l4", l4);
const l2 = () => startActiveSpan("l3", l3);
const l1 = () => startActiveSpan("l2", l2);

expose("canopy", {
  async setup(endpoint, batch, compression) {
    const ok = await init({ serviceName: "bench", endpoint, batch, ...(compression ? { compression } : {}) });
    if (!ok) throw new Error("canopy init failed");
  },
  flush: () => forceFlush(),
  wasmMemory: () => memory,
  manual(n) {
    for (let i = 0; i < n; i++) startSpan("op").end();
  },
  nested(n) {
    for (let i = 0; i < n; i++) startActiveSpan("l1", l1);
  },
  options(n) {
    for (let i = 0; i < n; i++) startSpan("op", { attributes: { "http.request.method": "GET", "app.items": 3 } }).end();
  },
  attrs(n) {
    for (let i = 0; i < n; i++) {
      const s = startSpan("op");
      s.setAttribute("http.request.method", "GET");
      s.setAttribute("http.response.status_code", 200);
      s.setAttribute("cache.hit", true);
      s.end();
    }
  },
  action(i) {
    const a = actionSpans(i);
    startActiveSpan("loadData", { attributes: a.root }, () => {
      startSpan("GET", { kind: 2, attributes: a.client }).end();
      startSpan("cache.lookup", { attributes: a.cache }).end();
      startSpan("processData", { attributes: a.process }).end();
      startSpan("render").end();
    });
  },
  fetchAction(i) {
    return startActiveSpan("loadData", async (root) => {
      const res = await fetch(`data.json?page=${i % 7}`);
      const data = await res.json();
      root.startSpan("processData", { attributes: { "app.items": data.items.length } }).end();
    });
  },
});
