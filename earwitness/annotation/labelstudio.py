"""A thin wrapper over Label Studio's SDK: the project found or created, tasks imported in batches,
everything read back in one export. Every failure becomes one EarwitnessError naming the server,
and the API token never appears in any message.

A clip's task carries its key in `data.key`; pushing looks up the keys already in the project and
imports only the others, so pushing twice, or again after a crash, creates no duplicate task.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from earwitness.annotation.consensus import QUESTIONS, REQUIRED
from earwitness.errors import EarwitnessError
from earwitness.storage import redact

LABEL_CONFIG = "annotation/labeling.xml"
MEDIA_ONLY = "(?!)"  # a regex matching no file: the media storage grants access, syncing it adds no task


def labeling_config() -> str:
    """The annotators' form, kept in the repository (earwitness/annotation/labeling.xml)."""
    return resources.files("earwitness").joinpath(LABEL_CONFIG).read_text()


def read_token(env: str, file: str | None) -> str:
    """The API token from the environment variable `env`, else from `file`; never from a setting."""
    token = os.environ.get(env, "").strip()
    if not token and file:
        path = Path(file).expanduser()
        if not path.is_file():
            raise EarwitnessError(f"annotate.token_file {file}: no such file")
        token = path.read_text().strip()
    if not token:
        where = f"${env}" + (f" or the file {file}" if file else " (or a file named by annotate.token_file)")
        raise EarwitnessError(f"no Label Studio API token: put it in {where}")
    return token


class Studio:
    """One Label Studio server, spoken to with one user's token."""

    def __init__(self, url: str, token: str, timeout_s: float = 120.0):
        try:
            from label_studio_sdk import LabelStudio
        except ImportError:
            raise EarwitnessError("annotate needs the Label Studio SDK: pip install 'earwitness[annotate]'") from None
        self.url, self._token = url.rstrip("/"), token
        self.client = LabelStudio(base_url=self.url, api_key=token, timeout=timeout_s)

    def call(self, what: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one SDK call; any failure is an EarwitnessError that says what was being done."""
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            return function(*args, **kwargs)
        except ApiError as exc:
            detail = _detail(exc.body)
            if exc.status_code == 401:
                detail = "the API token was refused (is it this server's, and are legacy tokens enabled?)"
            message = f"Label Studio at {redact(self.url)} answered HTTP {exc.status_code} to {what}: {detail}"
        except httpx.TimeoutException:
            message = f"Label Studio at {redact(self.url)} did not answer in time to {what}"
        except httpx.HTTPError as exc:
            message = f"cannot reach Label Studio at {redact(self.url)} to {what} ({type(exc).__name__}: {exc})"
        except ValueError as exc:  # an answer that is not Label Studio's JSON (a proxy's login page, say)
            message = f"{redact(self.url)} did not answer as Label Studio to {what} ({type(exc).__name__}: {exc})"
        raise EarwitnessError(self.scrub(message)[:1000]) from None

    def scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def find_project(self, title: str) -> int | None:
        projects = self.call("list projects", lambda: [p for p in self.client.projects.list() if p.title == title])
        if len(projects) > 1:
            ids = ", ".join(str(p.id) for p in projects)
            raise EarwitnessError(f"several Label Studio projects are titled {title!r} (ids {ids}); rename all but one")
        if not projects:
            return None
        project = self.call(f"read project {projects[0].id}", self.client.projects.get, projects[0].id)
        missing = [name for name in (*QUESTIONS, "video") if name not in _control_names(project.label_config or "")]
        if missing:
            raise EarwitnessError(
                f"Label Studio project {title!r} (id {project.id}) has another labeling config (no {missing}); "
                "give annotate.project a new title"
            )
        return int(project.id)

    def create_project(self, title: str) -> int:
        project = self.call(
            f"create project {title!r}",
            self.client.projects.create,
            title=title,
            description="earwitness: does each clip show and sound like its class? Two annotators per clip.",
            label_config=labeling_config(),
            maximum_annotations=REQUIRED,
            overlap_cohort_percentage=100,
            show_skip_button=True,
        )
        return int(project.id)

    def grant_folder(self, project: int, folder: str) -> None:
        """A local files storage over `folder`, so Label Studio serves the clips below it. It imports
        nothing (its filter matches no file): tasks come only from push, keyed by clip."""
        storages = self.call("list local storages", self.client.import_storage.local.list, project=project)
        if any(folder == s.path or folder.startswith(s.path.rstrip("/") + "/") for s in storages if s.path):
            return
        self.call(
            f"add local files storage {folder}",
            self.client.import_storage.local.create,
            project=project,
            path=folder,
            regex_filter=MEDIA_ONLY,
            use_blob_urls=True,
            title="earwitness clips (media only)",
        )

    def import_tasks(self, project: int, tasks: list[dict]) -> int:
        result = self.call(f"import {len(tasks)} tasks", self.client.projects.import_tasks, project, request=tasks)
        return int(result.task_count or 0)

    def export(self, project: int) -> list[dict]:
        """Every task of the project with all its annotations (Label Studio's JSON export)."""

        def download() -> list[dict]:
            chunks: Iterator[bytes] = self.client.projects.exports.download_sync(
                project, export_type="JSON", download_all_tasks=True, download_resources=False
            )
            return json.loads(b"".join(chunks))

        return self.call(f"export project {project}", download)


def _control_names(label_config: str) -> set[str]:
    try:
        return {e.get("name") for e in ET.fromstring(label_config).iter() if e.get("name")}
    except ET.ParseError:
        return set()


def _detail(body: object) -> str:
    if isinstance(body, dict):
        body = body.get("detail") or body.get("validation_errors") or body
    text = body if isinstance(body, str) else json.dumps(body, default=str)
    return re.sub(r"\s+", " ", text)[:300]
