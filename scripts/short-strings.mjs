// Gives the wasm-bindgen glue a fast path for short ASCII strings coming out of wasm.
//
// The glue turns every string Rust hands to JavaScript into a JS string with
// `TextDecoder.decode` on a view of wasm memory. For the short strings of the request path (a
// `traceparent` is 55 bytes) that call is most of the cost: in Chromium 156, with the caches cold
// as they are when a page sends a request, about 1.5-2 µs against 0.7 µs for a plain loop over the
// bytes (`BENCHMARKS.md`, *Time added per request*). Strings up to 64 bytes that are all ASCII are
// read by the loop; anything else still goes to `TextDecoder`, which also handles invalid UTF-8
// the same way as before.
//
// The function's text must be found as wasm-bindgen writes it, or the script fails: a
// wasm-bindgen upgrade that changes the glue breaks the build, not the page.
//
// Usage: node scripts/short-strings.mjs <glue.js>…
import { readFileSync, writeFileSync } from "node:fs";

const before = `function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    return decodeText(getUint8ArrayMemory0().subarray(ptr, ptr + len));
}`;
const after = `function getStringFromWasm0(ptr, len) {
    ptr = ptr >>> 0;
    const mem = getUint8ArrayMemory0();
    if (len <= 64) {
        let s = "", i = ptr;
        const end = ptr + len;
        for (; i < end && mem[i] < 128; i++) s += String.fromCharCode(mem[i]);
        if (i === end) return s;
    }
    return decodeText(mem.subarray(ptr, ptr + len));
}`;

for (const file of process.argv.slice(2)) {
  const glue = readFileSync(file, "utf8");
  const at = glue.indexOf(before);
  if (at < 0 || glue.indexOf(before, at + 1) >= 0) {
    console.error(`short-strings: ${file}: getStringFromWasm0 not found as expected (did wasm-bindgen change?)`);
    process.exit(1);
  }
  writeFileSync(file, glue.replace(before, after));
}
