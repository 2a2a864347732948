"""HTTP adapters (Starlette)."""
