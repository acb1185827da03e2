//! The command line as clap sees it: one definition, from which `main` parses the arguments and
//! `asnd completions` / `asnd man` generate shell completions and the manual page.
//!
//! The conventions every subcommand keeps:
//! - a subcommand that reads a configuration takes `--config FILE`, default
//!   [`DEFAULT_CONFIG`](super::appstore::DEFAULT_CONFIG), also set by `ASND_CONFIG`;
//! - the app is `--bundle-id`;
//! - a duration is written as `30s`, `2min`, `1h 30m` ([`parse_duration`]);
//! - `--environment` takes `Production` or `Sandbox` in any case ([`parse_environment`]);
//! - every option has a help text (a test walks the whole tree).

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use super::appstore::DEFAULT_CONFIG;
use crate::appstore_api::ApiEnvironment;

/// asnd receives App Store Server Notifications, proves them genuine and stores them in SQL.
#[derive(Debug, Parser)]
#[command(name = "asnd", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive notifications over TLS and store them.
    Serve(ServeArgs),
    /// Read and validate a configuration as `serve` would, and print it with secrets redacted.
    CheckConfig(super::check_config::CheckConfigArgs),
    /// Ask the running daemon's admin listener (as configured) whether it is healthy: for
    /// container health checks.
    Healthcheck(super::healthcheck::HealthcheckArgs),
    /// Apply database migrations and exit; says "schema up to date" when there was nothing to do.
    Migrate(ConfigArg),
    /// Verify one signed payload offline and print it decoded.
    Verify(super::verify::VerifyArgs),
    /// Ask Apple for a TEST notification and say whether it arrived and was stored.
    TestNotification(super::test_notification::TestNotificationArgs),
    /// Fetch notifications from Apple's history and ingest the missing ones.
    Backfill(super::backfill::BackfillArgs),
    /// Send quarantined bodies through today's configuration; store what now verifies.
    Reprocess(super::reprocess::ReprocessArgs),
    /// List, retry and replay the deliveries of events to [[destinations]].
    Deliveries(super::deliveries::DeliveriesArgs),
    /// Write a development signing chain shaped like Apple's (not Apple's) into a folder.
    DevCa(super::dev_ca::DevCaArgs),
    /// Post signed notifications (a type, a scenario, or --count N for load) to a receiver.
    Simulate(super::simulate::SimulateArgs),
    /// Print a shell completion script for asnd on stdout.
    Completions(CompletionsArgs),
    /// Print asnd's manual page (roff) on stdout, e.g. `asnd man > asnd.1`.
    Man,
}

/// `--config`, as every subcommand that reads a configuration takes it.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// The configuration file (TOML); `ASND_*` environment variables override its keys.
    #[arg(long, value_name = "FILE", env = "ASND_CONFIG", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The configuration file (TOML); `ASND_*` environment variables override its keys.
    #[arg(
        long,
        value_name = "FILE",
        env = "ASND_CONFIG",
        default_value = DEFAULT_CONFIG,
        conflicts_with = "dev"
    )]
    pub config: PathBuf,
    /// Development mode: creates ./asnd-dev/ (self-signed certificate, SQLite, loopback sources,
    /// a development signing CA) and serves https://localhost:8443/notifications.
    #[arg(long)]
    pub dev: bool,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The clap definition of the whole command line.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Writes the completion script for `shell`. Made in memory first: clap_complete panics on a
/// failed write, and a reader that stops early (`| head`) closes the pipe.
pub fn completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "asnd", &mut script);
    out.write_all(&script)
}

/// The manual page in roff: asnd and, after it, each subcommand with its options.
pub fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let cmd = command();
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // clap keeps command names as `&'static str`; the page is made once per process.
        let name: &'static str = Box::leak(format!("asnd-{}", sub.get_name()).into_boxed_str());
        let sub = sub.clone().name(name).bin_name(name);
        let man = clap_mangen::Man::new(sub);
        // The subcommand's sections follow the main page's, under its own heading.
        out.write_all(b".\\\" ---------------------------------------------------------------\n")?;
        man.render_name_section(out)?;
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
    }
    Ok(())
}

/// `Production` or `Sandbox`, in any case; anything else is a usage error.
pub fn parse_environment(s: &str) -> Result<ApiEnvironment, String> {
    s.parse()
}

/// A duration such as `30s`, `2min`, `1h 30m` or `500ms`. A bare number is refused with the
/// example it needs: a unit.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let trimmed = s.trim();
    if !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "{s:?} has no unit: write a duration such as \"{trimmed}s\" (or 500ms, 2min, 1h 30m)"
        ));
    }
    humantime_serde::re::humantime::parse_duration(trimmed).map_err(|e| {
        format!("{s:?} is not a duration: {e}; write one such as \"30s\", \"2min\" or \"1h 30m\"")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_option_and_subcommand_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&command(), "asnd", &mut missing);
        assert!(missing.is_empty(), "without help text: {missing:?}");
    }

    #[test]
    fn every_configuration_reader_takes_the_same_config_option() {
        let cmd = command();
        let mut readers = Vec::new();
        for sub in cmd.get_subcommands() {
            let Some(config) = sub.get_arguments().find(|a| a.get_id() == "config") else {
                continue;
            };
            readers.push(sub.get_name().to_owned());
            assert_eq!(config.get_long(), Some("config"), "{}", sub.get_name());
            assert_eq!(
                config.get_env().and_then(|e| e.to_str()),
                Some("ASND_CONFIG"),
                "{}",
                sub.get_name()
            );
            let defaults: Vec<_> = config.get_default_values().iter().collect();
            assert_eq!(defaults, vec![DEFAULT_CONFIG], "{}", sub.get_name());
        }
        readers.sort();
        assert_eq!(
            readers,
            [
                "backfill",
                "check-config",
                "deliveries",
                "healthcheck",
                "migrate",
                "reprocess",
                "serve",
                "test-notification"
            ]
        );
    }

    #[test]
    fn the_app_is_bundle_id_everywhere() {
        for sub in command().get_subcommands() {
            for arg in sub.get_arguments() {
                assert_ne!(arg.get_long(), Some("app"), "{}", sub.get_name());
                if arg.get_id() == "bundle_id" {
                    assert_eq!(arg.get_long(), Some("bundle-id"));
                }
            }
        }
    }

    #[test]
    fn durations_need_a_unit_and_say_so() {
        assert_eq!(parse_duration("5s"), Ok(std::time::Duration::from_secs(5)));
        assert_eq!(
            parse_duration("1h 30m"),
            Ok(std::time::Duration::from_secs(5400))
        );
        let bare = parse_duration("5").unwrap_err();
        assert!(bare.contains("\"5s\""), "{bare}");
        let junk = parse_duration("soon").unwrap_err();
        assert!(junk.contains("\"30s\""), "{junk}");
    }

    #[test]
    fn environments_are_case_insensitive() {
        assert_eq!(parse_environment("sandbox"), Ok(ApiEnvironment::Sandbox));
        assert_eq!(
            parse_environment("PRODUCTION"),
            Ok(ApiEnvironment::Production)
        );
        assert!(parse_environment("Xcode").is_err());
    }

    #[test]
    fn completions_and_the_man_page_are_generated() {
        let mut bash = Vec::new();
        completions(clap_complete::Shell::Bash, &mut bash).unwrap();
        let bash = String::from_utf8(bash).unwrap();
        assert!(bash.contains("test-notification") && bash.contains("--bundle-id"));
        let mut man = Vec::new();
        man_page(&mut man).unwrap();
        let man = String::from_utf8(man).unwrap();
        assert!(man.starts_with(".ie") || man.contains(".TH asnd"), "{man}");
        assert!(man.contains("asnd\\-simulate") && man.contains("poll\\-interval"));
    }
}
