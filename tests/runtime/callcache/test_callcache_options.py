"""call-caching config, workflow options and volatile tasks -> effective mode."""

from __future__ import annotations

import pytest

from ironside.callcache.options import (
    CallCachingConfig,
    CallCachingMode,
    CallCachingOptions,
    effective_mode,
    is_volatile,
)
from ironside.errors import BadConfig, BadOptions


def test_config_defaults_and_values() -> None:
    default = CallCachingConfig.from_config(None)
    assert default.enabled and default.invalidate_bad_cache_results
    assert default.max_result_age_days is None
    config = CallCachingConfig.from_config(
        {
            "enabled": "false",
            "invalidate-bad-cache-results": False,
            "max-failed-copy-attempts": 2,
            "max-result-age-days": 90,
        }
    )
    assert not config.enabled and not config.invalidate_bad_cache_results
    assert config.max_failed_copy_attempts == 2 and config.max_result_age_days == 90.0


@pytest.mark.parametrize(
    ("block", "key"),
    [
        ({"enabled": "yes"}, "call-caching.enabled"),
        ({"invalidate-bad-cache-results": 1}, "invalidate-bad-cache-results"),
        ({"max-failed-copy-attempts": 0}, "max-failed-copy-attempts"),
        ({"max-result-age-days": "old"}, "max-result-age-days"),
    ],
)
def test_config_errors_name_the_key(block: dict[str, object], key: str) -> None:
    with pytest.raises(BadConfig, match=key):
        CallCachingConfig.from_config(block)


def test_options_defaults_and_values() -> None:
    assert CallCachingOptions.from_workflow_options({}) == CallCachingOptions(True, True, None)
    options = CallCachingOptions.from_workflow_options(
        {
            "read_from_cache": False,
            "write_to_cache": "true",
            "call_cache_hit_path_prefixes": ["s3://bkt/a/", "/data/"],
        }
    )
    assert options == CallCachingOptions(False, True, ("s3://bkt/a/", "/data/"))


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"read_from_cache": "nope"}, "read_from_cache"),
        ({"write_to_cache": 1}, "write_to_cache"),
        ({"call_cache_hit_path_prefixes": "s3://bkt/"}, "call_cache_hit_path_prefixes"),
        ({"call_cache_hit_path_prefixes": ["ok", 3]}, "call_cache_hit_path_prefixes"),
        ({"call_cache_hit_path_prefixes": [""]}, "call_cache_hit_path_prefixes"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, object], name: str) -> None:
    with pytest.raises(BadOptions, match=name) as caught:
        CallCachingOptions.from_workflow_options(options)
    assert caught.value.http_status == 400


def test_volatile_meta() -> None:
    assert is_volatile({"volatile": True})
    assert is_volatile({"volatile": "true"})
    assert not is_volatile({"volatile": False})
    assert not is_volatile({"author": "me"})
    assert not is_volatile(None)


def test_effective_mode() -> None:
    on = CallCachingConfig()
    both = CallCachingOptions()
    assert effective_mode(on, both) is CallCachingMode.READ_AND_WRITE
    assert effective_mode(on, CallCachingOptions(read_from_cache=False)) is CallCachingMode.WRITE
    assert effective_mode(on, CallCachingOptions(write_to_cache=False)) is CallCachingMode.READ
    assert effective_mode(on, CallCachingOptions(False, False)) is CallCachingMode.OFF
    assert effective_mode(on, both, {"volatile": True}) is CallCachingMode.OFF
    assert effective_mode(CallCachingConfig(enabled=False), both) is CallCachingMode.OFF
    assert CallCachingMode.READ.reads and not CallCachingMode.READ.writes
    assert CallCachingMode.WRITE.value == "WriteCache"
