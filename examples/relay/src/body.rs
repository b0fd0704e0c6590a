//! Reading a request body within limits: the declared length, the bytes received, the time it
//! takes, and the size after gzip.

use crate::error::Reject;
use crate::ratelimit::ClientSlot;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::{Bytes, BytesMut};
use flate2::read::MultiGzDecoder;
use http_body_util::{BodyExt, Limited};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// 413 when `Content-Length` declares more than `max` bytes: refused before reading.
pub fn check_declared_length(headers: &HeaderMap, max: usize) -> Result<(), Reject> {
    let Some(v) = headers.get(header::CONTENT_LENGTH) else { return Ok(()) };
    let n: u64 =
        v.to_str().ok().and_then(|s| s.parse().ok()).ok_or_else(|| Reject::bad_request("bad Content-Length"))?;
    if n > max as u64 {
        return Err(Reject::too_large(format!("body of {n} bytes is over the limit of {max}")));
    }
    Ok(())
}

/// How long a body may start slowly before [`read`] checks its rate.
pub const RATE_GRACE: Duration = Duration::from_secs(1);
/// How often [`read`] checks the rate while no bytes arrive.
const RATE_CHECK: Duration = Duration::from_millis(250);

/// Reads the whole body: 413 past `max` bytes; 408 when it takes longer than `timeout`, or when,
/// after the first second, it has arrived at less than `min_rate` bytes a second on average (a
/// client trickling bytes in; 0 turns the rate check off); 400 when the client goes away.
///
/// Every byte is charged to `budget` (the bytes of all bodies in memory at once) as it arrives:
/// 503 when it is spent. The returned permit holds the charge until dropped. Each is charged to
/// the `client`'s share too: 429 when its bodies hold all of it.
pub async fn read(
    body: Body,
    max: usize,
    timeout: Duration,
    min_rate: u64,
    budget: &Arc<Semaphore>,
    client: &mut ClientSlot,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), Reject> {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut body = Limited::new(body, max);
    let mut buf = BytesMut::new();
    let mut charged: Option<OwnedSemaphorePermit> = None;
    loop {
        let check = deadline.min(Instant::now() + RATE_CHECK);
        // Waiting on a frame is cancel-safe: a frame is either returned or not taken.
        match tokio::time::timeout_at(check.into(), body.frame()).await {
            Ok(None) => return Ok((buf.freeze(), charged)),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    let n = u32::try_from(data.len()).map_err(|_| Reject::Busy)?;
                    if !client.charge(data.len()) {
                        return Err(Reject::OverShare { ip: client.ip(), share: client.share() });
                    }
                    let permit = budget.clone().try_acquire_many_owned(n).map_err(|_| Reject::Busy)?;
                    match &mut charged {
                        Some(c) => c.merge(permit),
                        None => charged = Some(permit),
                    }
                    buf.extend_from_slice(&data);
                }
            }
            Ok(Some(Err(e))) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Reject::too_large(format!("body is over the limit of {max} bytes")));
            }
            Ok(Some(Err(e))) => return Err(Reject::bad_request(format!("could not read the body: {e}"))),
            Err(_) => {}
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Reject::BodyTimeout { ms: timeout.as_millis() });
        }
        let counted = now.saturating_duration_since(start).saturating_sub(RATE_GRACE);
        if min_rate > 0 && (buf.len() as f64) < counted.as_secs_f64() * min_rate as f64 {
            return Err(Reject::BodyTooSlow { rate: min_rate });
        }
    }
}

/// Decompresses gzip (one or more members), stopping at `max` bytes: 413 beyond, 400 when it
/// is not valid gzip.
pub fn gunzip(compressed: &[u8], max: usize) -> Result<Vec<u8>, Reject> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(max));
    let mut reader = MultiGzDecoder::new(compressed).take(max as u64 + 1);
    reader.read_to_end(&mut out).map_err(|e| Reject::bad_request(format!("body is not valid gzip: {e}")))?;
    if out.len() > max {
        return Err(Reject::too_large(format!("body is over {max} bytes after gzip decompression")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_limits() {
        assert_eq!(gunzip(&gzip(b"hello"), 5).unwrap(), b"hello");
        let two = [gzip(b"ab"), gzip(b"cd")].concat();
        assert_eq!(gunzip(&two, 10).unwrap(), b"abcd", "concatenated members");
        assert_eq!(gunzip(&gzip(b"hello!"), 5).unwrap_err().status(), 413);
        let bomb = gzip(&vec![0u8; 16 << 20]);
        assert!(bomb.len() < 20_000, "16 MiB of zeros compress to {} bytes", bomb.len());
        assert_eq!(gunzip(&bomb, 1 << 20).unwrap_err().status(), 413);
        assert_eq!(gunzip(b"not gzip", 100).unwrap_err().status(), 400);
        let z = gzip(b"hello");
        assert_eq!(gunzip(&z[..z.len() - 4], 100).unwrap_err().status(), 400, "truncated");
    }

    #[test]
    fn declared_length() {
        let mut h = HeaderMap::new();
        assert!(check_declared_length(&h, 10).is_ok());
        h.insert(header::CONTENT_LENGTH, "10".parse().unwrap());
        assert!(check_declared_length(&h, 10).is_ok());
        h.insert(header::CONTENT_LENGTH, "11".parse().unwrap());
        assert_eq!(check_declared_length(&h, 10).unwrap_err().status(), 413);
        h.insert(header::CONTENT_LENGTH, "x".parse().unwrap());
        assert_eq!(check_declared_length(&h, 10).unwrap_err().status(), 400);
    }
}
