"""The unit tier opens no network socket: what needs one is an integration test (tests/integration)."""

import socket

import pytest


class NetworkInUnitTest(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(original):
        def guarded(self, *args, **kwargs):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                raise NetworkInUnitTest("a unit test opened a network socket; move it to tests/integration")
            return original(self, *args, **kwargs)

        return guarded

    for method in ("bind", "connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, method, refuse(getattr(socket.socket, method)))
