"""File storage: the S3-compatible object storage configuration, and the health probe.

Local disk is the default (settings.base). When ``AWS_STORAGE_BUCKET_NAME`` is set, ID
photos go to that bucket instead. The bucket stays private: objects are written with a
private ACL and only ever streamed through the permission-checked views, never linked
(no custom domain, no public URL); a signed URL, if anything ever asked for one,
expires after five minutes. Receipts and certificates are rendered on request and
never stored.

This module is imported by the settings: no Django models here.
"""


def s3_storages(
    *,
    bucket_name: str,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    addressing_style: str = "auto",
) -> dict:
    """The ``STORAGES`` entries "default" and "private" on one private bucket (private under ``private/``)."""
    from botocore.config import Config

    options = {
        "bucket_name": bucket_name,
        "endpoint_url": endpoint_url or None,
        "region_name": region_name or None,
        "access_key": access_key or None,
        "secret_key": secret_key or None,
        "default_acl": "private",
        "querystring_auth": True,
        "querystring_expire": 300,
        "file_overwrite": False,
        "custom_domain": None,
        # An outage must fail a request (and /healthz) within seconds, not minutes.
        "client_config": Config(
            s3={"addressing_style": addressing_style},
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=20,
            retries={"max_attempts": 3},
        ),
    }
    backend = "storages.backends.s3.S3Storage"
    return {
        "default": {"BACKEND": backend, "OPTIONS": options},
        "private": {"BACKEND": backend, "OPTIONS": {**options, "location": "private"}},
    }


def probe(storage) -> None:
    """Raise if the storage does not answer.

    On S3 a missing key and a missing bucket both answer 404 to ``exists()``, so the
    bucket itself is asked for (HeadBucket): a deleted bucket or wrong credentials fail.
    """
    bucket_name = getattr(storage, "bucket_name", None)
    if bucket_name:
        storage.connection.meta.client.head_bucket(Bucket=bucket_name)
    else:
        storage.exists("healthz-probe")
