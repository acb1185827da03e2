//! `asnd verify`: checks one JWS (or a V2 body) offline and prints the decoded payload.
//! The conformance runner depends on this contract: exit 0 + JSON on stdout when valid, exit 1
//! with `STATUS_NAME: reason` as the first stderr line when rejected, exit 2 on usage errors.

use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

use crate::apple::models::{AppTransaction, Environment, RenewalInfo, TransactionInfo};
use crate::apple::{AppRule, At, Policy, RootSet, Verifier, VerifyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DataKind {
    Notification,
    Transaction,
    RenewalInfo,
    AppTransaction,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// What the JWS holds.
    #[arg(long, value_enum, default_value = "notification")]
    pub kind: DataKind,
    /// A trusted root (PEM or DER); repeatable. Replaces the built-in Apple Root CA - G3.
    #[arg(long = "root", value_name = "FILE")]
    pub roots: Vec<PathBuf>,
    /// Expected environment, Production or Sandbox (any case); omitted = not checked.
    #[arg(long, value_parser = super::command::parse_environment)]
    pub environment: Option<crate::appstore_api::ApiEnvironment>,
    /// Expected bundle id; omitted = not checked.
    #[arg(long)]
    pub bundle_id: Option<String>,
    /// Expected app Apple ID (compared for Production only); omitted = not checked.
    #[arg(long)]
    pub app_apple_id: Option<i64>,
    /// Also require nested payloads to carry the notification's environment, as `serve` does.
    /// Off by default so that the verdict is the one Apple's libraries give.
    #[arg(long)]
    pub strict_nested: bool,
    /// When certificates must be valid: the payload's signed date, now, or UNIX seconds.
    #[arg(long, default_value = "signed-date", value_parser = parse_at)]
    pub at: At,
    /// A file holding the JWS or a `{"signedPayload": ...}` body; `-` or nothing reads stdin.
    pub input: Option<PathBuf>,
}

fn parse_at(s: &str) -> Result<At, String> {
    match s {
        "signed-date" => Ok(At::SignedDate),
        "now" => Ok(At::Now),
        n => n
            .parse::<i64>()
            .ok()
            .and_then(|secs| secs.checked_mul(1000))
            .map(At::Fixed)
            .ok_or_else(|| format!("--at takes signed-date, now or UNIX seconds, not {n:?}")),
    }
}

/// What `run` decided; `main` maps it to the exit code.
pub enum Outcome {
    Valid(Value),
    Rejected(VerifyError),
}

/// Reads roots and input (exit-2 errors), then verifies.
pub fn run(args: &VerifyArgs) -> anyhow::Result<Outcome> {
    let roots = if args.roots.is_empty() {
        RootSet::apple()
    } else {
        let mut anchors = Vec::new();
        for path in &args.roots {
            let bytes = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("cannot read root {}: {e}", path.display()))?;
            anchors.extend(
                RootSet::parse_file(&bytes)
                    .map_err(|e| anyhow::anyhow!("root {}: {e}", path.display()))?,
            );
        }
        RootSet::new(anchors)
    };
    let raw = read_input(args.input.as_ref())?;
    let token = extract_jws(&raw);
    let mut policy = Policy::single(AppRule {
        bundle_id: args.bundle_id.clone(),
        app_apple_id: args.app_apple_id,
        environments: args
            .environment
            .map(|e| vec![Environment::from(e.as_str())])
            .unwrap_or_default(),
    });
    policy.nested_environment_must_match = args.strict_nested;
    let verifier = Verifier::new(roots);
    let result = match args.kind {
        DataKind::Notification => verifier
            .verify_notification(&token, &policy, args.at)
            .and_then(|v| {
                // Every field of the notification model is optional, so any signed payload decodes
                // as one; one without a type is some other kind of data.
                if v.notification.value.notification_type.is_none() {
                    return Err(VerifyError::Payload(
                        "the payload is not a notification (it has no notificationType); \
                         pass --kind transaction, renewal-info or app-transaction for other data"
                            .into(),
                    ));
                }
                Ok(v.decoded_json())
            }),
        DataKind::Transaction => verifier
            .verify_payload::<TransactionInfo>(&token, &policy, args.at)
            .map(|v| Value::Object(v.json)),
        DataKind::RenewalInfo => verifier
            .verify_payload::<RenewalInfo>(&token, &policy, args.at)
            .map(|v| Value::Object(v.json)),
        DataKind::AppTransaction => verifier
            .verify_payload::<AppTransaction>(&token, &policy, args.at)
            .map(|v| Value::Object(v.json)),
    };
    Ok(match result {
        Ok(json) => Outcome::Valid(json),
        Err(e) => Outcome::Rejected(e),
    })
}

fn read_input(path: Option<&PathBuf>) -> anyhow::Result<String> {
    let mut text = String::new();
    match path {
        Some(p) if p.as_os_str() != "-" => {
            text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", p.display()))?
        }
        _ => {
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| anyhow::anyhow!("cannot read stdin: {e}"))?;
        }
    }
    Ok(text)
}

/// A V2 body `{"signedPayload": "..."}` yields its JWS; anything else is taken as the JWS itself,
/// byte for byte: white space around a bare JWS (a trailing newline too) is refused by the parser,
/// as Apple's libraries refuse it.
fn extract_jws(raw: &str) -> String {
    if raw.trim_start().starts_with('{')
        && let Ok(Value::Object(body)) = serde_json::from_str::<Value>(raw)
        && let Some(Value::String(jws)) = body.get("signedPayload")
    {
        return jws.clone();
    }
    raw.to_string()
}
