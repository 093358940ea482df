"""Destination clients: Klaviyo, Mailchimp and the file outbox."""
