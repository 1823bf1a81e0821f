//! The independent check: 10,000 random orders (random hierarchy, buyers, coupons,
//! referral codes, refunds, settlements, payouts, a rule change and a fraud mark) go through the
//! store, then every order's commissions are recomputed from scratch, with integer
//! arithmetic and this test's own model of the hierarchy, and compared to the cent.

use chrono::Utc;
use medrt_actors::store::{NewOrder, NewUser, PageRequest, Store, page};
use medrt_domain::account::Username;
use medrt_domain::commission::{CommissionRules, CommissionTotals};
use medrt_domain::distribution::ReferralCode;
use medrt_domain::ids::{DistributorId, OrderNo, ProductId, UserId};
use medrt_domain::mall::{Coupon, CouponKind, Product, ProductCategory};
use medrt_domain::money::Money;
use medrt_domain::role::Role;
use medrt_tests::TestBackend;
use medrt_tests::app::test_settings;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const ORDERS: usize = 10_000;

struct Member {
    id: DistributorId,
    code: ReferralCode,
    user: UserId,
    upline: Option<usize>,
}

struct Buyer {
    user: UserId,
    /// The distributor the buyer registered under, if any.
    bound: Option<usize>,
    /// The buyer's own distributor record, if they are one.
    member: Option<usize>,
}

struct Expected {
    order_no: OrderNo,
    total_cents: u64,
    net_cents: u64,
    /// (level, distributor, rate in basis points), nearest first.
    levels: Vec<(usize, DistributorId, u64)>,
}

fn floor_share(cents: u64, basis_points: u64) -> u64 {
    cents * basis_points / 10_000
}

async fn user(store: &Store, n: usize, bound: Option<DistributorId>) -> UserId {
    store
        .users()
        .create(NewUser {
            username: Username::parse(&format!("buyer{n}")).unwrap(),
            password_hash: "not-used".into(),
            role: Role::Patient,
            email: None,
            phone: None,
            parent: None,
            referred_by: bound,
        })
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn ten_thousand_random_orders_recomputed_from_scratch_match_the_stored_commissions() {
    let backend = TestBackend::new().await;
    let settings = test_settings(&backend, "recompute", &[]);
    let store = Store::connect(&settings.database.pool).await.unwrap();
    store.migrate().await.unwrap();
    let seed: u64 = std::env::var("MEDRT_RECOMPUTE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261122);
    println!("seed {seed} (MEDRT_RECOMPUTE_SEED replays it)");
    let mut rng = StdRng::seed_from_u64(seed);

    // A random forest of distributors, each under an earlier one or at the top.
    let mut members: Vec<Member> = Vec::new();
    let mut fresh = 0u64;
    for n in 0..60 {
        let upline = (n > 0 && rng.random_bool(0.85)).then(|| rng.random_range(0..n));
        let user = user(&store, 100_000 + n, None).await;
        let code = upline.map(|u: usize| members[u].code.clone());
        let record = store
            .distributors()
            .join(user, code.as_ref(), || {
                fresh += 1;
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
                ReferralCode::from_entropy(bytes)
            })
            .await
            .unwrap();
        members.push(Member {
            id: record.id,
            code: record.referral_code,
            user,
            upline,
        });
    }
    let mut buyers: Vec<Buyer> = Vec::new();
    for n in 0..40 {
        let bound = rng
            .random_bool(0.6)
            .then(|| rng.random_range(0..members.len()));
        let user = user(&store, n, bound.map(|b| members[b].id)).await;
        buyers.push(Buyer {
            user,
            bound,
            member: None,
        });
    }
    for (i, m) in members.iter().enumerate().take(20) {
        buyers.push(Buyer {
            user: m.user,
            bound: None,
            member: Some(i),
        });
    }
    let mut products = Vec::new();
    for _ in 0..12 {
        let price = Money::from_cents(rng.random_range(1..50_000));
        let p = Product::new("test product", price, ProductCategory::Medicine, true).unwrap();
        let record = store.products().add(p).await.unwrap();
        products.push((record.id, price.cents()));
    }
    let now = Utc::now();
    for (code, kind) in [
        (
            "FIX3",
            CouponKind::Fixed {
                value: Money::from_cents(300),
            },
        ),
        (
            "PCT7",
            CouponKind::Percent {
                value: "7.5".parse().unwrap(),
            },
        ),
        (
            "MAN200JIAN25",
            CouponKind::Threshold {
                threshold: Money::from_cents(20_000),
                value: Money::from_cents(2_500),
            },
        ),
    ] {
        store
            .coupons()
            .add(&Coupon {
                code: code.into(),
                kind,
                valid_from: now - chrono::Duration::days(1),
                valid_until: now + chrono::Duration::days(30),
                per_user_limit: None,
                total_limit: None,
            })
            .await
            .unwrap();
    }
    let mut rules: Vec<u64> = vec![1000, 500, 200];
    let set = |bp: &[u64], days: u32| {
        CommissionRules::new(
            bp.iter()
                .map(|b| rust_decimal::Decimal::new(*b as i64, 4))
                .collect(),
            days,
        )
        .unwrap()
    };
    store
        .commissions()
        .set_rules(&set(&rules, 0))
        .await
        .unwrap();

    let mut blocked: Vec<usize> = Vec::new();
    let mut paid_out: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    let mut expected: Vec<Expected> = Vec::with_capacity(ORDERS);
    for n in 0..ORDERS {
        if n == ORDERS / 2 {
            // Later payments earn by new rules; earlier commissions keep their rates.
            rules = vec![800, 400, 250, 125];
            store
                .commissions()
                .set_rules(&set(&rules, 0))
                .await
                .unwrap();
        }
        if n == ORDERS / 3 {
            let victim = rng.random_range(0..members.len());
            store
                .commissions()
                .block(members[victim].id, Utc::now())
                .await
                .unwrap();
            blocked.push(victim);
        }
        if n % 1_000 == 999 {
            store
                .commissions()
                .settle_due(Utc::now(), 5_000)
                .await
                .unwrap();
        }
        if n % 250 == 249 {
            let who = rng.random_range(0..members.len());
            if let Some(p) = store
                .commissions()
                .pay_out(members[who].id, Utc::now())
                .await
                .unwrap()
            {
                *paid_out.entry(who).or_default() += p.payout.gross.cents();
                assert_eq!(
                    p.payout.net.cents() + p.payout.clawback.cents(),
                    p.payout.gross.cents()
                );
            }
        }
        let buyer = &buyers[rng.random_range(0..buyers.len())];
        let items: Vec<(ProductId, u32)> = (0..rng.random_range(1..4))
            .map(|_| {
                (
                    products[rng.random_range(0..products.len())].0,
                    rng.random_range(1..4),
                )
            })
            .collect();
        let coupon = match rng.random_range(0..6) {
            0 => Some("FIX3"),
            1 => Some("PCT7"),
            2 => Some("MAN200JIAN25"),
            _ => None,
        };
        let referral = rng
            .random_bool(0.3)
            .then(|| rng.random_range(0..members.len()))
            .filter(|r| buyer.member != Some(*r));
        let order = match store
            .orders()
            .create(
                NewOrder {
                    buyer: buyer.user,
                    items,
                    coupon_code: coupon.map(str::to_owned),
                    referral_code: referral.map(|r| members[r].code.clone()),
                },
                Utc::now(),
            )
            .await
        {
            Ok(order) => order,
            // Below the threshold: a refused order, nothing to check.
            Err(_) if coupon == Some("MAN200JIAN25") => continue,
            Err(e) => panic!("order {n}: {e}"),
        };
        if rng.random_bool(0.1) {
            continue; // never paid
        }
        store
            .orders()
            .pay(order.order_no, buyer.user, &format!("pay-{n}"), Utc::now())
            .await
            .unwrap();
        // The model's chain: referral code, else binding, else own upline.
        let referrer = referral
            .or(buyer.bound)
            .or_else(|| buyer.member.and_then(|m| members[m].upline));
        let mut chain = Vec::new();
        let mut at = referrer;
        while let Some(i) = at {
            if Some(i) != buyer.member {
                chain.push(i);
            }
            at = members[i].upline;
        }
        let levels = chain
            .iter()
            .zip(&rules)
            .enumerate()
            .filter(|(_, (i, _))| !blocked.contains(i))
            .map(|(level, (i, bp))| (level + 1, members[*i].id, *bp))
            .collect();
        let total = order.money.total.cents();
        let mut net = total;
        if net > 0 && rng.random_bool(0.3) {
            if rng.random_bool(0.5) {
                store
                    .commissions()
                    .settle_due(Utc::now(), 5_000)
                    .await
                    .unwrap();
            }
            let amount = rng.random_range(1..=net);
            store
                .orders()
                .refund(
                    order.order_no,
                    Some(Money::from_cents(amount)),
                    None,
                    Utc::now(),
                )
                .await
                .unwrap();
            net -= amount;
        }
        expected.push(Expected {
            order_no: order.order_no,
            total_cents: total,
            net_cents: net,
            levels,
        });
    }

    let mut checked = 0;
    for e in &expected {
        let stored = store.commissions().of_order(e.order_no).await.unwrap();
        let want: Vec<_> = e
            .levels
            .iter()
            .filter(|(_, _, bp)| floor_share(e.total_cents, *bp) > 0)
            .collect();
        assert_eq!(stored.len(), want.len(), "order {}: {stored:?}", e.order_no);
        for (record, (level, distributor, bp)) in stored.iter().zip(want) {
            let c = &record.commission;
            let what = format!("order {} level {level}", e.order_no);
            assert_eq!(
                (c.level, record.distributor),
                (*level, *distributor),
                "{what}"
            );
            let earned = floor_share(e.total_cents, *bp);
            let kept = floor_share(e.net_cents, *bp);
            // Every cent earned is somewhere: open, paid, reversed or voided.
            assert_eq!(
                c.pending.cents()
                    + c.settled.cents()
                    + c.paid_out.cents()
                    + c.reversed.cents()
                    + c.voided.cents(),
                earned,
                "{what}: {c:?}"
            );
            // What is kept follows the order's net; refunds took the rest back.
            if c.voided.is_zero() {
                assert_eq!(c.effective().cents(), kept, "{what}: {c:?}");
                assert_eq!(
                    c.reversed.cents() + c.clawed_back.cents(),
                    earned - kept,
                    "{what}: {c:?}"
                );
            }
            checked += 1;
        }
    }
    // Each distributor's running totals equal the sum of their commissions.
    for (i, member) in members.iter().enumerate() {
        let mut sum = CommissionTotals::default();
        let mut page = PageRequest::new(Some(page::LIMIT_MAX), None);
        loop {
            let listed = store.commissions().of(member.id, None, page).await.unwrap();
            for record in &listed.items {
                sum.add(&record.commission);
            }
            match listed.next_cursor {
                Some(next) => page = PageRequest::new(Some(page::LIMIT_MAX), Some(next)),
                None => break,
            }
        }
        let standing = store.commissions().standing(member.id).await.unwrap();
        assert_eq!(standing.totals, sum, "{}", member.id);
        assert_eq!(
            sum.paid_out.cents(),
            paid_out.get(&i).copied().unwrap_or(0),
            "{}",
            member.id
        );
        assert!(standing.clawback_outstanding <= sum.clawed_back);
    }
    println!(
        "{} paid orders, {checked} commissions checked",
        expected.len()
    );
    assert!(
        checked > 5_000,
        "the random orders should earn thousands of commissions"
    );
    store.close().await;
}
