//! Slow or silent clients are cut off by the configured timeouts, and a request in flight when
//! shutdown begins is still finished and stored.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn read_all<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

fn body() -> String {
    let s = Sub {
        original_transaction_id: "9200000000000".into(),
        env: "Sandbox",
    };
    let n = notification("DID_RENEW", None, &s, "9200000000001", now_ms(), Some(1));
    json!({"signedPayload": chain().sign(&n)}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.server.handshake_timeout = Duration::from_millis(300)
    })
    .await;
    // The client says nothing at all: the server must be the one to end it.
    let mut tcp = tokio::net::TcpStream::connect(env.daemon.addr)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "closed without a word");
    assert!(started.elapsed() >= Duration::from_millis(250));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_that_does_not_arrive_in_time_gets_408() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.server.body_timeout = Duration::from_millis(300)
    })
    .await;
    let mut tls = tls_connect(env.daemon.addr, &env.fixture.tls_cert_der).await;
    let head =
        "POST /notifications HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789";
    tls.write_all(head.as_bytes()).await.unwrap();
    let response = read_all(&mut tls).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert_eq!(env.db.count("notifications").await, 0);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_in_flight_at_shutdown_is_finished_and_stored() {
    let Env {
        fixture,
        db,
        daemon,
    } = Env::sqlite().await;
    let addr = daemon.addr;
    let body = body();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut tls = tls_connect(addr, &fixture.tls_cert_der).await;
    // `Expect: 100-continue` makes the server say when it starts reading the body: from then on
    // the request is in flight.
    let head = format!(
        "POST /notifications HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n{first}",
        body.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let continue_line = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut interim = vec![0u8; continue_line.len()];
    tokio::time::timeout(Duration::from_secs(5), tls.read_exact(&mut interim))
        .await
        .expect("the server reads the body")
        .unwrap();
    assert_eq!(interim, continue_line);

    let shutdown = tokio::spawn(daemon.server.shutdown());
    // Shutdown has begun once the listener is closed.
    wait_for("the listener closes", Duration::from_secs(5), || async {
        tokio::net::TcpStream::connect(addr).await.err()
    })
    .await;
    tls.write_all(rest.as_bytes()).await.unwrap();
    let response = read_all(&mut tls).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    shutdown.await.unwrap();
    assert_eq!(db.count("notifications").await, 1);
}
