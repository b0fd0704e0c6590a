// Creates a fresh plain webpack 5 app that depends on a canopy-web tarball, from the npm registry.
//
//   node tests/e2e/webpack-app/create.mjs <dir> <canopy-web-x.y.z.tgz>
//
// The app (template/) is src/index.js, which imports "canopy-web", and public/ (index.html and a
// small JSON list). There is no webpack.config.js: `webpack --mode production` uses webpack's
// defaults (src/index.js → dist/main.js), so nothing in it configures the bundler for Canopy.
// npm's cache is target/npm-cache (created if missing), so a second run installs offline.
import { cp, mkdir, writeFile } from "node:fs/promises";
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = resolve(here, "../../..");

/** What the app installs, pinned (webpack-cli 7 needs Node 20.9+). */
export const VERSIONS = {
  webpack: "5.113.0",
  "webpack-cli": "7.3.1",
};

export const NPM_CACHE = resolve(root, "target/npm-cache");

function run(cmd, args, opts) {
  return new Promise((ok, fail) => {
    execFile(cmd, args, { maxBuffer: 16 << 20, ...opts }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${cmd} ${args.join(" ")} failed (${err.code ?? err.signal}):\n${stdout}${stderr}`));
      else ok(stdout);
    });
  });
}

/** Writes the app into `dir` and installs it with the tarball; returns `dir`. */
export async function createWebpackApp(dir, tarball, { timeoutMs = 150000 } = {}) {
  await mkdir(dir, { recursive: true });
  await cp(resolve(here, "template"), dir, { recursive: true });
  const pkg = {
    name: "webpack-app",
    private: true,
    version: "0.0.0",
    scripts: { build: "webpack --mode production" },
    dependencies: { "canopy-web": `file:${resolve(tarball)}` },
    devDependencies: { webpack: VERSIONS.webpack, "webpack-cli": VERSIONS["webpack-cli"] },
  };
  await writeFile(resolve(dir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  await mkdir(NPM_CACHE, { recursive: true });
  await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error", "--cache", NPM_CACHE], {
    cwd: dir,
    timeout: timeoutMs,
    env: { ...process.env, npm_config_update_notifier: "false" },
  });
  return dir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dir, tarball] = process.argv.slice(2);
  if (!dir || !tarball) {
    console.error("usage: node tests/e2e/webpack-app/create.mjs <dir> <canopy-web-x.y.z.tgz>");
    process.exit(2);
  }
  await createWebpackApp(dir, tarball);
  console.log(`created ${resolve(dir)}: npx webpack --mode production, then serve dist/ and public/`);
}
