"""Uploaded images as the model sees them: `data:` URLs made from the stored file.

A message's `image_file` part names an uploaded file; a model server cannot reach Ferry's
store, so the run engine asks for the image's bytes inline, checked to be the project's own,
of an image type, and no larger than the hosted service accepts.
"""

from __future__ import annotations

import base64

from ferry.knowledge.errors import KnowledgeRefused
from ferry.knowledge.files import FileStore

__all__ = ["MAX_IMAGE_BYTES", "FileImages"]

MAX_IMAGE_BYTES = 20 * 1024 * 1024

_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
}


class FileImages:
    def __init__(self, files: FileStore) -> None:
        self.files = files

    async def data_url(self, project: str, file_id: str) -> str:
        stored = await self.files.get(project, file_id)
        extension = stored.filename.rsplit(".", 1)[-1].lower() if "." in stored.filename else ""
        kind = _TYPES.get(extension)
        if kind is None:
            raise KnowledgeRefused(
                f"file {file_id} ('{stored.filename}') is not an image of a type models accept "
                "(png, jpeg, gif, webp)"
            )
        if stored.bytes > MAX_IMAGE_BYTES:
            raise KnowledgeRefused(
                f"image file {file_id} is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB"
            )
        data = await self.files.read_all(file_id, MAX_IMAGE_BYTES)
        return f"data:{kind};base64,{base64.b64encode(data).decode()}"
