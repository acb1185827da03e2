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

pub(super) const PRO: Product = Product {
    id: "pro.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 9_990,
    adam_id: "6450000001",
};
pub(super) const PREMIUM: Product = Product {
    id: "premium.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 14_990,
    adam_id: "6450000002",
};
pub(super) const BASIC: Product = Product {
    id: "basic.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 4_990,
    adam_id: "6450000003",
};
pub(super) const ADVANCED: Product = Product {
    id: "advanced.commerce.monthly",
    product_type: "Auto-Renewable Subscription",
    usd: 12_990,
    adam_id: "6450000004",
};
pub(super) const LIFETIME: Product = Product {
    id: "lifetime.unlock",
    product_type: "Non-Consumable",
    usd: 29_990,
    adam_id: "6450000005",
};
pub(super) const COINS: Product = Product {
    id: "coins.100",
    product_type: "Consumable",
    usd: 990,
    adam_id: "6450000006",
};
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
    Storefront {
        code: "USA",
        id: "143441",
        currency: "USD",
        rate: 1_000,
        whole: false,
    },
    Storefront {
        code: "GBR",
        id: "143444",
        currency: "GBP",
        rate: 800,
        whole: false,
    },
    Storefront {
        code: "DEU",
        id: "143443",
        currency: "EUR",
        rate: 920,
        whole: false,
    },
    Storefront {
        code: "FRA",
        id: "143442",
        currency: "EUR",
        rate: 920,
        whole: false,
    },
    Storefront {
        code: "JPN",
        id: "143462",
        currency: "JPY",
        rate: 150_000,
        whole: true,
    },
    Storefront {
        code: "CAN",
        id: "143455",
        currency: "CAD",
        rate: 1_370,
        whole: false,
    },
    Storefront {
        code: "AUS",
        id: "143460",
        currency: "AUD",
        rate: 1_530,
        whole: false,
    },
];

impl Storefront {
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
