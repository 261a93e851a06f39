"""`[logging]`, `[metrics]` and `[processing] max_header_fields`: defaults and clear errors."""

from __future__ import annotations

import pytest

from maildesk import config as config_module


def test_defaults_log_text_serve_no_metrics_and_keep_the_header_limit():
    config = config_module.from_mapping({})
    assert config.logging.format == "text"
    assert config.metrics.address is None
    assert config.processing.max_header_fields == 1000


@pytest.mark.parametrize(
    ("listen", "address"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), ("[::1]:9464", ("::1", 9464))],
)
def test_metrics_listen_is_host_and_port(listen, address):
    assert config_module.from_mapping({"metrics": {"listen": listen}}).metrics.address == address


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("metrics", {"listen": "9464"}, "metrics.listen: '9464' is not HOST:PORT"),
        ("metrics", {"listen": "localhost:99999"}, "is not HOST:PORT"),
        ("metrics", {"listen": 9464}, 'metrics.listen: must be a string "HOST:PORT"'),
        ("logging", {"format": "xml"}, "logging.format: must be one of 'text', 'json'"),
        ("logging", {"fmt": "json"}, "logging.fmt: unknown key"),
        ("processing", {"max_header_fields": 0}, "processing.max_header_fields"),
    ],
)
def test_wrong_values_name_the_key(section, values, message):
    with pytest.raises(config_module.ConfigError) as raised:
        config_module.from_mapping({section: values})
    assert message in str(raised.value)
