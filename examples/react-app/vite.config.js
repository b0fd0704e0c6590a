import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The demo's only configuration is the dev server's: it binds to loopback and proxies the
// Flask backend (/api) and the Canopy relay (/v1/traces, /v1/logs), so the browser talks to one origin.
// Same origin means the SDK sends `traceparent` to the backend (no CORS), and the relay sees its
// own origin (the proxy keeps the Host header, so no CANOPY_ALLOWED_ORIGINS either).
// canopy-web itself needs nothing here. scripts/demo.sh sets the ports.
const env = process.env;
const backend = env.CANOPY_DEMO_BACKEND_URL || "http://127.0.0.1:7311";
const relay = env.CANOPY_DEMO_RELAY_URL || "http://127.0.0.1:7318";

export default defineConfig({
  plugins: [react()],
  server: {
    host: "127.0.0.1",
    port: Number(env.CANOPY_DEMO_APP_PORT || 7310),
    strictPort: true,
    proxy: {
      "/api/": { target: backend },
      "/v1/traces": { target: relay },
      "/v1/logs": { target: relay },
    },
  },
  clearScreen: false,
});
