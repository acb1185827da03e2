//! Builds the ingest pipeline from the configuration: the trusted roots, the apps as a
//! verification policy and as V1 sees them, the store's time bound. `serve`, the App Store
//! commands and the benchmark all build it here, so they verify exactly alike.

use std::sync::Arc;

use crate::apple::models::Environment;
use crate::apple::v1::V1App;
use crate::apple::{AppRule, Policy, RootSet, TrustAnchor, Verifier};
use crate::config::{Config, RootEntry};
use crate::ingest::Pipeline;
use crate::store::Store;

/// A `verify.roots` entry that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("verify.roots: {0}")]
pub struct RootsError(String);

impl Pipeline {
    /// The pipeline of `config` over `store` (opened and migrated by the caller).
    pub fn from_config(config: &Config, store: Arc<dyn Store>) -> Result<Pipeline, RootsError> {
        Ok(Pipeline {
            verifier: Arc::new(Verifier::new(load_roots(&config.verify.roots)?)),
            policy: Arc::new(policy(config)),
            store,
            store_timeout: config.database.timeout(),
            v1_apps: Arc::new(config.apps.iter().map(V1App::from).collect()),
        })
    }
}

/// The verifier's roots: the configured entries (files, and `builtin:apple-root-ca-g3` for the
/// built-in root), or Apple Root CA - G3 alone when none are listed.
fn load_roots(paths: &[std::path::PathBuf]) -> Result<RootSet, RootsError> {
    if paths.is_empty() {
        return Ok(RootSet::apple());
    }
    let mut anchors = Vec::new();
    for entry in paths {
        let path = match RootEntry::parse(entry) {
            Ok(RootEntry::BuiltinApple) => {
                anchors.push(TrustAnchor::apple());
                continue;
            }
            Ok(RootEntry::File(path)) => path,
            Err(message) => return Err(RootsError(message)),
        };
        let bytes =
            std::fs::read(path).map_err(|e| RootsError(format!("{}: {e}", path.display())))?;
        anchors.extend(
            RootSet::parse_file(&bytes)
                .map_err(|e| RootsError(format!("{}: {e}", path.display())))?,
        );
    }
    Ok(RootSet::new(anchors))
}

/// The configured apps as a verification policy.
fn policy(config: &Config) -> Policy {
    Policy::new(
        config
            .apps
            .iter()
            .map(|app| AppRule {
                bundle_id: Some(app.bundle_id.clone()),
                app_apple_id: app.app_apple_id,
                environments: app
                    .environments
                    .iter()
                    .map(|e| Environment::from(e.as_str()))
                    .collect(),
            })
            .collect(),
    )
}
