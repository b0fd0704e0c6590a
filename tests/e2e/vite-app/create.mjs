// Creates a fresh Vite + React app that depends on a canopy-web tarball, from the npm registry.
//
//   node tests/e2e/vite-app/create.mjs <dir> <canopy-web-x.y.z.tgz>
//
// The app is create-vite's React template (vite.config.js with only the React plugin) plus a
// small Cruddur-like feed (template/): a TraceProvider, a TraceErrorBoundary, a feed loaded on
// mount with loadData → fetch → processData. Nothing in it configures the bundler for Canopy.
// npm's cache is target/npm-cache (created if missing), so a second run installs offline.
import { cp, mkdir, writeFile } from "node:fs/promises";
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = resolve(here, "../../..");

/** What the app installs (versions that install on Node 20.19+; see TOOLCHAIN.md). */
export const VERSIONS = {
  vite: "8.3.8",
  "@vitejs/plugin-react": "6.3.0",
  react: "19.3.1",
  "react-dom": "19.3.1",
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
export async function createViteApp(dir, tarball, { timeoutMs = 150000 } = {}) {
  await mkdir(dir, { recursive: true });
  await cp(resolve(here, "template"), dir, { recursive: true });
  const pkg = {
    name: "cruddur-frontend",
    private: true,
    version: "0.0.0",
    type: "module",
    scripts: { dev: "vite", build: "vite build", preview: "vite preview" },
    dependencies: {
      "canopy-web": `file:${resolve(tarball)}`,
      react: VERSIONS.react,
      "react-dom": VERSIONS["react-dom"],
    },
    devDependencies: { vite: VERSIONS.vite, "@vitejs/plugin-react": VERSIONS["@vitejs/plugin-react"] },
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
    console.error("usage: node tests/e2e/vite-app/create.mjs <dir> <canopy-web-x.y.z.tgz>");
    process.exit(2);
  }
  await createViteApp(dir, tarball);
  console.log(`created ${resolve(dir)}: npm run dev | npm run build && npm run preview`);
}
