//! `[database]`: where notifications are stored.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

/// `[database]`. `Debug` and `Serialize` show the URL with its password replaced.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://FILE` or `postgres://user:password@host/db`; the scheme chooses the backend.
    pub url: DatabaseUrl,
    pub max_connections: u32,
    /// Bound on the whole store step of a request; exceeded → 503.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Apply migrations at start; off for deployments that run `asnd migrate` separately.
    pub migrate_on_start: bool,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: DatabaseUrl::from("sqlite://asnd.db"),
            max_connections: 10,
            timeout: Duration::from_secs(5),
            migrate_on_start: true,
        }
    }
}

impl DatabaseConfig {
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL with any password (in the user part or a `password=` parameter) replaced by `***`:
    /// what may be logged.
    pub fn redacted_url(&self) -> String {
        self.url.redacted()
    }
}

/// A database URL, which may carry a password: `Debug` and `Serialize` show it with the password
/// replaced by `***` ([`crate::store::redact_url`]); [`DatabaseUrl::expose`] gives the whole URL.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The whole URL, password included: for connecting, never for logs or messages.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL as it may be logged.
    pub fn redacted(&self) -> String {
        crate::store::redact_url(&self.0)
    }
}

impl From<&str> for DatabaseUrl {
    fn from(url: &str) -> Self {
        DatabaseUrl(url.to_owned())
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        DatabaseUrl(url)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.redacted(), f)
    }
}

impl Serialize for DatabaseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::*;

    #[test]
    fn debug_redacts_the_database_password() {
        let config = parse_with(
            EXAMPLE,
            &[(
                "ASND_DATABASE__URL",
                "postgres://asnd:s3cr%40t@db.internal:5432/asnd",
            )],
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cr"), "{debug}");
        assert!(
            debug.contains("postgres://asnd:***@db.internal:5432/asnd"),
            "{debug}"
        );
        let pretty = format!("{config:#?}");
        assert!(!pretty.contains("s3cr"), "{pretty}");
    }

    #[test]
    fn redaction() {
        for (url, redacted) in [
            ("sqlite://asnd.db", "sqlite://asnd.db"),
            (
                "sqlite:///var/lib/a@b:c/asnd.db",
                "sqlite:///var/lib/a@b:c/asnd.db",
            ),
            ("postgres://asnd@db/asnd", "postgres://asnd@db/asnd"),
            ("postgres://asnd:pw@db/asnd", "postgres://asnd:***@db/asnd"),
            (
                "postgres://asnd:p@ss/w:rd@db/asnd?sslmode=require",
                "postgres://asnd:***@db/asnd?sslmode=require",
            ),
            (
                "postgres://db/asnd?user=a&password=pw&sslmode=require",
                "postgres://db/asnd?user=a&password=***&sslmode=require",
            ),
            ("postgres://:pw@db", "postgres://:***@db"),
            ("not a url", "not a url"),
            (
                "host=db password=secret user=x",
                "host=db password=*** user=x",
            ),
            ("postgres://u:pa#ss?w@db/x", "postgres://u:***@db/x"),
            (
                "postgres://db/x?user=a@b&Password=pw",
                "postgres://db/x?user=a@b&Password=***",
            ),
        ] {
            assert_eq!(crate::store::redact_url(url), redacted, "{url}");
        }
    }
}
