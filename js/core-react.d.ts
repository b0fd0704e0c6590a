// canopy-web/core/react: the same API and types as canopy-web/react (see ../react.d.ts).
export * from "../react.js";
