"""Files attached to the fake's slash commands, served at the fake's own address as Discord's
CDN serves them: discord.py's ``Attachment.read`` downloads from the URL the interaction
names, so the far side sees (and the test can count) each download."""

from __future__ import annotations

import itertools
from typing import Any

from aiohttp import web

__all__ = ["FakeCdn"]

Json = Any


class FakeCdn:
    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.downloads: list[str] = []
        self._ids = itertools.count(9_000_000_000_000_000)
        self.base = ""

    def mount(self, app: web.Application) -> None:
        app.router.add_get("/attachments/{id}/{name}", self._get)

    def attachment(self, filename: str, content: bytes) -> Json:
        """An attachment object for an interaction's ``resolved.attachments``."""
        attachment_id = str(next(self._ids))
        self.files[attachment_id] = (filename, content)
        url = f"{self.base}/attachments/{attachment_id}/{filename}"
        return {
            "id": attachment_id,
            "filename": filename,
            "size": len(content),
            "url": url,
            "proxy_url": url,
            "content_type": "application/x-yaml",
        }

    async def _get(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["id"])
        if found is None or found[0] != request.match_info["name"]:
            return web.Response(status=404)
        self.downloads.append(request.match_info["id"])
        return web.Response(body=found[1], content_type="application/octet-stream")
