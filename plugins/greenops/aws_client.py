"""boto3 sessions and clients for the AWS source, built in one place.

Credentials are never settings and never logged. Inside an Airflow task the session comes from the
Airflow Connection ``settings.AWS_CONN_ID`` (``aws_default``) through the amazon provider's
``AwsBaseHook``; everywhere else (tests, the CLI, a missing provider) from boto3's default chain
(environment, shared config, SSO, instance or task role). Both imports are lazy, so importing this
module costs nothing at DAG parse time.

Every client uses botocore's ``standard`` retry mode: throttling (``LimitExceededException``,
``Throttling``...), 5xx and connection errors are retried with exponential backoff and jitter up to
``GREENOPS_AWS_MAX_ATTEMPTS`` attempts in all. A call that still fails raises; the callers write
nothing before every page or file is in, so the previous data stays as it was.
"""

from __future__ import annotations

import logging
import os

from greenops.settings import AWS_CONN_ID, Settings, get_settings

log = logging.getLogger(__name__)


def _in_airflow_task() -> bool:
    # The Airflow task runner exports the run's context as AIRFLOW_CTX_* before executing a task.
    return bool(os.environ.get("AIRFLOW_CTX_DAG_ID"))


def aws_session(settings: Settings | None = None):
    """A ``boto3.Session``: from the Airflow Connection inside a task, else boto3's default chain."""
    import boto3

    s = settings or get_settings()
    if _in_airflow_task():
        try:
            from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
        except ImportError:
            log.info("amazon provider not installed: using boto3's default credential chain")
        else:
            # A missing Connection makes the hook fall back to the default chain itself (with a warning).
            return AwsBaseHook(aws_conn_id=AWS_CONN_ID).get_session(region_name=s.aws_region)
    return boto3.Session(region_name=s.aws_region)


def boto_config(settings: Settings | None = None, **extra):
    """botocore Config with standard-mode retries (throttling and 5xx, backoff with jitter)."""
    from botocore.config import Config

    s = settings or get_settings()
    return Config(
        # botocore's `max_attempts` here counts retries only; `total_max_attempts` counts the first
        # try too, like the AWS_MAX_ATTEMPTS convention our setting follows.
        retries={"mode": "standard", "total_max_attempts": s.aws_max_attempts},
        connect_timeout=10,
        read_timeout=60,
        **extra,
    )


def aws_client(service: str, settings: Settings | None = None):
    """A boto3 client for ``service`` ("ce", "s3"), pointed at GREENOPS_AWS_ENDPOINT_URL when set."""
    s = settings or get_settings()
    extra = {}
    if service == "s3" and s.aws_endpoint_url:
        # A local endpoint (moto, MinIO) has no per-bucket DNS names.
        extra["s3"] = {"addressing_style": "path"}
    return aws_session(s).client(
        service,
        region_name=s.aws_region,
        endpoint_url=s.aws_endpoint_url,
        config=boto_config(s, **extra),
    )
