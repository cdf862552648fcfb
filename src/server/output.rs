//! Output: one writer thread puts every outgoing frame on stdout, tower-lsp-server's and the diagnostics the server serialises itself.
//!
//! tower-lsp-server sends a notification by converting its params to a `serde_json::Value`,
//! passing it through two tasks, printing the `Value` to a string and copying that into its
//! frame buffer; for the 130 diagnostics of a 5,000-line file that path cost ~0.8 ms per
//! keystroke. `publishDiagnostics` is the one message sent on every keystroke, so the server
//! serialises it straight to bytes ([`Outgoing::publish_diagnostics`]). Both kinds of frame go
//! through one channel to one thread, which writes each frame whole: tower-lsp-server's output
//! stream ([`FramedOutput`]) forwards only complete `Content-Length` frames, however its writes
//! are split, so the two never interleave inside a frame.

use std::io::Write;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::time::Duration;

use serde::Serialize;
use tower_lsp_server::ls_types::{Diagnostic, PublishDiagnosticsParams, Uri};

enum Message {
    Frame(Vec<u8>),
    /// Write everything queued before, flush, acknowledge and stop.
    Finish(mpsc::SyncSender<()>),
}

/// A handle for sending frames to the writer thread (cheap to clone).
#[derive(Clone)]
pub struct Outgoing {
    tx: mpsc::Sender<Message>,
}

/// The writer thread; [`Writer::finish`] waits until what was queued is written.
pub struct Writer {
    tx: mpsc::Sender<Message>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts the writer thread over `out`. Returns the stream to give tower-lsp-server, the handle
/// for the server's own notifications, and the thread.
pub fn start<W: Write + Send + 'static>(out: W) -> (FramedOutput, Outgoing, Writer) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("lsp-output".into())
        .spawn(move || write_frames(out, rx))
        .ok();
    if thread.is_none() {
        tracing::error!("cannot start the output thread: no message can be sent");
    }
    (
        FramedOutput {
            pending: Vec::new(),
            tx: tx.clone(),
        },
        Outgoing { tx: tx.clone() },
        Writer { tx, thread },
    )
}

fn write_frames<W: Write>(mut out: W, rx: mpsc::Receiver<Message>) {
    let mut broken = false;
    while let Ok(message) = rx.recv() {
        let mut next = Some(message);
        // Write what is queued, then flush once.
        while let Some(message) = next.take() {
            match message {
                Message::Frame(frame) => {
                    if !broken && let Err(err) = out.write_all(&frame) {
                        tracing::error!("cannot write to the client: {err}");
                        broken = true;
                    }
                }
                Message::Finish(done) => {
                    let _ = out.flush();
                    let _ = done.send(());
                    return;
                }
            }
            next = rx.try_recv().ok();
        }
        if !broken && let Err(err) = out.flush() {
            tracing::error!("cannot write to the client: {err}");
            broken = true;
        }
    }
    let _ = out.flush();
}

impl Writer {
    /// Waits (up to a few seconds) until every frame queued so far is written and flushed.
    pub fn finish(mut self) {
        let (done, wait) = mpsc::sync_channel(1);
        let written = self.tx.send(Message::Finish(done)).is_ok()
            && wait.recv_timeout(Duration::from_secs(5)).is_ok();
        // Acknowledged: the thread is returning. (Not: it is stuck writing; leave it.)
        if written && let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A complete frame: the `Content-Length` header and `body`.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(body.len() + 32);
    let _ = write!(frame, "Content-Length: {}\r\n\r\n", body.len());
    frame.extend_from_slice(body);
    frame
}

impl Outgoing {
    /// Sends a notification, its params serialised straight to bytes.
    pub fn notify<P: Serialize>(&self, method: &str, params: &P) {
        #[derive(Serialize)]
        struct Notification<'a, P> {
            jsonrpc: &'static str,
            method: &'a str,
            params: &'a P,
        }
        let notification = Notification {
            jsonrpc: "2.0",
            method,
            params,
        };
        match serde_json::to_vec(&notification) {
            Ok(body) => {
                if self.tx.send(Message::Frame(frame(&body))).is_err() {
                    tracing::warn!("output closed: dropping a {method} notification");
                }
            }
            Err(err) => tracing::error!("cannot serialise a {method} notification: {err}"),
        }
    }

    /// `textDocument/publishDiagnostics`.
    pub fn publish_diagnostics(
        &self,
        uri: Uri,
        diagnostics: Vec<Diagnostic>,
        version: Option<i32>,
    ) {
        self.notify(
            "textDocument/publishDiagnostics",
            &PublishDiagnosticsParams::new(uri, diagnostics, version),
        );
    }
}

/// The output stream tower-lsp-server writes to: it forwards each complete frame to the writer
/// thread as one piece, holding back a frame until all of it has arrived.
pub struct FramedOutput {
    pending: Vec<u8>,
    tx: mpsc::Sender<Message>,
}

impl FramedOutput {
    /// Sends the complete frames at the start of `pending`.
    fn forward_frames(&mut self) {
        loop {
            let Some(length) = complete_frame_len(&self.pending) else {
                return;
            };
            let rest = self.pending.split_off(length);
            let frame = std::mem::replace(&mut self.pending, rest);
            let _ = self.tx.send(Message::Frame(frame));
        }
    }
}

/// The length of the complete frame at the start of `bytes` (header included), if all of it
/// is there. A header block without a usable length is passed on as it is (the client reports
/// it), so the stream never stalls.
fn complete_frame_len(bytes: &[u8]) -> Option<usize> {
    let end = memchr::memmem::find(bytes, b"\r\n\r\n")? + 4;
    let header = std::str::from_utf8(&bytes[..end]).ok();
    let length = header.and_then(|header| {
        header.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
    });
    match length {
        Some(length) => (bytes.len() >= end + length).then_some(end + length),
        None => Some(end),
    }
}

impl tokio::io::AsyncWrite for FramedOutput {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        self.forward_frames();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // The writer thread flushes once its queue is empty.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::AsyncWriteExt;

    /// A `Write` whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The bodies of the frames in `bytes`, in order (panics on a torn frame).
    fn bodies(bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = complete_frame_len(rest).expect("a whole frame");
            let start = memchr::memmem::find(rest, b"\r\n\r\n").unwrap() + 4;
            out.push(String::from_utf8(rest[start..len].to_vec()).unwrap());
            rest = &rest[len..];
        }
        out
    }

    fn tower_frame(body: &str) -> Vec<u8> {
        frame(body.as_bytes())
    }

    #[tokio::test]
    async fn frames_split_across_writes_are_never_interleaved_with_notifications() {
        let sink = Sink::default();
        let (mut framed, outgoing, writer) = start(sink.clone());
        let first = tower_frame(r#"{"jsonrpc":"2.0","id":1,"result":null}"#);
        let second = tower_frame(r#"{"jsonrpc":"2.0","id":2,"result":"é"}"#);
        // The first frame arrives in three pieces with a notification sent in between.
        framed.write_all(&first[..5]).await.unwrap();
        outgoing.notify(
            "window/logMessage",
            &serde_json::json!({"type": 4, "message": "a"}),
        );
        framed.write_all(&first[5..30]).await.unwrap();
        framed.write_all(&first[30..]).await.unwrap();
        // The second frame and a third one's start in one write.
        let mut both = second.clone();
        both.extend_from_slice(&first[..10]);
        framed.write_all(&both).await.unwrap();
        outgoing.publish_diagnostics("file:///t.py".parse().unwrap(), Vec::new(), Some(3));
        framed.write_all(&first[10..]).await.unwrap();
        writer.finish();
        let bodies = bodies(&sink.0.lock().unwrap());
        assert_eq!(bodies.len(), 5, "{bodies:?}");
        assert_eq!(
            bodies[0],
            r#"{"jsonrpc":"2.0","method":"window/logMessage","params":{"message":"a","type":4}}"#
        );
        assert_eq!(bodies[1], r#"{"jsonrpc":"2.0","id":1,"result":null}"#);
        assert_eq!(bodies[2], r#"{"jsonrpc":"2.0","id":2,"result":"é"}"#);
        let published: serde_json::Value = serde_json::from_str(&bodies[3]).unwrap();
        assert_eq!(published["method"], "textDocument/publishDiagnostics");
        assert_eq!(published["params"]["uri"], "file:///t.py");
        assert_eq!(published["params"]["version"], 3);
        assert_eq!(published["params"]["diagnostics"], serde_json::json!([]));
        assert_eq!(bodies[4], bodies[1]);
    }

    #[test]
    fn published_diagnostics_read_back_as_tower_lsp_server_would_send_them() {
        use tower_lsp_server::ls_types::{DiagnosticSeverity, NumberOrString, Position, Range};
        let diagnostic = Diagnostic {
            range: Range::new(Position::new(1, 2), Position::new(1, 9)),
            severity: Some(DiagnosticSeverity::WARNING),
            code: Some(NumberOrString::String("KRS201".into())),
            source: Some("keras-lsp".into()),
            message: "tf.data pipeline without prefetch \"x\"".into(),
            data: Some(serde_json::json!({"version": 4, "finding": 0})),
            ..Diagnostic::default()
        };
        let uri: Uri = "file:///a%20b.py".parse().unwrap();
        let sink = Sink::default();
        let (_framed, outgoing, writer) = start(sink.clone());
        outgoing.publish_diagnostics(uri.clone(), vec![diagnostic.clone()], Some(4));
        writer.finish();
        let ours: serde_json::Value =
            serde_json::from_str(&bodies(&sink.0.lock().unwrap())[0]).unwrap();
        let params = PublishDiagnosticsParams::new(uri, vec![diagnostic], Some(4));
        let theirs = serde_json::json!({
            "jsonrpc": "2.0",
            "method": "textDocument/publishDiagnostics",
            "params": serde_json::to_value(params).unwrap(),
        });
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_header_without_a_length_is_passed_on_rather_than_held() {
        assert_eq!(complete_frame_len(b"X: 1\r\n\r\n{}"), Some(8));
        assert_eq!(complete_frame_len(b"Content-Length: 2\r\n\r\n{"), None);
        assert_eq!(complete_frame_len(b"Content-Length: 2\r\n"), None);
        assert_eq!(
            complete_frame_len(b"content-length: 2\r\n\r\n{}x"),
            Some(23)
        );
    }
}
