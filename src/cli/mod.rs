//! Subcommands that need more than a line of glue in `main.rs`.

pub mod dev;
pub mod verify;
