//! What can be simulated: every V2 notification type with its subtypes ([`CATALOG`]), the
//! scenarios, and the V1 types.

use super::PayloadError;

/// Every V2 notification type and its subtypes (`None`: the type without a subtype).
pub const CATALOG: &[(&str, &[Option<&str>])] = &[
    ("CONSUMPTION_REQUEST", &[None]),
    (
        "DID_CHANGE_RENEWAL_PREF",
        &[Some("UPGRADE"), Some("DOWNGRADE"), None],
    ),
    (
        "DID_CHANGE_RENEWAL_STATUS",
        &[Some("AUTO_RENEW_ENABLED"), Some("AUTO_RENEW_DISABLED")],
    ),
    ("DID_FAIL_TO_RENEW", &[Some("GRACE_PERIOD"), None]),
    ("DID_RENEW", &[Some("BILLING_RECOVERY"), None]),
    (
        "EXPIRED",
        &[
            Some("VOLUNTARY"),
            Some("BILLING_RETRY"),
            Some("PRICE_INCREASE"),
            Some("PRODUCT_NOT_FOR_SALE"),
            None,
        ],
    ),
    (
        "EXTERNAL_PURCHASE_TOKEN",
        &[
            Some("UNREPORTED"),
            Some("ACTIVE_TOKEN_REMINDER"),
            Some("CREATED"),
        ],
    ),
    ("GRACE_PERIOD_EXPIRED", &[None]),
    ("METADATA_UPDATE", &[None]),
    ("MIGRATION", &[None]),
    (
        "OFFER_REDEEMED",
        &[Some("UPGRADE"), Some("DOWNGRADE"), None],
    ),
    ("ONE_TIME_CHARGE", &[None]),
    ("PRICE_CHANGE", &[None]),
    ("PRICE_INCREASE", &[Some("PENDING"), Some("ACCEPTED")]),
    ("REFUND", &[None]),
    ("REFUND_DECLINED", &[None]),
    ("REFUND_REVERSED", &[None]),
    ("RENEWAL_EXTENDED", &[None]),
    ("RENEWAL_EXTENSION", &[Some("SUMMARY"), Some("FAILURE")]),
    ("RESCIND_CONSENT", &[None]),
    ("REVOKE", &[None]),
    ("SUBSCRIBED", &[Some("INITIAL_BUY"), Some("RESUBSCRIBE")]),
    ("TEST", &[None]),
];

/// A V2 notification type with its subtype, as in [`CATALOG`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kind {
    pub notification_type: &'static str,
    pub subtype: Option<&'static str>,
}

impl Kind {
    /// Reads `--type` and `--subtype` (case-insensitive). Without a subtype, a type whose every
    /// form has one is an error naming them.
    pub fn parse(notification_type: &str, subtype: Option<&str>) -> Result<Kind, PayloadError> {
        let wanted = notification_type.trim().to_ascii_uppercase();
        let Some(&(name, subtypes)) = CATALOG.iter().find(|(t, _)| *t == wanted) else {
            return Err(PayloadError::UnknownType {
                given: notification_type.into(),
                known: CATALOG
                    .iter()
                    .map(|(t, _)| *t)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let allowed = || {
            subtypes
                .iter()
                .map(|s| s.unwrap_or("no subtype"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let subtype = match subtype.map(|s| s.trim().to_ascii_uppercase()) {
            None if subtypes.contains(&None) => None,
            None => {
                return Err(PayloadError::SubtypeRequired {
                    notification_type: name.into(),
                    allowed: allowed(),
                });
            }
            Some(s) => match subtypes.iter().flatten().find(|known| **known == s) {
                Some(known) => Some(*known),
                None => {
                    return Err(PayloadError::UnknownSubtype {
                        notification_type: name.into(),
                        given: s,
                        allowed: allowed(),
                    });
                }
            },
        };
        Ok(Kind {
            notification_type: name,
            subtype,
        })
    }

    /// Every type and subtype, in [`CATALOG`] order.
    pub fn all() -> Vec<Kind> {
        CATALOG
            .iter()
            .flat_map(|(t, subs)| {
                subs.iter().map(|s| Kind {
                    notification_type: t,
                    subtype: *s,
                })
            })
            .collect()
    }

    pub(super) const fn of(notification_type: &'static str, subtype: Option<&'static str>) -> Kind {
        Kind {
            notification_type,
            subtype,
        }
    }

    /// `TYPE` or `TYPE/SUBTYPE`.
    pub fn label(&self) -> String {
        match self.subtype {
            Some(s) => format!("{}/{s}", self.notification_type),
            None => self.notification_type.to_string(),
        }
    }
}

/// What one simulated notification announces: a V2 type or a V1 `notification_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    V2(Kind),
    V1(&'static str),
}

impl Notice {
    pub fn label(&self) -> String {
        match self {
            Notice::V2(k) => k.label(),
            Notice::V1(t) => format!("V1 {t}"),
        }
    }

    /// The type alone (`notification_type` as stored).
    pub fn notification_type(&self) -> &'static str {
        match self {
            Notice::V2(k) => k.notification_type,
            Notice::V1(t) => t,
        }
    }
}

/// Ordered stories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// SUBSCRIBED/INITIAL_BUY, DID_RENEW ×3, DID_CHANGE_RENEWAL_STATUS/AUTO_RENEW_DISABLED,
    /// EXPIRED/VOLUNTARY: ends expired (2), auto-renew off.
    Lifecycle,
    /// DID_FAIL_TO_RENEW/GRACE_PERIOD, GRACE_PERIOD_EXPIRED, DID_RENEW/BILLING_RECOVERY: ends active.
    Billing,
    /// ONE_TIME_CHARGE, REFUND, REFUND_REVERSED of a non-consumable.
    Refund,
    /// SUBSCRIBED/INITIAL_BUY of a family-shared subscription, then REVOKE: ends revoked (5).
    Family,
    /// One notification of every type and subtype, each for its own customer.
    AllTypes,
}

impl Scenario {
    pub const ALL: [Scenario; 5] = [
        Scenario::Lifecycle,
        Scenario::Billing,
        Scenario::Refund,
        Scenario::Family,
        Scenario::AllTypes,
    ];

    pub fn name(&self) -> &'static str {
        match self {
            Scenario::Lifecycle => "lifecycle",
            Scenario::Billing => "billing",
            Scenario::Refund => "refund",
            Scenario::Family => "family",
            Scenario::AllTypes => "all-types",
        }
    }

    pub fn parse(name: &str) -> Result<Scenario, PayloadError> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| PayloadError::UnknownScenario {
                given: name.into(),
                known: Scenario::ALL.map(|s| s.name()).join(", "),
            })
    }
}

/// V1 `notification_type` values asnd can simulate (`RENEWAL` is dead since 2021).
pub const V1_TYPES: &[&str] = &[
    "CANCEL",
    "CONSUMPTION_REQUEST",
    "DID_CHANGE_RENEWAL_PREF",
    "DID_CHANGE_RENEWAL_STATUS",
    "DID_FAIL_TO_RENEW",
    "DID_RECOVER",
    "DID_RENEW",
    "INITIAL_BUY",
    "INTERACTIVE_RENEWAL",
    "PRICE_INCREASE_CONSENT",
    "REFUND",
    "REVOKE",
];

/// Reads a V1 `--type` (case-insensitive).
pub fn parse_v1_type(name: &str) -> Result<&'static str, PayloadError> {
    let wanted = name.trim().to_ascii_uppercase();
    V1_TYPES
        .iter()
        .find(|t| **t == wanted)
        .copied()
        .ok_or_else(|| PayloadError::UnknownType {
            given: name.into(),
            known: V1_TYPES.join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apple::models::NotificationType;

    #[test]
    fn parses_types_and_subtypes() {
        assert_eq!(
            Kind::parse("expired", Some("voluntary")).unwrap().label(),
            "EXPIRED/VOLUNTARY"
        );
        assert_eq!(Kind::parse("EXPIRED", None).unwrap().label(), "EXPIRED");
        let err = Kind::parse("SUBSCRIBED", None).unwrap_err().to_string();
        assert_eq!(err, "SUBSCRIBED needs --subtype: INITIAL_BUY, RESUBSCRIBE");
        let err = Kind::parse("REFUND", Some("FULL")).unwrap_err().to_string();
        assert!(err.starts_with("REFUND has no subtype \"FULL\""), "{err}");
        let err = Kind::parse("REFUNDED", None).unwrap_err().to_string();
        assert!(
            err.starts_with("unknown notification type \"REFUNDED\""),
            "{err}"
        );
        assert_eq!(Kind::all().len(), 39);
        assert!(Scenario::parse("nope").is_err());
        assert_eq!(Scenario::parse("All-Types").unwrap(), Scenario::AllTypes);
    }

    #[test]
    fn every_known_notification_type_is_in_the_catalogue() {
        for known in NotificationType::KNOWN {
            // MIGRATE is the changelog's spelling of MIGRATION, which the catalogue sends.
            let wire = match known {
                NotificationType::Migrate => NotificationType::Migration.as_str(),
                other => other.as_str(),
            };
            assert!(
                CATALOG.iter().any(|(t, _)| *t == wire),
                "{known} is missing from the catalogue"
            );
        }
        for (t, _) in CATALOG {
            assert!(
                NotificationType::from(*t).is_known(),
                "{t} is not a known type"
            );
        }
    }
}
