"""Where the lake lives: an S3 bucket/prefix or a local folder, behind one small interface.

Both sinks lay objects out identically (see `layout`), so the same SQL reads either, and every write is
all-or-nothing: an S3 PUT replaces an object atomically, and the local sink writes a temporary file and
renames it over the target.

boto3 is imported when the first S3 client is made, not with this module: the local lake, the CLI's reading
commands and the tests never pay for it, and the Lambda's cold start does not either until it first writes.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

from usage_lake.config.settings import normalize_prefix
from usage_lake.errors import LakeError

__all__ = ["Lake", "LocalLake", "S3Lake", "open_lake", "read_location"]


class Lake(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def put_if_absent(self, key: str, data: bytes) -> bool: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def uri(self, key: str = "") -> str: ...


class LocalLake:
    """A folder on disk with the same layout as the S3 lake (local mode, demo, tests)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise LakeError(f"lake key {key!r} escapes the lake folder")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write a complete temporary file, then hard-link it into place: creating the link is atomic and fails
        if the key exists, so only one writer wins and no reader ever sees a half-written object."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            Path(tmp).unlink(missing_ok=True)
        return True

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not Path(k).name.startswith(".tmp-"))

    def uri(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)


class S3Lake:
    """`s3://bucket/prefix`: the deployed lake."""

    def __init__(self, bucket: str, prefix: str = "", client=None) -> None:
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self._s3 = client or _s3_client()

    def put(self, key: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """S3 conditional write: only the first writer of a key wins, even across concurrent runs."""
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*")
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                return False
            raise
        return True

    def get(self, key: str) -> bytes:
        return self._s3.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except self._s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            keys.extend(obj["Key"][len(self.prefix):] for obj in page.get("Contents", []))
        return sorted(keys)

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"


def _s3_client():
    import boto3  # lazily: ~0.2-0.9 s of imports (see Benchmarks), paid only by the first S3 user

    return boto3.client("s3")


def open_lake(location: str) -> Lake:
    """`s3://bucket/prefix` opens the S3 lake; anything else is a local folder."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://"):].partition("/")
        if not bucket:
            raise LakeError(f"lake URI {location!r} has no bucket; use s3://bucket/prefix")
        return S3Lake(bucket, prefix)
    return LocalLake(location)


def read_location(location: str) -> bytes:
    """The bytes of a file named by a local path or an `s3://bucket/key` URI (price overrides, label and budget files)."""
    if location.startswith("s3://"):
        bucket, _, key = location[len("s3://"):].partition("/")
        return _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    with open(location, "rb") as f:
        return f.read()
