"""The billing HTTP API (FastAPI, routes under /v1). Routes hold no SQL and no arithmetic:
they call the ledger's services and queries."""
