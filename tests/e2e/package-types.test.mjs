// TypeScript users' view of the packed package: tests/e2e/types/react/usage.tsx (a small typed
// React app using canopy-web and canopy-web/react) is checked with `tsc --strict --noEmit` next to
// a node_modules/ holding the extracted tarball and @types/react, so the imports resolve through
// package.json's exports map. Lines marked @ts-expect-error must be rejected.
// Run: node --test tests/e2e/   (after `make pkg`)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
let work;

const run = (cmd, args, opts = {}) => new Promise((ok, fail) => {
  execFile(cmd, args, { timeout: 120000, ...opts }, (err, stdout, stderr) => (err ? fail(Object.assign(err, { stdout, stderr })) : ok(stdout)));
});

before(async () => {
  work = await mkdtemp(join(tmpdir(), "canopy-types-"));
  const name = (await run("npm", ["pack", `${root}pkg`, "--pack-destination", work, "--ignore-scripts", "--loglevel=error"])).trim().split("\n").pop();
  await mkdir(join(work, "node_modules/canopy-web"), { recursive: true });
  await mkdir(join(work, "node_modules/@types"), { recursive: true });
  await run("tar", ["xzf", join(work, name), "-C", join(work, "node_modules/canopy-web"), "--strip-components=1"]);
  for (const t of ["react", "react-dom"]) await symlink(`${root}tools/node_modules/@types/${t}`, join(work, "node_modules/@types", t), "dir");
  for (const f of ["usage.tsx", "tsconfig.json"]) await copyFile(`${root}tests/e2e/types/react/${f}`, join(work, f));
});
after(async () => { if (work) await rm(work, { recursive: true, force: true }); });

test("tsc --noEmit accepts a typed React app using the package and rejects wrong usage", async () => {
  let out = "";
  try {
    out = await run(`${root}tools/node_modules/.bin/tsc`, ["-p", join(work, "tsconfig.json")], { cwd: work });
  } catch (e) {
    assert.fail(`tsc failed:\n${e.stdout}${e.stderr}`);
  }
  assert.equal(out.trim(), "");
});
