//! Apple's formats, pure and synchronous: compact JWS, the `x5c` certificate chain, the built-in
//! Apple Root CA - G3, typed payloads with open enums, V1 bodies. No I/O, no async, no database.

pub mod chain;
pub mod devchain;
pub mod error;
pub mod jws;
pub mod models;
pub mod roots;
pub mod v1;
pub mod verify;

pub use error::{Status, VerifyError};
pub use roots::{RootSet, TrustAnchor};
pub use verify::{AppRule, At, Policy, Verified, VerifiedNotification, Verifier};

#[cfg(test)]
mod tests;
