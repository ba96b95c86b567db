//! Checkout: what a viewer buys, the payment intent that tracks it, and the form or
//! redirect that sends them to the provider.

use super::*;

impl PaymentService {
    /// Records what `user_id` is about to pay for and returns the checkout parameters.
    /// Records what `user_id` is about to pay for, with `provider` (ePayco unless named),
    /// and returns what the client needs to pay.
    pub async fn checkout(
        &self,
        user_id: &str,
        purchase: Purchase,
        provider: Option<&str>,
    ) -> Result<Checkout, PaymentError> {
        let provider = provider.unwrap_or("epayco");
        if provider == "epayco" {
            self.epayco()?;
        } else if !self.config.providers.contains_key(provider) {
            return Err(PaymentError::Invalid(
                "provider",
                format!("no payment provider named {provider}"),
            ));
        }
        let now = self.clock.now();
        let tip_note = tip_note(&purchase)?;
        let resolved = self.resolve(purchase).await?;
        let intent = self
            .new_intent(user_id, &resolved, &resolved.price, provider, None, now)
            .await?;
        // Stored before the client has the reference it pays with, so a paid tip always
        // finds its message.
        if let Some((message, anonymous)) = tip_note.filter(|(m, a)| m.is_some() || *a) {
            self.store
                .insert_tip_message(&intent.id, message.as_deref(), anonymous, now)
                .await?;
        }
        let price = resolved.price;
        let parameters = if provider == "epayco" {
            let epayco = &self.config.epayco;
            BTreeMap::from([
                ("key".to_owned(), epayco.public_key.clone()),
                ("name".to_owned(), resolved.description.clone()),
                ("description".to_owned(), resolved.description),
                ("invoice".to_owned(), intent.id.clone()),
                ("extra1".to_owned(), intent.id.clone()),
                ("currency".to_owned(), price.currency.to_ascii_lowercase()),
                (
                    "amount".to_owned(),
                    amount::format_major(price.amount_minor, &price.currency),
                ),
                ("tax_base".to_owned(), "0".to_owned()),
                ("tax".to_owned(), "0".to_owned()),
                ("country".to_owned(), "co".to_owned()),
                ("external".to_owned(), "false".to_owned()),
                ("test".to_owned(), epayco.test_mode.to_string()),
                ("confirmation".to_owned(), self.confirmation_url.clone()),
                ("method_confirmation".to_owned(), "POST".to_owned()),
            ])
        } else {
            BTreeMap::from([
                ("reference".to_owned(), intent.id.clone()),
                ("description".to_owned(), resolved.description),
            ])
        };
        Ok(Checkout {
            reference: intent.id,
            provider: provider.to_owned(),
            amount_minor: price.amount_minor,
            currency: price.currency,
            parameters,
        })
    }

    /// ePayco's form checkout for an ePayco `checkout`: the fields a plain HTML form posts
    /// to `payments.epayco.checkout_url`, signed with `md5(cust^p_key^invoice^amount^currency)`
    /// as that checkout expects. `P_KEY` itself is never among them (it would let anyone
    /// who reads the page forge confirmations). The visitor comes back to `response_url`;
    /// the confirmation goes to the webhook, as with the script checkout.
    pub fn epayco_form(
        &self,
        checkout: &Checkout,
        response_url: &str,
    ) -> Result<CheckoutForm, PaymentError> {
        let (customer_id, p_key) = self.epayco()?;
        let amount = amount::format_major(checkout.amount_minor, &checkout.currency);
        let currency = checkout.currency.to_ascii_uppercase();
        let description = checkout
            .parameters
            .get("description")
            .cloned()
            .unwrap_or_default();
        let signature = epayco::checkout_signature(
            customer_id,
            p_key.expose(),
            &checkout.reference,
            &amount,
            &currency,
        );
        let test = if self.config.epayco.test_mode {
            "TRUE"
        } else {
            "FALSE"
        };
        let fields = [
            ("p_cust_id_cliente", customer_id.to_owned()),
            ("p_id_invoice", checkout.reference.clone()),
            ("p_description", description),
            ("p_amount", amount),
            ("p_amount_base", "0".to_owned()),
            ("p_tax", "0".to_owned()),
            ("p_currency_code", currency),
            ("p_signature", signature),
            ("p_extra1", checkout.reference.clone()),
            ("p_test_request", test.to_owned()),
            ("p_url_response", response_url.to_owned()),
            ("p_url_confirmation", self.confirmation_url.clone()),
            ("p_confirm_method", "POST".to_owned()),
        ];
        Ok(CheckoutForm {
            action: self.config.epayco.checkout_url.clone(),
            fields: fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        })
    }

    /// Stores a new intent for `resolved`, paid as `paid`.
    pub(super) async fn new_intent(
        &self,
        user_id: &str,
        resolved: &Resolved,
        paid: &Money,
        provider: &str,
        provider_ref: Option<&str>,
        now: UnixSeconds,
    ) -> Result<PaymentIntent, PaymentError> {
        let intent = PaymentIntent {
            id: uuid::Uuid::now_v7().simple().to_string(),
            user_id: user_id.to_owned(),
            kind: resolved.kind,
            room_id: resolved.room_id.clone(),
            performer_id: resolved.performer_id.clone(),
            feature: resolved.feature.clone(),
            amount_minor: paid.amount_minor,
            currency: paid.currency.clone(),
            provider: provider.to_owned(),
            provider_ref: provider_ref.map(str::to_owned),
            state: PaymentState::Created,
            entitlement_id: None,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_intent(&intent)
            .await
            .map_err(|e| match e {
                StoreError::MissingReference(_) => {
                    PaymentError::Invalid("user_id", "no such user".into())
                }
                StoreError::Conflict(_) => PaymentError::Invalid(
                    "provider_ref",
                    "this provider reference is already recorded".into(),
                ),
                other => other.into(),
            })?;
        Ok(intent)
    }

    /// What a purchase is, what it costs, and who earns from it.
    pub(super) async fn resolve(&self, purchase: Purchase) -> Result<Resolved, PaymentError> {
        let (kind, room_id, performer_id, feature, price, description) = match purchase {
            Purchase::RoomTicket(name) => {
                let room = self
                    .store
                    .find_room_by_name(&name)
                    .await?
                    .ok_or(PaymentError::UnknownRoom)?;
                let price = room
                    .price
                    .clone()
                    .filter(|_| room.access == RoomAccess::Paid)
                    .ok_or(PaymentError::NotForSale)?;
                (
                    PurchaseKind::Room,
                    Some(room.id),
                    Some(room.owner_id),
                    None,
                    price,
                    format!("Ticket: {}", room.title),
                )
            }
            Purchase::Subscription(performer_id) => {
                let performer = self
                    .store
                    .find_user(&performer_id)
                    .await?
                    .ok_or(PaymentError::UnknownPerformer)?;
                if performer.role != Role::Performer {
                    return Err(PaymentError::UnknownPerformer);
                }
                let terms = self.store.find_performer_terms(&performer_id).await?;
                let price = terms
                    .and_then(|t| t.subscription_price)
                    .ok_or(PaymentError::NotForSale)?;
                (
                    PurchaseKind::Subscription,
                    None,
                    Some(performer_id),
                    None,
                    price,
                    format!("Subscription: {}", performer.display_name),
                )
            }
            Purchase::Tip {
                room,
                amount_minor,
                currency,
                ..
            } => {
                let room = self
                    .store
                    .find_room_by_name(&room)
                    .await?
                    .ok_or(PaymentError::UnknownRoom)?;
                if amount_minor < self.config.min_tip_minor || !is_amount(amount_minor) {
                    return Err(PaymentError::Invalid(
                        "amount_minor",
                        format!(
                            "a tip is at least {} and at most 10^12 minor units",
                            self.config.min_tip_minor
                        ),
                    ));
                }
                if !is_currency_code(&currency) {
                    return Err(PaymentError::Invalid(
                        "currency",
                        "currency must be an ISO 4217 code".into(),
                    ));
                }
                let price = Money {
                    amount_minor,
                    currency,
                };
                (
                    PurchaseKind::Tip,
                    Some(room.id),
                    Some(room.owner_id),
                    None,
                    price,
                    format!("Tip: {}", room.title),
                )
            }
            Purchase::Feature(name) => {
                let FeaturePrice {
                    amount_minor,
                    currency,
                    ..
                } = self.config.features.get(&name).cloned().ok_or_else(|| {
                    PaymentError::Invalid("feature", format!("no feature named {name}"))
                })?;
                (
                    PurchaseKind::Feature,
                    None,
                    None,
                    Some(name.clone()),
                    Money {
                        amount_minor,
                        currency,
                    },
                    format!("Feature: {name}"),
                )
            }
        };
        Ok(Resolved {
            kind,
            room_id,
            performer_id,
            feature,
            price,
            description,
        })
    }
}

/// A tip's message, cleaned and checked, and whether the tipper stays anonymous; `None`
/// for any other purchase.
fn tip_note(purchase: &Purchase) -> Result<Option<(Option<String>, bool)>, PaymentError> {
    let Purchase::Tip {
        message, anonymous, ..
    } = purchase
    else {
        return Ok(None);
    };
    let message = match message.as_deref() {
        Some(raw) => clean_tip_message(raw).map_err(|length| {
            PaymentError::Invalid(
                "message",
                format!(
                    "a tip's message is at most {TIP_MESSAGE_MAX_CHARS} characters (this one has {length})"
                ),
            )
        })?,
        None => None,
    };
    Ok(Some((message, *anonymous)))
}
