"""A tool is listed only if some rule could ever let the agent call it."""

from __future__ import annotations

import pytest

from ztgate.core.policy import load_policy
from ztgate.gateway.visibility import may_ever_call

POLICY = load_policy(
    """
version: 1
blueprints:
  reader:
    permissions:
      base:
        - {id: read, tools: [read_file], servers: [fs], args: {path: {type: path, under: [/w]}}}
        - {id: anywhere, tools: [ping]}
      task:
        - {id: write, tools: [write_file], servers: [fs]}
      denied:
        - {id: never-delete, tools: [delete_file], servers: [fs]}
        - {id: no-secrets, tools: ["*"], servers: [fs], args: {path: {type: path, under: [/w/.env]}}}
agents:
  r-1: {blueprint: reader}
policies:
  - id: p
    rules:
      - {id: push-approval, effect: approval_required, subjects: any, tools: [git.push]}
      - {id: no-shell, effect: deny, subjects: any, tools: [shell]}
      - {id: allow-shell, effect: allow, subjects: any, tools: [shell]}
      - {id: delete-allow, effect: allow, subjects: any, tools: [delete_file]}
""",
    "p.yaml",
)


@pytest.mark.parametrize(
    ("agent", "server", "tool", "visible"),
    [
        ("r-1", "fs", "read_file", True),  # allowed with the right arguments
        ("r-1", "other", "read_file", False),  # namespaced to `fs`
        ("r-1", "fs", "write_file", True),  # a task permission: allowed with a grant
        ("r-1", "fs", "delete_file", False),  # an unconditional forbid beats the allow
        ("r-1", "fs", "git.push", True),  # approval rules count
        ("r-1", "fs", "shell", False),  # forbidden for everyone
        ("r-1", "fs", "move_file", False),  # no rule at all
        ("r-1", "any", "ping", True),
        ("nobody", "fs", "read_file", False),  # unknown agent
        ("r-1", "fs", "read\u200bfile", False),  # names the engine refuses
    ],
)
def test_visibility(agent: str, server: str, tool: str, visible: bool) -> None:
    assert may_ever_call(POLICY, agent, server, tool) is visible


def test_no_policy_shows_nothing() -> None:
    assert may_ever_call(None, "r-1", "fs", "read_file") is False
