//! What `roomkey oidc client <id>` prints: the relying party's side of the wiring, ready
//! to paste, for Synapse (`oidc_providers`) and Mastodon (`OIDC_*` variables).
//!
//! The Synapse entry maps the user to exactly the Matrix account roomkey provisions,
//! `@<matrix.user_prefix><handle>`, and lets Synapse sign the user in to it even though it
//! exists already (`allow_existing_users`): it is the account holding their invites to
//! paid rooms. Handles are already valid Matrix localparts (lowercase a-z, 0-9, `_.-`).
//!
//! Mastodon names a new account after `OIDC_UID_FIELD`: the handle (`preferred_username`,
//! which never changes in roomkey) rather than the opaque `sub`, so the account reads as the
//! user's (Mastodon drops `.` and `-`, and adds `_1` when the name is taken). Which account
//! it is, roomkey learns by the e-mail address ([`crate::mastodon`]'s link).

use anyhow::Context as _;

use crate::config::Config;

/// Both snippets for the client `id`. The secret is shown as a placeholder: roomkey keeps
/// only its hash.
pub fn client_snippets(config: &Config, id: &str) -> anyhow::Result<String> {
    let client = config
        .oidc
        .clients
        .iter()
        .find(|client| client.id == id)
        .with_context(|| format!("no [[oidc.clients]] entry has id {id:?}"))?;
    let issuer = config.oidc.issuer_or(&config.http.public_url);
    let scopes = client.scopes.join(" ");
    let confidential = client.secret_hash.is_some();
    let (auth_method, secret_line) = if confidential {
        (
            "client_secret_basic",
            "    client_secret: \"<the secret whose hash is oidc.clients.secret_hash>\"\n",
        )
    } else {
        ("none", "")
    };
    let skip_verification = if issuer.starts_with("http://") {
        "    # Only because the issuer is plain http (a test or a loopback set-up).\n    skip_verification: true\n"
    } else {
        ""
    };
    // Synapse then ends the user's Matrix sessions (and deletes their devices) when roomkey
    // posts a logout token, which names the session by the ID token's `sid`.
    let backchannel = if client.backchannel_logout_uri.is_some() {
        "    backchannel_logout_enabled: true\n"
    } else {
        ""
    };
    let prefix = &config.matrix.user_prefix;
    let redirect_uri = client.redirect_uris.first().map_or("", String::as_str);
    Ok(format!(
        "# Synapse: homeserver.yaml\n\
         oidc_providers:\n  \
           - idp_id: {id}\n    \
             idp_name: \"{name}\"\n    \
             discover: true\n    \
             issuer: \"{issuer}\"\n    \
             client_id: \"{id}\"\n\
         {secret_line}    \
             client_auth_method: {auth_method}\n    \
             pkce_method: always\n    \
             scopes: [{scope_list}]\n    \
             allow_existing_users: true\n\
         {backchannel}{skip_verification}    \
             user_mapping_provider:\n      \
               config:\n        \
                 subject_claim: \"sub\"\n        \
                 localpart_template: \"{prefix}{{{{ user.preferred_username }}}}\"\n        \
                 display_name_template: \"{{{{ user.name }}}}\"\n\
         \n\
         # Mastodon: .env.production (and in roomkey's config, mastodon.oidc_client = \"{id}\",\n\
         # so that bans act on the account each sign-in lands in)\n\
         OIDC_ENABLED=true\n\
         OIDC_DISPLAY_NAME={name}\n\
         OIDC_ISSUER={issuer}\n\
         OIDC_DISCOVERY=true\n\
         OIDC_SCOPE={scope_commas}\n\
         OIDC_UID_FIELD=preferred_username\n\
         OIDC_CLIENT_ID={id}\n\
         OIDC_CLIENT_SECRET={mastodon_secret}\n\
         OIDC_REDIRECT_URI={redirect_uri}\n\
         OIDC_USE_PKCE=true\n\
         OIDC_SECURITY_ASSUME_EMAIL_IS_VERIFIED=false\n",
        name = client.display_name(),
        scope_list = client
            .scopes
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", "),
        scope_commas = scopes.replace(' ', ","),
        mastodon_secret = if confidential {
            "<the same secret>"
        } else {
            ""
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OidcClientConfig;

    #[test]
    fn synapse_lands_in_the_provisioned_account() {
        let mut config = Config::default();
        config.http.public_url = "https://id.example.com".into();
        config.matrix.user_prefix = "rk_".into();
        config.oidc.clients.push(OidcClientConfig {
            id: "synapse".into(),
            name: "Chat".into(),
            secret_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA".into()),
            redirect_uris: vec!["https://matrix.example.com/_synapse/client/oidc/callback".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into(), "profile".into()],
            backchannel_logout_uri: Some(
                "https://matrix.example.com/_synapse/client/oidc/backchannel_logout".into(),
            ),
            first_party: true,
        });
        let text = client_snippets(&config, "synapse").unwrap();
        assert!(text.contains("backchannel_logout_enabled: true"), "{text}");
        assert!(
            text.contains("localpart_template: \"rk_{{ user.preferred_username }}\""),
            "{text}"
        );
        assert!(text.contains("allow_existing_users: true"));
        assert!(text.contains("issuer: \"https://id.example.com\""));
        assert!(text.contains("discover: true"));
        assert!(!text.contains("skip_verification"));
        assert!(text.contains("OIDC_SCOPE=openid,profile"));
        assert!(text.contains("OIDC_UID_FIELD=preferred_username"));
        assert!(text.contains("mastodon.oidc_client = \"synapse\""));
        assert!(client_snippets(&config, "mastodon").is_err());
    }
}
