//! The HTTPS client of the App Store Server API
//! (<https://developer.apple.com/documentation/appstoreserverapi>): ES256 JWT bearer tokens reused
//! until shortly before they expire, a timeout on every request, 429 honoured with Apple's `Retry-After`
//! (a UNIX time in milliseconds), 5xx, Apple's "retryable" error codes and network errors retried
//! with exponential backoff, and Apple's error codes reported by name.
//!
//! TLS: rustls with aws-lc-rs, trusting the CA certificates of `[apps.api] ca_file` (the system's
//! bundle, `/etc/ssl/certs/ca-certificates.crt`, by default) plus any `extra_roots`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use rustls::pki_types::CertificateDer;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiEnvironment;
use crate::apple::models::{
    CheckTestNotificationResponse, NotificationHistoryResponse, SendTestNotificationResponse,
};
use crate::config::{ApiConfig, AppConfig};
use crate::secret::Secret;

/// A token is valid this long (Apple allows at most 60 minutes; Apple's libraries use 5).
pub const TOKEN_LIFETIME_SECS: u64 = 300;
/// A cached token is replaced when it has less than this left.
pub const TOKEN_RENEW_BEFORE_SECS: u64 = 60;
/// The JWT audience Apple expects.
pub const AUDIENCE: &str = "appstoreconnect-v1";
/// Larger than any answer of the endpoints used (a history page is at most 20 notifications).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// What failed talking to Apple. Apple's error codes are named (<https://developer.apple.com/documentation/appstoreserverapi/error_codes>).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "{environment} API: 401 unauthorized: check key_id, issuer_id, bundle id and the key; \
         production returns 401 until the app is approved"
    )]
    Unauthorized { environment: ApiEnvironment },
    #[error("{environment} API: HTTP {status}: {name} ({code}){}", message_suffix(.message))]
    Apple {
        environment: ApiEnvironment,
        status: u16,
        code: i64,
        name: &'static str,
        message: String,
    },
    /// A non-2xx answer without Apple's error body.
    #[error("{environment} API: HTTP {status}{}", message_suffix(.detail))]
    Http {
        environment: ApiEnvironment,
        status: u16,
        detail: String,
    },
    #[error("{environment} API: cannot reach {url}: {detail}")]
    Network {
        environment: ApiEnvironment,
        url: String,
        detail: String,
    },
    #[error("{environment} API: unexpected answer: {detail}")]
    Decode {
        environment: ApiEnvironment,
        detail: String,
    },
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: Box<ApiError> },
    #[error("App Store Server API client: {0}")]
    Setup(String),
}

fn message_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

impl ApiError {
    /// Apple's `errorCode`, when Apple sent one (also behind [`ApiError::GaveUp`]).
    pub fn apple_code(&self) -> Option<i64> {
        match self {
            ApiError::Apple { code, .. } => Some(*code),
            ApiError::GaveUp { last, .. } => last.apple_code(),
            _ => None,
        }
    }

    pub fn is_unauthorized(&self) -> bool {
        match self {
            ApiError::Unauthorized { .. } => true,
            ApiError::GaveUp { last, .. } => last.is_unauthorized(),
            _ => false,
        }
    }
}

/// Apple's name for an error code (Apple's "Error codes" page and the endpoint pages); `None` for codes unknown
/// today, which are reported by number.
pub fn error_name(code: i64) -> Option<&'static str> {
    Some(match code {
        4000000 => "GeneralBadRequestError",
        4000002 => "InvalidAppIdentifierError",
        4000006 => "InvalidTransactionIdError",
        4000012 => "StartDateTooFarInPastError",
        4000013 => "StartDateAfterEndDateError",
        4000014 => "InvalidPaginationTokenError",
        4000015 => "InvalidStartDateError",
        4000016 => "InvalidEndDateError",
        4000017 => "PaginationTokenExpiredError",
        4000018 => "InvalidNotificationTypeError",
        4000019 => "MultipleFiltersSuppliedError",
        4000020 => "InvalidTestNotificationTokenError",
        4040001 => "AccountNotFoundError",
        4040002 => "AccountNotFoundRetryableError",
        4040003 => "AppNotFoundError",
        4040004 => "AppNotFoundRetryableError",
        4040005 => "OriginalTransactionIdNotFoundError",
        4040006 => "OriginalTransactionIdNotFoundRetryableError",
        4040007 => "ServerNotificationURLNotFoundError",
        4040008 => "TestNotificationNotFoundError",
        4040010 => "TransactionIdNotFoundError",
        4290000 => "RateLimitExceededError",
        5000000 => "GeneralInternalError",
        5000001 => "GeneralInternalRetryableError",
        _ => return None,
    })
}

/// Whether a request failed because the server's certificate was refused (unknown issuer,
/// expired, wrong name, ...): a setup problem, never transient.
fn certificate_refused(e: &reqwest::Error) -> bool {
    matches!(
        crate::error_chain::rustls_cause(e),
        Some(rustls::Error::InvalidCertificate(_))
    )
}

/// Codes Apple documents as "try again".
fn is_retryable_code(code: i64) -> bool {
    matches!(code, 4040002 | 4040004 | 4040006 | 5000001)
}

/// How hard to try before giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// The wait after the first failure; doubled after each further one.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest wait a 429's `Retry-After` may impose before the next attempt.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(16),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// The wait a 429's `Retry-After` asks for. Apple sends a UNIX time in milliseconds; a small
/// number is read as seconds to wait (the HTTP standard's form, which a proxy may send). The wait
/// is capped at `cap`; `None` when the header is absent or unreadable.
pub fn retry_after_wait(header: Option<&str>, now_ms: i64, cap: Duration) -> Option<Duration> {
    let value: i64 = header?.trim().parse().ok()?;
    let wait = if value >= 1_000_000_000_000 {
        Duration::from_millis(u64::try_from(value.saturating_sub(now_ms)).unwrap_or(0))
    } else if (0..1_000_000).contains(&value) {
        Duration::from_secs(value as u64)
    } else {
        return None;
    };
    Some(wait.min(cap))
}

/// Signs the bearer tokens of one API key for one app, and keeps the current one.
#[derive(Debug)]
pub struct TokenSigner {
    key_id: String,
    issuer_id: String,
    bundle_id: String,
    key: Secret<EncodingKey>,
    /// The current token and its `exp` (UNIX seconds).
    current: Mutex<Option<(Secret<String>, u64)>>,
}

impl TokenSigner {
    /// `pkcs8_der`: the `.p8` key's DER (an EC P-256 key).
    pub fn new(
        key_id: &str,
        issuer_id: &str,
        bundle_id: &str,
        pkcs8_der: &[u8],
    ) -> Result<TokenSigner, ApiError> {
        let key = EncodingKey::from_ec_der(pkcs8_der);
        // jsonwebtoken reads the key only when it signs: build its ES256 signer once here so that
        // a bad key fails at startup rather than at the first request.
        let provider = CryptoProvider::try_get_default()
            .ok_or_else(|| ApiError::Setup("no crypto provider for bearer tokens".into()))?;
        (provider.signer_factory)(&Algorithm::ES256, &key).map_err(|_| {
            ApiError::Setup("the private key is not an EC P-256 key in PKCS#8 (.p8)".into())
        })?;
        Ok(TokenSigner {
            key_id: key_id.to_owned(),
            issuer_id: issuer_id.to_owned(),
            bundle_id: bundle_id.to_owned(),
            key: Secret::new(key),
            current: Mutex::new(None),
        })
    }

    /// A token valid now: the current one while it has more than a minute left, else a new one.
    pub fn token(&self) -> Result<String, ApiError> {
        let now = u64::try_from(super::now_ms() / 1000).unwrap_or(0);
        self.token_at(now)
    }

    /// [`TokenSigner::token`] at the given UNIX second.
    pub fn token_at(&self, now: u64) -> Result<String, ApiError> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((token, exp)) = current.as_ref()
            && now + TOKEN_RENEW_BEFORE_SECS < *exp
            && now + TOKEN_LIFETIME_SECS >= *exp
        {
            return Ok(token.expose().clone());
        }
        let exp = now + TOKEN_LIFETIME_SECS;
        let token = self.sign(now, exp)?;
        *current = Some((Secret::new(token.clone()), exp));
        Ok(token)
    }

    fn sign(&self, iat: u64, exp: u64) -> Result<String, ApiError> {
        let header = Header {
            kid: Some(self.key_id.clone()),
            ..Header::new(Algorithm::ES256)
        };
        let claims = Claims {
            iss: &self.issuer_id,
            iat,
            exp,
            aud: AUDIENCE,
            bid: &self.bundle_id,
        };
        jsonwebtoken::encode(&header, &claims, self.key.expose())
            .map_err(|_| ApiError::Setup("signing the bearer token failed".into()))
    }
}

/// The claims Apple requires of a bearer token (App Store Server API, "Generating JSON Web Tokens for API requests").
#[derive(Serialize)]
struct Claims<'a> {
    /// The issuer id of the API key.
    iss: &'a str,
    /// Issued at, UNIX seconds.
    iat: u64,
    /// Expires at, UNIX seconds.
    exp: u64,
    aud: &'a str,
    /// The app's bundle id.
    bid: &'a str,
}

/// An HTTPS client for one app in one environment.
#[derive(Clone, Debug)]
pub struct ApiClient {
    http: reqwest::Client,
    base_url: String,
    environment: ApiEnvironment,
    signer: Arc<TokenSigner>,
    retry: RetryPolicy,
}

/// A reqwest client on rustls (aws-lc-rs) that trusts exactly `roots`, of which one at least
/// must be usable.
pub fn http_client(
    roots: &[CertificateDer<'static>],
    timeout: Duration,
) -> Result<reqwest::Client, ApiError> {
    let (builder, usable) =
        client_builder(roots, timeout).map_err(|e| ApiError::Setup(format!("TLS: {e}")))?;
    if usable == 0 {
        return Err(ApiError::Setup(
            "no usable CA certificate to trust (see [apps.api] ca_file)".into(),
        ));
    }
    builder
        .build()
        .map_err(|e| ApiError::Setup(format!("HTTP client: {e}")))
}

/// The reqwest builder every outbound client of asnd starts from: rustls on aws-lc-rs (set
/// explicitly: reqwest has no default provider here), trusting exactly `roots`, bounded by
/// `timeout`. Also how many of `roots` were usable.
pub fn client_builder(
    roots: &[CertificateDer<'static>],
    timeout: Duration,
) -> Result<(reqwest::ClientBuilder, usize), rustls::Error> {
    let mut store = rustls::RootCertStore::empty();
    let (usable, _) = store.add_parsable_certificates(roots.iter().cloned());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(store)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("asnd/", env!("CARGO_PKG_VERSION")));
    Ok((builder, usable))
}

impl ApiClient {
    pub fn new(
        http: reqwest::Client,
        base_url: &str,
        environment: ApiEnvironment,
        signer: Arc<TokenSigner>,
    ) -> ApiClient {
        ApiClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            environment,
            signer,
            retry: RetryPolicy::default(),
        }
    }

    /// A client for `app` in `environment`, from its `[apps.api]` section.
    pub fn for_app(app: &AppConfig, environment: ApiEnvironment) -> Result<ApiClient, ApiError> {
        let api = app.api.as_ref().ok_or_else(|| {
            ApiError::Setup(format!(
                "app {:?} has no [apps.api] section (key_id, issuer_id, private_key_path)",
                app.bundle_id
            ))
        })?;
        let (http, signer) = Self::parts(app, api)?;
        Ok(ApiClient::new(
            http,
            api_base_url(api, environment),
            environment,
            signer,
        ))
    }

    /// The HTTP client and token signer of one app, shared by its environments.
    pub fn parts(
        app: &AppConfig,
        api: &ApiConfig,
    ) -> Result<(reqwest::Client, Arc<TokenSigner>), ApiError> {
        let section = format!("apps.api of {:?}", app.bundle_id);
        let key = api
            .load_private_key(&section)
            .map_err(|e| ApiError::Setup(e.to_string()))?;
        let signer =
            TokenSigner::new(&api.key_id, &api.issuer_id, &app.bundle_id, key.pkcs8_der())?;
        let roots = api
            .load_roots(&section)
            .map_err(|e| ApiError::Setup(e.to_string()))?;
        Ok((http_client(&roots, api.timeout)?, Arc::new(signer)))
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> ApiClient {
        self.retry = retry;
        self
    }

    pub fn environment(&self) -> ApiEnvironment {
        self.environment
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Request a Test Notification: the token to follow it with.
    pub async fn request_test_notification(&self) -> Result<String, ApiError> {
        let r: SendTestNotificationResponse = self
            .call_json(Method::POST, "/inApps/v1/notifications/test", &[], None)
            .await?;
        r.test_notification_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.decode_error("no testNotificationToken in the answer"))
    }

    /// Get Test Notification Status.
    pub async fn test_notification_status(
        &self,
        test_notification_token: &str,
    ) -> Result<CheckTestNotificationResponse, ApiError> {
        let path = format!(
            "/inApps/v1/notifications/test/{}",
            encode_segment(test_notification_token)
        );
        self.call_json(Method::GET, &path, &[], None).await
    }

    /// One page of Get Notification History. `body` must be the same bytes for every page
    /// of one query.
    pub async fn notification_history(
        &self,
        body: &Bytes,
        pagination_token: Option<&str>,
    ) -> Result<NotificationHistoryResponse, ApiError> {
        let query: Vec<(&str, &str)> = pagination_token
            .map(|t| vec![("paginationToken", t)])
            .unwrap_or_default();
        self.call_json(
            Method::POST,
            "/inApps/v1/notifications/history",
            &query,
            Some(body),
        )
        .await
    }

    fn decode_error(&self, detail: impl Into<String>) -> ApiError {
        ApiError::Decode {
            environment: self.environment,
            detail: detail.into(),
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Bytes>,
    ) -> Result<T, ApiError> {
        let bytes = self.call(method, path, query, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| self.decode_error(format!("{e}")))
    }

    /// Sends the request, retrying what may succeed on a later attempt.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Bytes>,
    ) -> Result<Bytes, ApiError> {
        let url = format!("{}{path}", self.base_url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (error, asked_wait) = match self.attempt(&method, &url, query, body).await {
                Attempt::Done(bytes) => return Ok(bytes),
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retry(e, wait) => (e, wait),
            };
            if attempt >= self.retry.max_attempts.max(1) {
                return Err(ApiError::GaveUp {
                    attempts: attempt,
                    last: Box::new(error),
                });
            }
            let wait = asked_wait.unwrap_or_else(|| self.retry.backoff(attempt));
            tracing::warn!(
                environment = %self.environment,
                path,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "App Store Server API request failed; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Bytes>,
    ) -> Attempt {
        let token = match self.signer.token() {
            Ok(t) => t,
            Err(e) => return Attempt::Fatal(e),
        };
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(token)
            .header(ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let network = |e: reqwest::Error| ApiError::Network {
            environment: self.environment,
            url: url.to_owned(),
            detail: crate::error_chain(&e),
        };
        let mut response = match request.send().await {
            Ok(r) => r,
            // A certificate the configured CAs do not accept will not be accepted a second
            // later: say so at once instead of retrying.
            Err(e) if certificate_refused(&e) => {
                let mut error = network(e);
                if let ApiError::Network { detail, .. } = &mut error {
                    detail.push_str(
                        "; the server's certificate is not trusted: check [apps.api] ca_file \
                         (the system's CA bundle by default) and any proxy in between",
                    );
                }
                return Attempt::Fatal(error);
            }
            Err(e) => return Attempt::Retry(network(e), None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Attempt::Fatal(self.decode_error(format!(
                            "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
                        )));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Attempt::Retry(network(e), None),
            }
        }
        if (200..300).contains(&status) {
            return Attempt::Done(Bytes::from(bytes));
        }
        let error = self.error_from(status, &bytes);
        if status == 429 {
            let wait = retry_after_wait(
                retry_after.as_deref(),
                super::now_ms(),
                self.retry.max_rate_limit_wait,
            );
            return Attempt::Retry(error, wait);
        }
        if status >= 500 || error.apple_code().is_some_and(is_retryable_code) {
            return Attempt::Retry(error, None);
        }
        Attempt::Fatal(error)
    }

    fn error_from(&self, status: u16, body: &[u8]) -> ApiError {
        let environment = self.environment;
        if status == 401 {
            return ApiError::Unauthorized { environment };
        }
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("errorCode"))
            .and_then(Value::as_i64);
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("errorMessage"))
            .and_then(Value::as_str)
            .map(|m| m.chars().take(300).collect::<String>())
            .unwrap_or_default();
        match code {
            Some(code) => ApiError::Apple {
                environment,
                status,
                code,
                name: error_name(code).unwrap_or("unknown error code"),
                message,
            },
            None => ApiError::Http {
                environment,
                status,
                detail: String::from_utf8_lossy(&body[..body.len().min(200)])
                    .chars()
                    .filter(|c| !c.is_control())
                    .collect(),
            },
        }
    }
}

/// The base URL `api` gives for `environment`.
pub fn api_base_url(api: &ApiConfig, environment: ApiEnvironment) -> &str {
    match environment {
        ApiEnvironment::Production => &api.production_url,
        ApiEnvironment::Sandbox => &api.sandbox_url,
    }
}

enum Attempt {
    Done(Bytes),
    /// Worth another attempt, after the wait given (else the backoff).
    Retry(ApiError, Option<Duration>),
    Fatal(ApiError),
}

/// Percent-encodes one path segment (everything but RFC 3986's unreserved characters).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
        UnparsedPublicKey,
    };
    use base64::Engine;
    use serde_json::json;

    fn signer() -> (TokenSigner, Vec<u8>) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        (
            TokenSigner::new("KEY123", "issuer-uuid", "com.example.app", pkcs8.as_ref()).unwrap(),
            public,
        )
    }

    fn decode(segment: &str) -> Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn tokens_are_es256_jwts_with_apples_claims() {
        let (signer, public) = signer();
        let token = signer.token_at(1_800_000_000).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode(parts[0]),
            json!({"alg": "ES256", "kid": "KEY123", "typ": "JWT"})
        );
        assert_eq!(
            decode(parts[1]),
            json!({"iss": "issuer-uuid", "iat": 1_800_000_000u64, "exp": 1_800_000_300u64,
                   "aud": "appstoreconnect-v1", "bid": "com.example.app"})
        );
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        assert_eq!(signature.len(), 64, "raw r||s");
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("the signature verifies with the key's public half");
    }

    #[test]
    fn tokens_are_reused_until_a_minute_before_expiry() {
        let (signer, _) = signer();
        let first = signer.token_at(1_000).unwrap();
        assert_eq!(signer.token_at(1_000 + 239).unwrap(), first);
        let second = signer.token_at(1_000 + 240).unwrap();
        assert_ne!(second, first, "renewed with a minute left");
        // A clock that went backwards gets a fresh token rather than one "from the future".
        assert_ne!(signer.token_at(500).unwrap(), second);
    }

    #[test]
    fn debug_hides_the_key_and_the_current_token() {
        let (signer, _) = signer();
        let token = signer.token_at(1_000).unwrap();
        let debug = format!("{signer:?}");
        assert!(
            debug.contains("KEY123") && debug.contains("<redacted>"),
            "{debug}"
        );
        let signature = token.rsplit('.').next().unwrap();
        assert!(!debug.contains(signature), "{debug}");
    }

    #[test]
    fn bad_keys_are_refused_clearly() {
        let err = TokenSigner::new("K", "I", "B", b"not a key").unwrap_err();
        assert!(err.to_string().contains("EC P-256"), "{err}");
    }

    #[test]
    fn retry_after_is_milliseconds_since_the_epoch() {
        let cap = Duration::from_secs(60);
        let now = 1_800_000_000_000;
        assert_eq!(
            retry_after_wait(Some("1800000000300"), now, cap),
            Some(Duration::from_millis(300))
        );
        assert_eq!(
            retry_after_wait(Some("1799999999000"), now, cap),
            Some(Duration::ZERO),
            "a time already past: retry at once"
        );
        assert_eq!(
            retry_after_wait(Some("1800009000000"), now, cap),
            Some(cap),
            "capped"
        );
        assert_eq!(
            retry_after_wait(Some("2"), now, cap),
            Some(Duration::from_secs(2))
        );
        assert_eq!(retry_after_wait(Some("soon"), now, cap), None);
        assert_eq!(retry_after_wait(Some("-5"), now, cap), None);
        assert_eq!(retry_after_wait(None, now, cap), None);
    }

    #[test]
    fn backoff_doubles_up_to_a_bound() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(500));
        assert_eq!(p.backoff(2), Duration::from_secs(1));
        assert_eq!(p.backoff(3), Duration::from_secs(2));
        assert_eq!(p.backoff(40), Duration::from_secs(16));
    }

    #[test]
    fn error_codes_have_names() {
        assert_eq!(error_name(4290000), Some("RateLimitExceededError"));
        assert_eq!(
            error_name(4040007),
            Some("ServerNotificationURLNotFoundError")
        );
        assert_eq!(error_name(1), None);
        let e = ApiError::Apple {
            environment: ApiEnvironment::Sandbox,
            status: 400,
            code: 4000017,
            name: error_name(4000017).unwrap(),
            message: "Pagination token expired.".into(),
        };
        assert_eq!(
            e.to_string(),
            "Sandbox API: HTTP 400: PaginationTokenExpiredError (4000017): Pagination token expired."
        );
        assert!(is_retryable_code(5000001) && !is_retryable_code(4000017));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(encode_segment("a/b c?"), "a%2Fb%20c%3F");
    }
}
