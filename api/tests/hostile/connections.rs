//! Connections that stall, and gRPC frames that lie (issue #14). Silent, slow-header, slow-body
//! and idle keep-alive connections were still open after 120 s; now each is closed by its
//! timeout, the connection limit holds without taking the server down, and a malformed gRPC
//! frame is `INVALID_ARGUMENT` on every service, health included. Raw TCP and raw HTTP/2 (`h2`)
//! clients send exactly what an attacker would.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use eiq_proto::v1::EmbedStreamRequest;
use eiq_proto::v1::embeddings_client::EmbeddingsClient;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{TestServer, shared, start, wait_ready};
use crate::{health, serial};

const HEADER_READ: Duration = Duration::from_secs(1);
const IDLE: Duration = Duration::from_secs(4);
const BODY_READ: Duration = Duration::from_secs(2);
/// Slack for timers on a busy 2-core machine.
const MARGIN: Duration = Duration::from_secs(2);
/// A close this much before its timeout was another timer's doing.
const EARLY: Duration = Duration::from_millis(300);

/// One server with short timeouts for every test here but the connection limit's.
fn timed() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        start(&[
            "--models",
            "minilm-l6-v2",
            "--header-read-timeout-secs",
            "1",
            "--idle-timeout-secs",
            "4",
            "--body-read-timeout-secs",
            "2",
        ])
    })
}

/// Reads until the server closes the connection; what it sent, and when it closed (since
/// `since`). Fails if it is still open at `limit`.
async fn read_until_closed(stream: &mut TcpStream, since: Instant, limit: Duration) -> (Vec<u8>, Duration) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(since.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => {
                panic!("still open after {:?}; received {:?}", since.elapsed(), String::from_utf8_lossy(&received))
            }
            Ok(Ok(0) | Err(_)) => return (received, since.elapsed()),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Sends `bytes` one at a time, `every` apart, until the server closes the connection; when it
/// did (since `since`), and what it answered. Fails if everything was sent.
async fn trickle(stream: &mut TcpStream, bytes: &[u8], every: Duration, since: Instant) -> (Vec<u8>, Duration) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            return (received, since.elapsed());
        }
        let read = tokio::time::timeout(every, stream.read(&mut buffer)).await;
        match read {
            Err(_) => {}
            Ok(Ok(0) | Err(_)) => return (received, since.elapsed()),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
    panic!("the server read all {} bytes; received {:?}", bytes.len(), String::from_utf8_lossy(&received));
}

/// Reads one HTTP/1.1 response with a `content-length`, leaving the connection open.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .expect("a content-length");
            if response.len() >= end + 4 + length {
                return String::from_utf8_lossy(&response).into_owned();
            }
        }
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await.unwrap().unwrap();
        assert!(read > 0, "closed before answering: {:?}", String::from_utf8_lossy(&response));
        response.extend_from_slice(&buffer[..read]);
    }
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let _serial = serial().await;
    let server = timed();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let (received, closed) = read_until_closed(&mut stream, Instant::now(), IDLE + MARGIN).await;
    assert!(received.is_empty(), "{received:?}");
    assert!(closed >= IDLE - EARLY, "closed after {closed:?}, before the idle timeout");
    health(server).await;
}

#[tokio::test]
async fn slow_headers_are_cut_off_after_the_header_read_timeout() {
    let _serial = serial().await;
    let server = timed();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    // A byte every 500 ms: the head would take 40 s.
    let head = format!("GET /health HTTP/1.1\r\nHost: eiq\r\nX-Slow: {}\r\n\r\n", "a".repeat(40));
    let (received, closed) = trickle(&mut stream, head.as_bytes(), Duration::from_millis(500), Instant::now()).await;
    assert!(received.is_empty(), "{:?}", String::from_utf8_lossy(&received));
    // Well before the idle timeout: the header clock started at the first byte.
    assert!(closed <= HEADER_READ + MARGIN && closed < IDLE, "closed after {closed:?}");
    health(server).await;
}

#[tokio::test]
async fn a_trickled_rest_body_gets_408_within_the_body_read_timeout() {
    let _serial = serial().await;
    let server = timed();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head =
        "POST /v1/embeddings HTTP/1.1\r\nHost: eiq\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let since = Instant::now();
    // A byte every 250 ms keeps bytes flowing, but the whole body would take 250 s.
    let body = format!("{{\"input\": \"{}\"}}", "a".repeat(980));
    let (received, answered) = trickle(&mut stream, body.as_bytes(), Duration::from_millis(250), since).await;
    let answer = String::from_utf8_lossy(&received);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(answered >= BODY_READ - EARLY && answered <= BODY_READ + MARGIN, "answered after {answered:?}");
    health(server).await;
}

#[tokio::test]
async fn a_keep_alive_connection_left_idle_is_closed_after_the_idle_timeout() {
    let _serial = serial().await;
    let server = timed();
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: eiq\r\n\r\n").await.unwrap();
    let response = read_response(&mut stream).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    // Open past the (shorter) header timeout: between requests the idle timeout applies.
    let (received, closed) = read_until_closed(&mut stream, Instant::now(), IDLE + MARGIN).await;
    assert!(received.is_empty(), "{received:?}");
    assert!(closed >= IDLE - EARLY, "closed after {closed:?}, before the idle timeout");
}

#[tokio::test]
async fn past_the_connection_limit_new_connections_wait_until_silent_ones_are_reaped() {
    let _serial = serial().await;
    let idle = Duration::from_secs(2);
    let server = start(&["--models", "minilm-l6-v2", "--max-connections", "4", "--idle-timeout-secs", "2"]);
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    // Four are served and four wait in the backlog ahead of this one: two idle timeouts.
    let waited = health(&server).await;
    assert!(waited >= idle - EARLY, "answered after {waited:?}: the limit did not hold");
    assert!(waited <= 2 * idle + MARGIN, "answered after {waited:?}");
    for stream in &mut silent {
        let (received, _) = read_until_closed(stream, Instant::now(), idle + MARGIN).await;
        assert!(received.is_empty());
    }
    assert!(health(&server).await < Duration::from_secs(1));
    server.shutdown_and_wait();
}

/// One raw HTTP/2 gRPC call: `body` as the whole request body; the `grpc-status` and
/// `grpc-message` of the answer (trailers-only or in trailers). With `end` false the stream
/// stays open after `body`.
async fn raw_grpc(server: &TestServer, path: &str, body: &[u8], end: bool) -> (String, String) {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let mut client = client.ready().await.unwrap();
    let request = axum::http::Request::post(format!("http://{}{path}", server.addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap();
    let (response, mut send) = client.send_request(request, false).unwrap();
    send.send_data(Bytes::copy_from_slice(body), end).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), response).await.expect("an answer").unwrap();
    let (parts, mut body) = response.into_parts();
    let status = if parts.headers.contains_key("grpc-status") {
        parts.headers
    } else {
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        body.trailers().await.unwrap().expect("trailers")
    };
    let field = |name: &str| status.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    drop(send);
    (field("grpc-status"), percent_decoded(&field("grpc-message")))
}

/// `grpc-message` is percent-encoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

fn frame(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![flag];
    bytes.extend_from_slice(&declared.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
const HEALTH_WATCH: &str = "/grpc.health.v1.Health/Watch";
const EMBED: &str = "/elevatediq.v1.Embeddings/Embed";

#[tokio::test]
async fn malformed_grpc_frames_are_invalid_argument_on_every_service() {
    let _serial = serial().await;
    let server = timed();
    // The empty message is a valid health check.
    assert_eq!(raw_grpc(server, HEALTH_CHECK, &frame(0, 0, b""), true).await.0, "0");
    for path in [HEALTH_CHECK, HEALTH_WATCH, EMBED] {
        // The length prefix promises 100 bytes; 3 arrive before the stream ends.
        let (code, message) = raw_grpc(server, path, &frame(0, 100, b"abc"), true).await;
        assert_eq!(code, "3", "{path} short body: {message}");
        assert!(message.contains("97 bytes short"), "{path}: {message}");
        // The stream ends inside the 5-byte prefix.
        let (code, message) = raw_grpc(server, path, &[0, 0], true).await;
        assert_eq!(code, "3", "{path} cut prefix: {message}");
        // Compressed, but the call names no grpc-encoding.
        let (code, message) = raw_grpc(server, path, &frame(1, 0, b""), true).await;
        assert_eq!(code, "3", "{path} compressed flag: {message}");
        assert!(message.contains("grpc-encoding"), "{path}: {message}");
    }
    // Well framed but not protobuf (field 1 declares 5 bytes, none follow): the codec's case,
    // now health's too.
    for path in [HEALTH_CHECK, HEALTH_WATCH, EMBED] {
        let (code, message) = raw_grpc(server, path, &frame(0, 2, &[0x0a, 0x05]), true).await;
        assert_eq!(code, "3", "{path} bad protobuf: {message}");
    }
    health(server).await;
}

#[tokio::test]
async fn a_grpc_message_that_stops_arriving_is_deadline_exceeded() {
    let _serial = serial().await;
    let server = timed();
    let started = Instant::now();
    // Two bytes of a 10-byte message, and the stream left open.
    let (code, message) = raw_grpc(server, HEALTH_CHECK, &frame(0, 10, b"ab"), false).await;
    let failed = started.elapsed();
    assert_eq!(code, "4", "{message}");
    assert!(failed >= BODY_READ - EARLY && failed <= BODY_READ + MARGIN, "failed after {failed:?}");
}

#[tokio::test]
async fn a_stream_longer_than_the_timeouts_works_while_its_messages_keep_coming() {
    let _serial = serial().await;
    let server = timed();
    wait_ready(server).await;
    let mut client = EmbeddingsClient::connect(format!("http://{}", server.addr)).await.unwrap();
    // Five messages 1.5 s apart: 7.5 s in all, longer than both the body-read and the idle
    // timeout, but each message well within the body-read timeout of the one before.
    let requests = futures::stream::iter(0..5).then(|i| async move {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
        }
        EmbedStreamRequest { id: format!("post-{i}"), model: String::new(), input: format!("slow post {i}") }
    });
    let started = Instant::now();
    let mut responses = client.embed_stream(requests).await.unwrap().into_inner();
    let mut ids = Vec::new();
    while let Some(response) = responses.message().await.unwrap() {
        ids.push(response.id);
    }
    assert_eq!(ids, (0..5).map(|i| format!("post-{i}")).collect::<Vec<_>>());
    assert!(started.elapsed() > IDLE + BODY_READ, "{:?}", started.elapsed());
}

#[tokio::test]
async fn with_default_flags_a_silent_connection_is_closed_after_30_s() {
    let server = {
        let _serial = serial().await;
        shared().await
    };
    let default_idle = Duration::from_secs(30);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let (_, closed) = read_until_closed(&mut stream, Instant::now(), default_idle + MARGIN).await;
    eprintln!("a silent connection was closed after {closed:?} (default --idle-timeout-secs 30)");
    assert!(closed >= default_idle - EARLY, "closed after {closed:?}");
}
