import pytest
from pydantic import ValidationError

from stocksync_common.settings import CommonSettings, load


def test_env_prefix(monkeypatch):
    monkeypatch.setenv("STOCKSYNC_KAFKA_BOOTSTRAP_SERVERS", "h:1")
    assert CommonSettings().kafka_bootstrap_servers == "h:1"


def test_placeholder_admin_token_refused_in_production(monkeypatch):
    monkeypatch.setenv("STOCKSYNC_ENVIRONMENT", "production")
    monkeypatch.setenv("STOCKSYNC_ALLOW_INSECURE_TRANSPORT", "true")  # not the subject here
    monkeypatch.delenv("STOCKSYNC_ADMIN_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="ADMIN_TOKEN"):
        CommonSettings()
    monkeypatch.setenv("STOCKSYNC_ADMIN_TOKEN", "a-real-long-secret")
    with pytest.raises(ValidationError, match="at least 32 characters"):
        CommonSettings()  # too short to be a production token
    real = "a-real-long-secret-of-32-chars-or-more"
    monkeypatch.setenv("STOCKSYNC_ADMIN_TOKEN", real)
    assert CommonSettings().admin_token.get_secret_value() == real


def test_a_secret_never_shows_in_the_settings_or_their_errors(monkeypatch, capsys):
    secret = "s3cr3t-value-that-must-not-leak-anywhere"
    monkeypatch.setenv("STOCKSYNC_ADMIN_TOKEN", secret)
    settings = CommonSettings()
    assert secret not in repr(settings) and secret not in str(settings.model_dump())
    monkeypatch.setenv("STOCKSYNC_TOPIC_PARTITIONS", "many")
    monkeypatch.setenv("STOCKSYNC_ENVIRONMENT", "production")
    with pytest.raises(SystemExit) as ended:
        load(CommonSettings)
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "topic_partitions" in err and "many" not in err and secret not in err
