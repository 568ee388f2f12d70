"""Read-side queries for the API: plain values out, no HTTP."""
