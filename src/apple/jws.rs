//! Compact JWS parsing (RFC 7515) as Apple uses it: three base64url segments, an `ES256` header
//! carrying an `x5c` chain, and a raw 64-byte `r||s` signature. Parsing checks the shape only;
//! trust is decided in `verify`.
//!
//! Hand-written rather than `jsonwebtoken` (which signs the API's outbound bearer tokens): its
//! decoder wants the key up front and judges times against now, while asnd takes the key from
//! the token's own `x5c` chain, verifies that chain at the notification's `signedDate` (so retries
//! and backfills verify after Apple rotates its leaf) and caches parsed leaf keys across
//! notifications.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use super::error::VerifyError;

/// Unpadded base64url only, as RFC 7515 requires and as Apple's libraries (PyJWT, jose) accept:
/// a padded segment is refused, not tolerated.
const B64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Larger than any real App Store JWS by two orders of magnitude; refuses absurd input early.
pub const MAX_JWS_BYTES: usize = 1 << 20;

/// A structurally valid compact JWS, not yet trusted.
#[derive(Debug)]
pub struct CompactJws<'a> {
    /// The exact bytes `segment0.segment1` that were signed.
    pub signing_input: &'a [u8],
    /// The `x5c` entries, still in standard base64 as sent.
    pub x5c: Vec<String>,
    pub payload: Map<String, Value>,
    pub signature: Vec<u8>,
}

pub fn parse(token: &str) -> Result<CompactJws<'_>, VerifyError> {
    parse_segments(token).map_err(|e| explain(token, e))
}

/// A token that fails to parse is scanned for the byte that made it fail: white space or padding
/// is named as such. Only on the error path, because the strict decoders already refuse every
/// byte outside base64url, so a token that parses holds none.
fn explain(token: &str, error: VerifyError) -> VerifyError {
    match (&error, check_alphabet(token)) {
        (VerifyError::Malformed(_), Err(precise)) => precise,
        _ => error,
    }
}

fn parse_segments(token: &str) -> Result<CompactJws<'_>, VerifyError> {
    let malformed = |what: &str| VerifyError::Malformed(what.to_string());
    if token.len() > MAX_JWS_BYTES {
        return Err(malformed("longer than 1 MiB"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed(
            "a compact JWS has exactly three dot-separated segments",
        ));
    };
    let header = decode_object(h).map_err(|e| VerifyError::Malformed(format!("header {e}")))?;
    let payload = decode_object(p).map_err(|e| VerifyError::Malformed(format!("payload {e}")))?;
    let signature = B64URL
        .decode(s)
        .map_err(|e| VerifyError::Malformed(format!("signature is not base64url: {e}")))?;

    let x5c = match header.get("x5c") {
        None | Some(Value::Null) => return Err(VerifyError::MissingX5c),
        Some(Value::Array(items)) if items.is_empty() => return Err(VerifyError::MissingX5c),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| malformed("x5c entries must be strings"))?,
        Some(_) => return Err(malformed("x5c must be an array")),
    };
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "ES256" => {}
        Some(Value::String(alg)) => return Err(VerifyError::Algorithm(alg.clone())),
        Some(other) => return Err(VerifyError::Algorithm(other.to_string())),
        None => return Err(VerifyError::Algorithm("(missing)".into())),
    }
    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    Ok(CompactJws {
        signing_input,
        x5c,
        payload,
        signature,
    })
}

/// Decodes a payload without verifying it. Only for routing decisions that verification then
/// confirms (for example, choosing which configured app a notification claims to be for).
pub fn peek_payload(token: &str) -> Result<Map<String, Value>, VerifyError> {
    check_alphabet(token)?;
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| VerifyError::Malformed("no payload segment".into()))?;
    decode_object(payload).map_err(|e| VerifyError::Malformed(format!("payload {e}")))
}

/// A compact JWS is base64url segments and dots, nothing else: no surrounding white space (of any
/// kind, Unicode included) and no `=` padding. Apple's libraries refuse both, so asnd does too.
fn check_alphabet(token: &str) -> Result<(), VerifyError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let Some(at) = token.bytes().position(|b| !allowed(b)) else {
        return Ok(());
    };
    let byte = token.as_bytes()[at];
    let what = match byte {
        b'=' => "base64 padding `=`".to_string(),
        b if b.is_ascii_whitespace() || b == 0x0b => "white space".to_string(),
        b if b >= 0x80 => "a non-ASCII character (such as a Unicode space)".to_string(),
        b => format!("the byte 0x{b:02x}"),
    };
    let detail = format!(
        "contains {what} at byte {at}; a compact JWS holds only base64url (A-Z a-z 0-9 - _) and dots"
    );
    // Padding and white space (ASCII or Unicode) around an otherwise good JWS look genuine, so
    // they are refused as unverified; any other stray byte means the body is not a JWS at all.
    let looks_genuine = byte == b'=' || byte >= 0x80 || byte.is_ascii_whitespace() || byte == 0x0b;
    Err(if looks_genuine {
        VerifyError::Encoding(detail)
    } else {
        VerifyError::Malformed(detail)
    })
}

fn decode_object(segment: &str) -> Result<Map<String, Value>, String> {
    let bytes = B64URL
        .decode(segment)
        .map_err(|e| format!("is not base64url: {e}"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("is not a JSON object".into()),
        Err(e) => Err(format!("is not JSON: {e}")),
    }
}

/// Encodes bytes as unpadded base64url (used by tests, the simulator and benches to sign).
pub fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64url(header.as_bytes()),
            b64url(payload.as_bytes()),
            b64url(sig)
        )
    }

    #[test]
    fn parses_a_well_formed_token_and_keeps_signing_input_exact() {
        let t = token(
            r#"{"alg":"ES256","x5c":["a","b","c"]}"#,
            r#"{"x":1}"#,
            &[7; 64],
        );
        let jws = parse(&t).unwrap();
        assert_eq!(jws.x5c, vec!["a", "b", "c"]);
        assert_eq!(jws.signature, vec![7; 64]);
        let dot = t.rfind('.').unwrap();
        assert_eq!(jws.signing_input, &t.as_bytes()[..dot]);
        assert_eq!(jws.payload["x"], 1);
    }

    fn well_formed() -> String {
        token(r#"{"alg":"ES256","x5c":["a"]}"#, r#"{"a":1}"#, &[1; 64])
    }

    #[test]
    fn refuses_padding_in_any_segment() {
        let padded = base64::engine::general_purpose::URL_SAFE;
        let h = padded.encode(r#"{"alg":"ES256","x5c":["ab"]}"#);
        let p = padded.encode(r#"{"a":1}"#);
        let s = padded.encode([1u8; 64]);
        assert!(h.ends_with('=') && p.ends_with('=') && s.ends_with('='));
        let (uh, up, us) = (
            h.trim_end_matches('='),
            p.trim_end_matches('='),
            s.trim_end_matches('='),
        );
        assert!(parse(&format!("{uh}.{up}.{us}")).is_ok());
        for t in [
            format!("{uh}.{up}.{s}"),
            format!("{h}.{up}.{us}"),
            format!("{uh}.{p}.{us}"),
        ] {
            let err = parse(&t).unwrap_err();
            assert!(err.to_string().contains("padding"), "{t}: {err}");
            assert_eq!(
                err.status(),
                super::super::error::Status::VerificationFailure
            );
        }
    }

    #[test]
    fn refuses_white_space_before_or_after() {
        let t = well_formed();
        assert!(parse(&t).is_ok());
        for ws in [" ", "\t", "\n", "\r\n", "\u{0b}", "\u{a0}", "\u{feff}"] {
            for candidate in [format!("{ws}{t}"), format!("{t}{ws}")] {
                let err = parse(&candidate).unwrap_err();
                assert!(matches!(err, VerifyError::Encoding(_)), "{ws:?}: {err}");
                assert!(peek_payload(&candidate).is_err(), "{ws:?}");
            }
        }
    }

    #[test]
    fn rejects_wrong_segment_counts() {
        for t in ["", "a", "a.b", "a.b.c.d", "...."] {
            assert!(matches!(parse(t), Err(VerifyError::Malformed(_))), "{t}");
        }
    }

    #[test]
    fn rejects_other_algorithms() {
        for alg in ["none", "HS256", "ES384", "es256"] {
            let t = token(&format!(r#"{{"alg":"{alg}","x5c":["a"]}}"#), "{}", &[0; 64]);
            assert_eq!(parse(&t).unwrap_err(), VerifyError::Algorithm(alg.into()));
        }
        let t = token(r#"{"x5c":["a"]}"#, "{}", &[0; 64]);
        assert!(matches!(parse(&t), Err(VerifyError::Algorithm(_))));
    }

    #[test]
    fn rejects_missing_or_empty_x5c() {
        for h in [r#"{"alg":"ES256"}"#, r#"{"alg":"ES256","x5c":[]}"#] {
            assert_eq!(
                parse(&token(h, "{}", &[0; 64])).unwrap_err(),
                VerifyError::MissingX5c
            );
        }
        let t = token(r#"{"alg":"ES256","x5c":"abc"}"#, "{}", &[0; 64]);
        assert!(matches!(parse(&t), Err(VerifyError::Malformed(_))));
    }

    #[test]
    fn rejects_non_object_segments() {
        let t = token(r#"{"alg":"ES256","x5c":["a"]}"#, "[1,2]", &[0; 64]);
        assert!(matches!(parse(&t), Err(VerifyError::Malformed(_))));
        let t = format!("!!!.{}.{}", b64url(b"{}"), b64url(&[0; 64]));
        assert!(matches!(parse(&t), Err(VerifyError::Malformed(_))));
    }
}
