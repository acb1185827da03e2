//! What stories sell, and where: products, storefronts with their price tiers, offers.

#[derive(Debug)]
pub(in crate::simulate) struct Product {
    pub id: &'static str,
    /// Apple's `type`.
    pub product_type: &'static str,
    /// Price in US milliunits; other storefronts convert it.
    pub(super) usd: i64,
    /// V1's `auto_renew_adam_id`: the product's Apple ID.
    pub adam_id: &'static str,
}

/// Apple's `type` of an auto-renewable subscription.
const SUBSCRIPTION: &str = "Auto-Renewable Subscription";

impl Product {
    const fn new(
        id: &'static str,
        product_type: &'static str,
        usd: i64,
        adam_id: &'static str,
    ) -> Product {
        Product {
            id,
            product_type,
            usd,
            adam_id,
        }
    }
}

pub(super) const PRO: Product = Product::new("pro.monthly", SUBSCRIPTION, 9_990, "6450000001");
pub(super) const PREMIUM: Product =
    Product::new("premium.monthly", SUBSCRIPTION, 14_990, "6450000002");
pub(super) const BASIC: Product = Product::new("basic.monthly", SUBSCRIPTION, 4_990, "6450000003");
pub(super) const ADVANCED: Product = Product::new(
    "advanced.commerce.monthly",
    SUBSCRIPTION,
    12_990,
    "6450000004",
);
pub(super) const LIFETIME: Product =
    Product::new("lifetime.unlock", "Non-Consumable", 29_990, "6450000005");
pub(super) const COINS: Product = Product::new("coins.100", "Consumable", 990, "6450000006");
pub(super) const SUBSCRIPTION_GROUP: &str = "21000001";

#[derive(Debug)]
pub(in crate::simulate) struct Storefront {
    pub code: &'static str,
    pub id: &'static str,
    pub currency: &'static str,
    /// Local units per 1000 US units.
    rate: i64,
    /// No minor units (yen): prices are whole hundreds.
    whole: bool,
}

pub(super) const STOREFRONTS: [Storefront; 7] = [
    Storefront::new("USA", "143441", "USD", 1_000, false),
    Storefront::new("GBR", "143444", "GBP", 800, false),
    Storefront::new("DEU", "143443", "EUR", 920, false),
    Storefront::new("FRA", "143442", "EUR", 920, false),
    Storefront::new("JPN", "143462", "JPY", 150_000, true),
    Storefront::new("CAN", "143455", "CAD", 1_370, false),
    Storefront::new("AUS", "143460", "AUD", 1_530, false),
];

impl Storefront {
    const fn new(
        code: &'static str,
        id: &'static str,
        currency: &'static str,
        rate: i64,
        whole: bool,
    ) -> Storefront {
        Storefront {
            code,
            id,
            currency,
            rate,
            whole,
        }
    }

    /// A US price (milliunits) in this storefront's currency, rounded as price tiers are: to
    /// x.99, or to whole hundreds of yen. Milliunits.
    pub(super) fn price(&self, usd: i64) -> i64 {
        let local = usd * self.rate / 1_000;
        if self.whole {
            ((local + 50_000) / 100_000).max(1) * 100_000
        } else {
            ((local + 999) / 1_000).max(1) * 1_000 - 10
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::simulate) struct Offer {
    /// 1 introductory, 2 promotional, 3 offer code, 4 win-back.
    pub offer_type: i64,
    pub identifier: &'static str,
    pub discount_type: &'static str,
    /// ISO 8601 duration.
    pub period: &'static str,
    /// The discounted price, milliunits.
    pub price: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storefront_prices_look_like_price_tiers() {
        assert_eq!(STOREFRONTS[0].price(9_990), 9_990);
        assert_eq!(STOREFRONTS[2].price(9_990), 9_990); // EUR 9.19 -> 9.99
        assert_eq!(STOREFRONTS[4].price(9_990), 1_500_000); // JPY 1498.5 -> 1500
        assert_eq!(STOREFRONTS[1].price(9_990), 7_990); // GBP 7.99
    }
}
