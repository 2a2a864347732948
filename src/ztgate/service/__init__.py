"""The one place that runs the whole pipeline for every way in (SDK, HTTP, gateway, CLI)."""
