//! `asnd backfill`: fetches Apple's notification history for one app and environment and ingests
//! it exactly like live traffic. Prints the counts (and a progress line on a terminal). Exit code
//! 0: done; 1: interrupted (re-run it: what is stored counts as duplicate); 2: usage,
//! configuration or API setup error.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::appstore::{
    DEFAULT_CONFIG, Usage, find_app, init_logging, load_config, pipeline, runtime,
};
use super::command::parse_environment;
use crate::appstore_api::backfill::BackfillError;
use crate::appstore_api::{
    ApiClient, ApiEnvironment, BackfillReport, BackfillRequest, backfill, format_ms, parse_time,
};

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    /// The app's bundle ID, as in `[[apps]] bundle_id`.
    #[arg(long, value_name = "ID", alias = "app")]
    pub bundle_id: String,
    /// Production or Sandbox (any case).
    #[arg(long, value_parser = parse_environment)]
    pub environment: ApiEnvironment,
    /// Start: RFC 3339 (2026-11-01T00:00:00Z) or a duration before now (72h, 7days). Apple keeps
    /// 180 days of Production history and 30 of Sandbox.
    #[arg(long, value_name = "TIME")]
    pub since: String,
    /// End, in the same forms; now by default.
    #[arg(long, value_name = "TIME", default_value = "now")]
    pub until: String,
    /// Only the notifications that did not reach the server (Apple's `onlyFailures`).
    #[arg(long)]
    pub only_failures: bool,
    /// Only this notification type (e.g. DID_RENEW).
    #[arg(long = "type", value_name = "TYPE", conflicts_with = "transaction_id")]
    pub notification_type: Option<String>,
    /// Only this subtype (needs --type).
    #[arg(long, requires = "notification_type")]
    pub subtype: Option<String>,
    /// Only the notifications of this customer's transactions (any of their transaction ids).
    #[arg(long)]
    pub transaction_id: Option<String>,
    /// Continue an interrupted run from the page it stopped on; the other options must be the
    /// same, with the absolute times it printed.
    #[arg(long, value_name = "TOKEN")]
    pub pagination_token: Option<String>,
    /// The configuration file `serve` uses; `ASND_*` variables override its keys.
    #[arg(long, value_name = "FILE", env = "ASND_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

pub fn run(args: &BackfillArgs) -> ExitCode {
    init_logging();
    match runtime().and_then(|rt| rt.block_on(go(args))) {
        Ok(code) => ExitCode::from(code),
        Err(Usage(message)) => {
            eprintln!("asnd backfill: {message}");
            ExitCode::from(2)
        }
    }
}

/// The times of `args`, in milliseconds since the epoch.
pub fn request(args: &BackfillArgs, now_ms: i64) -> Result<BackfillRequest, Usage> {
    let since = parse_time(&args.since, now_ms).map_err(|e| Usage(format!("--since: {e}")))?;
    let until = parse_time(&args.until, now_ms).map_err(|e| Usage(format!("--until: {e}")))?;
    let request = BackfillRequest {
        start_ms: since,
        end_ms: until,
        only_failures: args.only_failures,
        notification_type: args.notification_type.clone(),
        subtype: args.subtype.clone(),
        transaction_id: args.transaction_id.clone(),
    };
    request.validate(args.environment, now_ms).map_err(Usage)?;
    Ok(request)
}

async fn go(args: &BackfillArgs) -> Result<u8, Usage> {
    let now = crate::appstore_api::now_ms();
    let request = request(args, now)?;
    let config = load_config(&args.config)?;
    let app = find_app(&config, &args.bundle_id, args.environment)?;
    let client = ApiClient::for_app(app, args.environment)?;
    let pipeline = pipeline(&config).await?;

    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let title = format!(
        "backfill {} {} {} .. {}{}",
        args.bundle_id,
        args.environment,
        format_ms(request.start_ms),
        format_ms(request.end_ms),
        if request.only_failures {
            " (only failures)"
        } else {
            ""
        }
    );
    bar.set_message(title.clone());
    let mut progress = |r: &BackfillReport| {
        bar.set_message(format!(
            "page {}: {} new, {} duplicate, {} rejected",
            r.pages + 1,
            r.new,
            r.duplicate,
            r.rejected
        ));
    };
    let result = backfill(
        &client,
        &pipeline,
        &request,
        args.pagination_token.clone(),
        &mut progress,
    )
    .await;
    bar.finish_and_clear();
    pipeline.store.close().await;
    match result {
        Ok(report) => {
            println!("{title}: {}", report.summary());
            print_rejections(&report);
            Ok(0)
        }
        Err(BackfillError::Invalid(message)) => Err(Usage(message)),
        Err(BackfillError::Interrupted {
            report,
            resume_token,
            cause,
        }) => {
            println!("{title}: {}", report.summary());
            print_rejections(&report);
            eprintln!(
                "asnd backfill: interrupted on page {}: {cause}",
                report.pages + 1
            );
            eprintln!(
                "re-run the same command (what is already stored counts as duplicate){}",
                match resume_token {
                    Some(token) => format!(
                        ", or continue where it stopped:\n  asnd backfill --bundle-id {} --environment {} --since {} --until {}{} --pagination-token {token}",
                        args.bundle_id,
                        args.environment,
                        format_ms(request.start_ms),
                        format_ms(request.end_ms),
                        filters(args),
                    ),
                    None => String::new(),
                }
            );
            Ok(1)
        }
    }
}

fn filters(args: &BackfillArgs) -> String {
    let mut out = String::new();
    if args.only_failures {
        out.push_str(" --only-failures");
    }
    for (flag, value) in [
        ("--type", &args.notification_type),
        ("--subtype", &args.subtype),
        ("--transaction-id", &args.transaction_id),
    ] {
        if let Some(v) = value {
            out.push_str(&format!(" {flag} {v}"));
        }
    }
    out
}

fn print_rejections(report: &BackfillReport) {
    for (uuid, reason) in &report.rejections {
        println!(
            "rejected {}: {reason}",
            uuid.as_deref().unwrap_or("(no UUID)")
        );
    }
    if report.rejected > report.rejections.len() as u64 {
        println!(
            "... and {} more rejected: see rejected_notifications (source_address = 'app-store-server-api')",
            report.rejected - report.rejections.len() as u64
        );
    }
}
