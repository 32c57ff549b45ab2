"""Portal pages, one module per area: the session, webhooks, secrets, and deliveries."""
