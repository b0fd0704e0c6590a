//! A background sender (Rollbar, X-Ray) that finishes what is queued when the relay stops.
//!
//! Ingest hands items to the sender through a bounded channel and never waits on it. On shutdown
//! [`Worker::close`] asks the sender to stop taking new items ([`mpsc::Receiver::close`]), lets
//! it send what the channel already holds, and waits for that within the grace period.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// The handle to a spawned sender.
pub struct Worker {
    name: &'static str,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// What a sender's loop reads its channel through: [`Stop::next`].
pub struct Stop {
    rx: watch::Receiver<bool>,
    closing: bool,
}

impl Stop {
    /// The next queued item; `None` once the relay is stopping and the queue is empty (or every
    /// handle to the channel is gone).
    pub async fn next<T>(&mut self, items: &mut mpsc::Receiver<T>) -> Option<T> {
        loop {
            if self.closing {
                return items.recv().await;
            }
            tokio::select! {
                biased;
                item = items.recv() => return item,
                _ = self.rx.changed() => {
                    self.closing = true;
                    items.close();
                }
            }
        }
    }
}

impl Worker {
    /// Spawns `sender(stop)` on `runtime`.
    pub fn spawn<F>(runtime: &tokio::runtime::Handle, name: &'static str, sender: impl FnOnce(Stop) -> F) -> Worker
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (stop, rx) = watch::channel(false);
        let task = runtime.spawn(sender(Stop { rx, closing: false }));
        Worker { name, stop, task: Mutex::new(Some(task)) }
    }

    /// Lets the sender send what is queued, for at most `grace`.
    pub async fn close(&self, grace: Duration) {
        self.stop.send_replace(true);
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            if tokio::time::timeout(grace, task).await.is_err() {
                tracing::warn!("{}: items still unsent after {} ms, leaving", self.name, grace.as_millis());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_sends_what_is_queued_and_refuses_more() {
        let (tx, mut rx) = mpsc::channel(8);
        let (done_tx, mut done) = mpsc::unbounded_channel();
        let worker = Worker::spawn(&tokio::runtime::Handle::current(), "test", |mut stop| async move {
            while let Some(n) = stop.next(&mut rx).await {
                tokio::time::sleep(Duration::from_millis(20)).await; // a slow send
                let _ = done_tx.send(n);
            }
        });
        for n in 0..3 {
            tx.try_send(n).unwrap();
        }
        worker.close(Duration::from_secs(5)).await;
        let mut sent = Vec::new();
        while let Ok(n) = done.try_recv() {
            sent.push(n);
        }
        assert_eq!(sent, [0, 1, 2], "everything queued was sent before close returned");
        assert!(tx.try_send(9).is_err(), "nothing is taken once closing");
    }

    #[tokio::test]
    async fn close_is_bounded_by_the_grace() {
        let (tx, mut rx) = mpsc::channel::<u8>(8);
        let worker = Worker::spawn(&tokio::runtime::Handle::current(), "test", |mut stop| async move {
            while stop.next(&mut rx).await.is_some() {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        });
        tx.try_send(1).unwrap();
        let t = std::time::Instant::now();
        worker.close(Duration::from_millis(100)).await;
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
