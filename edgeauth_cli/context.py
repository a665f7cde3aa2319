"""What every command shares: the boto3 session, resolved resource names and output format."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3


class CliError(Exception):
    """A failure to report on stderr with ``exit_code`` (never a traceback)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class CliContext:
    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    stack: str | None = None
    table_override: str | None = None
    output: str = "table"
    _outputs: dict[str, str] | None = field(default=None, repr=False)
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> CliContext:
        output = args.output or ("table" if sys.stdout.isatty() else "json")
        return cls(
            profile=args.profile,
            region=args.region,
            endpoint_url=args.endpoint_url or os.environ.get("EDGEAUTH_ENDPOINT_URL") or None,
            stack=args.stack or os.environ.get("EDGEAUTH_STACK") or None,
            table_override=args.table or os.environ.get("EDGEAUTH_ROLE_TABLE") or None,
            output=output,
        )

    @cached_property
    def session(self) -> boto3.Session:
        import boto3

        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        if self.is_local:
            # The local stack (moto on loopback) takes any credentials and region: do not make a
            # developer export fake ones. Real endpoints never get this fallback.
            region = session.region_name or "us-east-1"
            if session.get_credentials() is None:
                session = boto3.Session(
                    aws_access_key_id="local",
                    aws_secret_access_key="local",  # noqa: S106 - moto accepts anything
                    region_name=region,
                )
            elif not session.region_name:
                session = boto3.Session(profile_name=self.profile, region_name=region)
        return session

    @property
    def is_local(self) -> bool:
        """Whether ``--endpoint-url`` points at a loopback address (the local stack)."""
        if not self.endpoint_url:
            return False
        from urllib.parse import urlsplit

        from edgeauth.core.settings import is_loopback_host

        return is_loopback_host(urlsplit(self.endpoint_url).hostname)

    def client(self, service: str) -> Any:
        """A boto3 client honouring ``--endpoint-url`` (the local stack) and ``--region``.

        One client per service for the life of the command (building one costs tens of ms).
        """
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]
        return self._clients[service]

    def stack_outputs(self) -> dict[str, str]:
        """The ``--stack``'s CloudFormation outputs by OutputKey (read once)."""
        if self._outputs is None:
            if not self.stack:
                raise CliError("no stack given: pass --stack NAME (or --table NAME)", 2)
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                resp = self.client("cloudformation").describe_stacks(StackName=self.stack)
            except (ClientError, BotoCoreError) as e:
                raise CliError(f"cannot read stack {self.stack!r}: {e}") from e
            stacks = resp.get("Stacks", [])
            outputs = stacks[0].get("Outputs", []) if stacks else []
            self._outputs = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        return self._outputs

    def output_value(self, key: str) -> str:
        outputs = self.stack_outputs()
        if key not in outputs:
            raise CliError(f"stack {self.stack!r} has no output {key!r}")
        return outputs[key]

    @property
    def role_table(self) -> str:
        if self.table_override:
            return self.table_override
        from edgeauth.constants import OUTPUT_ROLE_TABLE

        return self.output_value(OUTPUT_ROLE_TABLE)
