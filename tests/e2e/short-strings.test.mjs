// The glue's string reader as shipped (scripts/short-strings.mjs gives it a loop for short ASCII
// strings): for every build's glue, the function text in pkg/ is evaluated against a memory of
// test bytes and must give what TextDecoder gives, on both sides of the 64-byte limit, for ASCII,
// other UTF-8 and invalid UTF-8.
// Run: node --test tests/e2e/short-strings.test.mjs   (after `make pkg`)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** `getStringFromWasm0` from `glue` (its source text), reading `mem`; decodeText as the glue's
 *  (UTF-8, not fatal), counting its calls in `calls.n`. */
function reader(glue, mem, calls) {
  const at = glue.indexOf("function getStringFromWasm0(ptr, len) {");
  assert.ok(at >= 0, "getStringFromWasm0 is in the glue");
  const end = glue.indexOf("\n}\n", at);
  const src = glue.slice(at, end + 2);
  assert.match(src, /< 128/, "the glue has the short-string loop (scripts/short-strings.mjs)");
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  return new Function("getUint8ArrayMemory0", "decodeText", `${src}; return getStringFromWasm0;`)(
    () => mem,
    (bytes) => (calls.n++, decoder.decode(bytes)),
  );
}

const cases = [
  "",
  "a",
  "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  "x".repeat(63),
  "y".repeat(64),
  "z".repeat(65),
  "é",
  "span é",
  "ü".repeat(32), // 64 bytes, none ASCII
  "a".repeat(63) + "é", // crosses the limit in bytes
  "日本語のスパン",
  "🌲 canopy",
  "\u007f\u0000 control",
];

for (const build of ["", "dev/", "core/"]) {
  test(`pkg/${build}canopy_web.js reads strings out of wasm memory as TextDecoder does`, async () => {
    const glue = await readFile(`${root}pkg/${build}canopy_web.js`, "utf8");
    const mem = new Uint8Array(4096);
    const calls = { n: 0 };
    const read = reader(glue, mem, calls);
    const enc = new TextEncoder();
    let ptr = 7; // not aligned
    for (const s of cases) {
      const bytes = enc.encode(s);
      mem.set(bytes, ptr);
      assert.equal(read(ptr, bytes.length), s, JSON.stringify(s));
      ptr += bytes.length + 3;
    }
    // Short ASCII never reaches TextDecoder; anything else does, invalid UTF-8 included (replaced
    // with U+FFFD there, as before).
    calls.n = 0;
    mem.set(enc.encode("GET"), 2000);
    assert.equal(read(2000, 3), "GET");
    assert.equal(calls.n, 0, "short ASCII is read by the loop");
    mem.set([0x61, 0xff, 0x62], 3000);
    assert.equal(read(3000, 3), "a\ufffdb");
    assert.equal(calls.n, 1, "invalid UTF-8 goes to TextDecoder");
  });
}
