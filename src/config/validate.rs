//! Validation at start-up: every problem found, one line each, including that the certificate,
//! key and root files can be read and that the key belongs to the certificate.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::sign::CertifiedKey;

use crate::apple::RootSet;

use super::{
    AdminConfig, ApiConfig, AppConfig, AppEnvironment, Config, ConfigError, DatabaseConfig,
    MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_DURATION, MAX_LOOKBACK, MIN_ADMIN_TOKEN_CHARS,
    MIN_BODY_BYTES, ReconcileConfig, ServerConfig,
};
use crate::server::tls::load_tls_certified_key;

/// What validation read from the files the configuration names, so that start-up uses it instead
/// of reading them a second time.
#[derive(Clone, Debug, Default)]
pub struct Validated {
    /// The certificate chain and key of `server.tls_cert` and `server.tls_key` (when `server.tls`).
    pub tls: Option<Arc<CertifiedKey>>,
    /// The trusted roots of `verify.roots`, parsed.
    pub roots: Option<RootSet>,
}

impl Config {
    /// Checks everything that can be checked before serving, including that the certificate, key
    /// and root files can be read and that the key belongs to the certificate. Reports every
    /// problem found ([`ConfigError::Several`] when more than one); when there is none, returns
    /// what it read for start-up to reuse.
    pub fn validate(&self) -> Result<Validated, ConfigError> {
        let mut problems = Vec::new();
        let tls = self.server.check(&mut problems);
        self.database.check(&mut problems);
        if self.sources.allow.is_empty() {
            problems.push(ConfigError::invalid(
                "sources.allow",
                "must list at least one network (Apple posts from 17.0.0.0/8)",
            ));
        }
        let roots = match self.verify.load_roots() {
            Ok(roots) => Some(roots),
            Err(found) => {
                problems.extend(found);
                None
            }
        };
        if self.log.level.trim().is_empty() {
            problems.push(ConfigError::invalid(
                "log.level",
                "must not be empty (e.g. \"info\")",
            ));
        }
        if self.server.proxy_protocol && self.sources.trusted_proxies.is_empty() {
            problems.push(ConfigError::invalid(
                "server.proxy_protocol",
                "needs sources.trusted_proxies: only those balancers may send a PROXY header",
            ));
        }
        self.admin.check(&mut problems);
        check_apps(&self.apps, &mut problems);
        self.reconcile.check(&self.apps, &mut problems);
        super::destinations::check(&self.destinations, &self.delivery, &mut problems);
        for (i, app) in self.apps.iter().enumerate() {
            if let Some(api) = &app.api {
                api.check(&format!("apps[{i}].api"), &mut problems);
            }
        }
        match problems.len() {
            0 => Ok(Validated { tls, roots }),
            1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Several(problems)),
        }
    }
}

impl AdminConfig {
    /// The console needs a listener and a token long enough to guard it.
    fn check(&self, problems: &mut Vec<ConfigError>) {
        if !self.console {
            return;
        }
        if self.listen.is_none() {
            problems.push(ConfigError::invalid(
                "admin.console",
                "needs admin.listen: the console is served on the admin listener \
                 (e.g. listen = \"127.0.0.1:9898\")",
            ));
        }
        match self
            .token
            .as_ref()
            .map(|t| t.expose().trim().chars().count())
        {
            None | Some(0) => problems.push(ConfigError::invalid(
                "admin.token",
                "must be set when admin.console = true: every console page asks for it \
                 (set it in the file or with ASND_ADMIN__TOKEN, e.g. from `openssl rand -hex 32`)",
            )),
            Some(n) if n < MIN_ADMIN_TOKEN_CHARS => problems.push(ConfigError::invalid(
                "admin.token",
                format!(
                    "is {n} characters: use at least {MIN_ADMIN_TOKEN_CHARS} \
                     (e.g. from `openssl rand -hex 32`)"
                ),
            )),
            Some(_) => {}
        }
    }
}

impl ServerConfig {
    /// Also loads the certificate and key (when `tls`), returned when they are usable.
    fn check(&self, problems: &mut Vec<ConfigError>) -> Option<Arc<CertifiedKey>> {
        let port = self.listen.port();
        // Port 0 asks the system for a free port (tests); such ports are above 1024 too.
        // With `tls = false` a balancer faces Apple and this port is private.
        if self.tls && port != 0 && port != 443 && port < 1024 {
            problems.push(ConfigError::invalid(
                "server.listen",
                format!(
                    "port {port} cannot receive notifications: App Store Connect posts only to port 443 \
                     or to a port of 1024 or above"
                ),
            ));
        }
        if !self.path.starts_with('/') {
            problems.push(ConfigError::invalid(
                "server.path",
                format!("{:?} must start with '/'", self.path),
            ));
        } else if self.path.contains(['?', '#']) || self.path.contains(char::is_whitespace) {
            problems.push(ConfigError::invalid(
                "server.path",
                format!(
                    "{:?} must be a plain path, without query, fragment or spaces",
                    self.path
                ),
            ));
        }
        if !(MIN_BODY_BYTES..=MAX_BODY_BYTES).contains(&self.max_body_bytes) {
            problems.push(ConfigError::invalid(
                "server.max_body_bytes",
                format!(
                    "{} is out of range: must be between {MIN_BODY_BYTES} (1 KiB) and {MAX_BODY_BYTES} (16 MiB)",
                    self.max_body_bytes
                ),
            ));
        }
        if self.max_connections == 0 || self.max_connections > MAX_CONNECTIONS {
            problems.push(ConfigError::invalid(
                "server.max_connections",
                format!("must be between 1 and {MAX_CONNECTIONS}"),
            ));
        }
        let timeouts = [
            ("server.handshake_timeout", self.handshake_timeout),
            ("server.header_timeout", self.header_timeout),
            ("server.idle_timeout", self.idle_timeout),
            ("server.max_connection_age", self.max_connection_age),
            ("server.body_timeout", self.body_timeout),
            ("server.handler_timeout", self.handler_timeout),
        ];
        for (key, value) in timeouts {
            if value.is_zero() {
                problems.push(ConfigError::invalid(
                    key,
                    "must be longer than zero (e.g. \"10s\")",
                ));
            }
        }
        // Durations beyond an hour are mistakes, and absurd ones overflow the clock.
        for (key, value) in timeouts.into_iter().chain([
            ("server.shutdown_grace", self.shutdown_grace),
            ("server.drain_delay", self.drain_delay),
            ("server.proxy_header_timeout", self.proxy_header_timeout),
        ]) {
            if value > MAX_DURATION {
                problems.push(ConfigError::invalid(key, "must be at most 1h"));
            }
        }
        if !self.tls {
            return None;
        }
        match load_tls_certified_key(&self.tls_cert, &self.tls_key) {
            Ok(certified) => Some(certified),
            Err(e) => {
                problems.push(e);
                None
            }
        }
    }
}

impl DatabaseConfig {
    fn check(&self, problems: &mut Vec<ConfigError>) {
        let url = self.url.expose();
        let scheme_ok = crate::store::Backend::from_url(url).is_ok();
        if !scheme_ok {
            problems.push(ConfigError::invalid(
                "database.url",
                format!(
                    "{} is not a database URL; use sqlite://FILE or postgres://USER@HOST/DB",
                    if url.is_empty() {
                        "(empty)".to_owned()
                    } else {
                        format!("`{}`", self.redacted_url())
                    }
                ),
            ));
        }
        if self.max_connections == 0 {
            problems.push(ConfigError::invalid(
                "database.max_connections",
                "must be at least 1",
            ));
        }
        if self.timeout.is_zero() || self.timeout > MAX_DURATION {
            problems.push(ConfigError::invalid(
                "database.timeout",
                "must be longer than zero and at most 1h (e.g. \"5s\")",
            ));
        }
    }
}

fn check_apps(apps: &[AppConfig], problems: &mut Vec<ConfigError>) {
    if apps.is_empty() {
        problems.push(ConfigError::invalid(
            "apps",
            "no app configured: add an [[apps]] section with bundle_id (and app_apple_id for Production)",
        ));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, app) in apps.iter().enumerate() {
        let key = |field: &str| format!("apps[{i}].{field}");
        let bundle = app.bundle_id.as_str();
        if bundle.trim().is_empty() {
            problems.push(ConfigError::invalid(key("bundle_id"), "must not be empty"));
        } else if bundle.contains(char::is_whitespace) {
            problems.push(ConfigError::invalid(
                key("bundle_id"),
                format!("{bundle:?} contains spaces"),
            ));
        } else if let Some(first) = seen.insert(bundle, i) {
            problems.push(ConfigError::invalid(
                key("bundle_id"),
                format!("{bundle:?} is already configured in apps[{first}]"),
            ));
        }
        // Names other than Production and Sandbox are refused when the file is read.
        if app.environments.is_empty() {
            problems.push(ConfigError::invalid(
                key("environments"),
                "must list \"Production\", \"Sandbox\" or both",
            ));
        }
        match app.app_apple_id {
            Some(id) if id <= 0 => {
                problems.push(ConfigError::invalid(
                    key("app_apple_id"),
                    format!("{id} must be a positive number"),
                ));
            }
            None if app.environments.contains(&AppEnvironment::Production) => {
                problems.push(ConfigError::invalid(
                    key("app_apple_id"),
                    format!(
                        "required for {bundle:?} because its environments include Production \
                         (App Store Connect shows it under App Information as Apple ID)"
                    ),
                ))
            }
            _ => {}
        }
        check_v1_secrets(i, app, problems);
    }
}

/// A V1 secret that is empty or holds a space or line break (pasted by mistake) never matches.
/// Problems name the secret by its index: its value is never shown.
fn check_v1_secrets(i: usize, app: &AppConfig, problems: &mut Vec<ConfigError>) {
    for (j, secret) in app.v1_shared_secrets.iter().enumerate() {
        let key = format!("apps[{i}].v1_shared_secrets[{j}]");
        if secret.expose().is_empty() {
            problems.push(ConfigError::invalid(key, "must not be empty"));
        } else if secret.expose().contains(char::is_whitespace) {
            problems.push(ConfigError::invalid(
                key,
                "contains a space or line break (value not shown)",
            ));
        }
    }
}

impl ApiConfig {
    fn check(&self, key: &str, problems: &mut Vec<ConfigError>) {
        for (field, value) in [("key_id", &self.key_id), ("issuer_id", &self.issuer_id)] {
            if value.trim().is_empty() {
                problems.push(ConfigError::invalid(
                    format!("{key}.{field}"),
                    "missing: copy it from App Store Connect (Users and Access → Integrations → In-App Purchase)",
                ));
            } else if value.contains(char::is_whitespace) {
                problems.push(ConfigError::invalid(
                    format!("{key}.{field}"),
                    format!("{value:?} contains spaces"),
                ));
            }
        }
        if let Err(e) = self.load_private_key(key) {
            problems.push(e);
        }
        for (field, url) in [
            ("production_url", &self.production_url),
            ("sandbox_url", &self.sandbox_url),
        ] {
            let host = url.strip_prefix("https://").unwrap_or_default();
            if host.is_empty() || host.starts_with('/') || url.contains(char::is_whitespace) {
                problems.push(ConfigError::invalid(
                    format!("{key}.{field}"),
                    format!("{url:?} is not an https:// URL"),
                ));
            }
        }
        if let Err(e) = self.load_roots(key) {
            problems.push(e);
        }
        if self.timeout.is_zero() {
            problems.push(ConfigError::invalid(
                format!("{key}.timeout"),
                "must be longer than zero (e.g. \"30s\")",
            ));
        }
    }
}

impl ReconcileConfig {
    fn check(&self, apps: &[AppConfig], problems: &mut Vec<ConfigError>) {
        if self.interval.is_zero() {
            problems.push(ConfigError::invalid(
                "reconcile.interval",
                "must be longer than zero (e.g. \"1h\")",
            ));
        }
        if self.lookback.is_zero() || self.lookback > MAX_LOOKBACK {
            problems.push(ConfigError::invalid(
                "reconcile.lookback",
                "must be longer than zero and at most 180 days (what Apple keeps), e.g. \"72h\"",
            ));
        }
        if self.enabled && apps.iter().all(|a| a.api.is_none()) {
            problems.push(ConfigError::invalid(
                "reconcile.enabled",
                "no app has an [apps.api] section: reconciliation needs an App Store Server API key",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::*;
    use crate::config::RootEntry;
    use crate::config::test_support::*;
    use crate::config::{BUILTIN_APPLE_ROOT, MAX_BODY_BYTES};

    #[test]
    fn valid_config_passes() {
        let tls = tls_files();
        valid(&tls).validate().unwrap();
        let cert = load_tls_certified_key(&tls.cert, &tls.key).unwrap();
        assert_eq!(cert.cert.len(), 1);
    }

    #[test]
    fn port_must_be_usable_by_apple() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.listen = "0.0.0.0:80".parse().unwrap();
        let err = problem(&config);
        assert!(
            err.starts_with("server.listen: port 80 cannot receive notifications"),
            "{err}"
        );
        assert!(err.contains("443") && err.contains("1024"), "{err}");
        config.server.listen = "[::]:1023".parse().unwrap();
        problem(&config);
        for ok in ["0.0.0.0:443", "0.0.0.0:8443", "0.0.0.0:1024", "127.0.0.1:0"] {
            config.server.listen = ok.parse().unwrap();
            config.validate().unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn the_console_needs_a_listener_and_a_long_enough_token() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.admin.console = true;
        config.admin.listen = Some("127.0.0.1:0".parse().unwrap());
        let err = problem(&config);
        assert!(err.starts_with("admin.token: must be set"), "{err}");
        assert!(err.contains("ASND_ADMIN__TOKEN"), "{err}");
        config.admin.token = Some("short".into());
        assert!(problem(&config).starts_with("admin.token: is 5 characters"));
        config.admin.token = Some("0123456789abcdef".into());
        config.validate().unwrap();
        config.admin.listen = None;
        assert!(problem(&config).starts_with("admin.console: needs admin.listen"));
        // From the environment, like every key; and never printed.
        let config = parse_with(
            "[admin]\nlisten = \"127.0.0.1:0\"\nconsole = true\n",
            &[("ASND_ADMIN__TOKEN", "a-token-from-the-environment")],
        )
        .unwrap();
        let token = config.admin.token.as_ref().unwrap();
        assert_eq!(token.expose(), "a-token-from-the-environment");
        assert!(!format!("{config:?}").contains("a-token-from"));
    }

    #[test]
    fn at_least_one_app() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps.clear();
        assert!(problem(&config).starts_with("apps: no app configured"));
    }

    #[test]
    fn production_needs_app_apple_id() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps[0].app_apple_id = None;
        let err = problem(&config);
        assert!(
            err.starts_with("apps[0].app_apple_id: required for \"com.example.app\""),
            "{err}"
        );
        config.apps[0].environments = vec![AppEnvironment::Sandbox];
        config.validate().unwrap();
    }

    #[test]
    fn environments_must_be_known() {
        // A name other than Apple's is refused when the file is read, naming its line.
        let err = Config::from_toml_str(
            &EXAMPLE.replace(
                "[\"Production\", \"Sandbox\"]",
                "[\"Production\", \"PROD\"]",
            ),
            no_env(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("configuration, line ")
                && err.contains(
                    ": \"PROD\" is not an environment; use \"Production\" or \"Sandbox\""
                ),
            "{err}"
        );
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps[0].environments.clear();
        assert!(problem(&config).starts_with("apps[0].environments: must list"));
    }

    #[test]
    fn bundle_ids_are_present_and_unique() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps.push(config.apps[0].clone());
        assert_eq!(
            problem(&config),
            "apps[1].bundle_id: \"com.example.app\" is already configured in apps[0]"
        );
        config.apps[1].bundle_id = " ".into();
        assert_eq!(problem(&config), "apps[1].bundle_id: must not be empty");
    }

    #[test]
    fn other_limits() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.max_body_bytes = 100;
        assert!(problem(&config).starts_with("server.max_body_bytes: 100 is out of range"));
        config.server.max_body_bytes = MAX_BODY_BYTES + 1;
        problem(&config);
        config.server.max_body_bytes = MAX_BODY_BYTES;
        config.validate().unwrap();

        let mut config = valid(&tls);
        config.server.path = "notifications".into();
        assert_eq!(
            problem(&config),
            "server.path: \"notifications\" must start with '/'"
        );

        let mut config = valid(&tls);
        config.sources.allow.clear();
        assert!(problem(&config).starts_with("sources.allow: must list at least one network"));

        let mut config = valid(&tls);
        config.log.level = " ".into();
        assert!(problem(&config).starts_with("log.level: must not be empty"));

        let mut config = valid(&tls);
        config.database.url = "mysql://root:hunter2@db/x".into();
        let err = problem(&config);
        assert!(
            err.starts_with("database.url: `mysql://root:***@db/x` is not a database URL"),
            "{err}"
        );
        assert!(!err.contains("hunter2"));

        let mut config = valid(&tls);
        config.database.timeout = Duration::ZERO;
        assert!(problem(&config).starts_with("database.timeout: must be longer than zero"));
    }

    #[test]
    fn absurd_sizes_and_durations_are_refused() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.max_connections = 4_611_686_018_427_387_904;
        assert!(problem(&config).starts_with("server.max_connections: must be between 1 and"));
        let mut config = valid(&tls);
        config.server.header_timeout = Duration::from_secs(300_000_000_000 * 31_557_600);
        assert_eq!(
            problem(&config),
            "server.header_timeout: must be at most 1h"
        );
        let mut config = valid(&tls);
        config.database.timeout = Duration::from_secs(7200);
        assert!(problem(&config).starts_with("database.timeout:"));
    }

    #[test]
    fn several_problems_are_listed_one_per_line() {
        let mut config = Config::default();
        config.server.tls = false;
        config.server.path = "x".into();
        let err = config.validate().unwrap_err();
        assert_eq!(err.problems().len(), 2, "{err}");
        assert_eq!(err.to_string().lines().count(), 2, "{err}");
    }

    #[test]
    fn unreadable_certificate() {
        let tls = tls_files();
        let mut config = valid(&tls);
        let missing = tls.cert.with_file_name("missing.pem");
        config.server.tls_cert = missing.clone();
        let err = problem(&config);
        assert!(
            err.starts_with(&format!(
                "server.tls_cert ({}): cannot read: ",
                missing.display()
            )),
            "{err}"
        );
        // Not a certificate: the key file in its place.
        config.server.tls_cert = tls.key.clone();
        assert!(
            problem(&config).ends_with("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
        );
        // Not a key: the certificate in its place.
        config.server.tls_cert = tls.cert.clone();
        config.server.tls_key = tls.cert.clone();
        let err = problem(&config);
        assert!(
            err.starts_with("server.tls_key (") && err.contains("holds no PEM private key"),
            "{err}"
        );
    }

    #[test]
    fn mismatched_certificate_and_key() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.tls_key = tls.other_key.clone();
        let err = config.validate().unwrap_err();
        assert!(matches!(err, ConfigError::KeyMismatch { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "server.tls_key ({}) does not belong to the certificate in server.tls_cert ({})",
                tls.other_key.display(),
                tls.cert.display()
            )
        );
        assert!(matches!(
            load_tls_certified_key(&tls.cert, &tls.other_key),
            Err(ConfigError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn plain_http_needs_no_certificate() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.server.tls_cert = PathBuf::from("/nonexistent/cert.pem");
        problem(&config);
        config.server.tls = false;
        config.validate().unwrap();
    }

    #[test]
    fn roots_must_be_readable() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.verify.roots = vec![tls.cert.clone(), PathBuf::from("/nonexistent/root.cer")];
        assert!(
            problem(&config).starts_with("verify.roots[1] (/nonexistent/root.cer): cannot read: ")
        );
        // Readable is not enough: a file that holds no certificate is named at validation, and a
        // valid list is handed over parsed, so start-up does not read it again.
        config.verify.roots = vec![tls.cert.clone(), tls.key.clone()];
        let message = problem(&config);
        assert!(
            message.starts_with("verify.roots[1] (")
                && message.contains("not a usable root certificate"),
            "{message}"
        );
        config.verify.roots = vec![tls.cert.clone()];
        assert!(config.validate().unwrap().roots.is_some());
    }

    #[test]
    fn builtin_apple_root_needs_no_file() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.verify.roots = vec![PathBuf::from(BUILTIN_APPLE_ROOT), tls.cert.clone()];
        config.validate().unwrap();
        config.verify.roots = vec![PathBuf::from("builtin:apple-root-ca-g2")];
        assert_eq!(
            problem(&config),
            "verify.roots[0]: \"builtin:apple-root-ca-g2\" is not a built-in root; the only one is \"builtin:apple-root-ca-g3\""
        );
        // Also from the environment, beside a file.
        let config = parse_with(
            EXAMPLE,
            &[(
                "ASND_VERIFY__ROOTS",
                "builtin:apple-root-ca-g3,asnd-dev/ca/root.pem",
            )],
        )
        .unwrap();
        assert_eq!(
            RootEntry::parse(&config.verify.roots[0]),
            Ok(RootEntry::BuiltinApple)
        );
        assert_eq!(
            RootEntry::parse(&config.verify.roots[1]),
            Ok(RootEntry::File(Path::new("asnd-dev/ca/root.pem")))
        );
    }

    #[test]
    fn v1_secret_errors_never_show_the_value() {
        let tls = tls_files();
        let mut config = valid(&tls);
        config.apps[0].v1_shared_secrets = vec!["good".into(), "".into(), "s3cret \n".into()];
        let err = config.validate().unwrap_err();
        let text = err.to_string();
        assert_eq!(err.problems().len(), 2, "{text}");
        assert!(
            text.contains("apps[0].v1_shared_secrets[1]: must not be empty"),
            "{text}"
        );
        assert!(
            text.contains("apps[0].v1_shared_secrets[2]: contains a space or line break"),
            "{text}"
        );
        assert!(!text.contains("s3cret"), "{text}");
        // Wrong types in the file: serde would quote the value, these messages do not.
        for wrong in [
            "v1_shared_secrets = \"s3cret\"",
            "v1_shared_secrets = [\"ok\", 12345678]",
            "v1_shared_secrets = [true]",
        ] {
            let file = format!("{EXAMPLE}{wrong}\n");
            let err = read_error(&file);
            assert!(err.contains("value not shown"), "{wrong}: {err}");
            assert!(
                !err.contains("s3cret") && !err.contains("12345678"),
                "{wrong}: {err}"
            );
        }
        let err = parse_with(
            EXAMPLE,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "[12345678]")],
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("12345678"), "{err}");
    }

    fn ca_file(dir: &Path) -> PathBuf {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let path = dir.join("ca.pem");
        std::fs::write(&path, cert.cert.pem()).unwrap();
        path
    }

    fn problems_of(api: &ApiConfig) -> Vec<String> {
        let mut problems = Vec::new();
        api.check("apps[0].api", &mut problems);
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn bad_api_sections_are_reported_without_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_file(dir.path());
        let good = ApiConfig {
            key_id: "ABC123".into(),
            issuer_id: "issuer".into(),
            private_key: Some(key_pem().into()),
            ca_file: ca.clone(),
            ..ApiConfig::default()
        };
        assert!(problems_of(&good).is_empty(), "{:?}", problems_of(&good));

        let mut api = good.clone();
        api.key_id = String::new();
        api.issuer_id = "a b".into();
        let p = problems_of(&api);
        assert!(p[0].starts_with("apps[0].api.key_id: missing"), "{p:?}");
        assert!(
            p[1].starts_with("apps[0].api.issuer_id: \"a b\" contains spaces"),
            "{p:?}"
        );

        let mut api = good.clone();
        api.private_key_path = Some(dir.path().join("k.p8"));
        assert_eq!(
            problems_of(&api),
            ["apps[0].api.private_key: set private_key_path or private_key, not both"]
        );
        api.private_key = None;
        let p = problems_of(&api);
        assert!(
            p[0].starts_with("apps[0].api.private_key_path (") && p[0].contains("cannot read"),
            "{p:?}"
        );
        api.private_key_path = None;
        assert!(problems_of(&api)[0].starts_with("apps[0].api.private_key_path: missing"));

        // Not a key, a key of the wrong kind: the message never repeats what was given.
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ=";
        for (text, expected) in [
            ("not a key at all!", "neither PEM"),
            (secret, "not an EC P-256 private key"),
            (
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
                "not an EC P-256",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                "holds no PEM private key",
            ),
        ] {
            let mut api = good.clone();
            api.private_key = Some(text.into());
            let p = problems_of(&api);
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(
                p[0].starts_with("apps[0].api.private_key: ") && p[0].contains(expected),
                "{p:?}"
            );
            assert!(!p[0].contains(secret) && !p[0].contains("AAAA"), "{p:?}");
        }
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let mut api = good.clone();
        api.private_key = Some(p384.serialize_pem().into());
        assert!(
            problems_of(&api)[0].contains("not an EC P-256"),
            "a P-384 key is refused"
        );

        let mut api = good.clone();
        api.production_url = "http://api.storekit.apple.com".into();
        api.sandbox_url = "https://".into();
        let p = problems_of(&api);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(
            p[0].starts_with("apps[0].api.production_url: \"http://"),
            "{p:?}"
        );

        let mut api = good.clone();
        api.ca_file = dir.path().join("missing.pem");
        api.timeout = Duration::ZERO;
        let p = problems_of(&api);
        assert!(
            p[0].starts_with("apps[0].api.ca_file (") && p[0].contains("cannot read"),
            "{p:?}"
        );
        assert!(
            p[1].starts_with("apps[0].api.timeout: must be longer than zero"),
            "{p:?}"
        );

        let mut api = good.clone();
        let not_a_cert = dir.path().join("x.pem");
        std::fs::write(
            &not_a_cert,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        api.extra_roots = vec![ca.clone(), not_a_cert];
        let p = problems_of(&api);
        assert!(p[0].starts_with("apps[0].api.extra_roots[1] ("), "{p:?}");
        api.extra_roots.pop();
        assert_eq!(api.load_roots("k").unwrap().len(), 2);
    }

    #[test]
    fn reconcile_is_checked() {
        let check = |r: &ReconcileConfig, apps: &[AppConfig]| {
            let mut problems = Vec::new();
            r.check(apps, &mut problems);
            problems.iter().map(ToString::to_string).collect::<Vec<_>>()
        };
        let app = AppConfig {
            bundle_id: "a".into(),
            ..AppConfig::default()
        };
        let with_api = AppConfig {
            api: Some(ApiConfig::default()),
            ..app.clone()
        };
        let mut r = ReconcileConfig::default();
        assert!(
            check(&r, std::slice::from_ref(&app)).is_empty(),
            "off: nothing needed"
        );
        r.enabled = true;
        assert!(
            check(&r, std::slice::from_ref(&app))[0]
                .starts_with("reconcile.enabled: no app has an [apps.api] section")
        );
        assert!(check(&r, &[app.clone(), with_api.clone()]).is_empty());
        r.interval = Duration::ZERO;
        r.lookback = MAX_LOOKBACK + Duration::from_secs(1);
        let p = check(&r, &[with_api]);
        assert!(
            p[0].starts_with("reconcile.interval: ") && p[1].starts_with("reconcile.lookback: "),
            "{p:?}"
        );
    }

    #[test]
    fn validation_hands_over_the_certificate() {
        let tls = tls_files();
        let mut config = valid(&tls);
        let validated = config.validate().unwrap();
        assert_eq!(validated.tls.expect("the certificate").cert.len(), 1);
        config.server.tls = false;
        assert!(config.validate().unwrap().tls.is_none());
    }
}
