"""Every `prepaid-gateway ...` command shown in the README and the operations guide exists:
it parses with the real CLI (commands, options, required arguments), without running."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.deploy.conftest import ROOT, parse_cli

DOCUMENTS = ("README.md", "docs/operations.md")


def _commands(document: str) -> list[str]:
    text = (ROOT / document).read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            start = line.find("prepaid-gateway ")
            if start < 0 or (start > 0 and line[start - 1] not in " ($"):
                continue
            command = line[start:].split(" #")[0].split(")")[0]
            found.append(re.sub(r"\[[^\]]*\]", "", command).strip())
    return found


@pytest.mark.parametrize("document", DOCUMENTS)
def test_documented_commands_parse(document: str) -> None:
    commands = _commands(document)
    assert commands, f"no commands found in {document}"
    for command in commands:
        try:
            parse_cli(shlex.split(command))
        except Exception as error:  # noqa: BLE001 - the CLI's usage errors, reported with the line
            pytest.fail(f"{document}: `{command}` does not parse: {error}")
