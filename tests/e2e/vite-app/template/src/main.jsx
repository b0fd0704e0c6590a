import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { TraceErrorBoundary, TraceProvider } from "canopy-web/react";
import App from "./App.jsx";

const config = {
  serviceName: "frontend",
  // The test points this at its OTLP sink; an app would use its relay, e.g. "/v1/traces".
  endpoint: import.meta.env.VITE_OTLP_ENDPOINT ?? "/v1/traces",
};

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <TraceProvider config={config}>
      <TraceErrorBoundary fallback={({ error, reset }) => <button id="retry" onClick={reset}>{error.message}: retry</button>}>
        <App />
      </TraceErrorBoundary>
    </TraceProvider>
  </StrictMode>,
);
