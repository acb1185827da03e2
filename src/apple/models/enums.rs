//! The open enums of Apple's payloads, as Apple's data-type pages list them: each known value with
//! its exact wire form.

use super::open_enum::open_enum;

open_enum! {
    /// `environment`; also `receiptType` of an app transaction.
    pub enum Environment: String {
        Sandbox => "Sandbox",
        Production => "Production",
        /// StoreKit Testing in Xcode (test data only).
        Xcode => "Xcode",
        /// Local testing (test data only).
        LocalTesting => "LocalTesting",
    }
}

open_enum! {
    /// `notificationType` of a V2 notification.
    pub enum NotificationType: String {
        ConsumptionRequest => "CONSUMPTION_REQUEST",
        DidChangeRenewalPref => "DID_CHANGE_RENEWAL_PREF",
        DidChangeRenewalStatus => "DID_CHANGE_RENEWAL_STATUS",
        DidFailToRenew => "DID_FAIL_TO_RENEW",
        DidRenew => "DID_RENEW",
        Expired => "EXPIRED",
        ExternalPurchaseToken => "EXTERNAL_PURCHASE_TOKEN",
        GracePeriodExpired => "GRACE_PERIOD_EXPIRED",
        /// Advanced Commerce API.
        MetadataUpdate => "METADATA_UPDATE",
        /// Advanced Commerce API (spelling of the reference page and the libraries).
        Migration => "MIGRATION",
        /// Advanced Commerce API (spelling of Apple's changelog); same meaning as `Migration`.
        Migrate => "MIGRATE",
        OfferRedeemed => "OFFER_REDEEMED",
        OneTimeCharge => "ONE_TIME_CHARGE",
        /// Advanced Commerce API.
        PriceChange => "PRICE_CHANGE",
        PriceIncrease => "PRICE_INCREASE",
        Refund => "REFUND",
        RefundDeclined => "REFUND_DECLINED",
        RefundReversed => "REFUND_REVERSED",
        RenewalExtended => "RENEWAL_EXTENDED",
        RenewalExtension => "RENEWAL_EXTENSION",
        RescindConsent => "RESCIND_CONSENT",
        Revoke => "REVOKE",
        Subscribed => "SUBSCRIBED",
        Test => "TEST",
    }
}

open_enum! {
    /// `subtype` of a V2 notification.
    pub enum Subtype: String {
        InitialBuy => "INITIAL_BUY",
        Resubscribe => "RESUBSCRIBE",
        Downgrade => "DOWNGRADE",
        Upgrade => "UPGRADE",
        AutoRenewEnabled => "AUTO_RENEW_ENABLED",
        AutoRenewDisabled => "AUTO_RENEW_DISABLED",
        Voluntary => "VOLUNTARY",
        BillingRetry => "BILLING_RETRY",
        PriceIncrease => "PRICE_INCREASE",
        ProductNotForSale => "PRODUCT_NOT_FOR_SALE",
        GracePeriod => "GRACE_PERIOD",
        BillingRecovery => "BILLING_RECOVERY",
        Pending => "PENDING",
        Accepted => "ACCEPTED",
        Summary => "SUMMARY",
        Failure => "FAILURE",
        Unreported => "UNREPORTED",
        ActiveTokenReminder => "ACTIVE_TOKEN_REMINDER",
        Created => "CREATED",
    }
}

open_enum! {
    /// `data.status`: subscription status.
    pub enum Status: i64 {
        Active => 1,
        Expired => 2,
        BillingRetry => 3,
        BillingGracePeriod => 4,
        Revoked => 5,
    }
}

open_enum! {
    /// Transaction `type`: product type.
    pub enum ProductType: String {
        AutoRenewableSubscription => "Auto-Renewable Subscription",
        NonConsumable => "Non-Consumable",
        Consumable => "Consumable",
        NonRenewingSubscription => "Non-Renewing Subscription",
    }
}

open_enum! {
    /// `inAppOwnershipType`.
    pub enum InAppOwnershipType: String {
        Purchased => "PURCHASED",
        FamilyShared => "FAMILY_SHARED",
        /// Access through an organization/group purchase (newer docs; date unconfirmed).
        Assigned => "ASSIGNED",
    }
}

open_enum! {
    /// `transactionReason`.
    pub enum TransactionReason: String {
        Purchase => "PURCHASE",
        Renewal => "RENEWAL",
    }
}

open_enum! {
    /// `revocationReason`.
    pub enum RevocationReason: i64 {
        /// Refunded for another reason, e.g. an accidental purchase.
        RefundedForOtherReason => 0,
        /// Refunded because of an actual or perceived issue within the app.
        RefundedDueToIssue => 1,
    }
}

open_enum! {
    /// `revocationType`.
    pub enum RevocationType: String {
        RefundFull => "REFUND_FULL",
        /// See `revocationPercentage`.
        RefundProrated => "REFUND_PRORATED",
        FamilyRevoke => "FAMILY_REVOKE",
        /// The organization/group purchaser removed the subscription (newer docs; unconfirmed).
        AssignmentRevoke => "ASSIGNMENT_REVOKE",
    }
}

open_enum! {
    /// `offerType`.
    pub enum OfferType: i64 {
        IntroductoryOffer => 1,
        PromotionalOffer => 2,
        OfferCode => 3,
        WinBackOffer => 4,
    }
}

open_enum! {
    /// `offerDiscountType`.
    pub enum OfferDiscountType: String {
        FreeTrial => "FREE_TRIAL",
        PayAsYouGo => "PAY_AS_YOU_GO",
        PayUpFront => "PAY_UP_FRONT",
        /// In-App Purchase offer codes.
        OneTime => "ONE_TIME",
    }
}

open_enum! {
    /// `expirationIntent`.
    pub enum ExpirationIntent: i64 {
        CustomerCancelled => 1,
        BillingError => 2,
        CustomerDidNotConsentToPriceIncrease => 3,
        ProductNotAvailable => 4,
        Other => 5,
    }
}

open_enum! {
    /// `autoRenewStatus` / `commitmentAutoRenewStatus`.
    pub enum AutoRenewStatus: i64 {
        Off => 0,
        On => 1,
    }
}

open_enum! {
    /// `priceIncreaseStatus` of renewal info.
    pub enum PriceIncreaseStatus: i64 {
        /// The customer hasn't responded to a price increase that needs consent.
        CustomerHasNotResponded => 0,
        /// The customer consented, or was notified of an increase that doesn't need consent.
        CustomerConsentedOrWasNotified => 1,
    }
}

open_enum! {
    /// `billingPlanType` / `renewalBillingPlanType` / `commitmentRenewalBillingPlanType`.
    pub enum BillingPlanType: String {
        BilledUpfront => "BILLED_UPFRONT",
        /// Monthly payments with a 12-month commitment.
        Monthly => "MONTHLY",
    }
}

open_enum! {
    /// `data.consumptionRequestReason`.
    pub enum ConsumptionRequestReason: String {
        UnintendedPurchase => "UNINTENDED_PURCHASE",
        FulfillmentIssue => "FULFILLMENT_ISSUE",
        UnsatisfiedWithPurchase => "UNSATISFIED_WITH_PURCHASE",
        Legal => "LEGAL",
        Other => "OTHER",
    }
}

open_enum! {
    /// `externalPurchaseToken.tokenType`. Other StoreKit token types (`IN_APP`,
    /// `LINK_OUT`) are not confirmed in notifications and decode as `Unknown`.
    pub enum TokenType: String {
        Acquisition => "ACQUISITION",
        Services => "SERVICES",
    }
}

open_enum! {
    /// `originalPlatform` of an app transaction.
    pub enum OriginalPlatform: String {
        Ios => "iOS",
        MacOs => "macOS",
        TvOs => "tvOS",
        VisionOs => "visionOS",
    }
}

open_enum! {
    /// `sendAttemptResult` of the App Store Server API.
    pub enum SendAttemptResult: String {
        Success => "SUCCESS",
        TimedOut => "TIMED_OUT",
        TlsIssue => "TLS_ISSUE",
        CircularRedirect => "CIRCULAR_REDIRECT",
        NoResponse => "NO_RESPONSE",
        SocketIssue => "SOCKET_ISSUE",
        UnsupportedCharset => "UNSUPPORTED_CHARSET",
        InvalidResponse => "INVALID_RESPONSE",
        PrematureClose => "PREMATURE_CLOSE",
        UnsuccessfulHttpResponseCode => "UNSUCCESSFUL_HTTP_RESPONSE_CODE",
        Other => "OTHER",
        /// Deprecated since 2022-08, replaced by `TLS_ISSUE`.
        SslIssue => "SSL_ISSUE",
    }
}

open_enum! {
    /// Advanced Commerce `offer.period`.
    pub enum AdvancedCommerceOfferPeriod: String {
        P3D => "P3D",
        P1W => "P1W",
        P2W => "P2W",
        P1M => "P1M",
        P2M => "P2M",
        P3M => "P3M",
        P6M => "P6M",
        P9M => "P9M",
        P1Y => "P1Y",
    }
}

open_enum! {
    /// Advanced Commerce `offer.reason`.
    pub enum AdvancedCommerceOfferReason: String {
        Acquisition => "ACQUISITION",
        WinBack => "WIN_BACK",
        Retention => "RETENTION",
    }
}

open_enum! {
    /// Advanced Commerce `refunds[].refundReason`.
    pub enum AdvancedCommerceRefundReason: String {
        UnintendedPurchase => "UNINTENDED_PURCHASE",
        FulfillmentIssue => "FULFILLMENT_ISSUE",
        UnsatisfiedWithPurchase => "UNSATISFIED_WITH_PURCHASE",
        Legal => "LEGAL",
        Other => "OTHER",
        ModifyItemsRefund => "MODIFY_ITEMS_REFUND",
        SimulateRefundDecline => "SIMULATE_REFUND_DECLINE",
    }
}

open_enum! {
    /// Advanced Commerce `refunds[].refundType`.
    pub enum AdvancedCommerceRefundType: String {
        Full => "FULL",
        Prorated => "PRORATED",
        Custom => "CUSTOM",
    }
}

open_enum! {
    /// Advanced Commerce subscription `period`.
    pub enum AdvancedCommerceSubscriptionPeriod: String {
        P1W => "P1W",
        P1M => "P1M",
        P2M => "P2M",
        P3M => "P3M",
        P6M => "P6M",
        P1Y => "P1Y",
    }
}

open_enum! {
    /// Advanced Commerce `priceIncreaseInfo.status`.
    pub enum AdvancedCommercePriceIncreaseStatus: String {
        Scheduled => "SCHEDULED",
        Pending => "PENDING",
        Accepted => "ACCEPTED",
    }
}
