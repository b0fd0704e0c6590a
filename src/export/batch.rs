//! The batching policy: a bounded queue that says when a batch is ready.
//!
//! Pure logic; the browser pipeline drives it with a timer and `fetch`.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::config::BatchConfig;
use crate::span_data::SpanData;
use alloc::collections::VecDeque;

/// What happened to a pushed span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// Queued; no batch is full yet.
    Queued,
    /// Queued, and a full batch is waiting: export now.
    BatchReady,
    /// The queue was full: the span was dropped and counted.
    Dropped,
}

/// A bounded FIFO of ended spans.
#[derive(Debug)]
pub struct BatchQueue {
    spans: VecDeque<Box<SpanData>>,
    config: BatchConfig,
    dropped: u64,
}

impl BatchQueue {
    /// An empty queue with `config` (normalized).
    pub fn new(config: BatchConfig) -> Self {
        let config = config.normalized();
        BatchQueue { spans: VecDeque::new(), config, dropped: 0 }
    }

    /// The settings in force.
    pub fn config(&self) -> &BatchConfig {
        &self.config
    }

    /// Adds a span unless the queue is full.
    pub fn push(&mut self, span: Box<SpanData>) -> Pushed {
        if self.spans.len() >= self.config.max_queue_size {
            self.dropped += 1;
            return Pushed::Dropped;
        }
        self.spans.push_back(span);
        if self.spans.len() >= self.config.max_export_batch_size { Pushed::BatchReady } else { Pushed::Queued }
    }

    /// Takes up to one batch (oldest first).
    pub fn take_batch(&mut self) -> Vec<Box<SpanData>> {
        let n = self.spans.len().min(self.config.max_export_batch_size);
        // pop_front in a loop, not `drain(..n)`: the same work, and VecDeque's Drain costs
        // about 1 KB of .wasm.
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            match self.spans.pop_front() {
                Some(s) => batch.push(s),
                None => break,
            }
        }
        batch
    }

    /// Spans waiting.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The spans waiting, oldest first, left where they are.
    pub fn spans(&self) -> Vec<&SpanData> {
        self.spans.iter().map(|s| &**s).collect()
    }

    /// Takes every span waiting.
    pub fn take_all(&mut self) -> VecDeque<Box<SpanData>> {
        core::mem::take(&mut self.spans)
    }

    /// Spans dropped since [`BatchQueue::take_dropped`] was last called.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Spans dropped since the last call (and resets the count).
    pub fn take_dropped(&mut self) -> u64 {
        core::mem::take(&mut self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SpanId, TraceFlags, TraceId};
    use crate::span_context::SpanContext;
    use crate::span_data::{SpanKind, Status};

    fn span(n: u8) -> SpanData {
        SpanData {
            span_context: SpanContext::new(TraceId([1; 16]), SpanId([n; 8]), TraceFlags::SAMPLED),
            parent_span_id: SpanId::INVALID,
            parent_is_remote: false,
            name: "s".into(),
            kind: SpanKind::Internal,
            start_time: 1,
            end_time: 2,
            attributes: vec![],
            dropped_attributes_count: 0,
            events: vec![],
            dropped_events_count: 0,
            links: vec![],
            dropped_links_count: 0,
            status: Status::Unset,
        }
    }

    #[test]
    fn bounded_batches_in_order() {
        let mut q = BatchQueue::new(BatchConfig { max_queue_size: 3, max_export_batch_size: 2, ..Default::default() });
        assert_eq!(q.push(Box::new(span(1))), Pushed::Queued);
        assert_eq!(q.push(Box::new(span(2))), Pushed::BatchReady);
        assert_eq!(q.push(Box::new(span(3))), Pushed::BatchReady);
        assert_eq!(q.push(Box::new(span(4))), Pushed::Dropped, "queue of 3 is full");
        assert_eq!(q.take_dropped(), 1);
        assert_eq!(q.take_dropped(), 0, "the count resets when read");
        let b: Vec<u8> = q.take_batch().iter().map(|s| s.span_context.span_id.0[0]).collect();
        assert_eq!(b, vec![1, 2], "oldest first, at most one batch");
        assert_eq!(q.len(), 1);
        assert_eq!(q.take_batch().len(), 1);
        assert!(q.is_empty());
    }

    #[test]
    fn batch_larger_than_queue_is_clamped() {
        let q = BatchQueue::new(BatchConfig { max_queue_size: 4, max_export_batch_size: 100, ..Default::default() });
        assert_eq!(q.config().max_export_batch_size, 4);
    }
}
