// The clock, for Rust (src/web/platform.rs). `performance` is looked up once, here: looking a
// global up on each call cost more than the call itself when wasm called it (Chromium 156:
// 140 ns a read through wasm-bindgen's `performance.now()` shim, 60 ns through this one;
// Firefox the same for both, 56 ns), and a span reads the clock twice.
const perf = globalThis.performance;

/** `performance.now()`. */
export function now() {
  return perf.now();
}

/** `performance.timeOrigin`, of the same object (read once, when the clock is first used). */
export function timeOrigin() {
  return perf.timeOrigin;
}
