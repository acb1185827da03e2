//! A story's state as the JSON Apple sends: the decoded transaction and renewal info, the
//! notification's container, and the signed request body.

use serde_json::{Map, Value, json};

use super::catalogue::{Kind, Notice};
use super::ids::Ids;
use super::products::{ADVANCED, Offer, PRO, SUBSCRIPTION_GROUP};
use super::story::Story;
use super::{DAY, PayloadError, Target};
use crate::apple::devchain::DevChain;

impl Story {
    /// `JWSTransactionDecodedPayload` of the current transaction.
    pub(super) fn transaction_json(&self, signed_date: i64) -> Option<Value> {
        let t = self.current()?;
        let t_env = &self.target.environment;
        let mut j = json!({
            "transactionId": t.id,
            "originalTransactionId": self.original_transaction_id,
            "bundleId": self.target.bundle_id,
            "productId": t.product.id,
            "purchaseDate": t.purchase,
            "originalPurchaseDate": self.original_purchase,
            "quantity": 1,
            "type": t.product.product_type,
            "appAccountToken": self.account_token,
            "inAppOwnershipType": self.ownership,
            "signedDate": signed_date,
            "environment": t_env,
            "transactionReason": t.reason,
            "storefront": self.storefront.code,
            "storefrontId": self.storefront.id,
            "price": t.price,
            "currency": self.storefront.currency,
            "appTransactionId": self.app_transaction_id,
        });
        let o = obj(&mut j);
        if let Some(w) = &t.web_order_line_item_id {
            o.insert("webOrderLineItemId".into(), json!(w));
            o.insert(
                "subscriptionGroupIdentifier".into(),
                json!(SUBSCRIPTION_GROUP),
            );
        }
        if let Some(e) = t.expires {
            o.insert("expiresDate".into(), json!(e));
        }
        if let Some(offer) = &t.offer {
            offer_fields(o, offer);
        }
        if let Some((date, reason, kind)) = t.revocation {
            o.insert("revocationDate".into(), json!(date));
            o.insert("revocationReason".into(), json!(reason));
            o.insert("revocationType".into(), json!(kind));
        }
        if t.upgraded {
            o.insert("isUpgraded".into(), json!(true));
        }
        if let Some(p) = &self.previous_original_transaction_id {
            o.insert("previousOriginalTransactionId".into(), json!(p));
        }
        if let Some(a) = &self.advanced {
            let tax_rate_permille = 80;
            let tax = t.price * tax_rate_permille / 1_000;
            o.insert(
                "advancedCommerceInfo".into(),
                json!({
                    "descriptors": {"description": a.description, "displayName": a.display_name},
                    "estimatedTax": tax,
                    "items": [{
                        "SKU": "NEWS_DAILY_MONTHLY",
                        "description": a.description,
                        "displayName": a.display_name,
                        "price": t.price,
                    }],
                    "period": "P1M",
                    "requestReferenceId": a.request_reference_id,
                    "taxCode": "C003-00-2",
                    "taxExclusivePrice": t.price,
                    "taxRate": "0.08",
                }),
            );
        }
        Some(j)
    }

    /// `JWSRenewalInfoDecodedPayload`; subscriptions only.
    pub(super) fn renewal_json(&self, signed_date: i64) -> Option<Value> {
        if !self.is_subscription() {
            return None;
        }
        let t = self.current()?;
        let mut j = json!({
            "originalTransactionId": self.original_transaction_id,
            "autoRenewProductId": self.auto_renew_product.id,
            "productId": t.product.id,
            "autoRenewStatus": i64::from(self.auto_renew),
            "isInBillingRetryPeriod": self.billing_retry,
            "signedDate": signed_date,
            "environment": self.target.environment,
            "recentSubscriptionStartDate": self.recent_start,
            "renewalDate": t.expires,
            "renewalPrice": self.renewal_price(),
            "currency": self.storefront.currency,
            "appAccountToken": self.account_token,
            "appTransactionId": self.app_transaction_id,
        });
        let o = obj(&mut j);
        if let Some(i) = self.expiration_intent {
            o.insert("expirationIntent".into(), json!(i));
        }
        if let Some(g) = self.grace_end {
            o.insert("gracePeriodExpiresDate".into(), json!(g));
        }
        if let Some(p) = self.price_increase_status {
            o.insert("priceIncreaseStatus".into(), json!(p));
        }
        if let Some(offer) = &self.renewal_offer {
            offer_fields(o, offer);
        }
        if self.win_back {
            o.insert(
                "eligibleWinBackOfferIds".into(),
                json!(["pro.winback.onemonthfree"]),
            );
        }
        if let Some(a) = &self.advanced {
            let mut item = json!({
                "SKU": "NEWS_DAILY_MONTHLY",
                "description": a.description,
                "displayName": a.display_name,
                "price": self.price(&ADVANCED),
            });
            if let Some(p) = a.new_price {
                obj(&mut item).insert(
                    "priceIncreaseInfo".into(),
                    json!({"dependentSKUs": [], "price": p, "status": "SCHEDULED"}),
                );
            }
            o.insert(
                "advancedCommerceInfo".into(),
                json!({
                    "consistencyToken": a.consistency_token,
                    "descriptors": {"description": a.description, "displayName": a.display_name},
                    "items": [item],
                    "period": "P1M",
                    "requestReferenceId": a.request_reference_id,
                    "taxCode": "C003-00-2",
                }),
            );
        }
        Some(j)
    }
}

fn obj(v: &mut Value) -> &mut Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => unreachable!("built as an object"),
    }
}

fn offer_fields(o: &mut Map<String, Value>, offer: &Offer) {
    o.insert("offerType".into(), json!(offer.offer_type));
    o.insert("offerIdentifier".into(), json!(offer.identifier));
    o.insert("offerDiscountType".into(), json!(offer.discount_type));
    o.insert("offerPeriod".into(), json!(offer.period));
}

/// What a V2 notification carries.
#[derive(Debug, Clone)]
pub(super) enum Container {
    Data {
        transaction: Option<Value>,
        renewal: Option<Value>,
        status: Option<i64>,
        consumption_request_reason: Option<&'static str>,
    },
    Summary(Value),
    ExternalPurchaseToken(Value),
    AppData {
        app_transaction: Value,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Content {
    V2(Container),
    /// The V1 body without its `password`.
    V1(Value),
}

/// One simulated notification, before signing.
#[derive(Debug, Clone)]
pub struct Event {
    pub notice: Notice,
    /// `notificationUUID` (V2); V1 bodies have none.
    pub uuid: String,
    /// The notification's `signedDate` (for V1: when it happened).
    pub signed_date: i64,
    /// `data.status`, for subscriptions.
    pub status: Option<i64>,
    pub original_transaction_id: Option<String>,
    pub transaction_id: Option<String>,
    pub(super) content: Content,
}

impl Event {
    /// The decoded V2 payload, its nested payloads signed with `chain` (`None` for V1).
    pub fn payload(&self, chain: &DevChain, target: &Target) -> Option<Value> {
        let Content::V2(container) = &self.content else {
            return None;
        };
        let mut n = json!({
            "notificationType": self.notice.notification_type(),
            "notificationUUID": self.uuid,
        });
        let o = obj(&mut n);
        if let Notice::V2(Kind {
            subtype: Some(s), ..
        }) = self.notice
        {
            o.insert("subtype".into(), json!(s));
        }
        let (name, value) = match container {
            Container::Data {
                transaction,
                renewal,
                status,
                consumption_request_reason,
            } => {
                let mut d = json!({
                    "appAppleId": target.app_apple_id,
                    "bundleId": target.bundle_id,
                });
                let m = obj(&mut d);
                // TEST carries only the app and the environment.
                if self.notice.notification_type() != "TEST" {
                    m.insert("bundleVersion".into(), json!(target.bundle_version));
                }
                m.insert("environment".into(), json!(target.environment));
                if let Some(t) = transaction {
                    m.insert("signedTransactionInfo".into(), json!(chain.sign(t)));
                }
                if let Some(r) = renewal {
                    m.insert("signedRenewalInfo".into(), json!(chain.sign(r)));
                }
                if let Some(s) = status {
                    m.insert("status".into(), json!(s));
                }
                if let Some(r) = consumption_request_reason {
                    m.insert("consumptionRequestReason".into(), json!(r));
                }
                ("data", d)
            }
            Container::Summary(s) => ("summary", s.clone()),
            Container::ExternalPurchaseToken(t) => ("externalPurchaseToken", t.clone()),
            Container::AppData { app_transaction } => (
                "appData",
                json!({
                    "appAppleId": target.app_apple_id,
                    "bundleId": target.bundle_id,
                    "environment": target.environment,
                    "signedAppTransactionInfo": chain.sign(app_transaction),
                }),
            ),
        };
        o.insert(name.into(), value);
        o.insert("version".into(), json!("2.0"));
        o.insert("signedDate".into(), json!(self.signed_date));
        Some(n)
    }

    /// The request body: `{"signedPayload": "..."}` signed with `chain` for V2, the V1 JSON with
    /// `password` for V1.
    pub fn body(
        &self,
        target: &Target,
        chain: Option<&DevChain>,
        v1_password: Option<&str>,
    ) -> Result<String, PayloadError> {
        match &self.content {
            Content::V2(_) => {
                let chain = chain.ok_or(PayloadError::NoChain)?;
                let payload = self.payload(chain, target).ok_or(PayloadError::NoChain)?;
                Ok(json!({"signedPayload": chain.sign(&payload)}).to_string())
            }
            Content::V1(body) => {
                let password = v1_password.ok_or(PayloadError::NoSecret)?;
                // `password` second, after `notification_type`, as Apple orders it.
                let mut ordered = Map::new();
                let fields = body.as_object().into_iter().flatten();
                for (key, value) in fields {
                    ordered.insert(key.clone(), value.clone());
                    if key == "notification_type" {
                        ordered.insert("password".into(), json!(password));
                    }
                }
                Ok(Value::Object(ordered).to_string())
            }
        }
    }

    pub fn is_v1(&self) -> bool {
        matches!(self.content, Content::V1(_))
    }
}

/// What a V2 notification of `kind` about `story` carries at `at`.
pub(super) fn container(
    target: &Target,
    ids: &mut Ids,
    story: &Story,
    kind: Kind,
    at: i64,
) -> Container {
    match (kind.notification_type, kind.subtype) {
        ("RENEWAL_EXTENSION", Some("SUMMARY")) => Container::Summary(json!({
            "environment": target.environment,
            "appAppleId": target.app_apple_id,
            "bundleId": target.bundle_id,
            "productId": PRO.id,
            "requestIdentifier": ids.uuid(),
            "storefrontCountryCodes": ["USA", "CAN", "GBR"],
            "succeededCount": 2_417,
            "failedCount": 3,
        })),
        ("EXTERNAL_PURCHASE_TOKEN", subtype) => {
            let id = if target.is_production() {
                ids.uuid()
            } else {
                format!("SANDBOX_{}", ids.uuid())
            };
            let created = at - 35 * DAY;
            let mut token = json!({
                "externalPurchaseId": id,
                "tokenCreationDate": if subtype == Some("CREATED") { at } else { created },
                "appAppleId": target.app_apple_id,
                "bundleId": target.bundle_id,
            });
            if subtype != Some("UNREPORTED") {
                let start = if subtype == Some("CREATED") {
                    at
                } else {
                    created
                };
                let o = obj(&mut token);
                o.insert("tokenExpirationDate".into(), json!(start + 365 * DAY));
                o.insert(
                    "tokenType".into(),
                    json!(if subtype == Some("CREATED") {
                        "ACQUISITION"
                    } else {
                        "SERVICES"
                    }),
                );
            }
            Container::ExternalPurchaseToken(token)
        }
        ("RESCIND_CONSENT", _) => {
            let nonce = ids.uuid();
            let verification =
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, ids.bytes(48));
            Container::AppData {
                app_transaction: json!({
                    "receiptType": target.environment,
                    "appAppleId": target.app_apple_id,
                    "bundleId": target.bundle_id,
                    "applicationVersion": target.bundle_version,
                    "versionExternalIdentifier": 873_452_137,
                    "receiptCreationDate": at,
                    "originalPurchaseDate": at - 200 * DAY,
                    "originalApplicationVersion": "1",
                    "deviceVerification": verification,
                    "deviceVerificationNonce": nonce,
                    "appTransactionId": story.app_transaction_id,
                    "originalPlatform": "iOS",
                }),
            }
        }
        _ => Container::Data {
            transaction: story.transaction_json(at),
            renewal: story.renewal_json(at),
            status: if story.is_subscription() {
                story.status
            } else {
                None
            },
            consumption_request_reason: story.consumption_reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::payloads::Generator;

    #[test]
    fn transaction_and_renewal_agree() {
        let mut g = Generator::seeded();
        for kind in Kind::all() {
            let event = g.single(kind, 1_800_000_000_000);
            let Content::V2(Container::Data {
                transaction: Some(t),
                renewal,
                status,
                ..
            }) = &event.content
            else {
                continue;
            };
            assert_eq!(t["environment"], "Sandbox", "{}", kind.label());
            assert_eq!(t["bundleId"], "com.example.app");
            assert_eq!(t["signedDate"], json!(event.signed_date));
            assert!(t["price"].as_i64().unwrap() > 0, "{}", kind.label());
            if let Some(r) = renewal {
                assert!(status.is_some(), "{}", kind.label());
                assert_eq!(r["originalTransactionId"], t["originalTransactionId"]);
                assert_eq!(r["productId"], t["productId"], "{}", kind.label());
                assert_eq!(r["renewalDate"], t["expiresDate"], "{}", kind.label());
                assert_eq!(r["currency"], t["currency"]);
                assert_eq!(r["environment"], t["environment"]);
                assert_eq!(r["appAccountToken"], t["appAccountToken"]);
                assert!(
                    t["purchaseDate"].as_i64() <= t["expiresDate"].as_i64(),
                    "{}",
                    kind.label()
                );
            } else {
                assert!(status.is_none(), "{}", kind.label());
                assert_ne!(t["type"], "Auto-Renewable Subscription");
            }
        }
    }
}
