"""Where each tenant's policy comes from: the default policy file, or the tenant's own.

A tenants file (``MODTRIAGE_TENANTS=tenants.yaml``) names the tenants with a policy of their
own; a path is relative to the tenants file::

    tenants:
      slack:T0123: policies/team.yaml
      discord:1200000000000000001: policies/gaming.yaml

Every other tenant is moderated under the default policy (``MODTRIAGE_POLICY``). The files
are read at start-up, so a mistake in any of them stops it with the file, the key and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from bot.errors import PolicyError
from bot.policy import Policy, load_policy
from bot.tenant import Tenant
from bot.yaml_files import parse_yaml, read_text

__all__ = ["PolicySources", "load_policy_sources"]


class PolicySources(BaseModel):
    """The default policy file and the tenants that have their own."""

    model_config = ConfigDict(frozen=True)

    default: Path | None = None
    own: Mapping[Tenant, Path] = {}

    def path_for(self, tenant: Tenant) -> Path | None:
        """The file the tenant's policy is read from (None: the default has no file)."""
        return self.own.get(tenant, self.default)

    def has_own(self, tenant: Tenant) -> bool:
        return tenant in self.own

    def load_own(self) -> dict[Tenant, Policy]:
        """Each tenant's own policy, read now.

        Raises:
            PolicyError: a tenant's policy file has a mistake (named with its file and key).
        """
        return {tenant: load_policy(path) for tenant, path in self.own.items()}


_FIX_TENANT = (
    "write <platform>:<workspace> (slack:T0123, discord:1200000000000000001), quoted if "
    "YAML would read it otherwise"
)


def load_policy_sources(
    path: Path | None, *, default: Path | None, served: tuple[Tenant, ...] = ()
) -> PolicySources:
    """The tenants file at ``path`` (None: every tenant uses ``default``), checked.

    ``served`` are the tenants ``MODTRIAGE_WORKSPACES`` lists (empty: any); a tenant named in
    the file but not served is a mistake, since its policy would never apply.

    Raises:
        PolicyError: the file cannot be read, is not ``tenants: {tenant: policy path}``, names
            a tenant badly or one not served, or a policy file it names is missing.
    """
    if path is None:
        return PolicySources(default=default)
    name = str(path)
    raw = parse_yaml(name, read_text(path, fix="check MODTRIAGE_TENANTS, the tenants file"))
    if not isinstance(raw, dict) or set(raw) != {"tenants"} or not isinstance(raw["tenants"], dict):
        extra = sorted(str(k) for k in raw) if isinstance(raw, dict) else []
        key = next((k for k in extra if k != "tenants"), "(top level)")
        raise PolicyError(
            name,
            key,
            "is not a tenants file",
            "write one key, 'tenants:', mapping <platform>:<workspace> to a policy file",
        )
    own: dict[Tenant, Path] = {}
    for key, value in raw["tenants"].items():
        where = f"tenants.{key}"
        try:
            tenant = Tenant.parse(str(key))
        except ValueError as exc:
            raise PolicyError(name, where, "is not a tenant", _FIX_TENANT) from exc
        if served and tenant not in served:
            raise PolicyError(
                name,
                where,
                "is not among the tenants served (MODTRIAGE_WORKSPACES)",
                f"add {tenant} to MODTRIAGE_WORKSPACES or remove it here",
            )
        if tenant in own:
            raise PolicyError(name, where, "is named twice", "keep one entry per tenant")
        if not isinstance(value, str) or not value.strip():
            raise PolicyError(name, where, "has no policy file", "write the policy file's path")
        policy_path = Path(value)
        if not policy_path.is_absolute():
            policy_path = path.parent / policy_path
        if not policy_path.is_file():
            raise PolicyError(
                name,
                where,
                f"policy file {policy_path} does not exist",
                "check the path (relative to the tenants file)",
            )
        own[tenant] = policy_path
    return PolicySources(default=default, own=own)
