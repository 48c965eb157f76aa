"""Knobs the stacks turn into names and policies, made parameters after synthesis.

The name prefix, the Docker Hub secret ARN and the allowed job role ARNs are plain
strings inside the stacks (resource names, ARNs in policies, lines of user data), so a
token cannot stand in for them at synth. The packager synthesizes with a *sentinel* for
each (a valid value no template would otherwise contain) and :func:`substitute` then
replaces every occurrence with a reference to a parameter: a whole string becomes
``{"Ref": P}``, text inside a string becomes an ``Fn::Join`` around it, text inside an
``Fn::Sub`` becomes ``${P}``. A list sentinel (job roles) turns the list that holds it
into ``Fn::If(<has values>, <list + Fn::Split of P>, <list>)`` and its JSON text in the
engine config into an ``Fn::If`` of the quoted values. :func:`leftovers` finds any
fragment left behind, so a sentinel can never reach a deployment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stacks.portable.links import Template
from stacks.portable.parameters import Knob
from stacks.settings import Settings

#: Marker text every sentinel contains (checked for after substitution).
MARK = "pkgsentinel"
#: Keys whose string values are names of template elements, never values.
_STRUCTURAL = frozenset({"Ref", "Fn::GetAtt", "DependsOn", "Condition", "Type"})
_ROLE_ARN = r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+"


@dataclass(frozen=True)
class Sentinel:
    """A knob synthesized as ``text`` (context ``key`` = ``value``), then a parameter."""

    key: str
    value: Any
    text: str
    knob: Knob
    is_list: bool = False
    items: tuple[str, ...] = ()
    """A whole-list sentinel: a list equal to ``items`` becomes the parameter's list."""

    @property
    def condition(self) -> str:
        """Name of the condition ``<parameter> is not empty`` (list sentinels)."""
        return f"Has{self.knob.name}"


def sentinels(settings: Settings) -> list[Sentinel]:
    """The sentinels, their parameters defaulted from ``settings`` (the real context)."""
    prefix = f"{MARK}xq"  # 13 characters, a valid namePrefix
    secret = (
        f"arn:aws:secretsmanager:us-east-1:000000000000:secret:ecr-pullthroughcache/{MARK}-AbCdEf"
    )
    role = f"arn:aws:iam::000000000000:role/{MARK}-allowed-job-roles"
    docker_hub = {
        "allowed_pattern": r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:"
        r"ecr-pullthroughcache/[\w/+=.@-]+$"
    }
    return [
        Sentinel(
            "namePrefix",
            prefix,
            prefix,
            Knob(
                "NamePrefix",
                "String",
                settings.name_prefix,
                "Prefix of resource names (buckets, queues, log groups, secrets, the engine "
                "group); the same in every stack of one platform",
                {"allowed_pattern": r"^[a-z][a-z0-9-]{1,17}$"},
            ),
        ),  # fmt: skip
        Sentinel(
            "dockerHubSecretArn",
            secret,
            secret,
            Knob(
                # No default unless context has one: ECR needs credentials for Docker Hub.
                "DockerHubSecretArn",
                "String",
                settings.docker_hub_secret_arn,
                "ARN of the Secrets Manager secret named ecr-pullthroughcache/... holding "
                '{"username": ..., "accessToken": ...} for Docker Hub (create it first)',
                docker_hub,
            ),
        ),  # fmt: skip
        Sentinel(
            "allowedJobRoleArns",
            [role],
            role,
            Knob(
                "AllowedJobRoleArns",
                "String",
                ",".join(settings.allowed_job_role_arns),
                "IAM role ARNs, comma-separated, that workflows may run their jobs as besides "
                "the kit's job role (empty: none)",
                {"allowed_pattern": f"^({_ROLE_ARN}(,{_ROLE_ARN})*)?$"},
            ),
            is_list=True,
        ),  # fmt: skip
    ]


def _split_text(text: str, sentinel: Sentinel) -> Any:
    """``text`` with each occurrence of the sentinel replaced by its value expression."""
    if sentinel.is_list:
        needle = f', "{sentinel.text}"'
        value: Any = {
            "Fn::If": [
                sentinel.condition,
                {"Fn::Join": ["", [', "', {"Fn::Join": ['", "', _values(sentinel)]}, '"']]},
                "",
            ]
        }
    else:
        needle, value = sentinel.text, {"Ref": sentinel.knob.name}
    if text == needle:
        return value
    pieces = text.split(needle)
    parts: list[Any] = [pieces[0]]
    for piece in pieces[1:]:
        parts += [value, piece]
    return {"Fn::Join": ["", [part for part in parts if part != ""]]}


def _values(sentinel: Sentinel) -> dict[str, Any]:
    return {"Fn::Split": [",", {"Ref": sentinel.knob.name}]}


def _list(items: list[Any], sentinel: Sentinel) -> Any:
    """A list holding the list sentinel: the other items plus the parameter's values."""
    others = [item for item in items if item != sentinel.text]
    joined = {"Fn::Join": [",", [*others, {"Ref": sentinel.knob.name}]]}
    return {"Fn::If": [sentinel.condition, {"Fn::Split": [",", joined]}, others]}


def _walk(node: Any, sentinel: Sentinel, found: Callable[[], None]) -> Any:
    if isinstance(node, str):
        if sentinel.items or sentinel.text not in node:
            return node
        found()
        return _split_text(node, sentinel)
    if isinstance(node, list):
        if sentinel.items and node == list(sentinel.items):
            found()
            reference = {"Ref": sentinel.knob.name}
            return reference if sentinel.knob.type.startswith("List<") else _values(sentinel)
        if sentinel.is_list and sentinel.text in node:
            found()
            return _list(node, sentinel)
        return [_walk(item, sentinel, found) for item in node]
    if isinstance(node, dict):
        return {key: _walk_value(key, value, sentinel, found) for key, value in node.items()}
    return node


def _walk_value(key: str, value: Any, sentinel: Sentinel, found: Callable[[], None]) -> Any:
    if key in _STRUCTURAL:
        return value
    if key == "Fn::Sub" and not (sentinel.is_list or sentinel.items):
        template = value if isinstance(value, str) else value[0]
        if sentinel.text in template:
            found()
            replaced = template.replace(sentinel.text, f"${{{sentinel.knob.name}}}")
            return replaced if isinstance(value, str) else [replaced, *value[1:]]
    return _walk(value, sentinel, found)


def rename_ids(template: Template, text: str, replacement: str) -> None:
    """Replace ``text`` in logical ids and the references to them.

    CDK derives some logical ids from construct paths, which hold the stack name (and so
    the name prefix sentinel); ids are not values, so they simply take ``replacement``.
    """

    def fix(node: Any, structural: bool = False) -> Any:
        if isinstance(node, str):
            return node.replace(text, replacement) if structural else node
        if isinstance(node, list):
            return [fix(item, structural) for item in node]
        if isinstance(node, dict):
            return {
                key.replace(text, replacement): fix(value, structural or key in _STRUCTURAL)
                for key, value in node.items()
            }
        return node

    for section in ("Resources", "Outputs", "Conditions"):
        if section in template:
            template[section] = fix(template[section])


def substitute(template: Template, sentinel: Sentinel) -> bool:
    """Replace ``sentinel`` in ``template`` by its parameter (added); whether it was used."""
    hits: list[bool] = []
    for section in ("Resources", "Outputs"):
        if section in template:
            template[section] = _walk(template[section], sentinel, lambda: hits.append(True))
    if not hits:
        return False
    knob = sentinel.knob
    parameter: dict[str, Any] = {"Type": knob.type, "Description": knob.description}
    if knob.default is not None:
        parameter["Default"] = knob.default
    if "allowed_pattern" in knob.constraint:
        parameter["AllowedPattern"] = knob.constraint["allowed_pattern"]
    template.setdefault("Parameters", {})[knob.name] = parameter
    if sentinel.is_list:
        template.setdefault("Conditions", {})[sentinel.condition] = {
            "Fn::Not": [{"Fn::Equals": [{"Ref": knob.name}, ""]}]
        }
    return True


def leftovers(template: Template, used: list[Sentinel]) -> bool:
    """Whether any sentinel text remains."""
    text = json.dumps(template)
    needles = [item for s in used for item in (*s.items, s.text) if item]
    return MARK in text or any(needle in text for needle in needles)


def existing_vpc_sentinels(settings: Settings, zones: int) -> list[Sentinel]:
    """An existing VPC with ``zones`` availability zones, its ids as parameters.

    Defaults come from the context's ``vpcId`` ... when it names a VPC with as many zones;
    otherwise the operator fills them in.
    """
    vpc = settings.existing_vpc if settings.existing_vpc else None
    if vpc is not None and len(vpc.availability_zones) != zones:
        vpc = None

    def ids(kind: str, digit: int) -> tuple[str, ...]:
        return tuple(f"{kind}-0d0d0d0d0d0d0d{digit}{i:02x}" for i in range(zones))

    def joined(values: tuple[str, ...] | None) -> str | None:
        return ",".join(values) if values else None

    private, isolated, tables = ids("subnet", 1), ids("subnet", 2), ids("rtb", 3)
    zone_names = tuple(f"zz-{MARK}-9{chr(ord('a') + i)}" for i in range(zones))
    one_per_zone = f"exactly {zones}, one per availability zone, in the same zone order"
    return [
        Sentinel("vpcId", "vpc-0d0d0d0d0d0d0d000", "vpc-0d0d0d0d0d0d0d000", Knob(
            "VpcId", "AWS::EC2::VPC::Id", vpc.vpc_id if vpc else None,
            "The existing VPC to deploy into")),
        Sentinel("vpcCidr", "10.213.0.0/16", "10.213.0.0/16", Knob(
            "VpcCidr", "String", vpc.cidr if vpc else None,
            "The VPC's primary IPv4 CIDR (endpoint security groups allow HTTPS from it)",
            {"allowed_pattern": r"^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$"})),
        Sentinel("availabilityZones", list(zone_names), "", Knob(
            "AvailabilityZones", "List<AWS::EC2::AvailabilityZone::Name>",
            joined(vpc.availability_zones if vpc else None),
            f"The VPC's availability zones to use ({zones}, in order)"), items=zone_names),
        Sentinel("privateSubnetIds", list(private), "", Knob(
            "PrivateSubnetIds", "List<AWS::EC2::Subnet::Id>",
            joined(vpc.private_subnet_ids if vpc else None),
            f"Private subnets with a route to the internet (NAT): {one_per_zone}"),
            items=private),
        Sentinel("isolatedSubnetIds", list(isolated), "", Knob(
            "IsolatedSubnetIds", "List<AWS::EC2::Subnet::Id>",
            joined(vpc.isolated_subnet_ids if vpc else None),
            f"Subnets for the database (no internet route needed): {one_per_zone}"),
            items=isolated),
        Sentinel("privateRouteTableIds", list(tables), "", Knob(
            "PrivateRouteTableIds", "String",
            joined(vpc.private_route_table_ids if vpc else None),
            f"Route tables of the private subnets, comma-separated (the S3 gateway endpoint): "
            f"{one_per_zone}",
            {"allowed_pattern": r"^rtb-[0-9a-f]+(,rtb-[0-9a-f]+)*$"}), items=tables),
    ]  # fmt: skip
