//! `asnd test-notification`: asks Apple to send a TEST notification, follows it, and prints one
//! verdict. Exit code 0: delivered and stored; 1: any other verdict; 2: usage, configuration or
//! API error (a 401 included).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::appstore::{
    DEFAULT_CONFIG, Usage, find_app, init_logging, load_config, pipeline, runtime,
};
use super::command::{parse_duration, parse_environment};
use crate::appstore_api::test_notification::{FollowOptions, check};
use crate::appstore_api::{ApiClient, ApiEnvironment};

#[derive(Debug, clap::Args)]
pub struct TestNotificationArgs {
    /// The app's bundle ID, as in `[[apps]] bundle_id`.
    #[arg(long, value_name = "ID", alias = "app")]
    pub bundle_id: String,
    /// Production or Sandbox (any case): Apple posts to that environment's notification URL.
    #[arg(long, value_parser = parse_environment)]
    pub environment: ApiEnvironment,
    /// The configuration file `serve` uses (its database is searched); `ASND_*` variables
    /// override its keys.
    #[arg(long, value_name = "FILE", env = "ASND_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Follow a test notification requested earlier (its token) instead of requesting one.
    #[arg(long)]
    pub token: Option<String>,
    /// How long to wait for Apple's first delivery attempt (a duration: 60s, 2min).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,
    /// Time between two status requests (a duration; Apple allows one request per second).
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub poll_interval: Duration,
}

pub fn run(args: &TestNotificationArgs) -> ExitCode {
    init_logging();
    let result = runtime().and_then(|rt| rt.block_on(go(args)));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Usage(message)) => {
            eprintln!("asnd test-notification: {message}");
            ExitCode::from(2)
        }
    }
}

async fn go(args: &TestNotificationArgs) -> Result<u8, Usage> {
    let config = load_config(&args.config)?;
    let app = find_app(&config, &args.bundle_id, args.environment)?;
    let client = ApiClient::for_app(app, args.environment)?;
    let pipeline = pipeline(&config).await?;
    let options = FollowOptions {
        poll_interval: args.poll_interval,
        wait: args.wait,
    };
    if args.token.is_none() {
        eprintln!(
            "requesting a {} test notification for {} ...",
            args.environment, args.bundle_id
        );
    }
    let checked = check(&client, &pipeline, args.token.clone(), &options).await;
    pipeline.store.close().await;
    let checked = checked?;
    print!("{}", checked.verdict.render(args.environment.as_str()));
    Ok(checked.verdict.exit_code())
}
