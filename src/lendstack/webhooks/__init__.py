"""Webhooks, an integration subsystem: partners' endpoints (guarded against SSRF), signed
deliveries of outbox events with retries, and the SQL that stores them."""
