"""Shared fixtures of the sandbox tests: bwrap availability, markers for leftover processes, a live port."""

from __future__ import annotations

import socket
import uuid

import pytest


@pytest.fixture
def marker() -> str:
    return f"CODEJA_MARK_{uuid.uuid4().hex}"


@pytest.fixture
def listening_port():
    """A TCP port listening on 127.0.0.1 in the caller's network namespace."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.settimeout(0.2)
    yield s
    s.close()
