"""Every Label Studio call of the project, on the SDK 2.x `LabelStudio` client.

Calls time out, retry with exponential backoff on connection errors and 5xx/429 answers, and turn
what is left into a `ServiceError` that names the server URL and what was being done (401: the token
was refused; 403: not allowed; 404: no such object). The SDK's own retries are off so that a POST is
never repeated after the server may already have acted on it: a non-idempotent call is retried only
after a connection failure (the request never arrived) or a 429; a timeout, a dropped answer or a 5xx
(which may come from a gateway after the server acted) stops it with a message to run the command
again (push and pull resume). Tokens never appear in messages, and neither does the userinfo of a URL
(`http://user:password@host`): it is shown as `user:***@` and not sent (the API token authenticates).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from corpus.errors import ServiceError
from corpus.urls import redact_url, strip_userinfo

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8080"
URL_VARS = ("LABEL_STUDIO_URL",)
TOKEN_VARS = ("LABEL_STUDIO_API_KEY", "LABEL_STUDIO_USER_TOKEN")


@dataclass(frozen=True)
class Connection:
    """Where the server is and the token to use (`repr` hides the token and any password in the URL)."""

    url: str
    token: str = field(repr=False)
    timeout: float = 60.0
    retries: int = 4
    backoff: float = 0.5

    def __repr__(self) -> str:
        return (f"Connection(url={redact_url(self.url)!r}, timeout={self.timeout!r}, retries={self.retries!r}, "
                f"backoff={self.backoff!r})")


def resolve_connection(url: str | None = None, token: str | None = None, env_file: Path | None = None,
                       **options: Any) -> Connection:
    """URL and token from the arguments, else the environment, else the git-ignored `.env`."""
    from annotation.server import DEFAULT_ENV_FILE

    env_file = env_file or DEFAULT_ENV_FILE
    saved: dict[str, str] = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        saved = {k: v for k, v in dotenv_values(env_file).items() if v}

    def pick(names: tuple[str, ...]) -> str | None:
        for name in names:
            if os.environ.get(name):
                return os.environ[name]
        return next((saved[n] for n in names if saved.get(n)), None)

    url = (url or pick(URL_VARS) or DEFAULT_URL).rstrip("/")
    token = token or pick(TOKEN_VARS)
    if not token:
        raise ServiceError(redact_url(url), "no API token: set LABEL_STUDIO_USER_TOKEN (or run `python -m annotation "
                                            f"serve` once, which writes one to {env_file})")
    return Connection(url, token, **options)


def _detail(body: Any) -> str:
    """The useful part of an error body: detail plus validation errors, shortened."""
    if isinstance(body, dict):
        parts = []
        for key in ("detail", "validation_errors", "message", "errors"):
            if body.get(key):
                parts.append(body[key] if isinstance(body[key], str) else json.dumps(body[key], ensure_ascii=False))
        return (": ".join(parts) or json.dumps(body, ensure_ascii=False))[:500]
    return str(body)[:500] if body else "no detail"


def _dump(obj: Any) -> Any:
    """An SDK (pydantic) object as plain JSON-able data."""
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json", by_alias=True, exclude_none=False)
    return obj


class LabelStudioClient:
    """Typed wrappers over the SDK calls the project uses; every call returns plain dicts."""

    def __init__(self, conn: Connection, sleep: Callable[[float], None] = time.sleep) -> None:
        from label_studio_sdk import LabelStudio

        self.conn = conn
        self.url = redact_url(conn.url)  # what messages show; base_url (no userinfo) is what is called
        self._sleep = sleep
        base = strip_userinfo(conn.url)  # httpx would turn userinfo into Basic auth over the token
        if base != conn.url:
            log.warning("%s: the user name and password in the URL are not sent (the API token authenticates)",
                        self.url)
        self.base_url = base
        self.sdk = LabelStudio(base_url=base, api_key=conn.token, timeout=conn.timeout, max_retries=0)

    # -- the retry / error policy -------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., T], *args: Any, idempotent: bool = True, **kwargs: Any) -> T:
        """Run one SDK call under the retry policy; `what` says what it does, for the error message."""
        from label_studio_sdk.core.api_error import ApiError

        last = ""
        for attempt in range(self.conn.retries + 1):
            try:
                return fn(*args, **kwargs)
            except ApiError as e:
                code = e.status_code or 0
                if code < 500 and code != 429:
                    raise self._http_error(what, code, e.body) from None
                if code >= 500 and not idempotent:  # a gateway's 502/504 may come after the server acted
                    raise ServiceError(self.url, f"{what}: HTTP {code} ({_detail(e.body)}); the server may have "
                                                 "done it anyway, so it is not repeated: run the command again, it "
                                                 "resumes where it stopped") from None
                last = f"HTTP {code}: {_detail(e.body)}"
            except httpx.ConnectError as e:
                last = f"cannot connect ({e.__class__.__name__})"
            except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as e:
                if not idempotent:  # the server may have acted on it: do not repeat a POST
                    raise ServiceError(self.url, f"{what}: no complete answer ({e.__class__.__name__}); "
                                                 "run the command again, it resumes where it stopped") from None
                last = f"no complete answer ({e.__class__.__name__})"
            if attempt < self.conn.retries:
                delay = self.conn.backoff * 2 ** attempt
                log.warning("%s: %s; retrying in %.1f s", what, last, delay)
                self._sleep(delay)
        if last.startswith("cannot connect"):
            raise ServiceError(self.url, f"Label Studio is unreachable at {self.url} while trying to {what} "
                                         f"({self.conn.retries + 1} attempts); is it running? "
                                         "Start it with `python -m annotation serve`")
        raise ServiceError(self.url, f"{what}: failed after {self.conn.retries + 1} attempts ({last})")

    def _http_error(self, what: str, code: int, body: Any) -> ServiceError:
        if code == 401:
            return ServiceError(self.url, f"the API token was refused (401) while trying to {what}; check "
                                          "LABEL_STUDIO_USER_TOKEN (or LABEL_STUDIO_API_KEY) in the environment "
                                          "or .env")
        if code == 403:
            return ServiceError(self.url, f"forbidden (403) while trying to {what}: the token's user may not "
                                          f"do this ({_detail(body)})")
        if code == 404:
            return ServiceError(self.url, f"not found (404) while trying to {what}: {_detail(body)}")
        return ServiceError(self.url, f"Label Studio refused to {what} (HTTP {code}): {_detail(body)}")

    # -- server ---------------------------------------------------------------------------------
    def version(self) -> dict[str, Any]:
        """The server's version record (`release` holds e.g. '1.23.2')."""
        return _dump(self.call("read the server version", self.sdk.versions.get))

    def whoami(self) -> dict[str, Any]:
        return _dump(self.call("read the current user", self.sdk.users.whoami))

    # -- projects -------------------------------------------------------------------------------
    def find_project(self, title: str) -> dict[str, Any] | None:
        """The project titled exactly `title`, or None."""
        pager = self.call("list projects", self.sdk.projects.list, title=title, page_size=100)
        found = sorted(p.id for p in self.call("list projects", lambda: list(pager)) if p.title == title)
        if len(found) > 1:  # made by pushes before the push lock, or by hand
            log.warning("%s: %d projects are titled %r (ids %s); using the oldest, %d", self.url, len(found), title,
                        ", ".join(map(str, found)), found[0])
        return self.get_project(found[0]) if found else None

    def get_project(self, project_id: int) -> dict[str, Any]:
        return _dump(self.call(f"read project {project_id}", self.sdk.projects.get, project_id))

    def create_project(self, title: str, label_config: str, instructions: str, description: str = "",
                       ) -> dict[str, Any]:
        return _dump(self.call(f"create project {title!r}", self.sdk.projects.create, title=title,
                               label_config=label_config, expert_instruction=instructions,
                               show_instruction=True, description=description, idempotent=False))

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        return _dump(self.call(f"update project {project_id}", self.sdk.projects.update, project_id, **fields))

    def delete_project(self, project_id: int) -> None:
        self.call(f"delete project {project_id}", self.sdk.projects.delete, project_id)

    # -- tasks ----------------------------------------------------------------------------------
    def iter_tasks(self, project_id: int, with_annotations: bool = False, page_size: int = 500,
                   ) -> Iterator[dict[str, Any]]:
        """Every task of a project (data, meta, ids; annotations and predictions on request)."""
        page = 1
        while True:
            pager = self.call(f"list tasks of project {project_id} (page {page})", self.sdk.tasks.list,
                              project=project_id, page=page, page_size=page_size,
                              fields="all" if with_annotations else "task_only")
            items = pager.items or []
            for task in items:
                yield _dump(task)
            total = getattr(pager.response, "total", None)
            if not items or total is None or page * page_size >= total:
                return
            page += 1

    def count_tasks(self, project_id: int) -> int:
        """How many tasks the project holds (one small request)."""
        pager = self.call(f"count tasks of project {project_id}", self.sdk.tasks.list, project=project_id, page=1,
                          page_size=1, fields="task_only")
        return int(getattr(pager.response, "total", None) or len(pager.items or []))

    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks (with inline annotations/predictions); returns the new task ids in order."""
        resp = self.call(f"import {len(tasks)} tasks into project {project_id}", self.sdk.projects.import_tasks,
                         project_id, request=tasks, return_task_ids=True, idempotent=False)
        ids = list(getattr(resp, "task_ids", None) or [])
        if len(ids) != len(tasks):
            raise ServiceError(self.url, f"import into project {project_id}: sent {len(tasks)} tasks, the "
                                         f"server reported {len(ids)} new ids")
        return [int(i) for i in ids]

    def update_task(self, task_id: int, **fields: Any) -> dict[str, Any]:
        return _dump(self.call(f"update task {task_id}", self.sdk.tasks.update, str(task_id), **fields))

    def get_task(self, task_id: int) -> dict[str, Any]:
        return _dump(self.call(f"read task {task_id}", self.sdk.tasks.get, str(task_id)))

    def delete_task(self, task_id: int) -> None:
        """Delete one task (push --dedupe deletes only copies without annotations)."""
        self.call(f"delete task {task_id}", self.sdk.tasks.delete, str(task_id))

    # -- annotations and predictions ----------------------------------------------------------
    def create_annotation(self, task_id: int, result: list[dict[str, Any]], ground_truth: bool = False,
                          completed_by: int | None = None, lead_time: float | None = None) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if completed_by is not None:
            extra["completed_by"] = completed_by
        if lead_time is not None:
            extra["lead_time"] = lead_time
        return _dump(self.call(f"create an annotation on task {task_id}", self.sdk.annotations.create, task_id,
                               result=result, ground_truth=ground_truth, idempotent=False, **extra))

    def create_prediction(self, task_id: int, result: list[dict[str, Any]], model_version: str,
                          score: float | None = None) -> dict[str, Any]:
        return _dump(self.call(f"create a prediction on task {task_id}", self.sdk.predictions.create,
                               task=task_id, result=result, model_version=model_version, score=score,
                               idempotent=False))

    def list_predictions(self, task_id: int) -> list[dict[str, Any]]:
        return [_dump(p) for p in self.call(f"list predictions of task {task_id}", self.sdk.predictions.list,
                                            task=task_id)]

    def delete_prediction(self, prediction_id: int) -> None:
        self.call(f"delete prediction {prediction_id}", self.sdk.predictions.delete, prediction_id)

    # -- exports --------------------------------------------------------------------------------
    def export_snapshot(self, project_id: int, title: str, poll: float = 0.5, timeout: float = 600) -> bytes:
        """A JSON export snapshot with full prediction objects (not ids); returns the file's bytes."""
        export = self.call(f"create an export of project {project_id}", self.sdk.projects.exports.create,
                           project_id, title=title,
                           serialization_options={"predictions": {"only_id": False},
                                                  "annotations__completed_by": {"only_id": True}},
                           idempotent=False)
        started = time.monotonic()
        while True:
            status = str(getattr(export, "status", "") or "")
            if status.endswith("completed"):
                break
            if status.endswith("failed"):
                raise ServiceError(self.url, f"export {export.id} of project {project_id} failed on the server")
            if time.monotonic() - started > timeout:
                raise ServiceError(self.url, f"export {export.id} of project {project_id} did not finish within "
                                             f"{timeout:.0f} s")
            self._sleep(poll)
            export = self.call(f"read export {export.id}", self.sdk.projects.exports.get, project_id, export.id)
        return self.call(f"download export {export.id}", lambda: b"".join(
            self.sdk.projects.exports.download(project_id, export.id, export_type="JSON")))

    # -- users ----------------------------------------------------------------------------------
    def list_users(self) -> list[dict[str, Any]]:
        return [_dump(u) for u in self.call("list users", self.sdk.users.list)]

    def signup_annotator(self, email: str, password: str) -> tuple[int, str]:
        """Add an annotator to the organisation through its invite link (the free edition's way), log in as
        them and return (user id, their API token)."""
        invite = _dump(self.call("read the invite link", self.sdk.organizations.invites.get_invite_link))
        path = invite["invite_url"]
        with httpx.Client(base_url=self.base_url, timeout=self.conn.timeout, follow_redirects=False) as web:
            self.call("open the sign-up page", web.get, path).raise_for_status()
            resp = self.call("sign up an annotator", web.post, path, idempotent=False,
                             data={"email": email, "password": password,
                                   "csrfmiddlewaretoken": web.cookies.get("csrftoken", "")},
                             headers={"Referer": self.base_url + path})
            if resp.status_code != 302:
                raise ServiceError(self.url, f"could not sign up {email} (HTTP {resp.status_code}; the e-mail "
                                             "may exist already or the password be too weak)")
            me = self.call("read the new user", web.get, "/api/current-user/whoami").json()
            token = self.call("read the new user's token", web.get, "/api/current-user/token").json()["token"]
        return int(me["id"]), str(token)
