"""Golden outputs of ``ksctl report`` (markdown): one closure report per verdict on the audit
chain, over the same trail, so that the diff of a change shows what each first line claims.

Rewrite with `pytest tests/golden --update-goldens` and review the diff like code.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from killswitch.render.report import report_markdown
from killswitch.runbooks.report import closure_report
from killswitch.state import AuditAnchor, AuditKey, open_store
from tests.cli.test_report_cli import KEY, T0, forge_approval_after_head, write_trail
from tests.conftest import check_golden

HERE = Path(__file__).parent
DAY = 86_400_000
SINCE, UNTIL = T0 - 13 * 3_600_000, T0 + 11 * 3_600_000  # 2026-03-02, the whole UTC day
# case: (trail written with the key, verified with the key, a forgery appended behind the store's back,
# verified against its head exported as an anchor)
CASES = {
    "intact-and-anchored": (True, True, False, False),
    "consistent-unanchored": (False, False, False, True),
    "consistent-unverified": (False, False, False, False),
    "not-verifiable-without-key": (True, False, False, False),
    "tampered": (False, False, True, False),
}


@pytest.mark.parametrize("case", CASES)
def test_report_markdown_per_verdict(case, tmp_path, update_goldens):
    written_keyed, verified_keyed, forged, exported = CASES[case]
    url = write_trail(f"sqlite://{tmp_path / 'state.db'}", AuditKey(KEY) if written_keyed else None)
    if forged:
        forge_approval_after_head(url)
    store = open_store(url, migrate=False, audit_key=AuditKey(KEY) if verified_keyed else None)
    try:
        head = store.audit_head()
        anchors = [AuditAnchor(head.seq, head.hash)] if exported else []
        doc = closure_report(store, SINCE, UNTIL, UNTIL + 60_000, anchors)
    finally:
        store.close()
    assert doc["audit"]["verdict"] == case.replace("-", "_")
    doc["store"] = "sqlite:///var/lib/killswitch/state.db"  # not the test's temporary path
    check_golden(HERE / f"{case}.md", report_markdown(doc), update_goldens)
