"""Every test gets its own cache folder, so no test touches a user's home or another test."""

import pytest


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("AUDIOFIC_CACHE", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache
