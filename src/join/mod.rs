//! The join page: where Jitsi Meet's `tokenAuthUrl` sends a visitor who has no token.
//!
//! It owns what a visitor may do next in one room, as a [`Scene`]: sign in (or up), pay,
//! enter (a redirect to the Jitsi room with the token in the URL fragment), or why not
//! (banned, show ended, invite-only, not yet); the page's two languages ([`i18n`]); the
//! CSRF tokens of its forms ([`csrf`]); and its HTML ([`html`]), small, escaped, and
//! working without JavaScript. The decision itself is the token path's
//! ([`TokenAuthority::issue`]): the page never grants what the API would refuse.

pub mod csrf;
pub mod html;
pub mod i18n;
pub mod provider;

use std::sync::Arc;

use crate::access::{AccessError, AccessService, Denial, FactsRead};
use crate::clock::UnixSeconds;
use crate::domain::{Money, Room, RoomName};
use crate::payments::{CheckoutForm, PaymentError, PaymentService, Purchase};
use crate::tokens::{TokenAuthority, TokenRefusal};

pub use csrf::CsrfKey;
pub use i18n::Lang;

/// The page's settings, fixed at start-up.
#[derive(Debug)]
pub struct JoinSettings {
    pub csrf: CsrfKey,
    /// Cookies get `Secure` when `http.public_url` is https.
    pub secure_cookies: bool,
    pub default_lang: Lang,
    pub session_ttl_secs: i64,
}

/// What the page shows (or does) for one visitor in one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scene {
    /// Not signed in: the sign-in and sign-up forms.
    SignIn,
    /// May enter: send the browser to this URL (the token is in its fragment).
    Enter {
        join_url: String,
    },
    /// A paid room without a ticket.
    Pay {
        price: Option<Money>,
    },
    Banned {
        reason: String,
        until: Option<UnixSeconds>,
    },
    Ended {
        ended_at: UnixSeconds,
    },
    InviteOnly,
    NotYet {
        starts_at: UnixSeconds,
    },
    /// Every seat is taken; one may free up in `retry_after` seconds.
    Full {
        retry_after: u64,
    },
}

impl From<Denial> for Scene {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::Banned { reason, until, .. } => Scene::Banned { reason, until },
            Denial::PaymentRequired { price } => Scene::Pay { price },
            Denial::InviteRequired => Scene::InviteOnly,
            Denial::NotYetValid { starts_at } => Scene::NotYet { starts_at },
            Denial::RoomEnded { ended_at } => Scene::Ended { ended_at },
        }
    }
}

/// A visit: the room and what its visitor sees.
#[derive(Debug)]
pub struct Visit {
    pub room: Arc<Room>,
    pub scene: Scene,
}

/// Decides what `user` (or an anonymous visitor) sees in `room` at `now`.
///
/// A signed-in visitor goes through the token path, so a token is signed only when the
/// access rule allows it (a ban beats everything). An anonymous visitor of a room whose
/// show has ended is told so before being asked to sign in. A session naming a user who
/// no longer exists is treated as no session. `read` is the user's facts if the request
/// already read them checking the session ([`FactsRead`]).
pub async fn visit(
    tokens: &TokenAuthority,
    access: &AccessService,
    meet_url: &str,
    user: Option<&str>,
    read: Option<&FactsRead>,
    room: &RoomName,
    now: UnixSeconds,
) -> Result<Visit, AccessError> {
    let loaded = access.room(room).await?.ok_or(AccessError::RoomNotFound)?;
    let scene = match user {
        None => anonymous_scene(&loaded, now),
        Some(user) => match tokens.issue(user, room, read).await {
            Ok(issued) => Scene::Enter {
                join_url: crate::tokens::join_url(meet_url, &issued.room.name, &issued.token.jwt),
            },
            Err(TokenRefusal::Denied(denial)) => denial.into(),
            Err(TokenRefusal::RoomFull { retry_after, .. }) => Scene::Full { retry_after },
            Err(TokenRefusal::Access(AccessError::UnknownUser)) => anonymous_scene(&loaded, now),
            Err(TokenRefusal::Access(error)) => return Err(error),
        },
    };
    Ok(Visit {
        room: loaded,
        scene,
    })
}

/// "Pay to enter": records a ticket purchase exactly as `POST /api/rooms/{room}/pay`
/// does, and returns the price and ePayco's form checkout for it, which brings the
/// visitor back to `return_url`.
pub async fn checkout(
    payments: &PaymentService,
    user: &str,
    room: &RoomName,
    return_url: &str,
) -> Result<(Money, CheckoutForm), PaymentError> {
    let checkout = payments
        .checkout(user, Purchase::RoomTicket(room.clone()), None)
        .await?;
    let form = payments.epayco_form(&checkout, return_url)?;
    let price = Money {
        amount_minor: checkout.amount_minor,
        currency: checkout.currency,
    };
    Ok((price, form))
}

fn anonymous_scene(room: &Room, now: UnixSeconds) -> Scene {
    match room.ends_at {
        Some(ended_at) if now >= ended_at => Scene::Ended { ended_at },
        _ => Scene::SignIn,
    }
}
