//! The macro that declares open enums: a value this version does not know decodes to
//! `Unknown(raw)` and is encoded back unchanged.

/// Declares an open enum whose wire form is a JSON string (`enum Name: String`) or a JSON integer
/// (`enum Name: i64`).
///
/// Each known variant is given with its exact wire value (`Variant => "WIRE"` or `Variant => 1`);
/// the macro adds an `Unknown(String)` or `Unknown(i64)` variant that keeps any other value.
/// Generated: `is_known`, `KNOWN`, `KNOWN_WIRE_VALUES`, `Display`, `Serialize`, `Deserialize`,
/// and for strings `as_str`, `From<&str>` and `From<String>`, for integers `value`, `From<i64>`
/// and `Copy`. A JSON value of the other kind (or an integer that does not fit in `i64`) is a
/// decoding error.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $raw:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* #[doc = concat!("Wire value `", $wire, "`.")] $variant, )+
            /// A value this version does not know; the raw wire value is kept unchanged.
            Unknown($raw),
        }

        impl $name {
            /// The known variants, in declaration order (that of `KNOWN_WIRE_VALUES`).
            pub const KNOWN: &'static [Self] = &[$(Self::$variant),+];

            /// `false` only for `Unknown(_)`.
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        $crate::apple::models::open_enum::open_enum!(@$raw $name { $($variant => $wire),+ });
    };

    (@String $name:ident { $($variant:ident => $wire:literal),+ }) => {
        impl $name {
            /// The wire values of the known variants, in declaration order.
            pub const KNOWN_WIRE_VALUES: &'static [&'static str] = &[$($wire),+];

            /// The exact wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(raw) => raw.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                match raw {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                match raw.as_str() {
                    $( $wire => Self::$variant, )+
                    _ => Self::Unknown(raw),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::apple::models::open_enum::wire_serde!($name, "a string", serialize_str(as_str), deserialize_str {
            fn visit_str<E: ::serde::de::Error>(self, raw: &str) -> Result<$name, E> {
                Ok($name::from(raw))
            }

            fn visit_string<E: ::serde::de::Error>(self, raw: String) -> Result<$name, E> {
                Ok($name::from(raw))
            }
        });
    };

    (@i64 $name:ident { $($variant:ident => $wire:literal),+ }) => {
        impl Copy for $name {}

        impl $name {
            /// The wire values of the known variants, in declaration order.
            pub const KNOWN_WIRE_VALUES: &'static [i64] = &[$($wire),+];

            /// The exact wire value.
            pub fn value(&self) -> i64 {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(raw) => *raw,
                }
            }
        }

        impl From<i64> for $name {
            fn from(raw: i64) -> Self {
                match raw {
                    $( $wire => Self::$variant, )+
                    other => Self::Unknown(other),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}", self.value())
            }
        }

        $crate::apple::models::open_enum::wire_serde!($name, "an integer", serialize_i64(value), deserialize_i64 {
            fn visit_i64<E: ::serde::de::Error>(self, raw: i64) -> Result<$name, E> {
                Ok($name::from(raw))
            }

            fn visit_u64<E: ::serde::de::Error>(self, raw: u64) -> Result<$name, E> {
                i64::try_from(raw).map($name::from).map_err(|_| {
                    E::invalid_value(::serde::de::Unexpected::Unsigned(raw), &self)
                })
            }
        });
    };
}

/// The `Serialize` and `Deserialize` impls of both kinds: the value is written with
/// `serializer.$ser(self.$wire())` and read with `deserializer.$de` and the visitor methods given.
macro_rules! wire_serde {
    ($name:ident, $what:literal, $ser:ident($wire:ident), $de:ident { $($visit:item)+ }) => {
        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.$ser(self.$wire())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct WireVisitor;

                impl ::serde::de::Visitor<'_> for WireVisitor {
                    type Value = $name;

                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str(concat!($what, " (", stringify!($name), ")"))
                    }

                    $($visit)+
                }

                deserializer.$de(WireVisitor)
            }
        }
    };
}

pub(super) use {open_enum, wire_serde};
