//! Probing the configuration types: which keys exist and what type each one has, learnt from the
//! types themselves (serde's derive), so that the unknown-key check and the environment overrides
//! always match them.

use std::cell::Cell;

use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// One level of a key path: a key in a table, or an index in a list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Seg {
    Index(usize),
    Key(String),
}

/// `apps[0].bundle_id`.
pub(super) fn dotted(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// What a key's type asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    String,
    Bool,
    Integer,
    Float,
    Array,
    Table,
    /// Whatever comes (a type that does not say).
    Any,
}

impl Kind {
    pub(super) fn describe(self) -> &'static str {
        match self {
            Kind::String => "text",
            Kind::Bool => "a boolean",
            Kind::Integer => "an integer",
            Kind::Float => "a number",
            Kind::Array => "a list",
            Kind::Table => "a section",
            Kind::Any => "a value",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Probed {
    /// The path exists; its value is of this kind.
    Found(Kind),
    /// `path[at]` is not a key of the section at `path[..at]`, which has `expected`.
    UnknownKey {
        at: usize,
        expected: &'static [&'static str],
    },
    /// `path[at]` goes below `path[..at]`, which is of kind `found` and has no such level.
    NoSuchPath { at: usize, found: Kind },
}

/// Finds out what `T` expects at `path` by letting `T` deserialize itself from a deserializer that
/// follows `path` and stops (with an error) where it ends: the field lists come from serde's derive,
/// so they always match the types.
pub(super) fn probe<T: DeserializeOwned>(path: &[Seg]) -> Probed {
    let out = Cell::new(None);
    let _ = T::deserialize(Probe {
        path,
        at: 0,
        out: &out,
    });
    out.get().unwrap_or(Probed::Found(Kind::Any))
}

type ProbeError = de::value::Error;

#[derive(Clone, Copy)]
struct Probe<'a> {
    path: &'a [Seg],
    at: usize,
    out: &'a Cell<Option<Probed>>,
}

impl<'a> Probe<'a> {
    fn stop<T>(self, found: Probed) -> Result<T, ProbeError> {
        if self.out.get().is_none() {
            self.out.set(Some(found));
        }
        Err(de::Error::custom("probe done"))
    }

    fn leaf<T>(self, kind: Kind) -> Result<T, ProbeError> {
        if self.at == self.path.len() {
            self.stop(Probed::Found(kind))
        } else {
            self.stop(Probed::NoSuchPath {
                at: self.at,
                found: kind,
            })
        }
    }

    fn child(self) -> Probe<'a> {
        Probe {
            at: self.at + 1,
            ..self
        }
    }

    fn seq<'de, V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        match self.path.get(self.at) {
            None => self.stop(Probed::Found(Kind::Array)),
            Some(Seg::Index(_)) => visitor.visit_seq(OneElement(Some(self.child()))),
            Some(Seg::Key(_)) => self.stop(Probed::NoSuchPath {
                at: self.at,
                found: Kind::Array,
            }),
        }
    }

    fn map<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        match self.path.get(self.at) {
            None => self.stop(Probed::Found(Kind::Table)),
            Some(Seg::Key(key)) => match fields {
                Some(fields) if !fields.contains(&key.as_str()) => self.stop(Probed::UnknownKey {
                    at: self.at,
                    expected: fields,
                }),
                _ => visitor.visit_map(OneEntry {
                    key: Some(key.as_str()),
                    value: Some(self.child()),
                }),
            },
            Some(Seg::Index(_)) => self.stop(Probed::NoSuchPath {
                at: self.at,
                found: Kind::Table,
            }),
        }
    }
}

macro_rules! probe_leaf {
    ($($method:ident => $kind:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, ProbeError> {
                self.leaf($kind)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Probe<'_> {
    type Error = ProbeError;

    probe_leaf! {
        deserialize_any => Kind::Any,
        deserialize_bool => Kind::Bool,
        deserialize_i8 => Kind::Integer,
        deserialize_i16 => Kind::Integer,
        deserialize_i32 => Kind::Integer,
        deserialize_i64 => Kind::Integer,
        deserialize_i128 => Kind::Integer,
        deserialize_u8 => Kind::Integer,
        deserialize_u16 => Kind::Integer,
        deserialize_u32 => Kind::Integer,
        deserialize_u64 => Kind::Integer,
        deserialize_u128 => Kind::Integer,
        deserialize_f32 => Kind::Float,
        deserialize_f64 => Kind::Float,
        deserialize_char => Kind::String,
        deserialize_str => Kind::String,
        deserialize_string => Kind::String,
        deserialize_identifier => Kind::String,
        deserialize_bytes => Kind::Any,
        deserialize_byte_buf => Kind::Any,
        deserialize_unit => Kind::Any,
        deserialize_ignored_any => Kind::Any,
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.leaf(Kind::Any)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.map(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        self.map(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, ProbeError> {
        // Configuration enums are written as their variant's name.
        self.leaf(Kind::String)
    }
}

/// A list whose only element is probed further.
struct OneElement<'a>(Option<Probe<'a>>);

impl<'de> SeqAccess<'de> for OneElement<'_> {
    type Error = ProbeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ProbeError> {
        match self.0.take() {
            Some(probe) => seed.deserialize(probe).map(Some),
            None => Ok(None),
        }
    }
}

/// A table whose only key is probed further.
struct OneEntry<'a> {
    key: Option<&'a str>,
    value: Option<Probe<'a>>,
}

impl<'de> MapAccess<'de> for OneEntry<'_> {
    type Error = ProbeError;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, ProbeError> {
        match self.key.take() {
            Some(key) => seed
                .deserialize(de::value::StrDeserializer::<ProbeError>::new(key))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, ProbeError> {
        match self.value.take() {
            Some(probe) => seed.deserialize(probe),
            None => Err(de::Error::custom("no value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde::Deserialize;
    use std::time::Duration;

    #[test]
    fn probe_reads_the_types() {
        let key = |s: &str| Seg::Key(s.to_owned());
        for (path, kind) in [
            (vec![key("server"), key("listen")], Kind::String),
            (vec![key("server"), key("tls")], Kind::Bool),
            (vec![key("server"), key("max_body_bytes")], Kind::Integer),
            (vec![key("server"), key("body_timeout")], Kind::String),
            (vec![key("server")], Kind::Table),
            (vec![key("sources"), key("allow")], Kind::Array),
            (
                vec![key("sources"), key("allow"), Seg::Index(3)],
                Kind::String,
            ),
            (
                vec![key("verify"), key("roots"), Seg::Index(0)],
                Kind::String,
            ),
            (vec![key("apps"), Seg::Index(0)], Kind::Table),
            (
                vec![key("apps"), Seg::Index(0), key("app_apple_id")],
                Kind::Integer,
            ),
        ] {
            assert_eq!(probe::<Config>(&path), Probed::Found(kind), "{path:?}");
        }
        assert_eq!(
            probe::<Config>(&[key("apps"), Seg::Index(0), key("nope")]),
            Probed::UnknownKey {
                at: 2,
                expected: &[
                    "bundle_id",
                    "app_apple_id",
                    "environments",
                    "v1_shared_secrets",
                    "api"
                ]
            }
        );
    }

    #[test]
    fn probe_follows_optional_nested_tables() {
        // The shape later sections will have ([admin], [apps.api]): optional tables inside lists.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Outer {
            admin: Option<Inner>,
            apps: Vec<App>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct App {
            api: Option<Inner>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            #[serde(with = "humantime_serde")]
            interval: Duration,
            secrets: Vec<String>,
        }
        let key = |s: &str| Seg::Key(s.to_owned());
        assert_eq!(
            probe::<Outer>(&[key("admin"), key("interval")]),
            Probed::Found(Kind::String)
        );
        assert_eq!(
            probe::<Outer>(&[key("apps"), Seg::Index(1), key("api"), key("secrets")]),
            Probed::Found(Kind::Array)
        );
        assert_eq!(
            probe::<Outer>(&[key("apps"), Seg::Index(1), key("api"), key("key")]),
            Probed::UnknownKey {
                at: 3,
                expected: &["interval", "secrets"]
            }
        );
    }
}
