"""Alert sink: records every POST (Slack-compatible webhooks, email relays, ...)."""
