"""The HTTP client every tool's connector sends through (portal/integrations/http.py)."""

from __future__ import annotations

import ssl

from portal.integrations.http import ApiClient, tls


def test_new_clients_share_one_tls_context_instead_of_reading_the_ca_bundle_again(monkeypatch):
    """A sync run builds two clients and a page asking a tool one or two: each read the CA bundle (28 ms)."""
    tls()  # the process's one context, built on first use
    read = []
    original = ssl.SSLContext.load_verify_locations
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations",
                        lambda self, *args, **kwargs: read.append(args) or original(self, *args, **kwargs))
    clients = [ApiClient("https://api.track.toggl.test/api/v9") for _ in range(3)]
    try:
        assert read == []
    finally:
        for client in clients:
            client.close()
