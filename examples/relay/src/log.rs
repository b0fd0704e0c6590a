//! Console output: trees and the banner on stdout, problems on stderr, one line each with
//! control characters escaped (text from the network never drives the operator's terminal).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `text` (already line-terminated) to stdout in one go.
pub fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

pub fn info(msg: &str) {
    eprintln!("canopy-relay: {}", clean(msg));
}

pub fn err(msg: &str) {
    eprintln!("canopy-relay: error: {}", clean(msg));
}

/// Like [`info`], at most once a second (client errors can come fast); says how many were left
/// out.
pub fn throttled(msg: &str) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    static SKIPPED: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    if LAST.swap(now, Relaxed) == now {
        SKIPPED.fetch_add(1, Relaxed);
        return;
    }
    match SKIPPED.swap(0, Relaxed) {
        0 => info(msg),
        n => info(&format!("{msg} (and {n} more like it)")),
    }
}

fn clean(msg: &str) -> String {
    msg.chars().flat_map(|c| if c.is_control() { c.escape_default().collect() } else { vec![c] }).collect()
}
