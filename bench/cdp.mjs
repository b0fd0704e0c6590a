// A minimal DevTools-protocol driver for headless Chromium over --remote-debugging-pipe.
//
// Why not Playwright here: Playwright enables the Network domain (and more) on every page it
// drives, so DevTools instruments every request, copying POST bodies to report them: the export
// path the benchmark measures would pay for it. This driver enables only what it asks for
// (Performance for the CPU-time metric, Profiler for one profile), so a page runs as it would
// for a user.
//
//   const b = await launchChromium({ executablePath, args, userDataDir });
//   const page = await b.newPage(url);         // its own browser context (like an incognito window)
//   await page.eval("1 + 1");                  // Runtime.evaluate, awaits promises, returns by value
//   await page.send("Performance.enable");
//   await b.close();                           // kills the browser (the pid we started) if it lingers
import { spawn } from "node:child_process";

export async function launchChromium({ executablePath, args, userDataDir, timeoutMs = 30000 }) {
  const proc = spawn(executablePath, [...args, "--remote-debugging-pipe", `--user-data-dir=${userDataDir}`, "about:blank"], {
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
  });
  const stderr = [];
  proc.stderr.on("data", (d) => { stderr.push(d); if (stderr.length > 200) stderr.shift(); });
  const out = proc.stdio[3], inp = proc.stdio[4];
  let nextId = 1;
  const pending = new Map();
  let exited = false;
  proc.on("exit", () => {
    exited = true;
    for (const { reject } of pending.values()) reject(new Error("Chromium exited"));
    pending.clear();
  });
  let buf = Buffer.alloc(0);
  inp.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    let i;
    while ((i = buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(buf.subarray(0, i).toString("utf8"));
      buf = buf.subarray(i + 1);
      if (msg.id !== undefined && pending.has(msg.id)) {
        const { resolve, reject, method } = pending.get(msg.id);
        pending.delete(msg.id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      }
    }
  });
  out.on("error", () => {});
  inp.on("error", () => {});

  /** One protocol command, bounded by `ms`. */
  function send(method, params = {}, sessionId = undefined, ms = timeoutMs) {
    if (exited) return Promise.reject(new Error("Chromium exited"));
    const id = nextId++;
    const msg = { id, method, params };
    if (sessionId) msg.sessionId = sessionId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`timed out after ${ms} ms: ${method}`));
      }, ms);
      pending.set(id, {
        method,
        resolve: (v) => { clearTimeout(timer); resolve(v); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      });
      out.write(JSON.stringify(msg) + "\0");
    });
  }

  try {
    await send("Browser.getVersion");
  } catch (e) {
    proc.kill("SIGKILL");
    throw new Error(`Chromium did not start: ${e.message}\n${Buffer.concat(stderr).toString().slice(-2000)}`);
  }

  return {
    pid: proc.pid,
    send,
    async version() {
      return (await send("Browser.getVersion")).product; // "Chrome/156.0.8078.108"
    },
    /** A page at `url` in a new browser context. */
    async newPage(url) {
      const { browserContextId } = await send("Target.createBrowserContext", { disposeOnDetach: true });
      const { targetId } = await send("Target.createTarget", { url: "about:blank", browserContextId });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
      const page = {
        targetId,
        send: (method, params, ms) => send(method, params, sessionId, ms),
        /** Evaluates `expression` (awaiting a Promise); throws with the page's error text. */
        async eval(expression, ms = timeoutMs) {
          const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true }, sessionId, ms);
          if (r.exceptionDetails) {
            const d = r.exceptionDetails;
            throw new Error(d.exception && d.exception.description ? d.exception.description : d.text);
          }
          return r.result.value;
        },
        /** Polls `expression` until it is truthy, at most `ms`. */
        async waitFor(expression, ms = 15000) {
          const end = Date.now() + ms;
          for (;;) {
            let v = null;
            try { v = await page.eval(expression, 5000); } catch (_) { /* the page is still loading */ }
            if (v) return v;
            if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${expression}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        async close() {
          try { await send("Target.closeTarget", { targetId }, undefined, 10000); } catch (_) {}
          try { await send("Target.disposeBrowserContext", { browserContextId }, undefined, 10000); } catch (_) {}
        },
      };
      await page.send("Page.navigate", { url });
      return page;
    },
    async close() {
      if (exited) return;
      try { await send("Browser.close", {}, undefined, 5000); } catch (_) {}
      const gone = await new Promise((r) => {
        if (exited) return r(true);
        const t = setTimeout(() => r(false), 5000);
        proc.once("exit", () => { clearTimeout(t); r(true); });
      });
      if (!gone) proc.kill("SIGKILL");
    },
  };
}
