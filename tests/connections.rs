//! The connection layer against hostile peers: silent sockets from outsiders in PROXY-protocol
//! mode, forwarding headers behind an L4 balancer, and peers that would hold a connection for
//! ever (silent after TLS, half an HTTP/2 preface, an idle HTTP/2 connection).
//!
//! Silent peers need addresses other than the daemon's trusted 127.0.0.1: on Linux every
//! 127.0.0.0/8 address is the loopback, so sockets bound to 127.0.0.2 come from "elsewhere".

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The bound on any one exchange below: far above a normal answer on loopback (milliseconds), so
/// only a server that makes a client wait (or never answers) exceeds it.
const PATIENCE: Duration = Duration::from_secs(5);
const TRUSTED_BALANCER: &str = "127.0.0.1";
const OUTSIDER: &str = "127.0.0.2";
const ALLOWED_DIRECT: &str = "127.0.0.3";

fn nets(list: &[&str]) -> Vec<ipnet::IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A daemon in PROXY-protocol mode behind the balancer 127.0.0.1, allowing Apple and
/// 127.0.0.3 (a direct peer), with `edit` applied.
async fn behind_l4_balancer(
    edit: impl FnOnce(&mut asnd::config::Config),
) -> (Fixture, TestDb, Daemon) {
    let fixture = Fixture::new();
    let db = TestDb::new(Backend::Sqlite).await;
    let mut config = fixture.config(&db.url, r#"["17.0.0.0/8", "127.0.0.3/32"]"#);
    config.server.proxy_protocol = true;
    config.sources.trusted_proxies = nets(&["127.0.0.1/32"]);
    edit(&mut config);
    let daemon = Daemon::start(&config, &fixture.tls_cert_der).await;
    (fixture, db, daemon)
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ip(from), 0))?;
    socket.connect(to).await
}

/// From `from`: `prefix` (a PROXY header, or nothing), TLS, one HTTP/1.1 request. The whole
/// response, or None when the server closed or did not answer within [`PATIENCE`].
async fn request_from(
    daemon: &Daemon,
    cert_der: &[u8],
    from: &str,
    prefix: &[u8],
    request: (&str, &str, &str, &str),
) -> Option<String> {
    let (method, path, headers, body) = request;
    let exchange = async {
        let mut tcp = connect_from(from, daemon.addr).await.ok()?;
        tcp.write_all(prefix).await.ok()?;
        let mut tls = tls_connector(cert_der)
            .connect(localhost(), tcp)
            .await
            .ok()?;
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
            body.len()
        );
        tls.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        let _ = tls.read_to_end(&mut response).await;
        let text = String::from_utf8_lossy(&response).into_owned();
        (!text.is_empty()).then_some(text)
    };
    tokio::time::timeout(PATIENCE, exchange).await.ok()?
}

fn status(response: &Option<String>) -> Option<u16> {
    response.as_ref()?.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_outsiders_do_not_delay_deliveries_in_proxy_mode() {
    // Silent peers would hold their socket for a minute if they held anything at all.
    let (fixture, db, daemon) = behind_l4_balancer(|c| {
        c.server.max_connections = 64;
        c.server.proxy_header_timeout = Duration::from_secs(60);
        c.server.handshake_timeout = Duration::from_secs(60);
    })
    .await;
    let cert = &fixture.tls_cert_der;
    let mut silent = Vec::new();
    for _ in 0..300 {
        if let Ok(tcp) = connect_from(OUTSIDER, daemon.addr).await {
            silent.push(tcp);
        }
    }
    // The daemon has taken them in once one more outsider finds no room.
    wait_for("the outsiders' quota is full", PATIENCE * 4, || async {
        let health = request_from(&daemon, cert, OUTSIDER, b"", ("GET", "/healthz", "", "")).await;
        health.is_none().then_some(())
    })
    .await;

    // Through the trusted balancer, for Apple's address.
    let (uuid, body) = signed_renewal();
    let answer = request_from(
        &daemon,
        cert,
        TRUSTED_BALANCER,
        &proxy_v1("17.1.2.3"),
        ("POST", "/notifications", "", &body),
    )
    .await;
    assert_eq!(status(&answer), Some(200), "{answer:?}");
    assert_eq!(db.source_of(&uuid).await, "17.1.2.3");
    // Directly from an allowed address, without a PROXY header.
    let (uuid, body) = signed_renewal();
    let answer = request_from(
        &daemon,
        cert,
        ALLOWED_DIRECT,
        b"",
        ("POST", "/notifications", "", &body),
    )
    .await;
    assert_eq!(status(&answer), Some(200), "{answer:?}");
    assert_eq!(db.source_of(&uuid).await, ALLOWED_DIRECT);
    assert_eq!(silent.len(), 300, "every silent socket stayed connected");
    drop(silent);
    daemon.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forwarding_headers_are_never_read_in_proxy_mode() {
    let (fixture, db, daemon) = behind_l4_balancer(|_| {}).await;
    let cert = &fixture.tls_cert_der;
    let post = |prefix: Vec<u8>, headers: &'static str| {
        let body = signed_renewal();
        let daemon = &daemon;
        async move {
            let answer = request_from(
                daemon,
                cert,
                TRUSTED_BALANCER,
                &prefix,
                ("POST", "/notifications", headers, &body.1),
            )
            .await;
            (body.0, answer)
        }
    };
    let spoofs = "X-Forwarded-For: 17.1.2.3\r\nForwarded: for=17.1.2.3\r\n";
    // The header's outsider stays an outsider whatever the client wrote.
    let (_, answer) = post(proxy_v1("192.0.2.1"), spoofs).await;
    assert_eq!(status(&answer), Some(403), "{answer:?}");
    // Apple's address from the header stands, whatever the client wrote.
    let (uuid, answer) = post(
        proxy_v1("17.4.5.6"),
        "X-Forwarded-For: 192.0.2.9\r\nForwarded: for=192.0.2.9\r\n",
    )
    .await;
    assert_eq!(status(&answer), Some(200), "{answer:?}");
    assert_eq!(db.source_of(&uuid).await, "17.4.5.6");
    // LOCAL and UNKNOWN connections (the balancer's own) reach only the health endpoints.
    for header in [
        proxy_v2("17.9.9.9".parse().unwrap(), true),
        b"PROXY UNKNOWN\r\n".to_vec(),
    ] {
        let (_, answer) = post(header.clone(), spoofs).await;
        assert_eq!(status(&answer), Some(403), "{answer:?}");
        assert!(
            answer
                .unwrap()
                .contains("may reach only /healthz and /readyz"),
            "the refusal says why"
        );
        for path in ["/healthz", "/readyz"] {
            let answer = request_from(
                &daemon,
                cert,
                TRUSTED_BALANCER,
                &header,
                ("GET", path, "", ""),
            )
            .await;
            assert_eq!(status(&answer), Some(200), "{path}: {answer:?}");
        }
    }
    assert_eq!(db.count("notifications").await, 1);
    daemon.server.shutdown().await;
}

/// Reads until the server closes the connection; false when it is still open after
/// [`PATIENCE`]. HTTP/2 frames that arrive meanwhile are answered as a live client would
/// (settings acknowledged, pings answered) when `h2` is set.
async fn closed_by_server<S>(stream: &mut S, h2: bool) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let wait = async {
        loop {
            if !h2 {
                let mut buf = [0u8; 512];
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
            let mut head = [0u8; 9];
            if stream.read_exact(&mut head).await.is_err() {
                return;
            }
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            if stream.read_exact(&mut payload).await.is_err() {
                return;
            }
            let (kind, flags) = (head[3], head[4]);
            let answer = match (kind, flags & 1) {
                (4, 0) => Some(h2_frame(4, 1, 0, &[])),      // SETTINGS → ACK
                (6, 0) => Some(h2_frame(6, 1, 0, &payload)), // PING → ACK
                _ => None,
            };
            if let Some(frame) = answer {
                let _ = stream.write_all(&frame).await;
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.is_ok()
}

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u32).to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags];
    frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A TLS connection that offers only HTTP/2 when `h2`, else only HTTP/1.1.
async fn tls_to(
    daemon: &Daemon,
    cert_der: &[u8],
    h2: bool,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![if h2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    let tcp = TcpStream::connect(daemon.addr).await.unwrap();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(localhost(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_that_say_nothing_after_tls_are_closed() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.server.header_timeout = Duration::from_millis(300);
    })
    .await;
    let cert = &env.fixture.tls_cert_der;
    // Silent after the handshake, over either protocol.
    for h2 in [false, true] {
        let mut tls = tls_to(&env.daemon, cert, h2).await;
        assert!(closed_by_server(&mut tls, false).await, "silent, h2 {h2}");
    }
    // Half the HTTP/2 preface, then nothing.
    let mut tls = tls_to(&env.daemon, cert, true).await;
    tls.write_all(&H2_PREFACE[..12]).await.unwrap();
    assert!(closed_by_server(&mut tls, false).await, "half a preface");
    // The whole preface and settings, but no request.
    let mut tls = tls_to(&env.daemon, cert, true).await;
    tls.write_all(H2_PREFACE).await.unwrap();
    tls.write_all(&h2_frame(4, 0, 0, &[])).await.unwrap();
    assert!(
        closed_by_server(&mut tls, true).await,
        "HTTP/2 without a request"
    );
    // A client that does send its request in time is answered.
    assert_eq!(env.daemon.get("/healthz").await, 200);
    env.finish().await;
}

/// `GET /healthz` on stream 1, headers in HPACK without Huffman coding or indexing.
fn h2_get_healthz() -> Vec<u8> {
    let mut block = vec![0x82, 0x87]; // :method GET, :scheme https (static table)
    for (name_index, value) in [(4u8, "/healthz"), (1u8, "localhost")] {
        block.push(name_index); // literal without indexing, indexed name (:path, :authority)
        block.push(value.len() as u8);
        block.extend_from_slice(value.as_bytes());
    }
    h2_frame(1, 0x4 | 0x1, 1, &block) // HEADERS, END_HEADERS | END_STREAM
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_http2_connection_is_closed() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.server.idle_timeout = Duration::from_millis(500);
    })
    .await;
    let mut tls = tls_to(&env.daemon, &env.fixture.tls_cert_der, true).await;
    tls.write_all(H2_PREFACE).await.unwrap();
    tls.write_all(&h2_frame(4, 0, 0, &[])).await.unwrap();
    tls.write_all(&h2_get_healthz()).await.unwrap();
    // The answer comes first: a HEADERS frame on stream 1.
    let answered = async {
        loop {
            let mut head = [0u8; 9];
            tls.read_exact(&mut head).await.unwrap();
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            tls.read_exact(&mut payload).await.unwrap();
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
            if head[3] == 4 && head[4] & 1 == 0 {
                tls.write_all(&h2_frame(4, 1, 0, &[])).await.unwrap();
            }
            if head[3] == 1 && stream == 1 {
                return;
            }
        }
    };
    tokio::time::timeout(PATIENCE, answered)
        .await
        .expect("the request is answered");
    // Then nothing more is asked, though the client stays alive (it acknowledges settings and
    // answers pings): the server ends the connection.
    assert!(
        closed_by_server(&mut tls, true).await,
        "idle HTTP/2 connection"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_connection_is_closed_at_its_maximum_age() {
    let env = Env::start(Backend::Sqlite, LOOPBACK, |c| {
        c.server.max_connection_age = Duration::from_secs(1);
    })
    .await;
    let mut tls = tls_to(&env.daemon, &env.fixture.tls_cert_der, false).await;
    // Keep-alive requests, one after another, until the server closes the connection.
    let mut answered = 0;
    let ended = tokio::time::timeout(PATIENCE, async {
        loop {
            let sent = tls
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await;
            let mut buf = [0u8; 1024];
            match (sent, tls.read(&mut buf).await) {
                (Ok(()), Ok(n)) if n > 0 => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                    answered += 1;
                    if text.to_ascii_lowercase().contains("connection: close") {
                        return;
                    }
                }
                _ => return,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(ended.is_ok(), "still open after {answered} requests");
    assert!(answered > 0);
    env.finish().await;
}
