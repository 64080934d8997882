"""key generate (key export, which reads the archive, is in proofs.py and loads lazily)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import KeyFileError
from ._common import (
    PASSPHRASE_ENV,
    Ctx,
    LazyGroup,
    _new_passphrase,
    echo,
    emit_json,
    errors_handled,
    pass_ctx,
    passphrase_options,
)

_LAZY_KEY_COMMANDS: dict[str, tuple[str, str]] = {
    "export": ("proofs", "Export the public key (C2SP verifier key, or --minisign)."),
}


# -- keys --------------------------------------------------------------------------------------


@click.group(cls=LazyGroup, lazy=_LAZY_KEY_COMMANDS)
def key() -> None:
    """Generate and export signing keys."""


@key.command("generate")
@click.argument("name")
@click.option(
    "--keys-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the public verifier key (default: the --keys directory).",
)
@click.option(
    "--secret-key",
    "secret_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the private key (default: the user's config dir).",
)
@click.option(
    "--unencrypted",
    is_flag=True,
    help="Store the private key without a passphrase (demo and test keys only).",
)
@passphrase_options
@pass_ctx
def key_generate(
    ctx: Ctx, name: str, keys_dir: Path | None, secret_path: Path | None, unencrypted: bool
) -> None:
    """Generate an Ed25519 key named NAME (use the archive's origin).

    The private key is encrypted with a passphrase of at least 12 characters (from
    --passphrase-fd, --passphrase-file, ORDERARCHIVE_PASSPHRASE, or typed twice at the
    prompt, with 3 tries); a shorter one is refused and nothing is written.
    """
    from ..log.keys import generate

    with errors_handled(ctx):
        passphrase = None
        if not unencrypted:
            passphrase = _new_passphrase(ctx)
            if passphrase is None:
                raise KeyFileError(
                    "a passphrase is needed to encrypt the private key",
                    hint="pass --passphrase-fd N or --passphrase-file FILE, set "
                    f"{PASSPHRASE_ENV}, run on a terminal, or pass --unencrypted for a demo key",
                )
        made = generate(
            name, keys_dir=keys_dir or ctx.keys_dir, secret_path=secret_path, passphrase=passphrase
        )
    if ctx.as_json:
        emit_json(
            {
                "ok": True,
                "verifier_key": made.verifier.to_string(),
                "public_key_file": str(made.public_path),
                "private_key_file": str(made.secret_path),
                "encrypted": made.encrypted,
            }
        )
    else:
        echo(f"verifier key: {made.verifier.to_string()}")
        echo(f"public key written to {made.public_path}")
        echo(
            f"private key written to {made.secret_path} "
            f"({'encrypted' if made.encrypted else 'NOT encrypted'}, mode 0600)"
        )
