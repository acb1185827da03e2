//! Configuration choices spelled as one of a few words (`log.format`, `sources.forwarded_header`,
//! an app's `environments`): one definition of how such a word is read, written and refused.

/// Implements, for an enum of choices and the word of each: `ALL`, `as_str`, and the conversions
/// serde reads and writes it through (`#[serde(try_from = "String", into = "&'static str")]`).
/// A word that is not one of them is refused with a message that lists them.
macro_rules! word_choice {
    ($ty:ident, $what:literal, ignore_case: $ignore_case:literal, {
        $($variant:ident => $word:literal),+ $(,)?
    }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The word the configuration spells it with.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = String;

            fn try_from(name: String) -> Result<Self, String> {
                $ty::ALL
                    .iter()
                    .copied()
                    .find(|choice| {
                        choice.as_str() == name
                            || ($ignore_case && choice.as_str().eq_ignore_ascii_case(&name))
                    })
                    .ok_or_else(|| {
                        let words: Vec<String> = [$($word),+].iter().map(|w| format!("{w:?}")).collect();
                        format!("{name:?} is not {}; use {}", $what, words.join(" or "))
                    })
            }
        }

        impl From<$ty> for &'static str {
            fn from(choice: $ty) -> Self {
                choice.as_str()
            }
        }
    };
}

pub(super) use word_choice;
