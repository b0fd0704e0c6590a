import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { TraceErrorBoundary, TraceProvider } from "canopy-web/react";
import App from "./App.jsx";

// xray: trace ids AWS X-Ray accepts too (harmless elsewhere), so the relay's X-Ray exporter can
// send them when CANOPY_XRAY_DAEMON is set.
const config = { serviceName: "frontend", endpoint: "/v1/traces", xray: true };

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <TraceProvider config={config}>
      <TraceErrorBoundary fallback={({ error, reset }) => <button onClick={reset}>{error instanceof Error ? error.message : String(error)}: retry</button>}>
        <App />
      </TraceErrorBoundary>
    </TraceProvider>
  </StrictMode>,
);
