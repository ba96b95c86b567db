//! `[join]`: the join page Jitsi Meet's `tokenAuthUrl` sends visitors to.

use serde::{Deserialize, Serialize};

use crate::domain::Lang;

/// The join page Jitsi Meet's `tokenAuthUrl` sends visitors to (`docs/join-page.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JoinConfig {
    /// The page's language when `Accept-Language` names neither Spanish nor English:
    /// `es` or `en`. default: `es`; env `ROOMKEY_JOIN__DEFAULT_LANGUAGE`.
    pub default_language: Lang,
}

impl Default for JoinConfig {
    fn default() -> Self {
        Self {
            default_language: Lang::Es,
        }
    }
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Serialized, Toml};
    use figment::Figment;

    use crate::config::Config;
    use crate::domain::Lang;

    #[test]
    fn the_join_page_language_is_es_or_en() {
        let parse = |text: &str| {
            Figment::from(Serialized::defaults(Config::default()))
                .merge(Toml::string(text))
                .extract::<Config>()
                .map_err(|error| error.to_string())
        };
        let parsed = parse("[join]\ndefault_language = \"en\"\n").unwrap();
        assert_eq!(parsed.join.default_language, Lang::En);
        assert!(parse("[join]\ndefault_language = \"fr\"\n").is_err());
        assert_eq!(Config::default().join.default_language, Lang::Es);
    }
}
