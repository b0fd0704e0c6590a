import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// https://vite.dev/config/ — the template's config, unchanged: canopy-web needs nothing here.
export default defineConfig({
  plugins: [react()],
});
