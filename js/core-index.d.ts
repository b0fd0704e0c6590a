// canopy-web/core: the same API and types as canopy-web (see ../index.d.ts).
export * from "../index.js";
