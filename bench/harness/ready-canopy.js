// Start-up: Canopy as an app starts it (fetch and XHR instrumentation on, batch export). Served
// from /cache/ (cacheable). window.READY = ms from navigation start to init() resolving (the .wasm
// fetched, compiled and instantiated, the config applied, fetch and XHR patched).
import { init } from "canopy-web";

init({ serviceName: "bench", endpoint: "/sink/ready-canopy/v1/traces" }).then((ok) => {
  window.READY = { ok, ms: performance.now() };
});
