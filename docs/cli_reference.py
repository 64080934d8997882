"""Write docs/CLI.md from the Click commands' own help (run: python docs/cli_reference.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from orderarchive.cli import cli

OUT = Path(__file__).with_name("CLI.md")

HEADER = """# orderarchive command reference

Generated from the commands' `--help` by `docs/cli_reference.py`; a test keeps it current.

Options that every command shares go before or after the command:
`orderarchive [--archive DIR] [--keys DIR] [--json] [--max-size SIZE] COMMAND ...`. Without
`--archive`, the archive is found from the working directory upwards (as git finds a
repository) and the trusted keys are `keys/` beside it.
Exit codes: 0 success, 1 verification failed (not official, needs review, misquoted, bad proof), 2 usage
error or bad input, 3 the archive cannot be read. Errors are one line on standard error; with
`--json`, every answer (errors included) is one JSON object on standard output, described by a
schema per command in docs/schemas/ (docs/FORMAT.md §21).
Colour is used only on a terminal and never when `NO_COLOR` is set; progress bars appear only
on a terminal.

## Shell completion

Click generates completion scripts. For bash, add to `~/.bashrc`:

    eval "$(_ORDERARCHIVE_COMPLETE=bash_source orderarchive)"

For zsh use `zsh_source` (in `~/.zshrc`), for fish `fish_source`
(`_ORDERARCHIVE_COMPLETE=fish_source orderarchive > ~/.config/fish/completions/orderarchive.fish`).

"""


def _walk(command: click.Command, path: list[str]) -> list[tuple[list[str], click.Command]]:
    found = [(path, command)]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):  # loads lazily registered commands too
            sub = command.get_command(ctx, name)
            if sub is not None:
                found += _walk(sub, [*path, name])
    return found


def render() -> str:
    parts = [HEADER]
    for path, command in _walk(cli, ["orderarchive"]):
        # The help option names the real CLI gives every command (-h too): click caches a
        # command's help option on first use, so rendering with other names would depend on
        # whether a test already ran the command in this process.
        ctx = click.Context(command, info_name=" ".join(path), terminal_width=100,
                            max_content_width=100,
                            help_option_names=cli.context_settings["help_option_names"])
        title = " ".join(path)
        parts.append(f"## `{title}`\n\n```\n{command.get_help(ctx).rstrip()}\n```\n\n")
    return "".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
