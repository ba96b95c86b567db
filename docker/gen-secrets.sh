#!/usr/bin/env sh
# Writes .env from .env.example, filling every empty secret with 32 random bytes in hex.
# Refuses to overwrite an existing .env (its secrets are already in the volumes).
set -eu
cd "$(dirname "$0")"
if [ -e .env ]; then
  echo ".env exists; remove it first to generate new secrets" >&2
  exit 1
fi
umask 077
while IFS= read -r line; do
  case "$line" in
    *_SECRET= | *_KEY= | *_PASSWORD= | *_TOKEN=)
      printf '%s%s\n' "$line" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" ;;
    *) printf '%s\n' "$line" ;;
  esac
done < .env.example > .env
echo "wrote $(pwd)/.env"
