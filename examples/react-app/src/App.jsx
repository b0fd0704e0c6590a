import { useEffect, useRef, useState } from "react";
import { startActiveSpan } from "canopy-web";
import Activity from "./Activity.jsx";

export default function App() {
  const [activities, setActivities] = useState([]);
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

  if (broken) throw new Error("the feed broke");         // <TraceErrorBoundary> records it
  return (
    <main>
      <h1>Cruddur</h1>
      <ul id="feed">{activities.map((a) => <Activity key={a.uuid} activity={a} />)}</ul>
      <button id="boom" onClick={() => setBroken(true)}>break the feed</button>
    </main>
  );
}
