//! The one shared test harness: a real daemon over real TLS on 127.0.0.1:0 ([`daemon`]), a real
//! database (an SQLite file, or a PostgreSQL database copied from a migrated template, dropped even
//! when the test panics: [`db`]), realistic signed payloads ([`payloads`]), the `asnd` binary as an
//! operator runs it ([`process`]), PROXY protocol headers ([`proxy`]) and waiting for a condition instead of sleeping ([`wait`]).
#![allow(dead_code, unused_imports, unused_macros)]

pub mod daemon;
pub mod db;
pub mod db_proxy;
pub mod docs;
pub mod payloads;
pub mod process;
pub mod proxy;
pub mod receiver;
pub mod wait;

pub use daemon::*;
pub use db::*;
pub use db_proxy::*;
pub use docs::*;
pub use payloads::*;
pub use process::*;
pub use proxy::*;
pub use receiver::*;
pub use wait::*;

/// Runs each async scenario `name(backend)` as two tests, `name::sqlite` and `name::postgres`:
/// one behavioural suite for both stores.
macro_rules! on_both_stores {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name(Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    if crate::common::skip_without_postgres(concat!(module_path!(), "::postgres")).await {
                        return;
                    }
                    super::$name(Backend::Postgres).await;
                }
            }
        )+
    };
}

use std::sync::OnceLock;

use asnd::apple::devchain::{ChainSpec, DevChain};

pub const BUNDLE: &str = "com.example.app";
pub const APP_ID: i64 = 1_234_567_890;

/// One development signing chain for the whole test binary (generation takes a moment).
pub fn chain() -> &'static DevChain {
    static CHAIN: OnceLock<DevChain> = OnceLock::new();
    CHAIN.get_or_init(|| DevChain::generate(&ChainSpec::default()).unwrap())
}

#[allow(unused_imports)] // not every test binary asks for the time
pub use asnd::time::now_ms;
