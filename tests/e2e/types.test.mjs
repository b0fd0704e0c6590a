// The package's TypeScript declarations are complete and strict: a typed usage file compiles
// with `tsc --strict`, and each line marked @ts-expect-error is rejected.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

test("tsc --noEmit accepts correct usage and rejects wrong usage", () => {
  let out = "";
  try {
    out = execFileSync(`${root}tools/node_modules/.bin/tsc`, ["-p", `${root}tests/e2e/types/tsconfig.json`], { encoding: "utf8", timeout: 120000 });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
  assert.equal(out.trim(), "");
});
