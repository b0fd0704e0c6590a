import { useEffect, useRef, useState } from "react";
import { log, startActiveSpan } from "canopy-web";
import Activity from "./Activity.jsx";

const pageOf = () => (location.pathname === "/notifications" ? "notifications" : "home");

export default function App() {
  const [activities, setActivities] = useState([]);
  const [page, setPage] = useState(pageOf);
  const [broken, setBroken] = useState(false);
  const dataFetchedRef = useRef(false);

  useEffect(() => {
    if (dataFetchedRef.current) return;                  // StrictMode runs effects twice in development
    dataFetchedRef.current = true;
    startActiveSpan("loadData", async (span) => {
      const res = await fetch("/api/activities/home");   // a child of loadData; Flask continues the trace
      const data = await res.json();
      span.startSpan("processData").end();               // after an await: name the parent
      setActivities(data);
    });
  }, []);

  // Two pages on the History API, as a router does it: Canopy records each route change.
  useEffect(() => {
    const onPop = () => setPage(pageOf());
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const go = (to) => {
    history.pushState(null, "", to === "home" ? "/" : "/notifications");
    setPage(to);
  };

  // "break the feed": one trace with the failing request, Flask's exception, the browser's
  // exception (with its stack) and log lines; then the error reaches <TraceErrorBoundary>, which
  // sees it was recorded already and does not record it twice.
  const breakFeed = () =>
    startActiveSpan("breakFeed", async (span) => {
      log.warn("breaking the feed on purpose");              // breakFeed is active here
      const res = await fetch("/api/activities/home?fail=1");
      log.error("the feed failed", { "http.response.status_code": res.status }, span); // after an await: name it
      throw new Error(`the feed broke (HTTP ${res.status})`);
    }).catch((e) => setBroken(e));

  if (broken) throw broken;
  return (
    <main>
      <h1>Cruddur</h1>
      <nav>
        <button id="nav-home" onClick={() => go("home")}>Home</button>{" "}
        <button id="nav-notifications" onClick={() => go("notifications")}>Notifications</button>
      </nav>
      {page === "notifications"
        ? <p id="notifications">No notifications yet.</p>
        : <ul id="feed">{activities.map((a) => <Activity key={a.uuid} activity={a} />)}</ul>}
      <button id="boom" onClick={breakFeed}>break the feed</button>
    </main>
  );
}
