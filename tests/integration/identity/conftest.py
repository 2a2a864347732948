import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from identity_support import backend, clock, registry, server, settings, store

__all__ = ["backend", "clock", "registry", "server", "settings", "store"]
