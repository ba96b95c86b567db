-- luacheck for the Prosody modules (prosody-plugins/, tests/prosody/).
std = "lua54"
max_line_length = 150
files["prosody-plugins"] = { globals = { "module", "prosody" } }
files["tests/prosody"] = { globals = { "module", "prosody" } }
