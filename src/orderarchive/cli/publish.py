"""The publish command: the static log, the site's pages and an nginx server block. It
parses, makes one library call and renders."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import KeyFileError, OutputError
from ..userfiles import read_user_file
from ._common import (
    Ctx,
    _require_origin_key,
    _trusted,
    echo,
    emit_json,
    errors_handled,
    pass_ctx,
    trusted_key_option,
)


@click.command()
@click.argument("outdir", type=click.Path(path_type=Path))
@click.option("--key-file", "key_files", multiple=True, type=click.Path(path_type=Path),
              metavar="FILE", help="A verifier key file to publish under keys/ (repeatable).")
@click.option("--nginx-conf", "nginx_conf", type=click.Path(path_type=Path), metavar="FILE",
              help="Also write an nginx server block serving OUTDIR with its cache rules "
              "('-': standard output).")
@click.option("--listen", default="80", show_default=True, metavar="ADDR",
              help="The nginx 'listen' address of --nginx-conf (e.g. 443 ssl, 127.0.0.1:8080).")
@click.option("--server-name", default="_", show_default=True, metavar="NAME",
              help="The nginx 'server_name' of --nginx-conf.")
@trusted_key_option
@pass_ctx
def publish(ctx: Ctx, outdir: Path, *, key_files: tuple[Path, ...], nginx_conf: Path | None,
            listen: str, server_name: str, trusted: tuple[str, ...]) -> None:
    """Publish the newest release as a static site in OUTDIR (C2SP tlog-tiles).

    Writes the checkpoint, the hash tiles and entry bundles, the signed releases, the
    documents and text layers, lookups by hash and id, the key files named with --key-file,
    and the pages: one per document, an index with a search, and verify.html, which checks a
    file in the browser; only what changed, the checkpoint last. Serve OUTDIR with any web
    server (--nginx-conf writes an nginx server block with the cache rules);
    'orderarchive check --archive URL FILE' and 'mirror URL DIR' read it.
    """
    from ..log.keys import load_verifiers
    from ..publish import publish as publish_site
    from ..site import nginx_conf as server_block
    from ..site import publish_pages

    with errors_handled(ctx):
        archive = ctx.archive()
        keys = _trusted(ctx, trusted)
        _require_origin_key(keys, archive.origin)
        files = []
        for path in key_files:
            data = read_user_file(path, 64 * 1024)
            if not load_verifiers([path]):
                raise KeyFileError(f"{path} holds no verifier key")
            files.append((path.name, data))
        conf = server_block(outdir.resolve(), listen=listen, server_name=server_name)
        report = publish_site(archive, outdir, keys, key_files=files, pages=publish_pages)
        if nginx_conf is not None and str(nginx_conf) != "-":
            try:
                nginx_conf.write_text(conf)
            except OSError as e:
                raise OutputError(f"cannot write {nginx_conf}: {e.strerror}") from e
    to_stdout = nginx_conf is not None and str(nginx_conf) == "-"
    if ctx.as_json:
        extra = {} if nginx_conf is None else {"nginx_conf": str(nginx_conf)}
        if to_stdout:
            extra["nginx_conf_text"] = conf  # standard output stays one JSON document
        emit_json({"ok": True, **report.to_dict(), **extra})
        return
    if to_stdout:
        click.echo(conf, nl=False)
        return
    what = ("published" if report.old_size == 0 else "up to date" if not report.written
            else f"updated from tree size {report.old_size}")
    echo(f"{what}: {report.origin}, tree size {report.size}, {len(report.written)} files "
         f"written, {len(report.removed)} partial tiles removed, in {report.outdir}")
