//! `[verify]`: the roots that signed notifications must chain to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `[verify]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyConfig {
    /// Trusted roots: certificate files (PEM or DER), or [`BUILTIN_APPLE_ROOT`] for the built-in
    /// Apple Root CA - G3. Empty = Apple Root CA - G3 alone; a non-empty list is exactly what is
    /// trusted, so listing a development root beside Apple's needs the built-in entry too.
    pub roots: Vec<PathBuf>,
}

/// The `verify.roots` entry naming the built-in Apple Root CA - G3 (no file is read).
pub const BUILTIN_APPLE_ROOT: &str = "builtin:apple-root-ca-g3";
/// `verify.roots` entries starting with this name a root built into asnd, not a file.
pub const BUILTIN_ROOT_PREFIX: &str = "builtin:";

/// What one `verify.roots` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootEntry<'a> {
    /// [`BUILTIN_APPLE_ROOT`].
    BuiltinApple,
    /// A certificate file.
    File(&'a Path),
}

impl RootEntry<'_> {
    /// Reads an entry; a `builtin:` name other than [`BUILTIN_APPLE_ROOT`] is an error.
    pub fn parse(entry: &Path) -> Result<RootEntry<'_>, String> {
        match entry.to_str() {
            Some(BUILTIN_APPLE_ROOT) => Ok(RootEntry::BuiltinApple),
            Some(name) if name.starts_with(BUILTIN_ROOT_PREFIX) => Err(format!(
                "{name:?} is not a built-in root; the only one is {BUILTIN_APPLE_ROOT:?}"
            )),
            _ => Ok(RootEntry::File(entry)),
        }
    }
}
