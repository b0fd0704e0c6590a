// Web Vitals: Google's `web-vitals` library (its attribution build) reports LCP, INP, CLS, FCP
// and TTFB, each when final or when the page is hidden; every report goes to Rust
// (src/web/vitals.rs), which decides the span. The JavaScript API loads this module only when
// `webVitals` is on, so an app that turns it off never runs the library.
import { onCLS, onFCP, onINP, onLCP, onTTFB } from "web-vitals/attribution";

const ON = { CLS: onCLS, FCP: onFCP, INP: onINP, LCP: onLCP, TTFB: onTTFB };

/** `wanted`: `[[metric, [attribution field, …]], …]` (a `.` reads a nested field). Calls
 *  `record(name, id, rating, navigationType, value, delta, values)` for each report. */
export function listenVitals(wanted, record) {
  const read = (o, path) => path.split(".").reduce((x, k) => (x === null || x === undefined ? undefined : x[k]), o);
  for (const [name, fields] of wanted) {
    try {
      ON[name]((m) => {
        try {
          record(m.name, m.id, m.rating, m.navigationType, m.value, m.delta, fields.map((f) => read(m.attribution, f)));
        } catch (_) {}
      });
    } catch (_) {}
  }
}
