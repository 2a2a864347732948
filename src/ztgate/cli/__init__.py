"""Command-line interface: one sub-application per area, registered in :mod:`main`."""
