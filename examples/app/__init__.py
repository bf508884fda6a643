"""An application beside regmail: its own users table and session, sign-up and sign-in through
regmail.client, and the account events it hears as signed webhooks. `scripts/example` runs it."""
