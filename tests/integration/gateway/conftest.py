from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.gateway.support import install_npm_servers


@pytest.fixture(scope="session")
def npm_servers() -> dict[str, Path]:
    return install_npm_servers()
