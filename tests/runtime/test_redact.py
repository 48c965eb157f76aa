"""Credentials never reach messages or logs: URL passwords, secret query values, secret env."""

from __future__ import annotations

import logging

import pytest

from ironside.redact import SecretFilter, redact, secret_values, url_password


def test_urls_lose_their_passwords_and_signatures() -> None:
    text = "db mysql+pymysql://u:p@ss@h:3306/x and https://b.s3/k?X-Amz-Signature=abc&v=1"
    assert (
        redact(text)
        == "db mysql+pymysql://u:***@h:3306/x and https://b.s3/k?X-Amz-Signature=***&v=1"
    )
    assert redact("https://h/x?token=t0k") == "https://h/x?token=***"
    assert redact("plain https://h/x") == "plain https://h/x"
    assert url_password("mysql+pymysql://u:p@ss@h/x") == "p@ss"
    assert url_password("sqlite:///x.db") is None


def test_secret_values_come_from_secret_names() -> None:
    env = {"AWS_SECRET_ACCESS_KEY": "abcdefgh", "MY_API_TOKEN": "zyxwvuts", "HOME": "/root"}
    assert set(secret_values(env, extra=["dbpassword", None, "x"])) == {
        "abcdefgh",
        "zyxwvuts",
        "dbpassword",
    }


def test_the_log_filter_masks_messages_args_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("ironside.test.redact")
    filt = SecretFilter(["s3cr3t-value"])
    log.addFilter(filt)
    try:
        with caplog.at_level(logging.INFO, logger="ironside.test.redact"):
            log.info("token %s at %s", "s3cr3t-value", "https://u:pw@h/")
            try:
                raise ValueError("boom s3cr3t-value")
            except ValueError:
                log.exception("failed")
    finally:
        log.removeFilter(filt)
    assert "s3cr3t-value" not in caplog.text and ":pw@" not in caplog.text
    assert "token *** at https://u:***@h/" in caplog.text
    assert "ValueError: boom ***" in caplog.text
