"""S3 adapter for collect: read uploads (by version), write reports and Parquet, presign report links."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from witan.collect.uploads.ports import ObjectInfo

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchVersion", "NotFound"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def make_client(endpoint_url: str | None = None, region_name: str | None = None) -> Any:
    session = boto3.session.Session()
    # SigV4 presigned links work in every region (and allow up to 7 days).
    config = Config(signature_version="s3v4")
    return session.client(
        "s3", endpoint_url=endpoint_url, region_name=region_name or session.region_name, config=config
    )


class S3ObjectStore:
    """`ObjectStore` on S3. Uploads are only ever read (head/get); nothing here deletes."""

    def __init__(self, client: Any = None) -> None:
        self.client = client if client is not None else make_client()

    @staticmethod
    def _version(version_id: str | None) -> dict[str, str]:
        return {"VersionId": version_id} if version_id and version_id != "null" else {}

    def head(self, bucket: str, key: str, version_id: str | None) -> ObjectInfo | None:
        try:
            response = self.client.head_object(Bucket=bucket, Key=key, **self._version(version_id))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in _NOT_FOUND:
                return None
            raise
        return ObjectInfo(
            size=int(response["ContentLength"]),
            etag=response.get("ETag"),
            version_id=response.get("VersionId"),
        )

    def download(self, bucket: str, key: str, version_id: str | None, dest: Path) -> None:
        self.client.download_file(bucket, key, str(dest), ExtraArgs=self._version(version_id) or None)

    def upload(self, path: Path, bucket: str, key: str, content_type: str) -> None:
        self.client.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type})

    def presign_get(self, bucket: str, key: str, *, expires_in: int, download_name: str) -> str:
        name = _UNSAFE_NAME.sub("_", download_name).strip() or "report"
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{name}"',
            },
            ExpiresIn=expires_in,
        )
        return url
