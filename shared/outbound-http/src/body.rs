//! Reading a response body under a size cap, as a stream: a huge or endless body costs at most
//! the cap in memory, never the whole thing.

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http::header::CONTENT_LENGTH;
use http_body_util::BodyExt;

use crate::OutboundError;

/// The body, or `TooLarge(cap)` as soon as it is known to pass `cap` bytes: from its declared
/// length before reading anything, else once the bytes read pass the cap.
pub(crate) async fn read_capped<B>(
    headers: &HeaderMap,
    mut body: B,
    cap: usize,
) -> Result<Bytes, OutboundError>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > cap as u64) {
        return Err(OutboundError::TooLarge(cap));
    }
    let mut buffer = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| OutboundError::Network(format!("reading the response: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > cap {
                return Err(OutboundError::TooLarge(cap));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}
