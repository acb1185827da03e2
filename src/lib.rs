//! asnd: receives Apple's App Store Server Notifications, proves them genuine, stores them in SQL.
//! See `README.md` and `../shared/design/architecture.md` for the shape of the code.

pub mod apple;
pub mod appstore_api;
pub mod cli;
pub mod config;
pub mod console;
pub mod delivery;
pub mod devca;
pub mod error_chain;
pub mod ingest;
pub mod logging;
pub mod pipeline;
pub mod reprocess;
pub mod secret;
pub mod server;
pub mod simulate;
pub mod store;
pub mod time;

pub use error_chain::error_chain;
