// The `canopy-web/core` entry's stand-in for ./vitals.js: that build records no Web Vitals (its
// .wasm is built without the `auto` feature and asks for no metrics), so it never loads Google's
// `web-vitals`, and a bundler does not bundle it.
export function listenVitals() {}
