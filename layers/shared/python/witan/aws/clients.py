"""boto3 clients made on first use: boto3 is imported only when an adapter first calls AWS, so the API's
cold start stays small, and tests hand adapters their own clients instead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar


def boto_client(service: str) -> Any:
    """A boto3 client, boto3 imported now. S3's signs with SigV4: presigned URLs for KMS-encrypted
    objects need it."""
    import boto3

    make: Callable[..., Any] = boto3.client  # by a service name known only at run time
    if service == "s3":
        from botocore.config import Config

        return make(service, config=Config(signature_version="s3v4"))
    return make(service)


class LazyClient:
    """An adapter's client of SERVICE: the one its constructor stored in `_client`, else one made on
    first use."""

    SERVICE: ClassVar[str]
    _client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto_client(self.SERVICE)
        return self._client
