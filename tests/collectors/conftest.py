"""Fixtures shared by the collectors' tests."""

from __future__ import annotations

import socket
from typing import Any

import pytest


@pytest.fixture
def lan_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names in this table resolve to the address given; other ``*.test`` names do not resolve."""
    real = socket.getaddrinfo
    table: dict[str, str] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        name = str(host).strip("[]")
        if name in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (table[name], port))]
        if name.endswith(".test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table
