"""Every file of CPython's own email test data goes through intake on both databases.

The folder holds odd and broken mail (bad MIME, unknown charsets, missing headers) and
even images and sounds; each must end with a final outcome and a reason, never an error.
"""

from __future__ import annotations

import os

import pytest
import test.test_email

from maildesk.store.spool import store
from tests.conftest import NOW

DATA = os.path.join(os.path.dirname(test.test_email.__file__), "data")
FILES = sorted(os.listdir(DATA))
FINAL = {"created", "appended", "ignored", "duplicate", "quarantined"}


def test_corpus_is_present():
    assert len(FILES) > 40, f"expected the stdlib's email test data in {DATA}"


@pytest.mark.parametrize("name", FILES)
def test_stdlib_mail_gets_a_final_outcome(services, name):
    with open(os.path.join(DATA, name), "rb") as fh:
        raw = fh.read()
    inbound_id = store(services.engine, raw, source="ingest", now=NOW)
    try:
        result = services.worker.process(inbound_id, NOW)
        for _ in range(services.config.processing.max_attempts):
            if result.outcome != "retry":
                break
            result = services.worker.process(inbound_id, NOW, force=True)
    except Exception as exc:
        pytest.fail(f"{name}: processing raised {type(exc).__name__}: {exc}")
    assert result.outcome in FINAL, f"{name}: outcome {result.outcome!r} ({result.reason})"
    assert result.reason, f"{name}: outcome {result.outcome!r} without a reason"
