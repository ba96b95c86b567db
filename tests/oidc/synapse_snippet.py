"""Feeds the Synapse part of `roomkey oidc client` (on stdin) to the pinned Synapse's own
parser of `oidc_providers`, and prints what a user with the handle in argv[1] would be
mapped to: the Matrix localpart, then the provider's settings that matter here.
"""

import sys

import yaml
from synapse.config.oidc import _parse_oidc_provider_configs

snippet = sys.stdin.read().split("# Mastodon")[0]
(provider,) = _parse_oidc_provider_configs(yaml.safe_load(snippet))
mapping = provider.user_mapping_provider_config
print(mapping.localpart_template.render(user={"preferred_username": sys.argv[1]}))
print(
    provider.idp_id,
    provider.discover,
    provider.allow_existing_users,
    provider.pkce_method,
    provider.backchannel_logout_enabled,
)
