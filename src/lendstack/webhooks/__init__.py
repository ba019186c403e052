"""Webhooks, an integration subsystem: partners' endpoints (guarded against SSRF), signed
deliveries of outbox events with retries, and the SQL that stores them.

- `domain`: event types, statuses, who receives which event (the fan-out plan), the frozen types
  and `WebhookError`; no I/O.
- `ssrf`: the URL/IP guard at subscribe time (`check_url`) and at every send (`pin`).
- `signing`: HMAC signatures, the signed request, sealing the signing secret (migration 0015
  imports it).
- `retry`: backoff with deterministic jitter, and what an attempt's result does to a delivery.
- `repository`: `WebhookRepository`, every SQL statement, on the caller's connection.
- `sender`: the httpx transport to the pinned address.
- `service`: the use cases (subscribe, list, deactivate, fan out, send, dispatch, redeliver).
"""
