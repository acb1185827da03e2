//! The PROXY protocol header reader's parsing, step by step as `server::proxy` reads a new
//! connection: tell a header from TLS by its first bytes, parse it (v1 or v2, with `ppp`), take
//! the client address. A header's length is exact (TLS starts right after it), so the header
//! alone parses to the same client; a v1 header is at most 107 bytes.
#![no_main]

use std::net::IpAddr;

use asnd::server::proxy::{Prefix, classify, v1_client, v2_client};
use libfuzzer_sys::fuzz_target;
use ppp::{HeaderResult, PartialResult, v2};

const V1_PREFIX: &[u8] = b"PROXY ";
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

fuzz_target!(|data: &[u8]| {
    let is_prefix_of = |sig: &[u8]| sig.starts_with(&data[..data.len().min(sig.len())]);
    match classify(data) {
        Prefix::NotProxy => {
            assert!(!is_prefix_of(V1_PREFIX) && !is_prefix_of(V2_SIGNATURE));
            return;
        }
        Prefix::NeedMore => {
            assert!(data.len() < V2_SIGNATURE.len());
            assert!(is_prefix_of(V1_PREFIX) || is_prefix_of(V2_SIGNATURE));
            return;
        }
        Prefix::Proxy => assert!(data.starts_with(V1_PREFIX) || data.starts_with(V2_SIGNATURE)),
    }
    let Some((len, client)) = parse(data) else {
        return;
    };
    assert!(len <= data.len());
    if data.starts_with(V1_PREFIX) {
        assert!(len <= 107, "a v1 header of {len} bytes");
    }
    let (alone, client_alone) = parse(&data[..len]).expect("the header alone parses");
    assert_eq!((alone, client_alone), (len, client));
});

/// The header's length and the client it names (`None`: LOCAL or UNKNOWN, the peer itself), as
/// the reader takes them; `None` when incomplete or malformed.
fn parse(bytes: &[u8]) -> Option<(usize, Option<IpAddr>)> {
    let parsed = HeaderResult::parse(bytes);
    if parsed.is_incomplete() {
        return None;
    }
    match parsed {
        HeaderResult::V1(Ok(h)) => Some((h.header.len(), v1_client(&h.addresses))),
        HeaderResult::V2(Ok(h)) => {
            let client = v2_client(&h);
            if h.command == v2::Command::Local {
                assert_eq!(client, None);
            }
            Some((h.len(), client))
        }
        HeaderResult::V1(Err(e)) => {
            assert!(!e.to_string().is_empty());
            None
        }
        HeaderResult::V2(Err(e)) => {
            assert!(!e.to_string().is_empty());
            None
        }
    }
}
