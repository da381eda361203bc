"""Where the lake lives: an S3 bucket/prefix or a local folder, behind one small interface.

Both sinks lay objects out identically (see `layout`), so the same SQL reads either, and every write is
all-or-nothing: an S3 PUT replaces an object atomically, and the local sink writes a temporary file and
renames it over the target.

Whatever goes wrong underneath (a path that is a file, a read-only folder, no AWS credentials, a bucket that
does not exist, access denied) comes out as one `LakeError` naming the lake and what to do, never as an
`OSError` or a botocore traceback. A run writes its record before it fetches anything (so a lake it cannot
write stops it before the API is called), and a reading command calls `check_lake` first (so a lake that is
not there never shows as $0).

boto3 and botocore are imported when the first S3 client is made (or an S3 error is translated), not with this
module: the local lake, the CLI's reading commands and the tests never pay for them, and the Lambda's cold
start does not either until it first touches S3.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from usage_lake.config.settings import is_bucket_name, normalize_prefix, prefix_problem
from usage_lake.errors import LakeError
from usage_lake.lake.layout import LAKE_MARKERS

__all__ = ["Lake", "LocalLake", "S3Lake", "check_lake", "open_lake", "read_location"]


class Lake(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def put_if_absent(self, key: str, data: bytes) -> bool: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def has_objects(self, prefix: str) -> bool: ...
    def uri(self, key: str = "") -> str: ...


class LocalLake:
    """A folder on disk with the same layout as the S3 lake (local mode, demo, tests)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if not str(root).strip():
            raise LakeError("the lake folder is an empty path; name a folder such as ./lake")
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise LakeError(f"lake key {key!r} escapes the lake folder")
        return path

    @contextmanager
    def _os_errors(self, action: str, path: Path) -> Iterator[None]:
        """An OSError as one LakeError: what was done, where, and the likely cause."""
        try:
            yield
        except OSError as exc:
            if self.root.exists() and not self.root.is_dir():
                raise LakeError(f"the lake {self.root} is a file, not a folder; pass a folder (--lake ./lake)") from None
            if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise LakeError(f"cannot {action} {path}: permission denied; the lake folder {self.root} must be "
                                f"writable by this user (or pass another --lake)") from None
            if exc.errno == errno.ENOTDIR:
                raise LakeError(f"cannot {action} {path}: a part of the path is a file, not a folder") from None
            raise LakeError(f"cannot {action} {path}: {exc.strerror or exc}") from None

    @staticmethod
    def _complete_temp(path: Path, data: bytes) -> str:
        """A complete temporary file beside `path`, for the caller to move or link into place."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return tmp

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with self._os_errors("write", path):
            tmp = self._complete_temp(path, data)
            try:
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write a complete temporary file, then hard-link it into place: creating the link is atomic and fails
        if the key exists, so only one writer wins and no reader ever sees a half-written object."""
        path = self._path(key)
        with self._os_errors("write", path):
            tmp = self._complete_temp(path, data)
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            finally:
                Path(tmp).unlink(missing_ok=True)
        return True

    def get(self, key: str) -> bytes:
        path = self._path(key)
        with self._os_errors("read", path):
            return path.read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.is_dir():
            return []
        with self._os_errors("list", base):
            keys = [p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file()]
        return sorted(k for k in keys if k.startswith(prefix) and not Path(k).name.startswith(".tmp-"))

    def has_objects(self, prefix: str) -> bool:
        if self.root.exists() and not self.root.is_dir():
            raise LakeError(f"the lake {self.root} is a file, not a folder; pass a folder (--lake ./lake)")
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.is_dir():
            return False
        with self._os_errors("list", base):
            return any(p.is_file() and p.relative_to(self.root).as_posix().startswith(prefix) for p in base.rglob("*"))

    def uri(self, key: str = "") -> str:
        return str(self.root / key) if key else str(self.root)


class S3Lake:
    """`s3://bucket/prefix`: the deployed lake."""

    def __init__(self, bucket: str, prefix: str = "", client=None) -> None:
        if not is_bucket_name(bucket):
            raise LakeError(f"{bucket!r} is not an S3 bucket name; use s3://bucket/prefix")
        problem = prefix_problem(normalize_prefix(prefix))
        if problem:
            raise LakeError(f"the lake prefix {prefix!r} {problem}; use a folder path inside the bucket like anthropic")
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        with self._aws_errors("open", ""):
            self._s3 = client or _s3_client()

    @contextmanager
    def _aws_errors(self, action: str, key: str) -> Iterator[None]:
        """A botocore error as one LakeError naming the object and the fix."""
        try:
            yield
        except Exception as exc:
            from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError

            if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
                raise LakeError(f"no AWS credentials to {action} {self.uri(key)}: configure them (aws configure, AWS_PROFILE, "
                                "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), or use a local folder") from None
            if isinstance(exc, NoRegionError):
                raise LakeError(f"no AWS region to {action} {self.uri(key)}: set AWS_REGION (or AWS_DEFAULT_REGION)") from None
            if isinstance(exc, ClientError):
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "NoSuchBucket":
                    raise LakeError(f"the bucket {self.bucket} does not exist (or is in another account); check LAKE_BUCKET / --lake") from None
                if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
                    raise LakeError(f"AWS refused to {action} {self.uri(key)} ({code}): the credentials in use lack access "
                                    "to the lake, or have expired") from None
                raise LakeError(f"could not {action} {self.uri(key)}: {code or exc}") from None
            if isinstance(exc, BotoCoreError):
                raise LakeError(f"could not {action} {self.uri(key)}: {exc}") from None
            raise

    def put(self, key: str, data: bytes) -> None:
        with self._aws_errors("write", key):
            self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """S3 conditional write: only the first writer of a key wins, even across concurrent runs."""
        with self._aws_errors("write", key):
            try:
                self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*")
            except self._s3.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                    return False
                raise
        return True

    def get(self, key: str) -> bytes:
        with self._aws_errors("read", key):
            return self._s3.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()

    def exists(self, key: str) -> bool:
        with self._aws_errors("read", key):
            try:
                self._s3.head_object(Bucket=self.bucket, Key=self.prefix + key)
            except self._s3.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return True

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        with self._aws_errors("list", prefix):
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                keys.extend(obj["Key"][len(self.prefix):] for obj in page.get("Contents", []))
        return sorted(keys)

    def has_objects(self, prefix: str) -> bool:
        with self._aws_errors("list", prefix):
            return bool(self._s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + prefix, MaxKeys=1).get("KeyCount"))

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self.prefix}{key}"


def _s3_client():
    import boto3  # at first use: boto3's imports are most of a cold start's (see Benchmarks)

    return boto3.client("s3")


def open_lake(location: str) -> Lake:
    """`s3://bucket/prefix` opens the S3 lake; anything else is a local folder (but never `s3:/x` or `s3:x`,
    which would silently become a local folder named `s3:`)."""
    if location[:3].lower() == "s3:" and not location.startswith("s3://"):
        raise LakeError(f"lake URI {location!r} is malformed; an S3 lake is s3://bucket/prefix (two slashes)")
    if location.startswith("s3://"):
        bucket, _, prefix = location[len("s3://"):].partition("/")
        if not bucket:
            raise LakeError(f"lake URI {location!r} has no bucket; use s3://bucket/prefix")
        return S3Lake(bucket, prefix)
    return LocalLake(location)


def check_lake(lake: Lake) -> None:
    """Raise `LakeError` unless the location holds a lake: a reading command must never show $0 (or nothing) for
    a path that was mistyped. A lake is where some run has written its record (`runs/`) or raw pages (`raw/`)."""
    if isinstance(lake, LocalLake) and not lake.root.exists():
        raise LakeError(f"no lake at {lake.uri()}: the folder does not exist; check --lake (or LAKE_BUCKET/LAKE_PREFIX)")
    if not any(lake.has_objects(marker) for marker in LAKE_MARKERS):
        raise LakeError(f"no lake at {lake.uri()}: it holds no run log (runs/) and no raw pages (raw/); check --lake "
                        "(or LAKE_BUCKET/LAKE_PREFIX), or fill it with `usage-lake run`")


def read_location(location: str) -> bytes:
    """The bytes of a file named by a local path or an `s3://bucket/key` URI (price overrides, label and budget files)."""
    if location.startswith("s3://"):
        bucket, _, key = location[len("s3://"):].partition("/")
        return _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    with open(location, "rb") as f:
        return f.read()
