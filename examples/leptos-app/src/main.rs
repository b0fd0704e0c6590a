//! Cruddur's home feed as a client-side rendered Leptos app, traced by canopy-web with nothing
//! but `tracing`: `#[instrument]` on the functions and Canopy's layer.
//!
//! One page load is one trace, the same shape as the React demo's:
//! `loadData` → the fetch's CLIENT span (gloo-net, through the patched `fetch`) → Flask's
//! SERVER span → `home-activities-mock-data`, and `processData` under `loadData` after the
//! await.
//!
//! Build and run (`tests/e2e/leptos-app.test.mjs` does this, and serves the page with `/api`
//! proxied to the Flask backend and `/v1/traces` to the relay, so that the page talks to one
//! origin):
//!
//! ```sh
//! cargo build -p canopy-leptos-app --target wasm32-unknown-unknown
//! wasm-bindgen --target web --no-typescript --out-dir target/leptos-app/pkg \
//!     target/wasm32-unknown-unknown/debug/canopy-leptos-app.wasm
//! cp examples/leptos-app/index.html target/leptos-app/
//! ```
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

#[cfg(target_arch = "wasm32")]
mod app {
    use leptos::prelude::*;
    use serde::Deserialize;
    use tracing::{info, instrument};
    use tracing_subscriber::layer::SubscriberExt;

    /// One post of the home feed, as the backend sends it.
    #[derive(Clone, Debug, Deserialize)]
    pub struct Activity {
        uuid: String,
        handle: String,
        display_name: String,
        message: String,
        replies_count: i64,
        reposts_count: i64,
        likes_count: i64,
    }

    /// Loads the feed. The layer makes `loadData` current during each poll, so the request's
    /// CLIENT span is its child and carries its trace to Flask.
    #[instrument(name = "loadData")]
    async fn load_data() -> Result<Vec<Activity>, gloo_net::Error> {
        let activities: Vec<Activity> =
            gloo_net::http::Request::get("/api/activities/home").send().await?.json().await?;
        Ok(process_data(activities))
    }

    /// Runs after the await, under `loadData`.
    #[instrument(name = "processData", skip_all, fields(app.activities = activities.len()))]
    fn process_data(mut activities: Vec<Activity>) -> Vec<Activity> {
        activities.sort_by_key(|a| core::cmp::Reverse(a.likes_count)); // most liked first
        info!(count = activities.len(), "sorted");
        activities
    }

    #[component]
    fn App() -> impl IntoView {
        let (activities, set_activities) = signal(Vec::<Activity>::new());
        let (problem, set_problem) = signal(None::<String>);
        leptos::task::spawn_local(async move {
            match load_data().await {
                Ok(a) => set_activities.set(a),
                Err(e) => set_problem.set(Some(e.to_string())),
            }
        });
        view! {
            <main>
                <h1>"Cruddur"</h1>
                {move || problem.get().map(|p| view! { <p id="problem">{p}</p> })}
                <ul id="feed">
                    <For each=move || activities.get() key=|a| a.uuid.clone() let:a>
                        <li>
                            <b>{a.display_name}</b>
                            " "
                            <span class="handle">"@"{a.handle}</span>
                            <p>{a.message}</p>
                            <span class="counts">
                                {a.replies_count}" replies · "{a.reposts_count}" reposts · "{a.likes_count}" likes"
                            </span>
                        </li>
                    </For>
                </ul>
            </main>
        }
    }

    pub fn start() {
        let config = canopy_web::Config::new("frontend-leptos").with_endpoint("/v1/traces");
        if let Err(e) = canopy_web::init(config) {
            leptos::logging::warn!("tracing is off: {e}");
        }
        let layer = canopy_web::tracing::CanopyLayer::new();
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
        leptos::mount::mount_to_body(App);
    }
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    app::start();
}
