//! Performers' revenue terms and what they and their rooms earned.

use super::*;

impl PaymentService {
    pub async fn set_terms(
        &self,
        performer_id: &str,
        share_bps: Option<i64>,
        subscription_price: Option<Money>,
    ) -> Result<PerformerTerms, PaymentError> {
        let performer = self
            .store
            .find_user(performer_id)
            .await?
            .ok_or(PaymentError::UnknownPerformer)?;
        if performer.role != Role::Performer {
            return Err(PaymentError::UnknownPerformer);
        }
        let share = share_bps.unwrap_or(self.config.performer_share_bps);
        if !(0..=ledger::FULL_SHARE_BPS).contains(&share) {
            return Err(PaymentError::Invalid(
                "performer_share_bps",
                "must be between 0 and 10000".into(),
            ));
        }
        if let Some(price) = &subscription_price {
            if !is_amount(price.amount_minor) || !is_currency_code(&price.currency) {
                return Err(PaymentError::Invalid(
                    "subscription_price",
                    "needs a positive amount_minor (at most 10^12) and an ISO currency".into(),
                ));
            }
        }
        let terms = PerformerTerms {
            performer_id: performer_id.to_owned(),
            performer_share_bps: share,
            subscription_price,
            updated_at: self.clock.now(),
        };
        self.store.upsert_performer_terms(&terms).await?;
        Ok(terms)
    }

    /// The money of the owner `reader` may read, per currency.
    pub async fn performer_earnings(
        &self,
        reader: &RevenueReader,
    ) -> Result<Vec<RevenueTotals>, PaymentError> {
        Ok(self.store.performer_revenue(reader.owner()).await?)
    }

    /// `room`'s money per currency, if `reader` may read its owner's.
    pub async fn room_revenue(
        &self,
        reader: &RevenueReader,
        room: &crate::domain::Room,
    ) -> Result<Vec<RevenueTotals>, PaymentError> {
        if room.owner_id != reader.owner() {
            return Err(PaymentError::UnknownRoom);
        }
        Ok(self.store.room_revenue(&room.id).await?)
    }
}
