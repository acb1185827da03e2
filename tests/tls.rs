//! TLS: 1.2 and 1.3 succeed, 1.0 and 1.1 are refused, HTTP/2 and HTTP/1.1 are both served, and a
//! certificate swapped on disk is served after a reload without a restart.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client that trusts only `cert_der`, reaching the daemon at `addr` as `localhost`.
fn trusting(cert_der: &[u8], addr: std::net::SocketAddr) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_der(cert_der).unwrap())
        .resolve("localhost", addr)
}

/// A ClientHello that offers only `version` (no supported_versions extension, as TLS ≤ 1.2 clients
/// send), with the cipher suites, groups and signature schemes a 1.2 server would accept.
fn client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut ext = Vec::new();
    let host = b"localhost";
    let mut sni = vec![0x00];
    sni.extend((host.len() as u16).to_be_bytes());
    sni.extend(host);
    let mut sni_list = ((sni.len()) as u16).to_be_bytes().to_vec();
    sni_list.extend(sni);
    push_ext(&mut ext, 0x0000, &sni_list);
    push_ext(&mut ext, 0x000a, &[0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]); // x25519, secp256r1
    push_ext(&mut ext, 0x000b, &[0x01, 0x00]); // uncompressed points
    push_ext(
        &mut ext,
        0x000d,
        &[0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    );
    push_ext(&mut ext, 0xff01, &[0x00]); // renegotiation_info
    let mut body = version.to_vec();
    body.extend([0x42; 32]); // random
    body.push(0); // session id
    let suites: [u8; 8] = [0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x09, 0xc0, 0x13];
    body.extend((suites.len() as u16).to_be_bytes());
    body.extend(suites);
    body.extend([0x01, 0x00]); // null compression
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![0x01];
    handshake.extend(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend(body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

fn push_ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend(kind.to_be_bytes());
    out.extend((data.len() as u16).to_be_bytes());
    out.extend(data);
}

/// Sends a ClientHello and returns the first bytes the server answers with.
async fn server_answer(daemon: &Daemon, version: [u8; 2]) -> Vec<u8> {
    let mut tcp = tokio::net::TcpStream::connect(daemon.addr).await.unwrap();
    tcp.write_all(&client_hello(version)).await.unwrap();
    let mut buf = vec![0u8; 7];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    buf.truncate(n);
    buf
}

#[tokio::test]
async fn tls_1_0_and_1_1_are_refused_1_2_answers() {
    let env = Env::sqlite().await;
    let daemon = &env.daemon;
    for version in [[0x03, 0x01], [0x03, 0x02]] {
        let answer = server_answer(daemon, version).await;
        // An alert (0x15) with protocol_version (70), or nothing: never a ServerHello (0x16).
        assert!(
            answer.first() != Some(&0x16),
            "TLS {version:?} got a handshake: {answer:?}"
        );
        if !answer.is_empty() {
            assert_eq!(answer[0], 0x15, "{answer:?}");
            assert_eq!(
                answer.last(),
                Some(&70),
                "protocol_version alert: {answer:?}"
            );
        }
    }
    // The same hello offering TLS 1.2 gets a ServerHello: the probe itself is sound.
    let answer = server_answer(daemon, [0x03, 0x03]).await;
    assert_eq!(answer.first(), Some(&0x16), "{answer:?}");
    env.finish().await;
}

#[tokio::test]
async fn tls_1_2_and_1_3_succeed_over_http1_and_http2() {
    let env = Env::sqlite().await;
    let (fixture, daemon) = (&env.fixture, &env.daemon);
    for version in [
        reqwest::tls::Version::TLS_1_2,
        reqwest::tls::Version::TLS_1_3,
    ] {
        let client = trusting(&fixture.tls_cert_der, daemon.addr)
            .min_tls_version(version)
            .max_tls_version(version)
            .build()
            .unwrap();
        let resp = client.get(daemon.url("/healthz")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{version:?}");
        assert_eq!(resp.version(), reqwest::Version::HTTP_2, "ALPN picks h2");
    }
    let http1 = trusting(&fixture.tls_cert_der, daemon.addr)
        .http1_only()
        .build()
        .unwrap();
    let resp = http1.get(daemon.url("/healthz")).send().await.unwrap();
    assert_eq!(
        (resp.status().as_u16(), resp.version()),
        (200, reqwest::Version::HTTP_11)
    );
    env.finish().await;
}

#[tokio::test]
async fn a_certificate_swapped_on_disk_is_served_after_reload() {
    let env = Env::sqlite().await;
    let (fixture, daemon) = (&env.fixture, &env.daemon);
    let renewed = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let trusts_new = || trusting(renewed.cert.der(), daemon.addr).build().unwrap();
    let health = daemon.url("/healthz");
    // Keep a connection open across the reload: it must not be dropped.
    let old_client = client(&fixture.tls_cert_der);
    let old_client = old_client.clone();
    assert_eq!(status_of(old_client.get(&health)).await, 200);
    assert!(
        trusts_new()
            .get(daemon.url("/healthz"))
            .send()
            .await
            .is_err(),
        "old certificate still served"
    );

    std::fs::write(&fixture.tls_cert, renewed.cert.pem()).unwrap();
    std::fs::write(&fixture.tls_key, renewed.key_pair.serialize_pem()).unwrap();
    daemon.server.reload_tls().unwrap();
    assert_eq!(status_of(trusts_new().get(&health)).await, 200);
    assert_eq!(
        status_of(old_client.get(&health)).await,
        200,
        "existing connection kept"
    );

    // A broken file on reload keeps the current certificate.
    std::fs::write(&fixture.tls_key, "not a key").unwrap();
    assert!(daemon.server.reload_tls().is_err());
    assert_eq!(status_of(trusts_new().get(&health)).await, 200);
    env.finish().await;
}
