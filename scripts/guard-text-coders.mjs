// Keeps the wasm-bindgen glue importable where TextDecoder or TextEncoder is missing.
//
// `--target web` glue makes its TextDecoder and TextEncoder at module top level, so importing the
// package throws `ReferenceError: TextDecoder is not defined` where they are missing: Jest's jsdom
// environment, whose globals are the DOM's and not Node's. The entries promise that nothing runs
// at import time (index.js), so a test file that imports a component using Canopy must not fail
// on the import. Each is now made only if its global exists; a browser has both and gets the same
// objects as before. Without them the .wasm still loads (given as bytes or a Module: there is no
// fetch either) and short ASCII strings still pass (scripts/short-strings.mjs, and the encoder's
// ASCII loop); a longer or non-ASCII one then fails with a TypeError where it is used. No stub
// that throws a message: every byte of the glue ships in every app (size-budget.json), for a
// problem only a test environment has.
//
// The text must be found as wasm-bindgen writes it, or the script fails: a wasm-bindgen upgrade
// that changes the glue breaks the build, not the import.
//
// Usage: node scripts/guard-text-coders.mjs <glue.js>…
import { readFileSync, writeFileSync } from "node:fs";

const edits = [
  [
    `let cachedTextDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
cachedTextDecoder.decode();
`,
    `let cachedTextDecoder = typeof TextDecoder !== 'undefined' ? new TextDecoder('utf-8', { ignoreBOM: true }) : undefined;
if (cachedTextDecoder) cachedTextDecoder.decode();
`,
  ],
  [
    `const cachedTextEncoder = new TextEncoder();
`,
    `const cachedTextEncoder = typeof TextEncoder !== 'undefined' ? new TextEncoder() : {};
`,
  ],
];

for (const file of process.argv.slice(2)) {
  let glue = readFileSync(file, "utf8");
  for (const [before, after] of edits) {
    const at = glue.indexOf(before);
    if (at < 0 || glue.indexOf(before, at + 1) >= 0) {
      console.error(`guard-text-coders: ${file}: "${before.split("\n")[0]}" not found once as expected (did wasm-bindgen change?)`);
      process.exit(1);
    }
    glue = glue.replace(before, after);
  }
  // Any other top-level use would still throw at import.
  const left = glue.split("\n").filter((l) => /^\S.*\bnew Text(De|En)coder\(/.test(l) && !l.includes("typeof"));
  if (left.length) {
    console.error(`guard-text-coders: ${file}: unguarded top-level ${left.join(" | ")}`);
    process.exit(1);
  }
  writeFileSync(file, glue);
}
