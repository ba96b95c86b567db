//! The token path: decide, then sign — the product's headline latency.

use std::sync::Arc;

use crate::access::{AccessError, AccessService, Decision, Denial, FactsRead, SeatCheck, Verdict};
use crate::domain::{Room, RoomName};
use crate::telemetry::metrics::{Metrics, TokenOutcome};

use super::jitsi::{Freshness, IssuedToken, JitsiTokens};

#[derive(Debug)]
pub struct RoomToken {
    pub token: IssuedToken,
    pub room: Arc<Room>,
    pub freshness: Freshness,
}

#[derive(Debug)]
pub enum TokenRefusal {
    Denied(Denial),
    Access(AccessError),
    /// A viewer without a seat in a room whose seats are all taken.
    RoomFull {
        capacity: u32,
        retry_after: u64,
    },
}

pub struct TokenAuthority {
    access: Arc<AccessService>,
    jitsi: JitsiTokens,
    metrics: Arc<Metrics>,
}

impl TokenAuthority {
    pub fn new(access: Arc<AccessService>, jitsi: JitsiTokens, metrics: Arc<Metrics>) -> Self {
        Self {
            access,
            jitsi,
            metrics,
        }
    }

    pub fn jitsi(&self) -> &JitsiTokens {
        &self.jitsi
    }

    /// A Jitsi token for `user_id` in `room`, or why not; `read`, the user's facts if this
    /// request already read them (see [`FactsRead`]).
    pub async fn issue(
        &self,
        user_id: &str,
        room: &RoomName,
        read: Option<&FactsRead>,
    ) -> Result<RoomToken, TokenRefusal> {
        let decision = match self.access.decide_with(user_id, room, read).await {
            Ok(decision) => decision,
            Err(error) => {
                self.metrics.token(match error {
                    AccessError::RoomNotFound => TokenOutcome::RoomNotFound,
                    AccessError::Unavailable(_) | AccessError::UnknownUser => {
                        TokenOutcome::Unavailable
                    }
                });
                return Err(TokenRefusal::Access(error));
            }
        };
        match decision.verdict {
            Verdict::Allow(ref grant) => {
                if !grant.moderator {
                    self.check_seat(&decision).await?;
                }
                let (token, freshness) =
                    self.jitsi
                        .issue(&decision.user, &decision.room, grant, decision.decided_at);
                self.metrics.token(match freshness {
                    Freshness::Signed => TokenOutcome::Issued,
                    Freshness::Reused => TokenOutcome::Reused,
                });
                tracing::debug!(user = %decision.user.id(), room = %decision.room.name, jti = %token.jti, kid = ?token.kid, "token issued");
                Ok(RoomToken {
                    token,
                    room: decision.room,
                    freshness,
                })
            }
            Verdict::Deny(denial) => {
                self.metrics.token(match &denial {
                    Denial::Banned { .. } => TokenOutcome::Banned,
                    Denial::PaymentRequired { .. } => TokenOutcome::PaymentRequired,
                    Denial::InviteRequired => TokenOutcome::InviteRequired,
                    Denial::NotYetValid { .. } => TokenOutcome::NotYetValid,
                    Denial::RoomEnded { .. } => TokenOutcome::RoomEnded,
                });
                Err(TokenRefusal::Denied(denial))
            }
        }
    }

    /// A viewer's seat in a room with a capacity (the owner and staff take none). Only a
    /// room roomkey sees as full refuses: the check is advisory, so a store outage lets
    /// the token through and `mod_roomkey` still holds the limit at join time.
    async fn check_seat(&self, decision: &Decision) -> Result<(), TokenRefusal> {
        if decision.room.capacity.is_none() {
            return Ok(());
        }
        let seats = self.access.seats();
        match seats
            .check(&decision.room, decision.user.id(), decision.decided_at)
            .await
        {
            Ok(SeatCheck::Free) => Ok(()),
            Ok(SeatCheck::Full {
                capacity,
                retry_after,
            }) => {
                self.metrics.token(TokenOutcome::RoomFull);
                self.metrics.seat_refused();
                Err(TokenRefusal::RoomFull {
                    capacity,
                    retry_after,
                })
            }
            Err(error) => {
                tracing::warn!(room = %decision.room.name, error = %error, "seat check skipped: occupancy unavailable");
                Ok(())
            }
        }
    }
}
