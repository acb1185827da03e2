//! Builds the ingest pipeline from the configuration: the trusted roots, the apps as a
//! verification policy and as V1 sees them, the store's time bound. `serve`, the App Store
//! commands and the benchmark all build it here, so they verify exactly alike.

use std::sync::Arc;

use crate::apple::models::Environment;
use crate::apple::v1::V1App;
use crate::apple::{AppRule, Policy, RootSet, Verifier};
use crate::config::Config;
use crate::ingest::{Pipeline, Route};
use crate::store::Store;

/// `verify.roots` entries that could not be used, each named with its problem.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RootsError(String);

impl Pipeline {
    /// The pipeline of `config` over `store` (opened and migrated by the caller).
    pub fn from_config(config: &Config, store: Arc<dyn Store>) -> Result<Pipeline, RootsError> {
        let roots = config.verify.load_roots().map_err(|problems| {
            RootsError(
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?;
        Ok(Pipeline::with_roots(config, roots, store))
    }

    /// The pipeline of `config` with roots already loaded (by validation, so that start-up reads
    /// each root file once).
    pub fn with_roots(config: &Config, roots: RootSet, store: Arc<dyn Store>) -> Pipeline {
        Pipeline {
            verifier: Arc::new(Verifier::new(roots)),
            policy: Arc::new(policy(config)),
            store,
            store_timeout: config.database.timeout(),
            v1_apps: Arc::new(config.apps.iter().map(V1App::from).collect()),
            quarantine: config.quarantine.clone(),
            trimmed: Arc::default(),
            routes: Arc::new(config.destinations.iter().map(Route::of).collect()),
            events: Arc::default(),
        }
    }
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
