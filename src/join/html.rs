//! The page as HTML: hand-written, small, no script, no external asset.
//!
//! Every interpolated value goes through [`escape`]. Accessibility: `lang` on `<html>`,
//! one `<h1>` per page, a `<label>` for every field, `role="alert"` on form errors,
//! visible focus, and colours above WCAG AA contrast (text #1a1a1a on white, buttons
//! white on #0b4f8a).

use super::i18n::{format_price, format_time, Lang, Text};
use super::Scene;
use crate::domain::Money;
use crate::payments::CheckoutForm;

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

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
    fn text(self, t: &Text) -> &'static str {
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

const STYLE: &str = "body{font:1.05rem/1.5 system-ui,sans-serif;color:#1a1a1a;background:#fff;margin:0}\
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
        let mut html = String::with_capacity(4096);
        html.push_str("<!doctype html>\n<html lang=\"");
        html.push_str(self.lang.tag());
        html.push_str(
            "\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>",
        );
        html.push_str(&escape(heading));
        if !self.room_title.is_empty() {
            html.push_str(" · ");
            html.push_str(&escape(self.room_title));
        }
        html.push_str("</title><style>");
        html.push_str(STYLE);
        html.push_str("</style></head>\n<body><main>\n");
        if !self.room_title.is_empty() {
            html.push_str(&format!(
                "<p class=\"room\">{}: <strong>{}</strong></p>\n",
                t.room,
                escape(self.room_title)
            ));
        }
        html.push_str(&format!("<h1>{}</h1>\n", escape(heading)));
        if let Some(notice) = self.notice {
            html.push_str(&format!(
                "<p class=\"alert\" role=\"alert\">{}</p>\n",
                escape(notice.text(t))
            ));
        }
        html.push_str(&content);
        if let Some(handle) = self.signed_in_as {
            html.push_str(&format!(
                "<footer><form method=\"post\" action=\"{}/sign-out\">{}<p>{} <strong>{}</strong>. \
<button class=\"link\" type=\"submit\">{}</button></p></form></footer>\n",
                self.base(),
                self.csrf_field(),
                t.signed_in_as,
                escape(handle),
                t.sign_out_button
            ));
        }
        html.push_str("</main></body></html>\n");
        html
    }

    fn base(&self) -> String {
        format!("/join/{}", escape(self.room_name))
    }

    fn csrf_field(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            escape(self.csrf)
        )
    }

    /// The page's heading and everything under it.
    fn content(&self, t: &'static Text) -> (&'static str, String) {
        let scene = match &self.body {
            Body::NotFound => {
                return (
                    t.not_found_heading,
                    format!("<p>{}</p>\n", t.not_found_intro),
                )
            }
            Body::Unavailable => {
                return (
                    t.unavailable_heading,
                    format!(
                        "<p>{}</p>\n<p><a class=\"button\" href=\"{}\">{}</a></p>\n",
                        t.unavailable_intro,
                        self.base(),
                        t.check_again
                    ),
                )
            }
            Body::Checkout { price, form } => {
                return (t.checkout_heading, self.checkout(t, price, form))
            }
            Body::Scene(scene) => scene,
        };
        match scene {
            Scene::SignIn => (
                t.sign_in_heading,
                format!(
                    "<p>{}</p>\n{}{}",
                    t.sign_in_intro,
                    self.sign_in_form(t, false),
                    self.sign_up_form(t)
                ),
            ),
            // Entering is a redirect; a page (after a refused form) links to the join page,
            // which redirects, so the token never appears in HTML.
            Scene::Enter { .. } => (
                t.entering_heading,
                format!(
                    "<p><a class=\"button\" href=\"{}\">{}</a></p>\n",
                    self.base(),
                    t.entering_link
                ),
            ),
            Scene::Pay { price: Some(price) } => (
                t.pay_heading,
                format!(
                    "<p>{}:</p>\n<p class=\"price\">{}</p>\n<form method=\"post\" action=\"{}/pay\">{}\
<button type=\"submit\">{}</button></form>\n<p><a href=\"{}\">{}</a></p>\n",
                    t.pay_intro,
                    escape(&format_price(price.amount_minor, &price.currency, self.lang)),
                    self.base(),
                    self.csrf_field(),
                    t.pay_button,
                    self.base(),
                    t.check_again
                ),
            ),
            Scene::Pay { price: None } => (t.pay_heading, format!("<p>{}</p>\n", t.pay_no_price)),
            Scene::Banned { reason, until } => {
                let until = match until {
                    Some(until) => escape(&format_time(*until)),
                    None => t.banned_forever.to_owned(),
                };
                (
                    t.banned_heading,
                    format!(
                        "<div class=\"stop\"><p>{}</p>\n<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl></div>\n",
                        t.banned_intro,
                        t.reason_label,
                        escape(reason),
                        t.until_label,
                        until
                    ),
                )
            }
            Scene::Ended { ended_at } => {
                let mut content = format!(
                    "<div class=\"stop\"><p>{} {}.</p></div>\n",
                    t.ended_intro,
                    escape(&format_time(*ended_at))
                );
                // The performer and staff may still enter an ended room; let them sign in.
                if self.signed_in_as.is_none() {
                    content.push_str(&self.sign_in_form(t, true));
                }
                (t.ended_heading, content)
            }
            Scene::InviteOnly => (t.invite_heading, format!("<p>{}</p>\n", t.invite_intro)),
            Scene::NotYet { starts_at } => (
                t.not_yet_heading,
                format!(
                    "<p>{} {}.</p>\n<p><a href=\"{}\">{}</a></p>\n",
                    t.not_yet_intro,
                    escape(&format_time(*starts_at)),
                    self.base(),
                    t.check_again
                ),
            ),
        }
    }

    fn sign_in_form(&self, t: &Text, with_heading: bool) -> String {
        format!(
            "<form method=\"post\" action=\"{base}/sign-in\">{heading}{csrf}\
<label for=\"login\">{login}</label>\
<input id=\"login\" name=\"login\" autocomplete=\"username\" required maxlength=\"254\" value=\"{login_value}\">\
<label for=\"password\">{password}</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"256\">\
<button type=\"submit\">{button}</button></form>\n",
            base = self.base(),
            heading = if with_heading {
                format!("<h2>{}</h2>", t.sign_in_button)
            } else {
                String::new()
            },
            csrf = self.csrf_field(),
            login = t.login_label,
            login_value = escape(&self.filled.login),
            password = t.password_label,
            button = t.sign_in_button,
        )
    }

    fn sign_up_form(&self, t: &Text) -> String {
        format!(
            "<h2>{heading}</h2>\n<form method=\"post\" action=\"{base}/sign-up\">{csrf}\
<label for=\"handle\">{handle}<span class=\"hint\" id=\"handle-hint\">{handle_hint}</span></label>\
<input id=\"handle\" name=\"handle\" autocomplete=\"username\" required minlength=\"3\" maxlength=\"32\" aria-describedby=\"handle-hint\" value=\"{handle_value}\">\
<label for=\"email\">{email}</label>\
<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required maxlength=\"254\" value=\"{email_value}\">\
<label for=\"display_name\">{display_name}</label>\
<input id=\"display_name\" name=\"display_name\" autocomplete=\"nickname\" maxlength=\"64\" value=\"{display_name_value}\">\
<label for=\"new_password\">{password}<span class=\"hint\" id=\"password-hint\">{password_hint}</span></label>\
<input id=\"new_password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required minlength=\"10\" maxlength=\"256\" aria-describedby=\"password-hint\">\
<button type=\"submit\">{button}</button></form>\n",
            heading = t.sign_up_heading,
            base = self.base(),
            csrf = self.csrf_field(),
            handle = t.handle_label,
            handle_hint = t.handle_hint,
            handle_value = escape(&self.filled.handle),
            email = t.email_label,
            email_value = escape(&self.filled.email),
            display_name = t.display_name_label,
            display_name_value = escape(&self.filled.display_name),
            password = t.password_label,
            password_hint = t.new_password_hint,
            button = t.sign_up_button,
        )
    }

    fn checkout(&self, t: &Text, price: &Money, form: &CheckoutForm) -> String {
        let mut html = format!(
            "<p class=\"price\">{}</p>\n<p>{}</p>\n<form method=\"post\" action=\"{}\">",
            escape(&format_price(
                price.amount_minor,
                &price.currency,
                self.lang
            )),
            t.checkout_intro,
            escape(&form.action)
        );
        for (name, value) in &form.fields {
            html.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            ));
        }
        html.push_str(&format!(
            "<button type=\"submit\">{}</button></form>\n<p><a href=\"{}\">{}</a></p>\n",
            t.checkout_button,
            self.base(),
            t.check_again
        ));
        html
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
    }

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
}
