import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { TraceErrorBoundary, TraceProvider } from "canopy-web/react";
import App from "./App.jsx";

const config = { serviceName: "frontend", endpoint: "/v1/traces" };

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <TraceProvider config={config}>
      <TraceErrorBoundary fallback={({ error, reset }) => <button onClick={reset}>{error.message}: retry</button>}>
        <App />
      </TraceErrorBoundary>
    </TraceProvider>
  </StrictMode>,
);
