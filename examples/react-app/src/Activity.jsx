// One post of the home feed, as Cruddur shows it.
export default function Activity({ activity: a }) {
  return (
    <li>
      <b>{a.display_name}</b> <span className="handle">@{a.handle}</span>
      <p>{a.message}</p>
      <span className="counts">{a.replies_count} replies · {a.reposts_count} reposts · {a.likes_count} likes</span>
    </li>
  );
}
