// Web Vitals: Google's `web-vitals` library (its attribution build) reports LCP, INP, CLS, FCP
// and TTFB, each when final or when the page is hidden; every report goes to Rust
// (src/web/vitals.rs), which decides the span. The JavaScript API loads this module only when
// `webVitals` is on, so an app that turns it off never runs the library.
import { onCLS, onFCP, onINP, onLCP, onTTFB } from "web-vitals/attribution";

const ON = { CLS: onCLS, FCP: onFCP, INP: onINP, LCP: onLCP, TTFB: onTTFB };

/** `wanted`: `[[metric, [field, …], allChanges], …]`, the fields of web-vitals' metric object to
 *  read (a `.` reads a nested one), and whether to ask for every change of the metric (Rust
 *  holds those until the page is hidden; a metric may be asked for both ways). Calls
 *  `record(name, values, allChanges)` for each report. */
export function listenVitals(wanted, record) {
  const read = (o, path) => path.split(".").reduce((x, k) => (x === null || x === undefined ? undefined : x[k]), o);
  for (const [name, fields, allChanges] of wanted) {
    try {
      ON[name]((m) => {
        try {
          record(m.name, fields.map((f) => read(m, f)), allChanges === true);
        } catch (_) {}
      }, { reportAllChanges: allChanges === true });
    } catch (_) {}
  }
}
