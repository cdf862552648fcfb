//! Input framing guard: validates each incoming LSP message before the protocol layer sees it.
//!
//! tower-lsp-server stops reading its input after the first undecodable message (the framed
//! stream ends on error), which would leave the client hanging. This reader forwards only
//! well-formed `Content-Length` frames holding valid JSON, logs and drops anything else, and
//! resynchronises on the next header.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

/// Bodies larger than this are refused (and skipped) rather than buffered.
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Returns a reader yielding only valid frames from `input`.
pub fn guarded<R>(input: R) -> impl AsyncRead + Unpin + Send + 'static
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (mut writer, reader) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        let mut body = Vec::new();
        loop {
            let Some(length) = read_headers(&mut input).await else {
                break; // EOF: dropping the writer ends the server's input too.
            };
            let Some(length) = length else {
                continue;
            };
            if length > MAX_MESSAGE_BYTES {
                tracing::error!("dropping a {length}-byte message (limit {MAX_MESSAGE_BYTES})");
                let mut skip = (&mut input).take(length as u64);
                if tokio::io::copy(&mut skip, &mut tokio::io::sink())
                    .await
                    .is_err()
                {
                    break;
                }
                continue;
            }
            body.resize(length, 0);
            if input.read_exact(&mut body).await.is_err() {
                break;
            }
            if let Err(err) = serde_json::from_slice::<serde::de::IgnoredAny>(&body) {
                tracing::error!("dropping a malformed message (invalid JSON: {err})");
                continue;
            }
            let header = format!("Content-Length: {length}\r\n\r\n");
            if writer.write_all(header.as_bytes()).await.is_err()
                || writer.write_all(&body).await.is_err()
            {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    reader
}

/// Reads one header block. `None` at EOF; `Some(None)` when the block had no usable length.
async fn read_headers<R: AsyncBufReadExt + Unpin>(input: &mut R) -> Option<Option<usize>> {
    let mut length = None;
    let mut saw_header = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line).await.ok()?;
        if n == 0 {
            return None;
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if saw_header {
                if length.is_none() {
                    tracing::error!("dropping a message without a valid Content-Length header");
                }
                return Some(length);
            }
            continue; // Blank lines between messages.
        }
        saw_header = true;
        if let Some((name, value)) = text.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok();
            }
        } else {
            tracing::error!("skipping junk on the input: {:?}", truncate(text));
            saw_header = false;
        }
    }
}

fn truncate(text: &str) -> &str {
    let end = crate::line_index::floor_char_boundary(text, 80);
    &text[..end]
}
