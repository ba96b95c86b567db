//! The benchmark's ceilings: the same signing and answer shape as the token endpoint, with
//! no authentication, no lookups and no decision; and below it the stack's floor,
//! `GET /bench/hello`, a fixed two-byte answer that no middleware sees. Compiled only with
//! the `bench` feature.

use std::sync::{Arc, LazyLock};

use axum::extract::State;
use axum::response::Response;

use crate::access::Profile;
use crate::domain::{Role, Room, RoomAccess, RoomName, User};
use crate::http::error::ApiError;
use crate::http::params::RoomParam;
use crate::http::routes::rooms::TokenView;
use crate::http::state::TokenState;
use crate::tokens::{Freshness, RoomToken};

/// `GET /bench/hello`, served outside the router's layers (no request id, metrics, limits
/// or headers of ours): the smallest answer the same listener and connection loop can give.
pub fn hello_router() -> axum::Router {
    axum::Router::new().route("/bench/hello", axum::routing::get(|| async { "ok" }))
}

/// The benchmark's one signer: a viewer with no history.
static BENCH_USER: LazyLock<Profile> = LazyLock::new(|| {
    Profile::from(User {
        id: "bench-user".into(),
        handle: "bench".into(),
        email: "bench@example.com".into(),
        display_name: "Bench".into(),
        role: Role::Viewer,
        matrix_user_id: None,
        avatar_url: None,
        verified: false,
        created_at: 0,
        updated_at: 0,
        session_generation: 0,
    })
});

/// A free room named as asked, never stored.
fn bench_room(name: RoomName) -> Room {
    Room {
        id: "bench-room".into(),
        name,
        title: String::new(),
        owner_id: String::new(),
        access: RoomAccess::Free,
        price: None,
        plans: vec![],
        starts_at: None,
        ends_at: None,
        created_at: 0,
        updated_at: 0,
        capacity: None,
    }
}

/// # `POST /bench/sign/{room}`
/// Signs a fixed member token for `room` and answers as the token endpoint does.
/// **Permissions**: none — benchmark builds only.
pub async fn sign_only(
    State(state): State<TokenState>,
    RoomParam(name): RoomParam,
) -> Result<Response, ApiError> {
    let room = Arc::new(bench_room(name));
    let token = state.tokens().jitsi().unsafe_sign_without_checks(
        &BENCH_USER,
        &room,
        state.identity().now(),
    );
    let issued = RoomToken {
        token,
        room,
        freshness: Freshness::Signed,
    };
    Ok(TokenView::new(state.meet_url(), &issued, None).answer())
}
