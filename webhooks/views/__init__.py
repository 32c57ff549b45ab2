"""HTTP views, one module per area (health, webhooks, events, deliveries, operations)."""
