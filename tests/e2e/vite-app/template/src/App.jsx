import { useEffect, useState } from "react";
import { startActiveSpan } from "canopy-web";
import { useTracer } from "canopy-web/react";

export default function App() {
  const [activities, setActivities] = useState([]);
  const [broken, setBroken] = useState(false);
  const { forceFlush } = useTracer();

  useEffect(() => {
    let live = true;
    startActiveSpan("loadData", async (span) => {
      const res = await fetch("/api/activities/home.json"); // a child of loadData
      const data = await res.json();
      span.startSpan("processData").end(); // after an await: name the parent
      if (live) setActivities(data);
    });
    return () => {
      live = false;
    };
  }, []);

  if (broken) throw new Error("the feed broke");
  return (
    <main>
      <ul id="feed">
        {activities.map((a) => <li key={a.uuid}>{a.handle}: {a.message}</li>)}
      </ul>
      <button id="boom" onClick={() => setBroken(true)}>break the feed</button>
      <button id="flush" onClick={() => forceFlush()}>send traces now</button>
    </main>
  );
}
