"""Who may do what: API keys (`tokens`, `keyring`) and the scopes they carry (`scopes`)."""
