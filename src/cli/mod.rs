//! Subcommands that need more than a line of glue in `main.rs`.

pub mod appstore;
pub mod backfill;
pub mod check_config;
pub mod command;
pub mod deliveries;
pub mod dev;
pub mod dev_ca;
pub mod healthcheck;
pub mod reprocess;
pub mod simulate;
pub mod test_notification;
pub mod verify;
