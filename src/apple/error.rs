//! Verification errors, each mapped to the status name Apple's libraries report.

use std::fmt;

/// Apple's `VerificationStatus` names (shared by all official libraries; numeric codes differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    VerificationFailure,
    InvalidAppIdentifier,
    InvalidEnvironment,
    InvalidCertificate,
    InvalidChainLength,
    InvalidChain,
    /// Kept for online (OCSP) checks; offline verification never returns it.
    RetryableVerificationFailure,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::VerificationFailure => "VERIFICATION_FAILURE",
            Status::InvalidAppIdentifier => "INVALID_APP_IDENTIFIER",
            Status::InvalidEnvironment => "INVALID_ENVIRONMENT",
            Status::InvalidCertificate => "INVALID_CERTIFICATE",
            Status::InvalidChainLength => "INVALID_CHAIN_LENGTH",
            Status::InvalidChain => "INVALID_CHAIN",
            Status::RetryableVerificationFailure => "RETRYABLE_VERIFICATION_FAILURE",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a piece of signed data was not accepted. `Display` names the failed check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed JWS: {0}")]
    Malformed(String),
    /// A JWS shaped right but not encoded as Apple's libraries require (white space around it,
    /// `=` padding): it looks genuine, so it is refused as unverified (422), not as a bad request.
    #[error("JWS encoding refused: {0}")]
    Encoding(String),
    #[error("JWS header alg is {0:?}, only \"ES256\" is accepted")]
    Algorithm(String),
    #[error("JWS header has no x5c certificate chain")]
    MissingX5c,
    #[error("x5c holds {found} certificates, exactly 3 are required")]
    ChainLength { found: usize },
    #[error("x5c[{index}] is not a certificate: {reason}")]
    Certificate { index: usize, reason: String },
    #[error("no trusted root certificate is configured")]
    NoRoots,
    #[error("certificate chain rejected: {0}")]
    Chain(String),
    #[error("signature does not verify: {0}")]
    Signature(String),
    #[error("payload does not match Apple's model: {0}")]
    Payload(String),
    #[error("app identifier mismatch: {0}")]
    AppIdentifier(String),
    #[error("environment mismatch: {0}")]
    Environment(String),
    #[error("nested {field}: {source}")]
    Nested {
        field: &'static str,
        source: Box<VerifyError>,
    },
}

impl VerifyError {
    pub fn status(&self) -> Status {
        match self {
            VerifyError::Malformed(_)
            | VerifyError::Encoding(_)
            | VerifyError::Algorithm(_)
            | VerifyError::MissingX5c
            | VerifyError::Chain(_)
            | VerifyError::Signature(_)
            | VerifyError::Payload(_) => Status::VerificationFailure,
            VerifyError::ChainLength { .. } => Status::InvalidChainLength,
            VerifyError::Certificate { .. } | VerifyError::NoRoots => Status::InvalidCertificate,
            VerifyError::AppIdentifier(_) => Status::InvalidAppIdentifier,
            VerifyError::Environment(_) => Status::InvalidEnvironment,
            VerifyError::Nested { source, .. } => source.status(),
        }
    }

    /// `STATUS_NAME: detail`, the form used in logs, the quarantine table and `asnd verify`.
    pub fn report(&self) -> String {
        format!("{}: {}", self.status(), self)
    }
}
