from tests.integration.service.support import clock, control, target

__all__ = ["clock", "control", "target"]
