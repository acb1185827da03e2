//! `[[apps]]`: the apps whose notifications are accepted, and the environments each accepts.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::api::ApiConfig;
use crate::secret::Secret;

/// One `[[apps]]` entry: an app whose notifications are accepted. `Debug` and `Serialize` never
/// show the V1 shared secrets.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    pub bundle_id: String,
    /// The app's Apple ID; required when `environments` includes Production.
    pub app_apple_id: Option<i64>,
    /// `"Production"` and/or `"Sandbox"`; both by default.
    pub environments: Vec<AppEnvironment>,
    /// The app's shared secrets (App Store Connect), which authenticate V1 notifications in
    /// their `password`. Several, so that a secret can be rotated; empty = V1 is refused. Best set
    /// from the environment: `ASND_APPS__0__V1_SHARED_SECRETS=secret1,secret2`.
    #[serde(deserialize_with = "secret_list")]
    pub v1_shared_secrets: Vec<Secret<String>>,
    /// `[apps.api]`: the App Store Server API key, for `test-notification`, `backfill` and
    /// `[reconcile]`. Optional.
    pub api: Option<ApiConfig>,
}

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig {
            bundle_id: String::new(),
            app_apple_id: None,
            environments: AppEnvironment::ALL.to_vec(),
            v1_shared_secrets: Vec::new(),
            api: None,
        }
    }
}

impl AppConfig {
    /// Whether notifications from `environment` ("Production", "Sandbox") are accepted.
    pub fn accepts(&self, environment: &str) -> bool {
        self.environments.iter().any(|e| e.as_str() == environment)
    }
}

/// An environment an app may accept, spelled as Apple spells it in V2 payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum AppEnvironment {
    Production,
    Sandbox,
}

super::words::word_choice!(AppEnvironment, "an environment", ignore_case: false, {
    Production => "Production",
    Sandbox => "Sandbox",
});

impl fmt::Display for AppEnvironment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads `v1_shared_secrets`, a list of strings, without ever quoting a value in an error, as
/// serde's own messages do (`invalid type: string "...", expected a sequence`).
pub(super) fn secret_list<'de, D: de::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Secret<String>>, D::Error> {
    const NOT_TEXT: &str = "expected each secret as a string in quotes (value not shown)";

    struct Secrets;
    impl<'de> Visitor<'de> for Secrets {
        type Value = Vec<Secret<String>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of secrets such as [\"...\"]")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Secret<String>>, A::Error> {
            let mut secrets = Vec::new();
            while let Some(OneSecret(secret)) = seq.next_element()? {
                secrets.push(Secret::new(secret));
            }
            Ok(secrets)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Vec<Secret<String>>, E> {
            Err(E::custom(
                "expected a list of secrets such as [\"...\"], not one string (value not shown)",
            ))
        }
    }

    struct OneSecret(String);
    impl<'de> Deserialize<'de> for OneSecret {
        fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct One;
            impl Visitor<'_> for One {
                type Value = OneSecret;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str(NOT_TEXT)
                }
                fn visit_str<E: de::Error>(self, secret: &str) -> Result<OneSecret, E> {
                    Ok(OneSecret(secret.to_owned()))
                }
                fn visit_i64<E: de::Error>(self, _: i64) -> Result<OneSecret, E> {
                    Err(E::custom(NOT_TEXT))
                }
                fn visit_u64<E: de::Error>(self, _: u64) -> Result<OneSecret, E> {
                    Err(E::custom(NOT_TEXT))
                }
                fn visit_f64<E: de::Error>(self, _: f64) -> Result<OneSecret, E> {
                    Err(E::custom(NOT_TEXT))
                }
                fn visit_bool<E: de::Error>(self, _: bool) -> Result<OneSecret, E> {
                    Err(E::custom(NOT_TEXT))
                }
            }
            deserializer.deserialize_str(One)
        }
    }

    deserializer.deserialize_seq(Secrets)
}

#[cfg(test)]
mod tests {
    use crate::config::test_support::*;

    #[test]
    fn debug_redacts_the_v1_secrets() {
        let config = parse_with(
            EXAMPLE,
            &[("ASND_APPS__0__V1_SHARED_SECRETS", "s3cretOne,s3cretTwo")],
        )
        .unwrap();
        for debug in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!debug.contains("s3cret"), "{debug}");
            assert_eq!(debug.matches("<redacted>").count(), 2, "{debug}");
            assert!(debug.contains("com.example.app"), "{debug}");
        }
    }
}
