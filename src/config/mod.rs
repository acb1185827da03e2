//! Typed configuration: a TOML file, then `ASND_*` environment variables over it, then validation at
//! start-up with one clear line per problem.
//!
//! # Environment overrides
//! A variable `ASND_<SECTION>__<KEY>` sets `<key>` in `[<section>]`: `__` separates the levels, names
//! are lower-cased, and a numeric level is an index into a list (`ASND_APPS__0__BUNDLE_ID`); the index
//! equal to the list's length appends an entry. Only names with a `__` after the prefix are overrides;
//! other `ASND_*` names (the command line's own, such as `ASND_CONFIG`) are left alone. A name that
//! matches no key is an error naming the variable.
//!
//! The value is read according to the type of the key it sets, learnt from the configuration types
//! themselves (see `probe` below): text keys take the value verbatim (`ASND_APPS__0__BUNDLE_ID=123` stays
//! the text "123"), numbers and booleans are parsed, lists are a TOML array (`["a", "b"]`) or, for
//! lists of text, comma-separated (`17.0.0.0/8,10.0.0.0/8`), and a whole table can be given inline
//! (`ASND_APPS__0='{ bundle_id = "x", environments = ["Sandbox"] }'`).
//!
//! Adding a key is adding a field (with a default): the unknown-key check and the environment mapping
//! follow the types, including nested optional tables such as a future `[apps.api]` or `[admin]`.
//! A field holding a secret is a [`Secret`], which keeps it out of `Debug` and of the printed
//! configuration (`asnd check-config`).

mod api;
mod apps;
mod database;
mod destinations;
mod env;
mod log;
mod probe;
mod quarantine;
mod reconcile;
mod server;
mod sources;
#[cfg(test)]
pub(crate) mod test_support;
mod validate;
mod verify;
mod words;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::{Table, Value};

pub use crate::appstore_api::credentials::ApiPrivateKey;
pub use crate::secret::{REDACTED, Secret};
pub use api::{API_PRODUCTION_URL, API_SANDBOX_URL, ApiConfig, SYSTEM_CA_FILE};
pub use apps::{AppConfig, AppEnvironment};
pub use database::{DatabaseConfig, DatabaseUrl};
pub use destinations::{DeliveryConfig, DestinationConfig, EventFormat, signing_key};
pub use log::{LogConfig, LogFormat};
pub use quarantine::QuarantineConfig;
pub use reconcile::{MAX_LOOKBACK, ReconcileConfig};
pub use server::{
    AdminConfig, MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_DURATION, MIN_ADMIN_TOKEN_CHARS,
    MIN_BODY_BYTES, ServerConfig,
};
pub use sources::{ForwardedHeader, SourcesConfig};
pub use validate::Validated;
pub use verify::{BUILTIN_APPLE_ROOT, BUILTIN_ROOT_PREFIX, RootEntry, VerifyConfig};

use env::{override_value, overrides, process_overrides, set};
use probe::{Probed, Seg, dotted, probe};

/// Prefix of the environment variables that override the file.
pub const ENV_PREFIX: &str = "ASND_";
/// Separator between levels in an override's name.
pub const ENV_SEPARATOR: &str = "__";

/// Everything that can be wrong with a configuration; each renders as one line naming the key (or
/// variable) and the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, or a value of the wrong type; `origin` names the file and, when known, the line.
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("unknown key `{key}` in {origin}; expected one of: {expected}")]
    UnknownKey {
        key: String,
        origin: String,
        expected: String,
    },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    /// A value that parses but is not acceptable.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    /// A file named by a key that cannot be read or does not hold what it should.
    #[error("{key} ({}): {message}", path.display())]
    File {
        key: String,
        path: PathBuf,
        message: String,
    },
    #[error(
        "server.tls_key ({}) does not belong to the certificate in server.tls_cert ({})",
        key.display(),
        cert.display()
    )]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// Several problems found by [`Config::validate`], one per line.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    pub(crate) fn file(key: impl Into<String>, path: &Path, message: impl Into<String>) -> Self {
        ConfigError::File {
            key: key.into(),
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn env(var: &str, message: impl Into<String>) -> Self {
        ConfigError::Env {
            var: var.to_owned(),
            message: message.into(),
        }
    }

    /// The individual problems: the list of a [`ConfigError::Several`], or this error alone.
    pub fn problems(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Several(all) => all.iter().collect(),
            one => vec![one],
        }
    }
}
/// The whole configuration. Every section and key has a default (`Config::default()`, the same
/// as an empty file); see the module documentation for the environment overrides. `Serialize`
/// writes the effective configuration with its secrets redacted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub sources: SourcesConfig,
    pub verify: VerifyConfig,
    pub log: LogConfig,
    pub admin: AdminConfig,
    pub reconcile: ReconcileConfig,
    pub quarantine: QuarantineConfig,
    pub delivery: DeliveryConfig,
    pub apps: Vec<AppConfig>,
    pub destinations: Vec<DestinationConfig>,
}

impl Config {
    /// Reads the TOML file (when given), then applies the `ASND_*` overrides from the process
    /// environment. Does not validate: call [`Config::validate`] before using the result.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let env = process_overrides()?;
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                parse(&text, &path.display().to_string(), env)
            }
            None => parse("", "configuration", env),
        }
    }

    /// Parses `text` as the configuration file and applies the overrides in `env` (name, value),
    /// exactly as [`Config::load`] does with the process environment.
    pub fn from_toml_str(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        parse(text, "configuration", env)
    }

    /// The configuration as TOML, secrets redacted: what `asnd check-config` prints.
    pub fn to_redacted_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }
}

// ---------------------------------------------------------------------------------------------
// Loading: file → table, overrides merged in, then typed.

fn parse(
    text: &str,
    origin: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let file: Table = toml::from_str(text).map_err(|e| syntax_error(origin, text, &e))?;
    let mut unknown = Vec::new();
    unknown_keys(&Value::Table(file.clone()), &mut Vec::new(), &mut unknown);
    if !unknown.is_empty() {
        let mut located: Vec<(Option<usize>, ConfigError)> = unknown
            .into_iter()
            .map(|(key, expected)| {
                let offset = key_offset(text, &key);
                let at = offset
                    .map(|o| line_column(text, o))
                    .or_else(|| locate_unknown_key(text, &key));
                let error = ConfigError::UnknownKey {
                    origin: at.map_or_else(|| origin.to_owned(), |at| format!("{origin}, {at}")),
                    key,
                    expected,
                };
                (offset, error)
            })
            .collect();
        // In the order of the file (the table sorts its keys).
        located.sort_by_key(|(offset, _)| offset.unwrap_or(usize::MAX));
        let mut problems: Vec<ConfigError> = located.into_iter().map(|(_, e)| e).collect();
        return Err(if problems.len() == 1 {
            problems.remove(0)
        } else {
            ConfigError::Several(problems)
        });
    }
    let overrides = overrides(env)?;
    let mut merged = file.clone();
    let mut values = Vec::with_capacity(overrides.len());
    for o in &overrides {
        let value = override_value(o)?;
        if let Some((key, expected)) = unknown_key(&value, &mut o.path.clone()) {
            return Err(ConfigError::UnknownKey {
                key,
                origin: format!("environment variable {}", o.var),
                expected,
            });
        }
        set(&mut merged, &o.path, value.clone(), false).map_err(|m| ConfigError::env(&o.var, m))?;
        values.push(value);
    }
    let error = match Value::Table(merged).try_into::<Config>() {
        Ok(config) => return Ok(config),
        Err(e) => e,
    };
    // Name the culprit: the file (with its line), else the first override that fails on its own.
    if let Err(e) = toml::from_str::<Config>(text) {
        return Err(syntax_error(origin, text, &e));
    }
    for (o, value) in overrides.iter().zip(values) {
        let mut alone = file.clone();
        if set(&mut alone, &o.path, value, true).is_ok()
            && let Err(e) = Value::Table(alone).try_into::<Config>()
        {
            return Err(ConfigError::env(&o.var, one_line(e.message())));
        }
    }
    Err(ConfigError::Syntax {
        origin: format!("{origin} with its environment overrides"),
        message: one_line(error.message()),
    })
}

fn one_line(message: &str) -> String {
    message
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// "line L, column C" of a byte offset in `text`.
fn line_column(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}")
}

/// A TOML error as one line; the offending text itself is not repeated (it may hold a secret).
/// A value of the wrong form is named by its key, with a valid example from
/// `config/asnd.example.toml`.
fn syntax_error(origin: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let mut message = one_line(e.message());
    let origin = match e.span() {
        Some(span) => {
            if let Some(key) = key_at(text, span.start) {
                message = match example_of(&key) {
                    // serde's message quotes the value, which may be a secret: not repeated.
                    Some((leaf, example)) if is_duration_error(&message) => format!(
                        "{key}: expected a duration such as {example}, a number with its unit \
                         (500ms, 10s, 2min, 1h 30m); for example: {leaf} = {example}"
                    ),
                    Some((leaf, example)) => {
                        format!("{key}: {message}; for example: {leaf} = {example}")
                    }
                    None => format!("{key}: {message}"),
                };
            }
            format!("{origin}, {}", line_column(text, span.start))
        }
        None => origin.to_owned(),
    };
    ConfigError::Syntax { origin, message }
}

/// humantime's complaints about a duration without a unit or with a wrong one.
fn is_duration_error(message: &str) -> bool {
    [
        "expected a duration",
        "time unit",
        "unknown unit",
        "expected number",
        "number is too large",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// Every key of `config/asnd.example.toml`, the ones shown commented out (`#key = value`)
/// included: the examples error messages offer.
fn examples() -> &'static Table {
    static EXAMPLES: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let text: String = include_str!("../../config/asnd.example.toml")
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if !rest.starts_with([' ', '#']) && !rest.is_empty() => rest,
                Some(_) => "",
                None => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        toml::from_str(&text).unwrap_or_default()
    })
}

/// `(leaf, value)` from the example file for a dotted key (`server.handshake_timeout`,
/// `apps[0].api.timeout`): what a valid line looks like.
fn example_of(key: &str) -> Option<(String, String)> {
    // A secret's example would read like one: none is offered.
    if ["secret", "private_key", "password"]
        .iter()
        .any(|s| key.contains(s))
    {
        return None;
    }
    let mut value = Value::Table(examples().clone());
    let mut leaf = String::new();
    for part in key.split('.') {
        let name = part.split('[').next().unwrap_or(part);
        value = match value {
            Value::Table(mut t) => t.remove(name)?,
            _ => return None,
        };
        if let Value::Array(a) = &value
            && part.contains('[')
        {
            value = a.first()?.clone();
        }
        leaf = name.to_owned();
    }
    match value {
        Value::Table(_) => None,
        v => Some((leaf, v.to_string())),
    }
}

/// One line of the file read for its headers and keys.
enum LineIs {
    /// `[a.b]` or `[[a]]`: the dotted path of the table it opens, indexes included.
    Header(String),
    /// `key = ...` inside the current table: the key's dotted path, and its column.
    Key(String, usize),
    Other,
}

/// Walks the file's lines, knowing which table each one is in (`apps[1].api`), and calls `f` with
/// each line's byte range and what it is, until `f` returns something.
fn scan_lines<T>(
    text: &str,
    mut f: impl FnMut(std::ops::Range<usize>, LineIs) -> Option<T>,
) -> Option<T> {
    use std::collections::HashMap;
    let mut arrays: HashMap<String, usize> = HashMap::new();
    let mut table = String::new();
    let with_indexes = |name: &str, arrays: &HashMap<String, usize>| {
        let mut out = String::new();
        let mut plain = String::new();
        for part in name.split('.') {
            let part = part.trim().trim_matches('"');
            if !plain.is_empty() {
                plain.push('.');
                out.push('.');
            }
            plain.push_str(part);
            out.push_str(part);
            if let Some(n) = arrays.get(&plain) {
                out.push_str(&format!("[{}]", n.saturating_sub(1)));
            }
        }
        out
    };
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let range = start..start + line.len();
        start += line.len();
        let trimmed = line.trim_start();
        let column = line.len() - trimmed.len() + 1;
        let what = if let Some(h) = trimmed.strip_prefix("[[") {
            let name = h.split("]]").next().unwrap_or_default().trim();
            let plain: String = name
                .split('.')
                .map(|p| p.trim().trim_matches('"'))
                .collect::<Vec<_>>()
                .join(".");
            *arrays.entry(plain).or_insert(0) += 1;
            table = with_indexes(name, &arrays);
            LineIs::Header(table.clone())
        } else if let Some(h) = trimmed.strip_prefix('[') {
            table = with_indexes(h.split(']').next().unwrap_or_default(), &arrays);
            LineIs::Header(table.clone())
        } else if let Some((key, _)) = trimmed.split_once('=')
            && !trimmed.starts_with('#')
        {
            let key = key.trim().trim_matches('"');
            let path = if table.is_empty() {
                key.to_owned()
            } else {
                format!("{table}.{key}")
            };
            LineIs::Key(path, column)
        } else {
            LineIs::Other
        };
        if let Some(found) = f(range, what) {
            return Some(found);
        }
    }
    None
}

/// The byte offset of the line that sets `key` (a dotted path, as `unknown_keys` names it) or
/// opens it as a table.
fn key_offset(text: &str, key: &str) -> Option<usize> {
    scan_lines(text, |range, what| match what {
        LineIs::Key(path, column) if path == key => Some(range.start + column - 1),
        LineIs::Header(path) if path == key => {
            let line = &text[range.clone()];
            Some(range.start + line.len() - line.trim_start().len())
        }
        _ => None,
    })
}

/// The dotted key set on the line holding byte `offset`, when that line sets one.
fn key_at(text: &str, offset: usize) -> Option<String> {
    scan_lines(text, |range, what| {
        if !range.contains(&offset) {
            return None;
        }
        match what {
            LineIs::Key(path, _) => Some(Some(path)),
            _ => Some(None),
        }
    })
    .flatten()
}

/// Where serde's own unknown-field check points, when it is about the same key.
fn locate_unknown_key(text: &str, key: &str) -> Option<String> {
    let leaf = key.rsplit(['.', ']']).next().unwrap_or(key);
    let e = toml::from_str::<Config>(text).err()?;
    let span = e.span()?;
    e.message()
        .contains(&format!("unknown field `{leaf}`"))
        .then(|| line_column(text, span.start))
}

/// The keys of a table or the indexes of an array, with their values; nothing for a scalar.
fn children(value: &Value) -> Vec<(Seg, &Value)> {
    match value {
        Value::Table(t) => t.iter().map(|(k, v)| (Seg::Key(k.clone()), v)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (Seg::Index(i), v))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every key in `value` (found at `path`) that the configuration types do not have, in file
/// order, each with the keys that would have been accepted there.
fn unknown_keys(value: &Value, path: &mut Vec<Seg>, found: &mut Vec<(String, String)>) {
    for (seg, child) in children(value) {
        path.push(seg);
        if let Probed::UnknownKey { at, expected } = probe::<Config>(path) {
            // Only the outermost unknown level is reported; its contents are unknown with it.
            if at + 1 == path.len() {
                found.push((dotted(&path[..=at]), expected.join(", ")));
            }
        } else {
            unknown_keys(child, path, found);
        }
        path.pop();
    }
}

/// The first key in `value` (found at `path`) that the configuration types do not have, with the
/// keys that would have been accepted there.
fn unknown_key(value: &Value, path: &mut Vec<Seg>) -> Option<(String, String)> {
    for (seg, child) in children(value) {
        path.push(seg);
        if let Probed::UnknownKey { at, expected } = probe::<Config>(path) {
            return Some((dotted(&path[..=at]), expected.join(", ")));
        }
        if let Some(found) = unknown_key(child, path) {
            return Some(found);
        }
        path.pop();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ipnet::IpNet;

    use super::*;
    use crate::config::test_support::*;

    #[test]
    fn defaults() {
        let config = Config::from_toml_str("", no_env()).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.server.listen, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(config.server.path, "/notifications");
        assert!(config.server.tls);
        assert_eq!(config.server.tls_cert, PathBuf::from("/etc/asnd/tls.pem"));
        assert_eq!(config.server.tls_key, PathBuf::from("/etc/asnd/tls.key"));
        assert_eq!(config.server.max_body_bytes, 262_144);
        assert_eq!(config.server.max_connections, 1024);
        assert_eq!(config.server.handshake_timeout(), Duration::from_secs(10));
        assert_eq!(config.server.header_timeout(), Duration::from_secs(10));
        assert_eq!(config.server.body_timeout(), Duration::from_secs(15));
        assert_eq!(config.server.handler_timeout(), Duration::from_secs(20));
        assert_eq!(config.server.shutdown_grace(), Duration::from_secs(20));
        assert_eq!(config.database.url.expose(), "sqlite://asnd.db");
        assert_eq!(config.database.max_connections, 10);
        assert_eq!(config.database.timeout(), Duration::from_secs(5));
        assert!(config.database.migrate_on_start);
        assert_eq!(
            config.sources.allow,
            vec!["17.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert!(config.verify.roots.is_empty());
        assert_eq!(
            config.log,
            LogConfig {
                format: LogFormat::Pretty,
                level: "info".into()
            }
        );
        assert!(config.apps.is_empty());
    }

    #[test]
    fn app_defaults_to_both_environments() {
        let config = Config::from_toml_str(
            "[[apps]]\nbundle_id = \"a.b\"\napp_apple_id = 1\n",
            no_env(),
        )
        .unwrap();
        assert_eq!(
            config.apps[0].environments,
            vec![AppEnvironment::Production, AppEnvironment::Sandbox]
        );
        assert!(config.apps[0].accepts("Sandbox"));
    }

    #[test]
    fn full_example_parses() {
        let config = Config::from_toml_str(EXAMPLE, no_env()).unwrap();
        assert_eq!(
            config.apps,
            vec![AppConfig {
                bundle_id: "com.example.app".into(),
                app_apple_id: Some(1_234_567_890),
                environments: vec![AppEnvironment::Production, AppEnvironment::Sandbox],
                ..AppConfig::default()
            }]
        );
        let expected = Config {
            apps: config.apps.clone(),
            ..Config::default()
        };
        assert_eq!(config, expected);
    }

    #[test]
    fn durations_are_humantime() {
        let config = Config::from_toml_str(
            "[server]\nbody_timeout = \"1m 30s\"\n[database]\ntimeout = \"250ms\"",
            no_env(),
        )
        .unwrap();
        assert_eq!(config.server.body_timeout(), Duration::from_secs(90));
        assert_eq!(config.database.timeout(), Duration::from_millis(250));
    }

    fn unknown(text: &str) -> (String, String, String) {
        match Config::from_toml_str(text, no_env()) {
            Err(ConfigError::UnknownKey {
                key,
                origin,
                expected,
            }) => (key, origin, expected),
            other => panic!("expected an unknown key, got {other:?}"),
        }
    }

    #[test]
    fn unknown_key_at_top_level() {
        let (key, origin, expected) = unknown("colour = \"blue\"\n");
        assert_eq!(key, "colour");
        assert_eq!(origin, "configuration, line 1, column 1");
        assert!(
            expected.contains("server") && expected.contains("apps"),
            "{expected}"
        );
    }

    #[test]
    fn unknown_key_in_a_section() {
        let (key, origin, expected) =
            unknown("[server]\nlisten = \"0.0.0.0:8443\"\nlisen = \"x\"\n");
        assert_eq!(key, "server.lisen");
        assert_eq!(origin, "configuration, line 3, column 1");
        assert!(
            expected.contains("listen") && expected.contains("max_body_bytes"),
            "{expected}"
        );
        let (key, _, _) = unknown("[databse]\nurl = \"sqlite://x\"\n");
        assert_eq!(key, "databse");
    }

    #[test]
    fn unknown_key_in_an_app() {
        let (key, origin, expected) = unknown(
            "[[apps]]\nbundle_id = \"a\"\n[[apps]]\nbundle_id = \"b\"\nenvironment = [\"Sandbox\"]\n",
        );
        assert_eq!(key, "apps[1].environment");
        assert_eq!(origin, "configuration, line 5, column 1");
        assert_eq!(
            expected,
            "bundle_id, app_apple_id, environments, v1_shared_secrets, api"
        );
        let err = read_error("[[apps]]\nbundel_id = \"a\"\n");
        assert!(
            err.starts_with("unknown key `apps[0].bundel_id` in configuration, line 2"),
            "{err}"
        );
    }

    #[test]
    fn a_duration_without_a_unit_names_the_key_and_a_valid_example() {
        let err = read_error("[server]\nhandshake_timeout = \"10\"\n");
        assert!(
            err.starts_with(
                "configuration, line 2, column 21: server.handshake_timeout: expected a duration such as \"10s\""
            ),
            "{err}"
        );
        assert!(
            err.ends_with("for example: handshake_timeout = \"10s\""),
            "{err}"
        );
        // In an app's API section, with the example the file shows commented out.
        let err = read_error("[[apps]]\nbundle_id = \"a\"\n[apps.api]\ntimeout = \"thirty\"\n");
        assert!(err.contains("line 4"), "{err}");
        assert!(
            err.contains("apps[0].api.timeout: expected a duration such as \"30s\""),
            "{err}"
        );
        assert!(
            !err.contains("thirty"),
            "the value itself is not repeated: {err}"
        );
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_line() {
        let err = Config::from_toml_str(
            "[server]\nlisen = \"x\"\n[databse]\nurl = \"y\"\n[[apps]]\nbundle_id = \"a\"\nenvironment = \"Sandbox\"\n",
            no_env(),
        )
        .unwrap_err();
        let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("unknown key `server.lisen` in configuration, line 2, column 1"),
            "{problems:?}"
        );
        assert!(
            problems[1].starts_with("unknown key `databse` in configuration, line 3, column 1"),
            "{problems:?}"
        );
        assert!(
            problems[2].starts_with(
                "unknown key `apps[0].environment` in configuration, line 7, column 1"
            ),
            "{problems:?}"
        );
    }

    #[test]
    fn wrong_type_names_the_line() {
        let err =
            Config::from_toml_str("[server]\n\nmax_body_bytes = \"big\"\n", no_env()).unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with(
                "configuration, line 3, column 18: server.max_body_bytes: invalid type"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("for example: max_body_bytes = 262144"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
        let err = read_error("[server\n");
        assert!(err.starts_with("configuration, line 1"), "{err}");
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("asnd.toml");
        std::fs::write(&path, EXAMPLE).unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.apps[0].bundle_id, "com.example.app");
        std::fs::write(&path, "[server]\nbogus = 1\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "unknown key `server.bogus` in {}, line 2",
                path.display()
            )),
            "{err}"
        );
        let missing = dir.path().join("missing.toml");
        assert!(matches!(
            Config::load(Some(&missing)),
            Err(ConfigError::Read { .. })
        ));
    }

    #[test]
    fn v1_secrets_from_the_file_and_the_environment() {
        let file = EXAMPLE.replace(
            "environments = [\"Production\", \"Sandbox\"]",
            "environments = [\"Production\", \"Sandbox\"]\nv1_shared_secrets = [\"filesecret1\"]",
        );
        let config = Config::from_toml_str(&file, no_env()).unwrap();
        assert_eq!(secrets(&config.apps[0]), vec!["filesecret1"]);
        // The environment replaces the file's list; a comma separates secrets.
        let config = parse_with(
            &file,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "envsecret1, envsecret2")],
        )
        .unwrap();
        assert_eq!(secrets(&config.apps[0]), vec!["envsecret1", "envsecret2"]);
        let config = parse_with(
            EXAMPLE,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "[\"a\", \"b\"]")],
        )
        .unwrap();
        assert_eq!(secrets(&config.apps[0]), vec!["a", "b"]);
        assert!(
            Config::from_toml_str(EXAMPLE, no_env()).unwrap().apps[0]
                .v1_shared_secrets
                .is_empty()
        );
    }

    fn secrets(app: &AppConfig) -> Vec<&str> {
        app.v1_shared_secrets
            .iter()
            .map(|s| s.expose().as_str())
            .collect()
    }

    #[test]
    fn choices_are_read_as_their_names() {
        let config = Config::from_toml_str(
            "[log]\nformat = \"json\"\n[sources]\nforwarded_header = \"Forwarded\"\n",
            no_env(),
        )
        .unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.sources.forwarded_header, ForwardedHeader::Forwarded);
        let config = parse_with(
            "",
            &[
                ("ASND_LOG__FORMAT", "pretty"),
                ("ASND_SOURCES__FORWARDED_HEADER", "X-Forwarded-For"),
            ],
        )
        .unwrap();
        assert_eq!(config.log.format, LogFormat::Pretty);
        assert_eq!(
            config.sources.forwarded_header,
            ForwardedHeader::XForwardedFor
        );
    }

    #[test]
    fn unknown_choices_are_refused_when_read() {
        let err = read_error("[log]\nformat = \"xml\"\n");
        assert_eq!(
            err,
            "configuration, line 2, column 10: log.format: \"xml\" is not a format; use \"pretty\" or \"json\"; for example: format = \"pretty\""
        );
        // Exact spellings: the environments' names are Apple's.
        let err = parse_with(EXAMPLE, &[("ASND_APPS__0__ENVIRONMENTS", "sandbox")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "environment variable ASND_APPS__0__ENVIRONMENTS: \"sandbox\" is not an environment; use \"Production\" or \"Sandbox\""
        );
        let err = read_error("[sources]\nforwarded_header = \"x-real-ip\"\n");
        assert!(
            err.starts_with("configuration, line 2")
                && err.contains(
                    "\"x-real-ip\" is not a forwarded header; use \"x-forwarded-for\" or \"forwarded\"; for example: forwarded_header = "
                ),
            "{err}"
        );
    }

    #[test]
    fn redacted_toml_hides_secrets_and_reads_back() {
        let pem = key_pem();
        let config = parse_with(
            &format!("{EXAMPLE}[apps.api]\nkey_id = \"K\"\nissuer_id = \"I\"\n"),
            &[
                ("ASND_DATABASE__URL", "postgres://asnd:s3cretpw@db/asnd"),
                ("ASND_APPS__0__V1_SHARED_SECRETS", "s3cretOne,s3cretTwo"),
                ("ASND_APPS__0__API__PRIVATE_KEY", pem.as_str()),
                ("ASND_ADMIN__LISTEN", "127.0.0.1:9898"),
            ],
        )
        .unwrap();
        let text = config.to_redacted_toml().unwrap();
        let secret_line = pem.lines().nth(1).unwrap();
        assert!(
            !text.contains("s3cret") && !text.contains(secret_line),
            "{text}"
        );
        assert!(text.contains("postgres://asnd:***@db/asnd"), "{text}");
        assert_eq!(text.matches(REDACTED).count(), 3, "{text}");
        // Everything else reads back as it was.
        let back = Config::from_toml_str(&text, no_env()).unwrap();
        let mut expected = config.clone();
        expected.database.url = DatabaseUrl::from("postgres://asnd:***@db/asnd");
        expected.apps[0].v1_shared_secrets = vec![REDACTED.into(), REDACTED.into()];
        expected.apps[0].api.as_mut().unwrap().private_key = Some(REDACTED.into());
        assert_eq!(back, expected);
        // The built-in defaults, printed, read back as the defaults.
        let defaults = Config::default().to_redacted_toml().unwrap();
        assert_eq!(
            Config::from_toml_str(&defaults, no_env()).unwrap(),
            Config::default()
        );
    }
}
