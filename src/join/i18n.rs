//! The page's two languages: choosing one from `Accept-Language`, and every string in it.
//!
//! Spanish is the default (the platform's viewers pay in Colombian pesos through ePayco);
//! `join.default_language` changes it. The choice follows RFC 9110 §12.5.4: the listed
//! language with the highest `q` wins, ties go to the one listed first, `q=0` means "not
//! this one", `*` stands for the default, and a region (`es-CO`, `en-GB`) counts as its
//! language.

use crate::clock::UnixSeconds;
use crate::domain::amount::exponent;

/// The enum lives in `domain`, where `config` can name it; its strings live here.
pub use crate::domain::Lang;

impl Lang {
    pub fn text(self) -> &'static Text {
        match self {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }
}

/// The language for an `Accept-Language` header (absent or useless: `default`).
pub fn negotiate(accept_language: Option<&str>, default: Lang) -> Lang {
    let mut best: Option<(u16, Lang)> = None;
    for item in accept_language.unwrap_or("").split(',') {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim();
        let primary = range.split('-').next().unwrap_or("");
        let lang = if primary.eq_ignore_ascii_case("es") {
            Lang::Es
        } else if primary.eq_ignore_ascii_case("en") {
            Lang::En
        } else if range == "*" {
            default
        } else {
            continue;
        };
        let mut weight = Some(1000);
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=') {
                if name.trim().eq_ignore_ascii_case("q") {
                    weight = parse_q(value.trim());
                }
            }
        }
        // A malformed q drops the item, as an unknown one would be.
        let Some(weight) = weight else { continue };
        if weight > 0 && best.is_none_or(|(best_weight, _)| weight > best_weight) {
            best = Some((weight, lang));
        }
    }
    best.map_or(default, |(_, lang)| lang)
}

/// `q` in thousandths: `1`, `1.0`, `0.8`, `0.125`; anything else is malformed.
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A price in the language's number format with the ISO code: `50.000,00 COP` in
/// Spanish, `50,000.00 COP` in English; zero-decimal currencies show no decimals.
pub fn format_price(amount_minor: i64, currency: &str, lang: Lang) -> String {
    let (group, decimal) = match lang {
        Lang::Es => ('.', ','),
        Lang::En => (',', '.'),
    };
    let places = exponent(currency);
    let divisor = 10_i64.pow(places);
    let (whole, fraction) = (amount_minor / divisor, amount_minor % divisor);
    let digits = whole.abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 8);
    if amount_minor < 0 {
        grouped.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(digit);
    }
    if places > 0 {
        grouped.push(decimal);
        grouped.push_str(&format!(
            "{:0width$}",
            fraction.abs(),
            width = places as usize
        ));
    }
    format!("{grouped} {currency}")
}

/// A moment as `2027-01-15 20:00 UTC`, read the same way in both languages.
pub fn format_time(at: UnixSeconds) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Every string the page shows, in one language.
pub struct Text {
    pub room: &'static str,
    pub sign_in_heading: &'static str,
    pub sign_in_intro: &'static str,
    pub login_label: &'static str,
    pub password_label: &'static str,
    pub sign_in_button: &'static str,
    pub sign_up_heading: &'static str,
    pub handle_label: &'static str,
    pub handle_hint: &'static str,
    pub email_label: &'static str,
    pub display_name_label: &'static str,
    pub new_password_hint: &'static str,
    pub sign_up_button: &'static str,
    pub signed_in_as: &'static str,
    pub sign_out_button: &'static str,
    pub pay_heading: &'static str,
    pub pay_intro: &'static str,
    pub pay_no_price: &'static str,
    pub pay_button: &'static str,
    pub checkout_heading: &'static str,
    pub checkout_intro: &'static str,
    pub checkout_button: &'static str,
    pub check_again: &'static str,
    pub banned_heading: &'static str,
    pub banned_intro: &'static str,
    pub reason_label: &'static str,
    pub until_label: &'static str,
    pub banned_forever: &'static str,
    pub ended_heading: &'static str,
    pub ended_intro: &'static str,
    pub invite_heading: &'static str,
    pub invite_intro: &'static str,
    pub not_yet_heading: &'static str,
    pub not_yet_intro: &'static str,
    pub full_heading: &'static str,
    pub full_intro: &'static str,
    pub not_found_heading: &'static str,
    pub not_found_intro: &'static str,
    pub unavailable_heading: &'static str,
    pub unavailable_intro: &'static str,
    pub entering_heading: &'static str,
    pub entering_link: &'static str,
    pub bad_credentials: &'static str,
    pub form_expired: &'static str,
    pub rate_limited: &'static str,
    pub invalid_handle: &'static str,
    pub invalid_email: &'static str,
    pub invalid_password: &'static str,
    pub invalid_display_name: &'static str,
    pub taken_handle: &'static str,
    pub taken_email: &'static str,
    pub payment_unavailable: &'static str,
}

static ES: Text = Text {
    room: "Sala",
    sign_in_heading: "Inicia sesión para entrar",
    sign_in_intro: "Entra con tu cuenta o crea una nueva; después te llevamos a la sala.",
    login_label: "Usuario o correo electrónico",
    password_label: "Contraseña",
    sign_in_button: "Iniciar sesión",
    sign_up_heading: "¿No tienes cuenta? Crea una",
    handle_label: "Nombre de usuario",
    handle_hint: "De 3 a 32 caracteres: letras a-z, números, _ . -",
    email_label: "Correo electrónico",
    display_name_label: "Nombre visible (opcional)",
    new_password_hint: "Al menos 10 caracteres",
    sign_up_button: "Crear cuenta y continuar",
    signed_in_as: "Sesión iniciada como",
    sign_out_button: "Cerrar sesión",
    pay_heading: "Paga para entrar",
    pay_intro: "Esta sala es de pago. La entrada cuesta",
    pay_no_price: "Esta sala es de pago, pero aún no tiene precio. Consulta con el organizador.",
    pay_button: "Pagar con ePayco",
    checkout_heading: "Completa el pago",
    checkout_intro: "Continúa en ePayco para pagar. Cuando vuelvas, comprobamos tu entrada y te llevamos a la sala.",
    checkout_button: "Continuar a ePayco",
    check_again: "Ya pagué: comprobar de nuevo",
    banned_heading: "No puedes entrar a esta sala",
    banned_intro: "Tu acceso a esta sala está bloqueado.",
    reason_label: "Motivo",
    until_label: "Hasta",
    banned_forever: "Sin fecha de fin.",
    ended_heading: "El show terminó",
    ended_intro: "Esta sala cerró el",
    invite_heading: "Sala solo con invitación",
    invite_intro: "Necesitas una invitación del organizador para entrar.",
    not_yet_heading: "Todavía no es la hora",
    not_yet_intro: "Tu acceso a esta sala empieza el",
    full_heading: "La sala está llena",
    full_intro: "Todos los lugares están ocupados. Vuelve a intentarlo en unos segundos.",
    not_found_heading: "Sala no encontrada",
    not_found_intro: "No existe una sala con este nombre. Revisa el enlace.",
    unavailable_heading: "Algo salió mal",
    unavailable_intro: "No pudimos comprobar tu acceso. Inténtalo de nuevo en unos segundos.",
    entering_heading: "Entrando a la sala…",
    entering_link: "Ir a la sala",
    bad_credentials: "Usuario o contraseña incorrectos.",
    form_expired: "El formulario caducó. Inténtalo de nuevo.",
    rate_limited: "Demasiados intentos. Espera un minuto e inténtalo de nuevo.",
    invalid_handle: "El nombre de usuario debe tener de 3 a 32 caracteres: letras a-z, números, _ . -, empezando por letra o número.",
    invalid_email: "El correo electrónico no es válido.",
    invalid_password: "La contraseña debe tener de 10 a 256 caracteres.",
    invalid_display_name: "El nombre visible admite hasta 64 caracteres imprimibles.",
    taken_handle: "Ese nombre de usuario ya está registrado.",
    taken_email: "Ese correo electrónico ya está registrado. Inicia sesión.",
    payment_unavailable: "El pago no está disponible en este momento.",
};

static EN: Text = Text {
    room: "Room",
    sign_in_heading: "Sign in to enter",
    sign_in_intro: "Sign in with your account or create one; then we take you to the room.",
    login_label: "Username or e-mail",
    password_label: "Password",
    sign_in_button: "Sign in",
    sign_up_heading: "No account? Create one",
    handle_label: "Username",
    handle_hint: "3 to 32 characters: letters a-z, digits, _ . -",
    email_label: "E-mail",
    display_name_label: "Display name (optional)",
    new_password_hint: "At least 10 characters",
    sign_up_button: "Create account and continue",
    signed_in_as: "Signed in as",
    sign_out_button: "Sign out",
    pay_heading: "Pay to enter",
    pay_intro: "This is a paid room. A ticket costs",
    pay_no_price: "This is a paid room, but it has no price yet. Ask the host.",
    pay_button: "Pay with ePayco",
    checkout_heading: "Complete the payment",
    checkout_intro: "Continue to ePayco to pay. When you are back, we check your ticket and take you to the room.",
    checkout_button: "Continue to ePayco",
    check_again: "I have paid: check again",
    banned_heading: "You cannot enter this room",
    banned_intro: "Your access to this room is blocked.",
    reason_label: "Reason",
    until_label: "Until",
    banned_forever: "With no end date.",
    ended_heading: "The show has ended",
    ended_intro: "This room closed on",
    invite_heading: "Invitation-only room",
    invite_intro: "You need an invitation from the host to enter.",
    not_yet_heading: "Not open to you yet",
    not_yet_intro: "Your access to this room starts on",
    full_heading: "This room is full",
    full_intro: "Every seat is taken. Try again in a few seconds.",
    not_found_heading: "Room not found",
    not_found_intro: "There is no room with this name. Check the link.",
    unavailable_heading: "Something went wrong",
    unavailable_intro: "We could not check your access. Try again in a few seconds.",
    entering_heading: "Entering the room…",
    entering_link: "Go to the room",
    bad_credentials: "Wrong username or password.",
    form_expired: "The form has expired. Please try again.",
    rate_limited: "Too many attempts. Wait a minute and try again.",
    invalid_handle: "The username must be 3 to 32 characters: letters a-z, digits, _ . -, starting with a letter or digit.",
    invalid_email: "The e-mail address is not valid.",
    invalid_password: "The password must be 10 to 256 characters.",
    invalid_display_name: "The display name takes up to 64 printable characters.",
    taken_handle: "That username is already registered.",
    taken_email: "That e-mail is already registered. Sign in instead.",
    payment_unavailable: "Payment is not available right now.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_q_wins_and_ties_go_to_the_first() {
        let en = Some("en-US,en;q=0.9,es;q=0.8");
        assert_eq!(negotiate(en, Lang::Es), Lang::En);
        assert_eq!(
            negotiate(Some("fr-FR, es-CO;q=0.7, en;q=0.5"), Lang::En),
            Lang::Es
        );
        assert_eq!(negotiate(Some("en;q=0.5, es;q=0.5"), Lang::Es), Lang::En);
        assert_eq!(negotiate(Some("es;q=0.2, EN-gb;q=0.3"), Lang::Es), Lang::En);
    }

    #[test]
    fn nothing_usable_means_the_default() {
        assert_eq!(negotiate(None, Lang::Es), Lang::Es);
        assert_eq!(negotiate(Some(""), Lang::En), Lang::En);
        assert_eq!(negotiate(Some("fr, de;q=0.9"), Lang::Es), Lang::Es);
        assert_eq!(negotiate(Some("*"), Lang::En), Lang::En);
        // q=0 refuses a language; a malformed q drops the item.
        assert_eq!(negotiate(Some("en;q=0, fr"), Lang::Es), Lang::Es);
        assert_eq!(negotiate(Some("en;q=0"), Lang::En), Lang::En);
        assert_eq!(negotiate(Some("en;q=2, es;q=0.1"), Lang::En), Lang::Es);
        assert_eq!(negotiate(Some("en;q=0.1234"), Lang::Es), Lang::Es);
    }

    #[test]
    fn q_values_parse_exactly() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.8"), Some(800));
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("0"), Some(0));
        for bad in ["", "1.5", "2", ".5", "0.1234", "-0.5", "0,5"] {
            assert_eq!(parse_q(bad), None, "{bad}");
        }
    }

    #[test]
    fn prices_follow_the_language() {
        assert_eq!(format_price(5_000_000, "COP", Lang::Es), "50.000,00 COP");
        assert_eq!(format_price(5_000_000, "COP", Lang::En), "50,000.00 COP");
        assert_eq!(format_price(1_905, "USD", Lang::En), "19.05 USD");
        assert_eq!(format_price(990, "USD", Lang::Es), "9,90 USD");
        assert_eq!(format_price(1_500_000, "JPY", Lang::En), "1,500,000 JPY");
        assert_eq!(format_price(5, "CLP", Lang::Es), "5 CLP");
        assert_eq!(
            format_price(123_456_789, "EUR", Lang::Es),
            "1.234.567,89 EUR"
        );
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(format_time(1_800_000_000), "2027-01-15 08:00 UTC");
    }
}
