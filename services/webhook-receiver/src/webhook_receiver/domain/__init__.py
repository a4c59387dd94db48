"""Pure rules of the webhook edge: routing, compliance requests, WMS event schemas."""
