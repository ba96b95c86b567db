//! The page as HTML: small, no script, no external asset.
//!
//! The markup is written in maud's `html!`, which escapes every interpolated value, in
//! element text and in (always double-quoted) attribute values alike, so no call site
//! can forget to. The only unescaped text is what this file itself holds: the doctype
//! and the stylesheet (a `<style>` element's text is not HTML and must not be escaped).
//! The literal `"\n"`s keep the page's source one block to a line.
//!
//! Accessibility: `lang` on `<html>`, one `<h1>` per page, a `<label>` for every field,
//! `role="alert"` on form errors, visible focus, and colours above WCAG AA contrast
//! (text #1a1a1a on white, buttons white on #0b4f8a).

use maud::{html, Markup, PreEscaped};

use super::i18n::{format_price, format_time, Lang, Text};
use super::Scene;
use crate::domain::Money;
use crate::payments::CheckoutForm;

/// A problem with the last form, shown above the forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    BadCredentials,
    FormExpired,
    RateLimited,
    /// A field failed validation; the identity service names it.
    Invalid(&'static str),
    /// The handle or e-mail is already registered.
    Taken(&'static str),
    PaymentUnavailable,
}

impl Notice {
    pub(super) fn text(self, t: &Text) -> &'static str {
        match self {
            Notice::BadCredentials => t.bad_credentials,
            Notice::FormExpired => t.form_expired,
            Notice::RateLimited => t.rate_limited,
            Notice::Invalid("handle") => t.invalid_handle,
            Notice::Invalid("email") => t.invalid_email,
            Notice::Invalid("display_name") => t.invalid_display_name,
            Notice::Invalid(_) => t.invalid_password,
            Notice::Taken("email") => t.taken_email,
            Notice::Taken(_) => t.taken_handle,
            Notice::PaymentUnavailable => t.payment_unavailable,
        }
    }
}

/// What the sign-in and sign-up forms show again after a refusal (never a password).
#[derive(Debug, Clone, Default)]
pub struct Filled {
    pub login: String,
    pub handle: String,
    pub email: String,
    pub display_name: String,
}

/// What one page shows.
pub enum Body<'a> {
    Scene(&'a Scene),
    /// The provider's checkout form, after the visitor chose to pay.
    Checkout {
        price: &'a Money,
        form: &'a CheckoutForm,
    },
    NotFound,
    Unavailable,
}

pub struct Page<'a> {
    pub lang: Lang,
    /// The room's canonical name (already URL-safe) and title; empty for an unknown room.
    pub room_name: &'a str,
    pub room_title: &'a str,
    pub body: Body<'a>,
    pub notice: Option<Notice>,
    pub filled: &'a Filled,
    /// The CSRF token for this page's forms.
    pub csrf: &'a str,
    /// The signed-in visitor's handle.
    pub signed_in_as: Option<&'a str>,
}

pub(super) const STYLE: &str = "body{font:1.05rem/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:0}\
main{max-width:34rem;margin:0 auto;padding:1.5rem 1rem}\
h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.2rem;margin:1.8rem 0 .6rem}\
.room{color:#444;margin:0}.price{font-size:1.5rem;font-weight:700}\
label{display:block;font-weight:600;margin-top:.8rem}.hint{display:block;color:#444;font-size:.9rem}\
input{font:inherit;width:100%;box-sizing:border-box;padding:.5rem;border:1px solid #555;border-radius:4px}\
button,.button{display:inline-block;font:inherit;font-weight:600;margin-top:1rem;padding:.6rem 1.2rem;\
border:0;border-radius:4px;background:#0b4f8a;color:#fff;text-decoration:none;cursor:pointer}\
.link{background:none;color:#0b4f8a;padding:0;margin:0;text-decoration:underline}\
:focus-visible{outline:3px solid #b35900;outline-offset:2px}\
.alert{background:#fdecea;color:#7a1010;border-left:4px solid #b3261e;padding:.6rem .8rem}\
.stop{border-left:4px solid #b3261e;padding-left:.8rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}dd{margin:0}\
footer{margin-top:2rem;padding-top:.8rem;border-top:1px solid #ccc;color:#444}";

impl Page<'_> {
    pub fn render(&self) -> String {
        let t = self.lang.text();
        let (heading, content) = self.content(t);
        let has_title = !self.room_title.is_empty();
        html! {
            (PreEscaped("<!doctype html>")) "\n"
            html lang=(self.lang.tag()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    meta name="referrer" content="no-referrer";
                    title { (heading) @if has_title { " · " (self.room_title) } }
                    style { (PreEscaped(STYLE)) }
                }
                "\n"
                body {
                    main {
                        "\n"
                        @if has_title {
                            p class="room" { (t.room) ": " strong { (self.room_title) } } "\n"
                        }
                        h1 { (heading) } "\n"
                        @if let Some(notice) = self.notice {
                            p class="alert" role="alert" { (notice.text(t)) } "\n"
                        }
                        (content)
                        @if let Some(handle) = self.signed_in_as {
                            footer {
                                form method="post" action={ (self.base()) "/sign-out" } {
                                    (self.csrf_field())
                                    p {
                                        (t.signed_in_as) " " strong { (handle) } ". "
                                        button class="link" type="submit" { (t.sign_out_button) }
                                    }
                                }
                            }
                            "\n"
                        }
                    }
                }
            }
            "\n"
        }
        .into_string()
    }

    /// The page's own URL path: `/join/{room}`.
    fn base(&self) -> String {
        format!("/join/{}", self.room_name)
    }

    fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    /// A paragraph with one link back to this page.
    fn link_back(&self, class: Option<&str>, text: &str) -> Markup {
        html! { p { a class=[class] href=(self.base()) { (text) } } "\n" }
    }

    /// The page's heading and everything under it.
    fn content(&self, t: &'static Text) -> (&'static str, Markup) {
        let scene = match &self.body {
            Body::NotFound => {
                return (
                    t.not_found_heading,
                    html! { p { (t.not_found_intro) } "\n" },
                );
            }
            Body::Unavailable => {
                let content = html! {
                    p { (t.unavailable_intro) } "\n"
                    (self.link_back(Some("button"), t.check_again))
                };
                return (t.unavailable_heading, content);
            }
            Body::Checkout { price, form } => {
                return (t.checkout_heading, self.checkout(t, price, form));
            }
            Body::Scene(scene) => scene,
        };
        match scene {
            Scene::SignIn => (
                t.sign_in_heading,
                html! {
                    p { (t.sign_in_intro) } "\n"
                    (self.sign_in_form(t, false))
                    (self.sign_up_form(t))
                },
            ),
            // Entering is a redirect; a page (after a refused form) links to the join page,
            // which redirects, so the token never appears in HTML.
            Scene::Enter { .. } => (
                t.entering_heading,
                self.link_back(Some("button"), t.entering_link),
            ),
            Scene::Pay { price: Some(price) } => (
                t.pay_heading,
                html! {
                    p { (t.pay_intro) ":" } "\n"
                    p class="price" { (self.price(price)) } "\n"
                    form method="post" action={ (self.base()) "/pay" } {
                        (self.csrf_field())
                        button type="submit" { (t.pay_button) }
                    }
                    "\n"
                    (self.link_back(None, t.check_again))
                },
            ),
            Scene::Pay { price: None } => (t.pay_heading, html! { p { (t.pay_no_price) } "\n" }),
            Scene::Banned { reason, until } => (
                t.banned_heading,
                html! {
                    div class="stop" {
                        p { (t.banned_intro) } "\n"
                        dl {
                            dt { (t.reason_label) }
                            dd { (reason) }
                            dt { (t.until_label) }
                            dd {
                                @match until {
                                    Some(until) => (format_time(*until)),
                                    None => (t.banned_forever),
                                }
                            }
                        }
                    }
                    "\n"
                },
            ),
            Scene::Ended { ended_at } => (
                t.ended_heading,
                html! {
                    div class="stop" { p { (t.ended_intro) " " (format_time(*ended_at)) "." } }
                    "\n"
                    // The performer and staff may still enter an ended room; let them sign in.
                    @if self.signed_in_as.is_none() {
                        (self.sign_in_form(t, true))
                    }
                },
            ),
            Scene::InviteOnly => (t.invite_heading, html! { p { (t.invite_intro) } "\n" }),
            Scene::NotYet { starts_at } => (
                t.not_yet_heading,
                html! {
                    p { (t.not_yet_intro) " " (format_time(*starts_at)) "." } "\n"
                    (self.link_back(None, t.check_again))
                },
            ),
            Scene::Full { .. } => (
                t.full_heading,
                html! {
                    p { (t.full_intro) } "\n"
                    (self.link_back(None, t.check_again))
                },
            ),
        }
    }

    fn price(&self, price: &Money) -> String {
        format_price(price.amount_minor, &price.currency, self.lang)
    }

    fn sign_in_form(&self, t: &Text, with_heading: bool) -> Markup {
        let action = format!("{}/sign-in", self.base());
        sign_in_form(t, &action, self.csrf_field(), self.filled, with_heading)
    }

    fn sign_up_form(&self, t: &Text) -> Markup {
        let action = format!("{}/sign-up", self.base());
        sign_up_form(t, &action, self.csrf_field(), self.filled)
    }

    fn checkout(&self, t: &Text, price: &Money, form: &CheckoutForm) -> Markup {
        html! {
            p class="price" { (self.price(price)) } "\n"
            p { (t.checkout_intro) } "\n"
            form method="post" action=(form.action) {
                @for (name, value) in &form.fields {
                    input type="hidden" name=(name) value=(value);
                }
                button type="submit" { (t.checkout_button) }
            }
            "\n"
            (self.link_back(None, t.check_again))
        }
    }
}

/// The sign-in form, posting to `action` with the `hidden` fields (its CSRF token, and
/// whatever else the page must carry through the sign-in).
pub(super) fn sign_in_form(
    t: &Text,
    action: &str,
    hidden: Markup,
    filled: &Filled,
    with_heading: bool,
) -> Markup {
    html! {
        form method="post" action=(action) {
            @if with_heading {
                h2 { (t.sign_in_button) }
            }
            (hidden)
            label for="login" { (t.login_label) }
            input id="login" name="login" autocomplete="username" required maxlength="254"
                value=(filled.login);
            label for="password" { (t.password_label) }
            input id="password" name="password" type="password"
                autocomplete="current-password" required maxlength="256";
            button type="submit" { (t.sign_in_button) }
        }
        "\n"
    }
}

/// The sign-up form, posting to `action` with the `hidden` fields.
pub(super) fn sign_up_form(t: &Text, action: &str, hidden: Markup, filled: &Filled) -> Markup {
    html! {
        h2 { (t.sign_up_heading) } "\n"
        form method="post" action=(action) {
            (hidden)
            label for="handle" {
                (t.handle_label)
                span class="hint" id="handle-hint" { (t.handle_hint) }
            }
            input id="handle" name="handle" autocomplete="username" required minlength="3"
                maxlength="32" aria-describedby="handle-hint" value=(filled.handle);
            label for="email" { (t.email_label) }
            input id="email" name="email" type="email" autocomplete="email" required
                maxlength="254" value=(filled.email);
            label for="display_name" { (t.display_name_label) }
            input id="display_name" name="display_name" autocomplete="nickname"
                maxlength="64" value=(filled.display_name);
            label for="new_password" {
                (t.password_label)
                span class="hint" id="password-hint" { (t.new_password_hint) }
            }
            input id="new_password" name="password" type="password"
                autocomplete="new-password" required minlength="10" maxlength="256"
                aria-describedby="password-hint";
            button type="submit" { (t.sign_up_button) }
        }
        "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_title_and_ban_reason_stay_text() {
        let scene = Scene::Banned {
            reason: "<img src=x onerror=alert(1)>".into(),
            until: None,
        };
        let page = Page {
            lang: Lang::En,
            room_name: "show",
            room_title: "\"><script>x()</script>",
            body: Body::Scene(&scene),
            notice: None,
            filled: &Filled::default(),
            csrf: "t\"",
            signed_in_as: Some("<b>"),
        };
        let html = page.render();
        assert!(!html.contains("<script>x"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("<html lang=\"en\">"));
        assert!(html.contains("With no end date."));
    }

    #[test]
    fn hostile_values_are_escaped_in_text_and_in_attributes() {
        const HOSTILE: &str = r#"x"><script>alert('&amp;')</script>"#;
        // `'` needs no escaping: every attribute value is double-quoted.
        const ESCAPED: &str = "x&quot;&gt;&lt;script&gt;alert('&amp;amp;')&lt;/script&gt;";
        let filled = Filled {
            login: HOSTILE.into(),
            handle: HOSTILE.into(),
            email: HOSTILE.into(),
            display_name: HOSTILE.into(),
        };
        let page = |body| Page {
            lang: Lang::Es,
            room_name: HOSTILE,
            room_title: HOSTILE,
            body,
            notice: Some(Notice::Taken("handle")),
            filled: &filled,
            csrf: HOSTILE,
            signed_in_as: Some(HOSTILE),
        };

        let sign_in = page(Body::Scene(&Scene::SignIn)).render();
        assert!(!sign_in.contains("<script>"), "{sign_in}");
        // Text: the title, the room line, the footer's handle.
        assert!(sign_in.contains(&format!(
            "<title>Inicia sesión para entrar · {ESCAPED}</title>"
        )));
        assert!(sign_in.contains(&format!("Sala: <strong>{ESCAPED}</strong>")));
        assert!(sign_in.contains(&format!("Sesión iniciada como <strong>{ESCAPED}</strong>.")));
        // Attributes: the refilled fields and the CSRF token of all three forms.
        for name in ["login", "handle", "email", "display_name"] {
            let field = format!("name=\"{name}\" ");
            let input = &sign_in[sign_in.find(&field).expect(name)..];
            let input = &input[..input.find('>').expect(name)];
            assert!(input.ends_with(&format!(" value=\"{ESCAPED}\"")), "{input}");
        }
        let csrf = format!("<input type=\"hidden\" name=\"csrf\" value=\"{ESCAPED}\">");
        assert_eq!(sign_in.matches(&csrf).count(), 3, "{sign_in}");
        // The room's name in every form's action and link.
        for action in ["sign-in", "sign-up", "sign-out"] {
            let action = format!("action=\"/join/{ESCAPED}/{action}\"");
            assert!(sign_in.contains(&action), "{action}");
        }
        let unavailable = page(Body::Unavailable).render();
        assert!(unavailable.contains(&format!("<a class=\"button\" href=\"/join/{ESCAPED}\">")));

        // The provider's checkout: its action, and the names and values of its fields.
        let form = CheckoutForm {
            action: HOSTILE.into(),
            fields: vec![(HOSTILE.into(), HOSTILE.into())],
        };
        let price = Money {
            amount_minor: 5_000_000,
            currency: "COP".into(),
        };
        let checkout = page(Body::Checkout {
            price: &price,
            form: &form,
        })
        .render();
        assert!(!checkout.contains("<script>"), "{checkout}");
        assert!(checkout.contains(&format!("<form method=\"post\" action=\"{ESCAPED}\">")));
        assert!(checkout.contains(&format!(
            "<input type=\"hidden\" name=\"{ESCAPED}\" value=\"{ESCAPED}\">"
        )));
    }
}
