"""``ksctl validate`` over a policy whose stage revokes trading and the Accounts document it runs
on: an account on Hyperliquid (whose agents have no permission switch) in the stage's scope is
refused at the ``revoke_trading`` action (KS261, file:line:col, with a hint), never skipped; the
same policy over accounts that all have the switch validates; an account outside the scope is not
the action's business."""

from __future__ import annotations

import textwrap

from click.testing import CliRunner

from killswitch.cli.main import cli

POLICY = textwrap.dedent("""\
    apiVersion: killswitch/v1
    kind: Policy
    metadata: {name: bot-guard}
    spec:
      scope: {level: account, accounts: {match_labels: {book: futures}}}
      interval: 5s
      signals:
        bot: {heartbeat_age: {source: bot-x}}
      triggers:
        silent: {when: "bot > 60s", on_missing_data: hold}
      stages:
        - level: 1
          name: revoke
          on: [silent]
          reset: manual
          approvals: 2
          actions:
            - {lock_trading: {mode: halted}}
            - revoke_trading
    """)
BINANCE = textwrap.dedent("""\
    - name: bn-main
      venue: binanceusdm
      market_type: futures
      labels: {book: futures}
      credentials: {api_key: {env: BN_KEY}, secret: {env: BN_SECRET}}
      revoke:
        master_credentials: {api_key: {env: BN_MASTER_KEY}, secret: {env: BN_MASTER_SECRET}}
        sub_account: bot@example.com
        api_keys: [bot-key-1]
    """)
HYPERLIQUID = textwrap.dedent("""\
    - name: hl-main
      venue: hyperliquid
      market_type: futures
      quote_currency: USDC
      labels: {book: LABEL}
      credentials: {wallet_address: "0x0000000000000000000000000000000000000001", private_key: {env: HL_KEY}}
    """)


def _files(tmp_path, *accounts: str):
    pol = tmp_path / "guard.yaml"
    pol.write_text(POLICY)
    acc = tmp_path / "accounts.yaml"
    acc.write_text("apiVersion: killswitch/v1\nkind: Accounts\nmetadata: {name: desk}\nspec:\n  accounts:\n"
                   + "".join(textwrap.indent(a, "    ") for a in accounts))
    return pol, acc


def _validate(*paths):
    return CliRunner().invoke(cli, ["validate", *map(str, paths)], catch_exceptions=False)


def _at(path, needle: str) -> tuple[int, int]:
    """The 1-based line and column of ``needle`` in ``path``."""
    for n, text in enumerate(path.read_text().splitlines(), 1):
        if needle in text:
            return n, text.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


def test_revoke_trading_reaching_a_hyperliquid_account_is_refused_at_the_action(tmp_path):
    pol, acc = _files(tmp_path, BINANCE, HYPERLIQUID.replace("LABEL", "futures"))
    r = _validate(pol, acc)
    assert r.exit_code == 1, r.output
    line, col = _at(pol, "revoke_trading")
    assert (f'{pol}:{line}:{col}: error[KS261]: policy "bot-guard": revoke_trading cannot act on 1 account(s) '
            "its scope") in r.output, r.output
    assert '"hl-main": venue "hyperliquid" has no switch' in r.output and '"bn-main"' not in r.output, r.output
    assert "hint: give each account a revoke: block" in r.output and "never skipped silently" in r.output


def test_the_same_policy_validates_when_hyperliquid_is_outside_its_scope(tmp_path):
    pol, acc = _files(tmp_path, BINANCE, HYPERLIQUID.replace("LABEL", "spot-desk"))
    r = _validate(pol, acc)
    assert r.exit_code == 0 and "KS261" not in r.output, r.output


def test_a_hyperliquid_revoke_block_is_refused_at_the_block_too(tmp_path):
    """The switch cannot be configured for Hyperliquid either: KS260 at the block, and the action
    that reaches the account still KS261."""
    block = ("  revoke:\n    master_credentials: {api_key: {env: M}, secret: {env: S}}\n"
             "    sub_account: s\n    api_keys: [k]\n")
    pol, acc = _files(tmp_path, HYPERLIQUID.replace("LABEL", "futures") + block)
    r = _validate(pol, acc)
    assert r.exit_code == 1, r.output
    line, col = _at(acc, "revoke:")
    assert f'{acc}:{line}:{col}: error[KS260]: account "hl-main": venue "hyperliquid" has no endpoint' in r.output, \
        r.output
    assert "error[KS261]" in r.output, r.output
