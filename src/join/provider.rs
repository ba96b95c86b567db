//! The OpenID Provider's pages: sign in (or up) to continue to a relying party, approve
//! it, roomkey's own refusal when a request cannot be sent back to a client, and "signed
//! out". Same look, languages, escaping and forms as the join page ([`super::html`]); the
//! forms post to `/oidc/…` and carry the authorization request back in a hidden field.

use maud::{html, Markup, PreEscaped};

use super::html::{sign_in_form, sign_up_form, Filled, Notice, STYLE};
use super::i18n::Lang;

/// What one provider page shows.
pub enum ProviderBody<'a> {
    SignIn,
    /// Approve a client that is not the platform's own, for these scopes.
    Consent {
        scopes: &'a [String],
    },
    /// A request that cannot be answered at the client (unknown client or redirect URI).
    Refused {
        description: &'a str,
    },
    SignedOut,
    /// A sign-out request that does not prove it comes from a relying party of this user
    /// (no valid `id_token_hint` for them): asked before anything ends, so that another
    /// site cannot sign the visitor out by sending their browser here.
    ConfirmSignOut,
}

pub struct ProviderPage<'a> {
    pub lang: Lang,
    /// The relying party's display name; empty when there is none to name.
    pub client: &'a str,
    pub body: ProviderBody<'a>,
    pub notice: Option<Notice>,
    pub filled: &'a Filled,
    pub csrf: &'a str,
    /// The authorization request's query, which each form carries back to it.
    pub authorize: &'a str,
    pub signed_in_as: Option<&'a str>,
}

struct Words {
    sign_in_heading: &'static str,
    sign_in_intro: &'static str,
    consent_heading: &'static str,
    consent_intro: &'static str,
    approve: &'static str,
    deny: &'static str,
    refused_heading: &'static str,
    refused_intro: &'static str,
    signed_out_heading: &'static str,
    signed_out_intro: &'static str,
    confirm_sign_out_heading: &'static str,
    confirm_sign_out_intro: &'static str,
    confirm_sign_out: &'static str,
    signed_in_as: &'static str,
    scope_openid: &'static str,
    scope_profile: &'static str,
    scope_email: &'static str,
}

static ES: Words = Words {
    sign_in_heading: "Inicia sesión para continuar",
    sign_in_intro: "Entra con tu cuenta de la plataforma o crea una; después te llevamos a",
    consent_heading: "¿Permitir el acceso?",
    consent_intro: "Esta aplicación pide acceso a tu cuenta:",
    approve: "Permitir",
    deny: "No permitir",
    refused_heading: "Solicitud no válida",
    refused_intro: "La aplicación que te trajo aquí envió una solicitud que no podemos atender:",
    signed_out_heading: "Sesión cerrada",
    signed_out_intro: "Cerraste tu sesión en la plataforma.",
    confirm_sign_out_heading: "¿Cerrar sesión?",
    confirm_sign_out_intro: "Una aplicación pidió cerrar tu sesión en la plataforma.",
    confirm_sign_out: "Cerrar sesión",
    signed_in_as: "Sesión iniciada como",
    scope_openid: "saber quién eres (tu identificador en la plataforma)",
    scope_profile: "tu nombre de usuario, nombre visible, foto y rol",
    scope_email: "tu correo electrónico",
};

static EN: Words = Words {
    sign_in_heading: "Sign in to continue",
    sign_in_intro: "Sign in with your platform account or create one; then we take you to",
    consent_heading: "Allow access?",
    consent_intro: "This application asks for access to your account:",
    approve: "Allow",
    deny: "Do not allow",
    refused_heading: "Invalid request",
    refused_intro: "The application that sent you here made a request we cannot answer:",
    signed_out_heading: "Signed out",
    signed_out_intro: "You have signed out of the platform.",
    confirm_sign_out_heading: "Sign out?",
    confirm_sign_out_intro: "An application asked to sign you out of the platform.",
    confirm_sign_out: "Sign out",
    signed_in_as: "Signed in as",
    scope_openid: "know who you are (your platform identifier)",
    scope_profile: "your handle, display name, picture and role",
    scope_email: "your e-mail address",
};

impl Words {
    fn of(lang: Lang) -> &'static Words {
        match lang {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }

    fn scope(&self, scope: &str) -> &'static str {
        match scope {
            "profile" => self.scope_profile,
            "email" => self.scope_email,
            _ => self.scope_openid,
        }
    }
}

impl ProviderPage<'_> {
    pub fn render(&self) -> String {
        let t = self.lang.text();
        let w = Words::of(self.lang);
        let (heading, content) = match &self.body {
            ProviderBody::SignIn => (
                w.sign_in_heading,
                html! {
                    p { (w.sign_in_intro) " " strong { (self.client) } "." } "\n"
                    (sign_in_form(t, "/oidc/sign-in", self.hidden(), self.filled, false))
                    (sign_up_form(t, "/oidc/sign-up", self.hidden(), self.filled))
                },
            ),
            ProviderBody::Consent { scopes } => (w.consent_heading, self.consent(w, scopes)),
            ProviderBody::Refused { description } => (
                w.refused_heading,
                html! { p { (w.refused_intro) } "\n" p class="stop" { (description) } "\n" },
            ),
            ProviderBody::SignedOut => (
                w.signed_out_heading,
                html! { p { (w.signed_out_intro) } "\n" },
            ),
            ProviderBody::ConfirmSignOut => (
                w.confirm_sign_out_heading,
                html! {
                    p { (w.confirm_sign_out_intro) } "\n"
                    form method="post" action="/oidc/logout" {
                        (self.hidden())
                        button type="submit" { (w.confirm_sign_out) }
                    }
                    "\n"
                },
            ),
        };
        html! {
            (PreEscaped("<!doctype html>")) "\n"
            html lang=(self.lang.tag()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="referrer" content="no-referrer";
                    title { (heading) }
                    style { (PreEscaped(STYLE)) }
                }
                "\n"
                body {
                    main {
                        "\n"
                        h1 { (heading) } "\n"
                        @if let Some(notice) = self.notice {
                            p class="alert" role="alert" { (notice.text(t)) } "\n"
                        }
                        (content)
                        @if let Some(handle) = self.signed_in_as {
                            footer { p { (w.signed_in_as) " " strong { (handle) } "." } }
                            "\n"
                        }
                    }
                }
            }
            "\n"
        }
        .into_string()
    }

    fn hidden(&self) -> Markup {
        html! {
            input type="hidden" name="csrf" value=(self.csrf);
            input type="hidden" name="authorize" value=(self.authorize);
        }
    }

    fn consent(&self, w: &Words, scopes: &[String]) -> Markup {
        html! {
            p { strong { (self.client) } } "\n"
            p { (w.consent_intro) } "\n"
            ul {
                @for scope in scopes {
                    li { (w.scope(scope)) }
                }
            }
            "\n"
            form method="post" action="/oidc/consent" {
                (self.hidden())
                button type="submit" name="decision" value="approve" { (w.approve) } " "
                button class="link" type="submit" name="decision" value="deny" { (w.deny) }
            }
            "\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_and_every_name_are_escaped() {
        const HOSTILE: &str = r#"x"><script>alert(1)</script>"#;
        let scopes = vec!["openid".to_owned(), "email".to_owned()];
        let empty = Filled::default();
        let page = |body| ProviderPage {
            lang: Lang::En,
            client: HOSTILE,
            body,
            notice: None,
            filled: &empty,
            csrf: "token",
            authorize: HOSTILE,
            signed_in_as: Some(HOSTILE),
        };
        for body in [
            ProviderBody::SignIn,
            ProviderBody::Consent { scopes: &scopes },
            ProviderBody::Refused {
                description: HOSTILE,
            },
        ] {
            let html = page(body).render();
            assert!(!html.contains("<script>"), "{html}");
        }
        let consent = page(ProviderBody::Consent { scopes: &scopes }).render();
        assert!(consent.contains("action=\"/oidc/consent\""));
        assert!(consent.contains("your e-mail address"));
        let sign_in = page(ProviderBody::SignIn).render();
        assert_eq!(sign_in.matches("name=\"authorize\"").count(), 2);
    }
}
