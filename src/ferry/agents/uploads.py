"""Reading a file upload (multipart/form-data) as it arrives, with python-multipart.

The part named `file` goes to a temporary file that spills to disk past 1 MB, whatever its
headers say (the Azure SDK sends a stream without a filename, and a separate `filename`
field); every other part is a small text field. Nothing is held whole in memory, and a body
past the size limit is refused as soon as its bytes say so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from ferry.agents.errors import BadRequest

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["Upload", "read_upload"]

_FIELD_LIMIT = 64 * 1024
_SPOOL = 1024 * 1024


@dataclass
class Upload:
    file: IO[bytes]
    """The `file` part's bytes, from the start."""
    file_name: str | None
    """The `file` part's own filename, if it had one."""
    fields: dict[str, str] = field(default_factory=dict)

    def close(self) -> None:
        self.file.close()


class _Form:
    """python-multipart's callbacks, filling an `Upload`."""

    def __init__(self) -> None:
        # Closed by Upload.close (or on a failure, by read_upload).
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL)  # noqa: SIM115
        self.file_name: str | None = None
        self.seen_file = False
        self.fields: dict[str, str] = {}
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name: str | None = None
        self._value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _begin(self) -> None:
        self._headers, self._name, self._value = {}, None, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name")
        self._name = name.decode("utf-8", "replace") if name is not None else None
        if self._name == "file":
            if self.seen_file:
                raise BadRequest("the body has more than one 'file' part", param="file")
            self.seen_file = True
            filename = options.get(b"filename")
            if filename:
                self.file_name = filename.decode("utf-8", "replace")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._name == "file":
            self.file.write(data[start:end])
            return
        self._value += data[start:end]
        if len(self._value) > _FIELD_LIMIT:
            raise BadRequest(f"the form field '{self._name}' is too long", param=self._name)

    def _end(self) -> None:
        if self._name and self._name != "file":
            self.fields[self._name] = self._value.decode("utf-8", "replace")


async def read_upload(request: Request, limit: int) -> Upload:
    """The upload in `request`; a 400 for anything that is not a readable multipart body of
    at most `limit` bytes."""
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest(
            "a file is uploaded as multipart/form-data with the fields 'file' and 'purpose'",
            param="file",
        )
    form = _Form()
    parser = MultipartParser(boundary, form.callbacks())
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BadRequest(
                    f"File is too large: the limit is {limit // (1024 * 1024)} MB.", param="file"
                )
            parser.write(chunk)
        parser.finalize()
    except BadRequest:
        form.file.close()
        raise
    except Exception as exc:  # python-multipart's parse errors
        form.file.close()
        raise BadRequest(f"the multipart body cannot be read: {exc}", param="file") from None
    if not form.seen_file:
        form.file.close()
        raise BadRequest("the field 'file' (a file part) is required", param="file")
    form.file.seek(0)
    return Upload(form.file, form.file_name, form.fields)
