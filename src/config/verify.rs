//! `[verify]`: the roots that signed notifications must chain to.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::apple::{RootSet, TrustAnchor};

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

impl VerifyConfig {
    /// The roots to trust, read and parsed, or every entry that cannot be used. The one place
    /// root files are read: validation hands the result to start-up.
    pub fn load_roots(&self) -> Result<RootSet, Vec<ConfigError>> {
        if self.roots.is_empty() {
            return Ok(RootSet::apple());
        }
        let mut anchors = Vec::new();
        let mut problems = Vec::new();
        for (i, root) in self.roots.iter().enumerate() {
            let key = format!("verify.roots[{i}]");
            match RootEntry::parse(root) {
                Ok(RootEntry::BuiltinApple) => anchors.push(TrustAnchor::apple()),
                Ok(RootEntry::File(path)) => match std::fs::read(path) {
                    Err(e) => {
                        problems.push(ConfigError::file(key, path, format!("cannot read: {e}")))
                    }
                    Ok(bytes) => match RootSet::parse_file(&bytes) {
                        Ok(found) => anchors.extend(found),
                        Err(e) => problems.push(ConfigError::file(
                            key,
                            path,
                            format!("not a usable root certificate: {e}"),
                        )),
                    },
                },
                Err(message) => problems.push(ConfigError::invalid(key, message)),
            }
        }
        if problems.is_empty() {
            Ok(RootSet::new(anchors))
        } else {
            Err(problems)
        }
    }
}
