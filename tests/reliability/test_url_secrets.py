"""Issue 16: a `LABEL_STUDIO_URL` with `user:password@` never echoes the password: not in error lines, reprs,
logs, command output or the pull manifest; the URL still works (the API token authenticates, the userinfo is not
sent) and is shown as `user:***@host`."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.reliability import make_corpus, one_line_error, run_module


def _with_userinfo(url: str, password: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=f"alice:{password}@{parts.netloc}").geturl()


@pytest.mark.parametrize("command", ["push", "pull"])
def test_unreachable_url_with_password_is_shown_redacted(command: str, tmp_path: Path,
                                                         record_property: Callable[[str, Any], None]) -> None:
    from annotation.server import free_port

    password = "pw-" + secrets.token_hex(8)
    url = f"http://alice:{password}@127.0.0.1:{free_port()}"
    args = ["--source", str(tmp_path)] if command == "push" else ["--out", str(tmp_path / "exports")]
    make_corpus(tmp_path, 1, annotate=False)
    done = run_module("annotation", command, "--project", "p", *args,
                      env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": "t" * 40}, timeout=120)
    assert done.returncode == 3, done.stderr
    assert password not in done.stdout + done.stderr
    last = [ln for ln in done.stderr.splitlines() if ln.strip()][-1]
    assert "alice:***@127.0.0.1" in one_line_error(last, done.stdout)
    no_token = run_module("annotation", command, "--project", "p", *args,
                          env={"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": "", "LABEL_STUDIO_USER_TOKEN": ""},
                          cwd=tmp_path)
    assert password not in no_token.stdout + no_token.stderr and "alice:***@" in no_token.stderr
    record_property("check", f"annotation {command} with LABEL_STUDIO_URL=http://alice:PASSWORD@...")
    record_property("checked", f"unreachable and no-token errors show alice:***@, never the password: "
                               f"{last.replace(password, 'PASSWORD')[:160]}")


@pytest.mark.labelstudio
def test_url_with_password_works_and_is_never_shown(label_studio: Any, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture,
                                                    record_property: Callable[[str, Any], None]) -> None:
    from annotation.client import LabelStudioClient, resolve_connection
    from annotation.pull import pull
    from annotation.push import push
    from corpus.codebook import load_codebook

    url, token = label_studio
    password = "pw-" + secrets.token_hex(8)
    full = _with_userinfo(url, password)
    caplog.set_level(logging.DEBUG)
    conn = resolve_connection(full, token)
    client = LabelStudioClient(conn)
    assert password not in repr(conn) and password not in client.url and "alice:***@" in client.url
    make_corpus(tmp_path / "corpus", 2)
    report = push(client, load_codebook(), tmp_path / "corpus", "url-secrets")
    assert report.new == 2
    pulled = pull(client, "url-secrets", tmp_path / "exports")
    manifest = (tmp_path / "exports" / "manifest.jsonl").read_text(encoding="utf-8")
    assert json.loads(manifest.splitlines()[-1])["server"] == client.url
    done = run_module("annotation", "push", "--project", "url-secrets", "--source", str(tmp_path / "corpus"),
                      env={"LABEL_STUDIO_URL": full, "LABEL_STUDIO_API_KEY": token})
    assert done.returncode == 0, done.stderr
    seen = {"logs": caplog.text, "manifest": manifest, "output": done.stdout + done.stderr,
            "export": Path(pulled.path).read_text(encoding="utf-8")}
    leaks = [where for where, text in seen.items() if password in text]
    assert not leaks, f"the password shows in {leaks}"
    record_property("check", "a URL with user:password@ against the real Label Studio")
    record_property("checked", f"push and pull work (token auth, userinfo not sent); password in none of "
                               f"{', '.join(seen)}; shown as {client.url.replace(url.split('//')[1], 'HOST')}")
    record_property("leaks", len(leaks))
