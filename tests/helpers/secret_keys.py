"""Fernet keys for tests (`JOBQUEUE_SECRETS_KEY`): fixed, so a failing run can be replayed."""

SECRETS_KEY = "z8ldGWYRny-XmpqgUfRqsJEYgPCuoeHvMlxd6P5at2U="
NEXT_SECRETS_KEY = "Ho_UTDoWleBXjBVr8qz4YRQqzF3_goC3n0Fc5ZU4zjg="
ROTATED = f"{NEXT_SECRETS_KEY},{SECRETS_KEY}"  # the new key first: it seals, both unseal
