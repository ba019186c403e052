"""The open API (FastAPI, under /v1): routers per context, auth, schemas, problem+json errors."""
