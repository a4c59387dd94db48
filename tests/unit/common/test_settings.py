import pytest
from pydantic import ValidationError

from stocksync_common.settings import CommonSettings


def test_env_prefix(monkeypatch):
    monkeypatch.setenv("STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS", "h:1")
    assert CommonSettings().kafka_bootstrap_servers == "h:1"


def test_placeholder_admin_token_refused_in_production(monkeypatch):
    monkeypatch.setenv("STOCKSYNC_ENVIRONMENT", "production")
    monkeypatch.delenv("STOCKSYNC_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="ADMIN_TOKEN"):
        CommonSettings()
    monkeypatch.setenv("STOCKSYNC_ADMIN_TOKEN", "a-real-long-secret")
    assert CommonSettings().admin_token == "a-real-long-secret"
