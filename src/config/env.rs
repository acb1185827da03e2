//! The `ASND_*` environment overrides: which variables are overrides, the key path each names, the
//! value read according to that key's type, and merging it into the file's table.

use toml::{Table, Value};

use super::probe::{Kind, Probed, Seg, dotted, probe};
use super::{Config, ConfigError, ENV_PREFIX, ENV_SEPARATOR};

pub(super) struct Override {
    pub(super) var: String,
    pub(super) path: Vec<Seg>,
    pub(super) raw: String,
}

fn is_override_name(name: &str) -> bool {
    name.get(..ENV_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(ENV_PREFIX))
        && name[ENV_PREFIX.len()..].contains(ENV_SEPARATOR)
}

/// The overrides in the process environment (only names that are overrides are read).
pub(super) fn process_overrides() -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if !is_override_name(name) {
            continue;
        }
        let value = value
            .into_string()
            .map_err(|_| ConfigError::env(name, "value is not valid UTF-8"))?;
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// The overrides among `env`, in the order they apply (by key path, so list entries come in order).
pub(super) fn overrides(
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<Override>, ConfigError> {
    let mut out = Vec::new();
    for (var, raw) in env {
        if !is_override_name(&var) {
            continue;
        }
        let mut path = Vec::new();
        for part in var[ENV_PREFIX.len()..].split(ENV_SEPARATOR) {
            if part.is_empty() {
                return Err(ConfigError::env(
                    &var,
                    "has an empty level (write ASND_SECTION__KEY)",
                ));
            }
            if part.bytes().all(|b| b.is_ascii_digit()) {
                let index = part
                    .parse()
                    .map_err(|_| ConfigError::env(&var, format!("index {part} is too large")))?;
                path.push(Seg::Index(index));
            } else {
                path.push(Seg::Key(part.to_ascii_lowercase()));
            }
        }
        out.push(Override { var, path, raw });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.var.cmp(&b.var)));
    if let Some(pair) = out.windows(2).find(|w| w[0].path == w[1].path) {
        return Err(ConfigError::env(
            &pair[1].var,
            format!(
                "sets {} like {} does; set it once",
                dotted(&pair[1].path),
                pair[0].var
            ),
        ));
    }
    Ok(out)
}

/// The TOML value an override stands for, read according to the type of the key it sets.
pub(super) fn override_value(o: &Override) -> Result<Value, ConfigError> {
    let kind = match probe::<Config>(&o.path) {
        Probed::Found(kind) => kind,
        Probed::UnknownKey { at, expected } => {
            return Err(ConfigError::UnknownKey {
                key: dotted(&o.path[..=at]),
                origin: format!("environment variable {}", o.var),
                expected: expected.join(", "),
            });
        }
        Probed::NoSuchPath { at, found } => {
            let what = match &o.path[at] {
                Seg::Index(_) => "numbered entries",
                Seg::Key(_) => "keys",
            };
            return Err(ConfigError::env(
                &o.var,
                format!(
                    "`{}` is {} and has no {what}",
                    dotted(&o.path[..at]),
                    found.describe()
                ),
            ));
        }
    };
    let raw = o.raw.as_str();
    let parsed = || parse_toml_value(raw);
    let wrong =
        |what: &str| ConfigError::env(&o.var, format!("expected {what} for {}", dotted(&o.path)));
    match kind {
        Kind::String => Ok(Value::String(raw.to_owned())),
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err(wrong("true or false")),
        },
        Kind::Integer => match parsed() {
            Some(v @ Value::Integer(_)) => Ok(v),
            _ => Err(wrong("an integer")),
        },
        Kind::Float => match parsed() {
            Some(v @ (Value::Float(_) | Value::Integer(_))) => Ok(v),
            _ => Err(wrong("a number")),
        },
        Kind::Array if raw.trim_start().starts_with('[') => match parsed() {
            Some(v @ Value::Array(_)) => Ok(v),
            _ => Err(wrong("a TOML array such as [\"a\", \"b\"]")),
        },
        Kind::Array => {
            let mut element = o.path.clone();
            element.push(Seg::Index(0));
            if probe::<Config>(&element) != Probed::Found(Kind::String) {
                return Err(wrong("a TOML array such as [1, 2]"));
            }
            let items = raw.split(',').map(str::trim).filter(|s| !s.is_empty());
            Ok(Value::Array(
                items.map(|s| Value::String(s.to_owned())).collect(),
            ))
        }
        Kind::Table => match parsed() {
            Some(v @ Value::Table(_)) => Ok(v),
            _ => Err(wrong("an inline TOML table such as { key = \"value\" }")),
        },
        Kind::Any => Ok(parsed().unwrap_or_else(|| Value::String(raw.to_owned()))),
    }
}

/// `raw` read as one TOML value, if it is one.
fn parse_toml_value(raw: &str) -> Option<Value> {
    let mut table: Table = toml::from_str(&format!("v = {raw}")).ok()?;
    if table.len() != 1 {
        return None;
    }
    table.remove("v")
}

/// Puts `value` at `path` in `root`, creating tables and list entries on the way. An index may be
/// at most the list's length (which appends), unless `pad` fills the gap with empty tables.
pub(super) fn set(root: &mut Table, path: &[Seg], value: Value, pad: bool) -> Result<(), String> {
    let mut whole = Value::Table(std::mem::take(root));
    let result = set_in(&mut whole, path, value, pad);
    if let Value::Table(table) = whole {
        *root = table;
    }
    result
}

fn set_in(root: &mut Value, path: &[Seg], value: Value, pad: bool) -> Result<(), String> {
    let mut value = Some(value);
    let mut here = root;
    for (depth, seg) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        let fresh = || match path.get(depth + 1) {
            Some(Seg::Index(_)) => Value::Array(Vec::new()),
            _ => Value::Table(Table::new()),
        };
        here = match (seg, here) {
            (Seg::Key(k), Value::Table(t)) => {
                if last {
                    t.insert(
                        k.clone(),
                        value.take().unwrap_or(Value::Table(Table::new())),
                    );
                    return Ok(());
                }
                t.entry(k.clone()).or_insert_with(fresh)
            }
            (Seg::Index(i), Value::Array(a)) => {
                if *i > a.len() && !pad {
                    return Err(format!(
                        "index {i} is past the end of `{}`, which has {} entries (use {} to add one)",
                        dotted(&path[..depth]),
                        a.len(),
                        a.len()
                    ));
                }
                while a.len() <= *i {
                    a.push(if last {
                        Value::Table(Table::new())
                    } else {
                        fresh()
                    });
                }
                if last {
                    a[*i] = value.take().unwrap_or(Value::Table(Table::new()));
                    return Ok(());
                }
                &mut a[*i]
            }
            (_, other) => {
                return Err(format!(
                    "`{}` is {} in the file, so it has no {}",
                    dotted(&path[..depth]),
                    other.type_str(),
                    match seg {
                        Seg::Index(_) => "numbered entries",
                        Seg::Key(_) => "keys",
                    }
                ));
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use ipnet::IpNet;

    use super::super::*;
    use crate::config::test_support::*;

    /// The message of the error that setting variable `name` to `value` over `EXAMPLE` gives.
    fn env_error(name: &str, value: &str) -> String {
        parse_with(EXAMPLE, &[(name, value)])
            .unwrap_err()
            .to_string()
    }

    /// Asserts that setting `name` to `value` is refused with a message that starts with `start`.
    fn refused_with(name: &str, value: &str, start: &str) {
        let err = env_error(name, value);
        assert!(err.starts_with(start), "{err}");
    }

    #[test]
    fn env_overrides_strings() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_DATABASE__URL", "postgres://asnd:pw@db/asnd"),
                ("ASND_SERVER__LISTEN", "127.0.0.1:9443"),
                ("ASND_SERVER__PATH", "/apple"),
                ("ASND_DATABASE__TIMEOUT", "2s"),
                ("ASND_SERVER__TLS_CERT", "/run/cert.pem"),
            ],
        )
        .unwrap();
        assert_eq!(config.database.url.expose(), "postgres://asnd:pw@db/asnd");
        assert_eq!(config.server.listen, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(config.server.path, "/apple");
        assert_eq!(config.database.timeout(), Duration::from_secs(2));
        assert_eq!(config.server.tls_cert, PathBuf::from("/run/cert.pem"));
    }

    #[test]
    fn env_text_keys_stay_text() {
        // "123", "true" and a date would parse as TOML values; text keys take them verbatim.
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_APPS__0__BUNDLE_ID", "123"),
                ("ASND_LOG__LEVEL", "true"),
                ("ASND_DATABASE__URL", "1979-05-27"),
            ],
        )
        .unwrap();
        assert_eq!(config.apps[0].bundle_id, "123");
        assert_eq!(config.log.level, "true");
        assert_eq!(config.database.url.expose(), "1979-05-27");
    }

    #[test]
    fn env_overrides_numbers_and_booleans() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_SERVER__MAX_BODY_BYTES", "1048576"),
                ("ASND_DATABASE__MIGRATE_ON_START", "false"),
                ("ASND_SERVER__TLS", "FALSE"),
                ("ASND_APPS__0__APP_APPLE_ID", "42"),
            ],
        )
        .unwrap();
        assert_eq!(config.server.max_body_bytes, 1_048_576);
        assert!(!config.database.migrate_on_start);
        assert!(!config.server.tls);
        assert_eq!(config.apps[0].app_apple_id, Some(42));
        assert_eq!(
            env_error("ASND_SERVER__MAX_BODY_BYTES", "1MiB"),
            "environment variable ASND_SERVER__MAX_BODY_BYTES: expected an integer for server.max_body_bytes"
        );
        refused_with(
            "ASND_SERVER__TLS",
            "yes please",
            "environment variable ASND_SERVER__TLS: expected true or false",
        );
    }

    #[test]
    fn env_overrides_arrays() {
        let allow = |raw: &str| {
            parse_with(EXAMPLE, &[("ASND_SOURCES__ALLOW", raw)])
                .unwrap()
                .sources
                .allow
        };
        let nets: Vec<IpNet> = vec!["17.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        assert_eq!(allow(r#"["17.0.0.0/8","10.0.0.0/8"]"#), nets);
        assert_eq!(allow("17.0.0.0/8, 10.0.0.0/8"), nets);
        assert_eq!(allow(""), Vec::<IpNet>::new());
        let config = parse_with(EXAMPLE, &[("ASND_SOURCES__ALLOW__1", "10.0.0.0/8")]).unwrap();
        assert_eq!(config.sources.allow, nets);
        let config = parse_with(EXAMPLE, &[("ASND_APPS__0__ENVIRONMENTS", "Sandbox")]).unwrap();
        assert_eq!(config.apps[0].environments, vec![AppEnvironment::Sandbox]);
        refused_with(
            "ASND_SOURCES__ALLOW",
            "[\"17.0.0.0/8\"",
            "environment variable ASND_SOURCES__ALLOW: expected a TOML array",
        );
    }

    #[test]
    fn env_overrides_an_app_by_index() {
        let text = format!(
            "{EXAMPLE}\n[[apps]]\nbundle_id = \"com.example.two\"\nenvironments = [\"Sandbox\"]\n"
        );
        let config = parse_with(
            &text,
            &[
                ("ASND_APPS__1__BUNDLE_ID", "com.example.renamed"),
                ("asnd_apps__1__environments", "[\"Production\"]"),
            ],
        )
        .unwrap();
        assert_eq!(config.apps[0].bundle_id, "com.example.app");
        assert_eq!(config.apps[1].bundle_id, "com.example.renamed");
        assert_eq!(
            config.apps[1].environments,
            vec![AppEnvironment::Production]
        );
    }

    #[test]
    fn env_appends_apps() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_APPS__2__BUNDLE_ID", "com.example.three"),
                ("ASND_APPS__1__BUNDLE_ID", "com.example.two"),
                ("ASND_APPS__1__ENVIRONMENTS", "Sandbox"),
                ("ASND_APPS__10__BUNDLE_ID", "x"),
            ],
        );
        // Index 10 skips entries: refused, naming the variable.
        let err = config.unwrap_err().to_string();
        assert!(
            err.starts_with(
                "environment variable ASND_APPS__10__BUNDLE_ID: index 10 is past the end of `apps`"
            ),
            "{err}"
        );
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_APPS__2__BUNDLE_ID", "com.example.three"),
                ("ASND_APPS__1__BUNDLE_ID", "com.example.two"),
                ("ASND_APPS__1__ENVIRONMENTS", "Sandbox"),
            ],
        )
        .unwrap();
        let bundles: Vec<&str> = config.apps.iter().map(|a| a.bundle_id.as_str()).collect();
        assert_eq!(
            bundles,
            ["com.example.app", "com.example.two", "com.example.three"]
        );
        assert_eq!(config.apps[1].environments, vec![AppEnvironment::Sandbox]);
        assert_eq!(
            config.apps[2].environments,
            vec![AppEnvironment::Production, AppEnvironment::Sandbox]
        );

        // Without any file at all, and a whole app as an inline table.
        let config = parse_with(
            "",
            &[
                ("ASND_APPS__0", "{ bundle_id = \"a.b\", app_apple_id = 7 }"),
                ("ASND_APPS__0__ENVIRONMENTS", "Sandbox"),
            ],
        )
        .unwrap();
        assert_eq!(
            config.apps,
            vec![AppConfig {
                bundle_id: "a.b".into(),
                app_apple_id: Some(7),
                environments: vec![AppEnvironment::Sandbox],
                ..AppConfig::default()
            }]
        );
    }

    #[test]
    fn env_unknown_keys_name_the_variable() {
        let err = parse_with(EXAMPLE, &[("ASND_SERVER__LISEN", "0.0.0.0:1")]).unwrap_err();
        match &err {
            ConfigError::UnknownKey { key, origin, .. } => {
                assert_eq!(key, "server.lisen");
                assert_eq!(origin, "environment variable ASND_SERVER__LISEN");
            }
            other => panic!("{other:?}"),
        }
        refused_with(
            "ASND_NOPE__URL",
            "x",
            "unknown key `nope` in environment variable ASND_NOPE__URL",
        );
        refused_with(
            "ASND_APPS__0",
            "{ bundle = \"x\" }",
            "unknown key `apps[0].bundle` in environment variable ASND_APPS__0",
        );
        let err = env_error("ASND_APPS__0__SECRET", "x");
        assert!(
            err.contains("`apps[0].secret`") && err.contains("ASND_APPS__0__SECRET"),
            "{err}"
        );
        assert_eq!(
            env_error("ASND_SERVER__LISTEN__PORT", "1"),
            "environment variable ASND_SERVER__LISTEN__PORT: `server.listen` is text and has no keys"
        );
        assert_eq!(
            env_error("ASND_SERVER__0", "1"),
            "environment variable ASND_SERVER__0: `server` is a section and has no numbered entries"
        );
    }

    #[test]
    fn env_bad_values_name_the_variable() {
        // The first bad variable in name order is reported, named.
        for (vars, named) in [
            (
                &[
                    ("ASND_DATABASE__URL", "x"),
                    ("ASND_SERVER__LISTEN", "localhost"),
                ][..],
                "ASND_SERVER__LISTEN",
            ),
            (
                &[("ASND_DATABASE__TIMEOUT", "soon")][..],
                "ASND_DATABASE__TIMEOUT",
            ),
            (
                &[("ASND_SOURCES__ALLOW", "17.0.0.0/33")][..],
                "ASND_SOURCES__ALLOW",
            ),
        ] {
            let err = parse_with(EXAMPLE, vars).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("environment variable {named}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn env_override_can_mend_the_file() {
        let config = parse_with(
            "[server]\nlisten = \"nowhere\"\n",
            &[("ASND_SERVER__LISTEN", "127.0.0.1:8443")],
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:8443".parse().unwrap());
        // A bad file value not mended is reported with its line.
        let err = parse_with(
            "[server]\nlisten = \"nowhere\"\n",
            &[("ASND_DATABASE__URL", "sqlite://x")],
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("configuration, line 2, column 10: "),
            "{err}"
        );
    }

    #[test]
    fn other_variables_are_ignored() {
        let config = parse_with(
            EXAMPLE,
            &[
                ("ASND_CONFIG", "/x.toml"),
                ("ASND_LOG", "debug"),
                ("PATH", "/bin"),
                ("RUST_LOG", "trace"),
                ("XASND_A__B", "1"),
            ],
        )
        .unwrap();
        assert_eq!(config, Config::from_toml_str(EXAMPLE, no_env()).unwrap());
    }

    #[test]
    fn env_malformed_names() {
        let err = env_error("ASND_SERVER____LISTEN", "x");
        assert!(err.contains("empty level"), "{err}");
        let err = parse_with(
            EXAMPLE,
            &[
                ("ASND_SERVER__LISTEN", "0.0.0.0:1"),
                ("asnd_server__listen", "0.0.0.0:2"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("set it once"), "{err}");
    }
}
