//! Verifying App Store signed data: the JWS, its chain (cached), then the identity checks in
//! Apple's order (bundle and app id → INVALID_APP_IDENTIFIER, then environment →
//! INVALID_ENVIRONMENT), and for notifications every nested signed payload the same way.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use aws_lc_rs::signature::ParsedPublicKey;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::chain::{self, Window};
use super::error::VerifyError;
use super::jws;
use super::models::{
    AppTransaction, Environment, Identity, NotificationPayload, RenewalInfo, TransactionInfo,
};
use super::roots::RootSet;
use crate::time::now_ms;

/// Which instant certificates must be valid at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// The payload's own `signedDate` (`receiptCreationDate` for app transactions), or now when
    /// absent. Lets retried and backfilled notifications verify after Apple rotates its leaf.
    SignedDate,
    Now,
    /// A fixed instant, milliseconds since the epoch.
    Fixed(i64),
}

/// What one configured app accepts. `None` / empty means "do not check".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppRule {
    pub bundle_id: Option<String>,
    /// Compared only for Production data (Apple's rule); required for Production in `serve`.
    pub app_apple_id: Option<i64>,
    pub environments: Vec<Environment>,
}

/// The apps a verifier call accepts; the first rule whose bundle matches applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub apps: Vec<AppRule>,
    /// Nested payloads must carry the notification's environment (on by default). Apple's
    /// libraries do not look inside a notification at all, and their own test data nests a
    /// Sandbox transaction in a Production notification; `asnd verify` turns this off to give
    /// Apple's verdict, `serve` keeps it on so one environment's data never lands as the other's.
    pub nested_environment_must_match: bool,
}

impl Policy {
    /// Accepts any app and environment that verifies (still never Xcode or LocalTesting).
    pub fn any() -> Self {
        Policy::single(AppRule::default())
    }

    pub fn single(rule: AppRule) -> Self {
        Policy::new(vec![rule])
    }

    pub fn new(apps: Vec<AppRule>) -> Self {
        Policy {
            apps,
            nested_environment_must_match: true,
        }
    }
}

/// A verified payload: the typed model, the full JSON (every field kept) and the root it chains to.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    pub value: T,
    pub json: Map<String, Value>,
    /// `apple-root-ca-g3` or `sha256:<fingerprint>` of the root that anchored the chain.
    pub verified_by: String,
}

/// A verified notification with its nested signed payloads, each verified too.
#[derive(Debug, Clone)]
pub struct VerifiedNotification {
    pub notification: Verified<NotificationPayload>,
    pub transaction: Option<Verified<TransactionInfo>>,
    pub renewal: Option<Verified<RenewalInfo>>,
    pub app_transaction: Option<Verified<AppTransaction>>,
    /// Index into [`Policy::apps`] of the rule that accepted it.
    pub app_index: usize,
}

impl VerifiedNotification {
    /// The notification as JSON with each nested payload decoded beside its signed field
    /// (`transactionInfo`, `renewalInfo`, `appTransactionInfo` in the same container).
    pub fn decoded_json(&self) -> Value {
        self.json_with(true)
    }

    /// As [`Self::decoded_json`], without the nested JWS texts: what is stored as `payload`.
    /// The texts (mostly certificate chains) stay byte for byte in the stored raw body, and
    /// storing them twice made every row three times larger.
    pub fn stored_json(&self) -> Value {
        self.json_with(false)
    }

    fn json_with(&self, keep_signed: bool) -> Value {
        let mut root = self.notification.json.clone();
        for container in ["data", "appData"] {
            if let Some(Value::Object(c)) = root.get_mut(container) {
                let nested = [
                    (
                        "signedTransactionInfo",
                        "transactionInfo",
                        self.transaction.as_ref().map(|t| &t.json),
                    ),
                    (
                        "signedRenewalInfo",
                        "renewalInfo",
                        self.renewal.as_ref().map(|r| &r.json),
                    ),
                    (
                        "signedAppTransactionInfo",
                        "appTransactionInfo",
                        self.app_transaction.as_ref().map(|a| &a.json),
                    ),
                ];
                for (signed, decoded, json) in nested {
                    if let Some(json) = json {
                        c.insert(decoded.into(), Value::Object(json.clone()));
                        if !keep_signed {
                            c.remove(signed);
                        }
                    }
                }
            }
        }
        Value::Object(root)
    }
}

/// What a payload signed on its own (inside a notification, or from the API) says about where
/// it belongs, for the identity checks.
pub trait SignedPayload: DeserializeOwned {
    const KIND: Kind;
    /// The field whose date the chain must have been valid at (Apple's libraries' choice).
    const DATE_FIELD: &'static str;
    fn identity(&self) -> Identity;
}

impl SignedPayload for TransactionInfo {
    const KIND: Kind = Kind::Transaction;
    const DATE_FIELD: &'static str = "signedDate";
    fn identity(&self) -> Identity {
        Identity {
            bundle_id: self.bundle_id.clone(),
            app_apple_id: None,
            environment: self.environment.clone(),
        }
    }
}

impl SignedPayload for RenewalInfo {
    const KIND: Kind = Kind::RenewalInfo;
    const DATE_FIELD: &'static str = "signedDate";
    fn identity(&self) -> Identity {
        Identity {
            bundle_id: None,
            app_apple_id: None,
            environment: self.environment.clone(),
        }
    }
}

impl SignedPayload for AppTransaction {
    const KIND: Kind = Kind::AppTransaction;
    const DATE_FIELD: &'static str = "receiptCreationDate";
    fn identity(&self) -> Identity {
        Identity {
            bundle_id: self.bundle_id.clone(),
            app_apple_id: self.app_apple_id,
            environment: self.receipt_type.clone(),
        }
    }
}

/// Which of Apple's signed payloads a token holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Notification,
    Transaction,
    RenewalInfo,
    AppTransaction,
}

struct CachedChain {
    leaf_key: ParsedPublicKey,
    root_index: usize,
    window: Window,
}

/// Verified chains, keyed by the exact text of all three `x5c` entries (the third is checked to be
/// a certificate, so it is part of what was verified). The roots are fixed per
/// verifier, so the key also determines the root. Bounded; oldest entries leave first.
struct ChainCache {
    capacity: usize,
    inner: Mutex<CacheEntries>,
}

/// The entries and their insertion order (for eviction).
type CacheEntries = (HashMap<[u8; 32], Arc<CachedChain>>, VecDeque<[u8; 32]>);

impl ChainCache {
    fn key(x5c: &[String]) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        for cert in x5c.iter().take(3) {
            ctx.update(&(cert.len() as u64).to_be_bytes());
            ctx.update(cert.as_bytes());
        }
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        key
    }

    fn get(&self, key: &[u8; 32]) -> Option<Arc<CachedChain>> {
        let guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.get(key).cloned()
    }

    fn put(&self, key: [u8; 32], value: Arc<CachedChain>) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *guard;
        if map.insert(key, value).is_none() {
            order.push_back(key);
        }
        while map.len() > self.capacity {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
    }

    fn clear(&self) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        guard.0.clear();
        guard.1.clear();
    }

    fn len(&self) -> usize {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).0.len()
    }
}

/// Verifies App Store signed data against a fixed set of roots. Cheap to share across threads.
pub struct Verifier {
    roots: RootSet,
    cache: ChainCache,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("roots", &self.roots)
            .finish()
    }
}

/// Chains in flight at once are few (Apple rotates leaves every ~2 years); 256 is generous.
const CACHE_CAPACITY: usize = 256;

impl Verifier {
    pub fn new(roots: RootSet) -> Self {
        Verifier {
            roots,
            cache: ChainCache {
                capacity: CACHE_CAPACITY,
                inner: Mutex::new((HashMap::new(), VecDeque::new())),
            },
        }
    }

    /// Trusts only the built-in Apple Root CA - G3.
    pub fn apple() -> Self {
        Verifier::new(RootSet::apple())
    }

    pub fn roots(&self) -> &RootSet {
        &self.roots
    }

    /// Forgets verified chains (benchmarks measure the cold path with it).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    pub fn cached_chains(&self) -> usize {
        self.cache.len()
    }

    pub fn verify_notification(
        &self,
        token: &str,
        policy: &Policy,
        at: At,
    ) -> Result<VerifiedNotification, VerifyError> {
        let notification: Verified<NotificationPayload> =
            self.verify_signed(token, "signedDate", at)?;
        let identity = notification.value.identity();
        let app_index = check_identity(policy, &identity, Kind::Notification)?;

        // Nested payloads must belong to the same app and environment as the notification.
        let nested = Policy::single(AppRule {
            bundle_id: identity.bundle_id.clone(),
            app_apple_id: identity.app_apple_id,
            environments: match &identity.environment {
                Some(env) if policy.nested_environment_must_match => vec![env.clone()],
                _ => Vec::new(),
            },
        });
        let container = notification.value.data.as_ref().map(|d| {
            (
                d.signed_transaction_info.as_deref(),
                d.signed_renewal_info.as_deref(),
            )
        });
        let (signed_txn, signed_renewal) = container.unwrap_or((None, None));
        let nest = |field: &'static str| {
            move |e: VerifyError| VerifyError::Nested {
                field,
                source: Box::new(e),
            }
        };
        let transaction = signed_txn
            .map(|t| self.verify_payload(t, &nested, at))
            .transpose()
            .map_err(nest("data.signedTransactionInfo"))?;
        let renewal = signed_renewal
            .map(|t| self.verify_payload(t, &nested, at))
            .transpose()
            .map_err(nest("data.signedRenewalInfo"))?;
        let app_transaction = notification
            .value
            .app_data
            .as_ref()
            .and_then(|a| a.signed_app_transaction_info.as_deref())
            .map(|t| self.verify_payload(t, &nested, at))
            .transpose()
            .map_err(nest("appData.signedAppTransactionInfo"))?;
        Ok(VerifiedNotification {
            notification,
            transaction,
            renewal,
            app_transaction,
            app_index,
        })
    }

    /// A payload signed on its own (a transaction, renewal info or app transaction, as a
    /// notification nests them or the API returns them); then the app and environment it names
    /// are checked against `policy`.
    pub fn verify_payload<T: SignedPayload>(
        &self,
        token: &str,
        policy: &Policy,
        at: At,
    ) -> Result<Verified<T>, VerifyError> {
        let v: Verified<T> = self.verify_signed(token, T::DATE_FIELD, at)?;
        check_identity(policy, &v.value.identity(), T::KIND)?;
        Ok(v)
    }

    /// JWS shape, chain at the effective date, ES256 signature, then the typed model.
    fn verify_signed<T: DeserializeOwned>(
        &self,
        token: &str,
        date_field: &str,
        at: At,
    ) -> Result<Verified<T>, VerifyError> {
        let parsed = jws::parse(token)?;
        let at_ms = match at {
            At::Now => now_ms(),
            At::Fixed(ms) => ms,
            At::SignedDate => match parsed.payload.get(date_field) {
                None | Some(Value::Null) => now_ms(),
                Some(v) => v.as_i64().ok_or_else(|| {
                    VerifyError::Payload(format!("{date_field} is not an integer of milliseconds"))
                })?,
            },
        };
        if parsed.x5c.len() != 3 {
            return Err(VerifyError::ChainLength {
                found: parsed.x5c.len(),
            });
        }
        let key = ChainCache::key(&parsed.x5c);
        let chain = match self.cache.get(&key) {
            Some(hit) if hit.window.contains(at_ms) => hit,
            _ => {
                let fresh = chain::verify_chain(&parsed.x5c, &self.roots, at_ms)?;
                let entry = Arc::new(CachedChain {
                    leaf_key: fresh.leaf_key,
                    root_index: fresh.root_index,
                    window: fresh.window,
                });
                self.cache.put(key, entry.clone());
                entry
            }
        };
        if parsed.signature.len() != 64 {
            return Err(VerifyError::Signature(format!(
                "ES256 needs a raw 64-byte r||s signature, got {} bytes (DER is not accepted)",
                parsed.signature.len()
            )));
        }
        chain
            .leaf_key
            .verify_sig(parsed.signing_input, &parsed.signature)
            .map_err(|_| {
                VerifyError::Signature("ES256 signature does not match the leaf key".into())
            })?;
        let value = typed(&parsed.payload)?;
        Ok(Verified {
            value,
            json: parsed.payload,
            verified_by: self.roots.anchors()[chain.root_index].label(),
        })
    }
}

fn env_name(env: &Option<Environment>) -> String {
    env.as_ref()
        .map_or("(none)".into(), |e| e.as_str().to_string())
}

/// Apple's identity checks: bundle, then app id (Production only), then environment. Returns the
/// index of the accepting rule.
fn check_identity(policy: &Policy, id: &Identity, kind: Kind) -> Result<usize, VerifyError> {
    let candidates: Vec<usize> = match kind {
        // Renewal info carries no bundle id: any configured app may accept it.
        Kind::RenewalInfo => (0..policy.apps.len()).collect(),
        _ => (0..policy.apps.len())
            .filter(|&i| match &policy.apps[i].bundle_id {
                None => true,
                Some(b) => id.bundle_id.as_deref() == Some(b.as_str()),
            })
            .collect(),
    };
    let Some(&first) = candidates.first() else {
        let expected: Vec<&str> = policy
            .apps
            .iter()
            .filter_map(|a| a.bundle_id.as_deref())
            .collect();
        return Err(VerifyError::AppIdentifier(format!(
            "bundleId {:?} is not a configured app ({})",
            id.bundle_id.as_deref().unwrap_or("(none)"),
            expected.join(", ")
        )));
    };
    let rule = &policy.apps[first];

    if matches!(kind, Kind::Notification | Kind::AppTransaction)
        && let Some(expected) = rule.app_apple_id
    {
        let production_only = rule.environments == [Environment::Production];
        let says_production = id.environment == Some(Environment::Production);
        if (production_only || says_production) && id.app_apple_id != Some(expected) {
            return Err(VerifyError::AppIdentifier(format!(
                "appAppleId {} is not {expected}",
                id.app_apple_id.map_or("(none)".into(), |v| v.to_string())
            )));
        }
    }

    let accepted = |rule: &AppRule| {
        rule.environments.is_empty()
            || id
                .environment
                .as_ref()
                .is_some_and(|e| rule.environments.contains(e))
    };
    let index = candidates
        .iter()
        .copied()
        .find(|&i| accepted(&policy.apps[i]))
        .ok_or_else(|| {
            let wanted: Vec<&str> = rule.environments.iter().map(|e| e.as_str()).collect();
            VerifyError::Environment(format!(
                "environment {} is not {}",
                env_name(&id.environment),
                wanted.join(" or ")
            ))
        })?;
    // Apple's libraries skip every check for Xcode and LocalTesting data; asnd never trusts it.
    if matches!(
        id.environment,
        Some(Environment::Xcode) | Some(Environment::LocalTesting)
    ) {
        return Err(VerifyError::Environment(format!(
            "data from the {} environment is never accepted",
            env_name(&id.environment)
        )));
    }
    Ok(index)
}

/// The typed model of a verified payload, from a borrow of its JSON (kept whole beside it). A
/// number no 64-bit integer holds (beyond 64 bits, or with a fraction) reads as absent: Apple's
/// libraries read such a number as a big integer or a float and accept the payload, and the JSON
/// keeps it. Any other mismatch refuses the payload.
fn typed<T: DeserializeOwned>(json: &Map<String, Value>) -> Result<T, VerifyError> {
    T::deserialize(json).or_else(|error| {
        let mut narrowed = json.clone();
        if !null_wide_numbers(&mut narrowed) {
            return Err(VerifyError::Payload(error.to_string()));
        }
        T::deserialize(&narrowed).map_err(|e| VerifyError::Payload(e.to_string()))
    })
}

/// Replaces every number that is not an `i64` with null; whether there was one.
fn null_wide_numbers(map: &mut Map<String, Value>) -> bool {
    fn walk(value: &mut Value) -> bool {
        match value {
            Value::Number(n) if n.as_i64().is_none() => {
                *value = Value::Null;
                true
            }
            Value::Array(items) => items.iter_mut().map(walk).fold(false, |a, b| a | b),
            Value::Object(map) => null_wide_numbers(map),
            _ => false,
        }
    }
    map.values_mut().map(walk).fold(false, |a, b| a | b)
}
