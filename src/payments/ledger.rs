//! The revenue split and the double-entry rule.
//!
//! Rounding rule: the performer's share is `floor(amount × share_bps / 10 000)`; the platform
//! gets the rest. So the two always sum to the amount, and any odd minor unit goes to the
//! platform. Every ledger transaction is balanced: the provider's clearing account is
//! debited the gross (negative), performer and platform are credited their shares
//! (positive); a refund or chargeback posts the exact negation of the entries it undoes.

/// Basis points out of 10 000 (7 000 = 70 %).
pub const FULL_SHARE_BPS: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub performer: i64,
    pub platform: i64,
}

pub fn split(amount_minor: i64, performer_share_bps: i64) -> Split {
    let bps = performer_share_bps.clamp(0, FULL_SHARE_BPS);
    let performer =
        (i128::from(amount_minor) * i128::from(bps) / i128::from(FULL_SHARE_BPS)) as i64;
    Split {
        performer,
        platform: amount_minor - performer,
    }
}

use crate::domain::LedgerLine as Posting;

/// The postings for money received: provider −gross, performer +share, platform +rest.
pub fn receipt(
    provider: &str,
    performer_id: Option<&str>,
    amount_minor: i64,
    performer_share_bps: i64,
) -> Vec<Posting> {
    let split = match performer_id {
        Some(_) => split(amount_minor, performer_share_bps),
        None => Split {
            performer: 0,
            platform: amount_minor,
        },
    };
    let mut postings = vec![Posting {
        account: format!("provider:{provider}"),
        amount_minor: -amount_minor,
    }];
    if let Some(performer) = performer_id {
        postings.push(Posting {
            account: format!("performer:{performer}"),
            amount_minor: split.performer,
        });
    }
    postings.push(Posting {
        account: "platform".into(),
        amount_minor: split.platform,
    });
    postings
}

/// The exact negation of earlier postings.
pub fn reversal(original: &[Posting]) -> Vec<Posting> {
    original
        .iter()
        .map(|p| Posting {
            account: p.account.clone(),
            amount_minor: -p.amount_minor,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seventy_thirty_with_the_odd_unit_to_the_platform() {
        assert_eq!(
            split(1_000, 7_000),
            Split {
                performer: 700,
                platform: 300
            }
        );
        assert_eq!(
            split(999, 7_000),
            Split {
                performer: 699,
                platform: 300
            }
        );
        assert_eq!(
            split(1, 7_000),
            Split {
                performer: 0,
                platform: 1
            }
        );
        assert_eq!(
            split(5_000_000, 8_500),
            Split {
                performer: 4_250_000,
                platform: 750_000
            }
        );
    }

    /// A property test over random sequences: every transaction balances, shares never
    /// exceed the amount, and refunding everything brings every account back to zero.
    #[test]
    fn random_payments_and_refunds_always_balance() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let mut book: Vec<Vec<Posting>> = Vec::new();
            let mut refunded = Vec::new();
            for _ in 0..rng.gen_range(1..40) {
                if !book.is_empty() && rng.gen_bool(0.3) {
                    let i = rng.gen_range(0..book.len());
                    if !refunded.contains(&i) {
                        refunded.push(i);
                        let entries = reversal(&book[i]);
                        book.push(entries);
                        continue;
                    }
                }
                let amount = rng.gen_range(1..10_000_000_i64);
                let bps = rng.gen_range(0..=10_000_i64);
                let performer = rng.gen_bool(0.8).then_some("p");
                let postings = receipt("epayco", performer, amount, bps);
                assert_eq!(postings.iter().map(|p| p.amount_minor).sum::<i64>(), 0);
                assert!(postings
                    .iter()
                    .filter(|p| p.amount_minor > 0)
                    .all(|p| p.amount_minor <= amount));
                book.push(postings);
            }
            for transaction in &book {
                assert_eq!(transaction.iter().map(|p| p.amount_minor).sum::<i64>(), 0);
            }
            // Refund everything still standing: every account returns to exactly zero.
            let receipts: Vec<usize> = (0..book.len())
                .filter(|i| book[*i][0].amount_minor < 0)
                .collect();
            for i in receipts.into_iter().filter(|i| !refunded.contains(i)) {
                let entries = reversal(&book[i]);
                book.push(entries);
            }
            let mut balances = std::collections::HashMap::new();
            for posting in book.iter().flatten() {
                *balances.entry(posting.account.clone()).or_insert(0_i64) += posting.amount_minor;
            }
            assert!(balances.values().all(|b| *b == 0), "{balances:?}");
        }
    }
}
