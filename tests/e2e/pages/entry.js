// The package entry as an app uses it: init() loads the .wasm itself. Not inline, so a
// Content-Security-Policy of script-src 'self' lets this run and decides only about the .wasm.
import * as canopy from "/pkg/index.js";
window.canopy = canopy;
const q = new URLSearchParams(location.search);
canopy.init({ serviceName: "entry", endpoint: "/v1/traces" }).then((ok) => {
  document.body.dataset.started = String(ok);
  document.body.dataset.ready = "1";
});
