"""What every command shares: the boto3 session, resolved resource names and output format.

Settings come from options first, then the environment, as in the AWS CLI (v2):

============  ==============================  =================================================
setting       option                          environment (in order)
============  ==============================  =================================================
region        ``--region``                    ``AWS_REGION``, ``AWS_DEFAULT_REGION``, profile
credentials   ``--profile``                   ``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID`` …, files
stack         ``--stack``                     ``EDGEAUTH_STACK``
role table    ``--table``                     ``EDGEAUTH_ROLE_TABLE`` (else the stack's output)
endpoint      ``--endpoint-url``              ``EDGEAUTH_ENDPOINT_URL``
issuer        ``--iss`` (per command)         ``EDGEAUTH_ISSUER``
============  ==============================  =================================================

A setting that a command needs and nobody gave is a :class:`MissingSettingsError`: one line naming
every missing one and how to give it, exit 2 (argparse's usage error). A command declares what it
needs with ``set_defaults(needs=(AWS, ROLE_TABLE, ...))`` (see :data:`Need`);
:func:`edgeauth_cli.main.main` checks them all before the command runs, so one line names every
missing setting. The lazy checks here (:meth:`CliContext.client`, :attr:`CliContext.role_table`,
:meth:`CliContext.output_value`) stay as a backstop.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import boto3

EXIT_USAGE = 2

ENV_STACK = "EDGEAUTH_STACK"
ENV_ROLE_TABLE = "EDGEAUTH_ROLE_TABLE"
ENV_ENDPOINT_URL = "EDGEAUTH_ENDPOINT_URL"
ENV_ISSUER = "EDGEAUTH_ISSUER"


class CliError(Exception):
    """A failure to report on stderr with ``exit_code`` (never a traceback)."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True, slots=True)
class Setting:
    """A setting a command may need: what it is, and how to give it."""

    what: str
    how: str


REGION = Setting("AWS region", "pass --region REGION or set AWS_REGION (e.g. us-east-1)")
CREDENTIALS = Setting(
    "AWS credentials",
    "pass --profile NAME or set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
)
STACK_SETTING = Setting("stack", f"pass --stack NAME or set {ENV_STACK} (e.g. EdgeAuth-dev)")
ROLE_TABLE_SETTING = Setting(
    "stack",
    f"pass --stack NAME or set {ENV_STACK} (e.g. EdgeAuth-dev), "
    f"or name the role table with --table NAME or {ENV_ROLE_TABLE}",
)
ISSUER_SETTING = Setting(
    "issuer", f"pass --iss ISSUER or set {ENV_ISSUER} (or name a configured issuer: --issuer-name NAME)"
)

Need = Callable[["CliContext", argparse.Namespace], Sequence[Setting]]
"""What a command needs, as a check: the settings missing for this context and these arguments."""


def _aws(ctx: CliContext, args: argparse.Namespace) -> Sequence[Setting]:
    return ctx.missing_aws_settings()


def _role_table(ctx: CliContext, args: argparse.Namespace) -> Sequence[Setting]:
    return [] if ctx.stack or ctx.table_override else [ROLE_TABLE_SETTING]


def _stack(ctx: CliContext, args: argparse.Namespace) -> Sequence[Setting]:
    return [] if ctx.stack else [STACK_SETTING]


def _issuer(ctx: CliContext, args: argparse.Namespace) -> Sequence[Setting]:
    given = getattr(args, "iss", None) or getattr(args, "issuer_name", None) or os.environ.get(ENV_ISSUER)
    return [] if given else [ISSUER_SETTING]


AWS: Need = _aws
"""A region and credentials (none needed on a loopback ``--endpoint-url``: the local stack)."""
ROLE_TABLE: Need = _role_table
"""``--stack`` or ``--table`` (or their environment variables)."""
STACK: Need = _stack
"""``--stack`` (or ``EDGEAUTH_STACK``): the command reads several of the stack's outputs."""
ISSUER: Need = _issuer
"""``--iss``, ``--issuer-name`` or ``EDGEAUTH_ISSUER``."""


def stack_unless(dest: str, option: str) -> Need:
    """``--stack``, unless the command's option ``option`` (argument ``dest``) gives the value
    the stack's output would."""

    def need(ctx: CliContext, args: argparse.Namespace) -> Sequence[Setting]:
        if ctx.stack or getattr(args, dest, None):
            return []
        return [Setting(STACK_SETTING.what, f"{STACK_SETTING.how}, or pass {option}")]

    return need


class MissingSettingsError(CliError):
    """Settings the command needs are missing: one line naming each and how to give it (exit 2)."""

    def __init__(self, missing: Sequence[Setting]) -> None:
        if len(missing) == 1:
            message = f"missing setting: {missing[0].what}: {missing[0].how}"
        else:
            message = "missing settings: " + "; ".join(f"{s.what}: {s.how}" for s in missing)
        super().__init__(message, EXIT_USAGE)
        self.missing = list(missing)


def botocore_error(error: Exception) -> CliError | None:
    """The one-line :class:`CliError` for a botocore error caused by the caller's settings or
    network (no region, no or partial credentials, unknown profile, unreachable endpoint), or
    ``None`` for other errors. Settings errors exit 2; an unreachable endpoint exits 1."""
    from botocore import exceptions as bx

    if isinstance(error, bx.NoRegionError):
        return MissingSettingsError([REGION])
    if isinstance(error, bx.InvalidRegionError):
        return CliError(f"invalid AWS region: {error}; {REGION.how}", EXIT_USAGE)
    if isinstance(error, bx.NoCredentialsError):
        return MissingSettingsError([CREDENTIALS])
    if isinstance(error, bx.PartialCredentialsError):
        return CliError(f"incomplete AWS credentials ({error}): {CREDENTIALS.how}", EXIT_USAGE)
    if isinstance(error, bx.ProfileNotFound):
        return CliError(
            f"{error}: pass --profile NAME of a profile in ~/.aws/config (or AWS_CONFIG_FILE), "
            "or unset AWS_PROFILE",
            EXIT_USAGE,
        )
    if isinstance(error, bx.EndpointConnectionError | bx.ConnectTimeoutError):
        return CliError(
            f"cannot reach AWS: {error} (check --endpoint-url / {ENV_ENDPOINT_URL} and --region; "
            "for the local stack: is 'make local' running?)"
        )
    if isinstance(error, bx.TokenRetrievalError | bx.SSOTokenLoadError | bx.UnauthorizedSSOTokenError):
        return CliError(f"AWS credentials cannot be loaded: {error}", EXIT_USAGE)
    if isinstance(error, bx.CredentialRetrievalError):
        return CliError(f"AWS credentials cannot be loaded: {error}", EXIT_USAGE)
    return None


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
            # AWS_REGION before AWS_DEFAULT_REGION, as the AWS CLI v2 and SDKs read them (boto3
            # alone reads only the second).
            region=args.region or os.environ.get("AWS_REGION") or None,
            endpoint_url=args.endpoint_url or os.environ.get(ENV_ENDPOINT_URL) or None,
            stack=args.stack or os.environ.get(ENV_STACK) or None,
            table_override=args.table or os.environ.get(ENV_ROLE_TABLE) or None,
            output=output,
        )

    @cached_property
    def session(self) -> boto3.Session:
        """The boto3 session. Raises :class:`CliError` (exit 2) for an unknown profile."""
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.Session(profile_name=self.profile, region_name=self.region)
            if self.is_local:
                # The local stack (moto on loopback) takes any credentials and region: do not make
                # a developer export fake ones. Real endpoints never get this fallback.
                region = session.region_name or "us-east-1"
                try:
                    credentials = session.get_credentials()
                except BotoCoreError:
                    credentials = None
                if credentials is None:
                    session = boto3.Session(
                        aws_access_key_id="local",
                        aws_secret_access_key="local",  # noqa: S106 - moto accepts anything
                        region_name=region,
                    )
                elif not session.region_name:
                    session = boto3.Session(profile_name=self.profile, region_name=region)
        except BotoCoreError as e:
            raise botocore_error(e) or CliError(f"cannot set up AWS: {e}", EXIT_USAGE) from e
        return session

    @property
    def is_local(self) -> bool:
        """Whether ``--endpoint-url`` points at a loopback address (the local stack)."""
        if not self.endpoint_url:
            return False
        from urllib.parse import urlsplit

        from edgeauth.core.settings import is_loopback_host

        return is_loopback_host(urlsplit(self.endpoint_url).hostname)

    def missing_aws_settings(self) -> list[Setting]:
        """The AWS settings nobody gave: region, credentials (nothing on the local stack).

        Raises :class:`CliError` (exit 2) when they are given but unusable (an unknown profile,
        half of a key pair)."""
        session = self.session
        if self.is_local:
            return []
        from botocore.exceptions import BotoCoreError

        missing = [] if session.region_name else [REGION]
        try:
            credentials = session.get_credentials()
        except BotoCoreError as e:
            raise botocore_error(e) or CliError(f"AWS credentials cannot be loaded: {e}", EXIT_USAGE) from e
        if credentials is None:
            missing.append(CREDENTIALS)
        return missing

    def check_settings(self, needs: Iterable[Need], args: argparse.Namespace) -> None:
        """Raise one :class:`MissingSettingsError` naming every setting ``needs`` finds missing."""
        missing = [setting for need in needs for setting in need(self, args)]
        if missing:
            raise MissingSettingsError(missing)

    def client(self, service: str) -> Any:
        """A boto3 client honouring ``--endpoint-url`` (the local stack) and ``--region``.

        One client per service for the life of the command (building one costs tens of ms).
        Raises :class:`MissingSettingsError` when no region or no credentials are set.
        """
        if service not in self._clients:
            missing = self.missing_aws_settings()
            if missing:
                raise MissingSettingsError(missing)
            from botocore.exceptions import BotoCoreError

            try:
                self._clients[service] = self.session.client(service, endpoint_url=self.endpoint_url)  # type: ignore[call-overload]
            except (BotoCoreError, ValueError) as e:  # a malformed --endpoint-url is a ValueError
                raise botocore_error(e) or CliError(
                    f"cannot set up the {service} client: {e}", EXIT_USAGE
                ) from e
        return self._clients[service]

    def stack_outputs(self) -> dict[str, str]:
        """The ``--stack``'s CloudFormation outputs by OutputKey (read once)."""
        if self._outputs is None:
            if not self.stack:
                raise MissingSettingsError([STACK_SETTING, *self.missing_aws_settings()])
            from botocore.exceptions import BotoCoreError, ClientError

            try:
                resp = self.client("cloudformation").describe_stacks(StackName=self.stack)
            except ClientError as e:
                error = e.response.get("Error", {})
                if error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message")):
                    raise CliError(
                        f"no stack {self.stack!r} in {self.session.region_name} (stack names are "
                        f"case-sensitive, e.g. EdgeAuth-dev): pass --stack NAME or set {ENV_STACK}",
                        EXIT_USAGE,
                    ) from e
                raise CliError(f"cannot read stack {self.stack!r}: {e}") from e
            except BotoCoreError as e:
                raise botocore_error(e) or CliError(f"cannot read stack {self.stack!r}: {e}") from e
            stacks = resp.get("Stacks", [])
            outputs = stacks[0].get("Outputs", []) if stacks else []
            self._outputs = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        return self._outputs

    def output_value(self, key: str, alternative: str | None = None) -> str:
        """The stack output ``key``. Without a stack: a :class:`MissingSettingsError` that names
        ``alternative`` (the option that gives the value directly, e.g. ``--log-group NAME``)."""
        if not self.stack and alternative:
            setting = Setting(STACK_SETTING.what, f"{STACK_SETTING.how}, or pass {alternative}")
            raise MissingSettingsError([setting, *self.missing_aws_settings()])
        outputs = self.stack_outputs()
        if key not in outputs:
            raise CliError(f"stack {self.stack!r} has no output {key!r}")
        return outputs[key]

    @property
    def role_table(self) -> str:
        if self.table_override:
            return self.table_override
        if not self.stack:
            raise MissingSettingsError([ROLE_TABLE_SETTING, *self.missing_aws_settings()])
        from edgeauth.constants import OUTPUT_ROLE_TABLE

        return self.output_value(OUTPUT_ROLE_TABLE)
