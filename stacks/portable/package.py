"""Building the portable templates: synthesize, rewrite, publish, write ``dist/``."""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from stacks.platform import Platform, add_platform
from stacks.portable.links import Link, Template, link_stacks
from stacks.portable.parameters import add_knob_parameters
from stacks.portable.publish import Published, file_assets, publish_asset, upload
from stacks.portable.sentinels import (
    MARK,
    Sentinel,
    existing_vpc_sentinels,
    leftovers,
    rename_ids,
    sentinels,
    substitute,
)
from stacks.settings import KNOWN_KEYS, PREFIX, Settings

REPO = Path(__file__).resolve().parents[2]
#: Version of the manifest's format.
MANIFEST_FORMAT = "ironside-portable/1"
#: Text that must not remain in a portable template (CDK bootstrap, local assets).
FORBIDDEN = re.compile(
    r"cdk-hnb659fds|BootstrapVersion|cdk-bootstrap|aws:asset:|asset\.[0-9a-f]{64}"
)


@dataclass(frozen=True)
class PackageRequest:
    """What to package and where to (validated by :mod:`stacks.portable.validate`).

    Attributes:
        bucket: the distribution bucket.
        prefix: key prefix; objects go under ``<prefix>/<version>/``.
        version: the kit version (default: ``[project] version`` of ``pyproject.toml``).
        dist: the local output directory (its templates and manifest are replaced).
        context: ``ironside:*`` context over ``cdk.json``'s (settings fixed at packaging).
        existing_vpc_zones: deploy into an existing VPC with this many zones, its ids
            parameters (default ``None``: the templates create a VPC).
    """

    bucket: str
    prefix: str
    version: str
    dist: Path
    context: Mapping[str, Any] = field(default_factory=dict)
    existing_vpc_zones: int | None = None

    @property
    def base(self) -> str:
        """The versioned key prefix."""
        return f"{self.prefix}/{self.version}"


class NotPortable(RuntimeError):
    """A packaged template still refers to CDK bootstrap resources or local files."""


def kit_version() -> str:
    """``[project] version`` of the kit's ``pyproject.toml``."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    return str(meta["project"]["version"])


def app_context(extra: Mapping[str, Any]) -> dict[str, Any]:
    """``cdk.json``'s context plus ``extra``, with asset and path metadata off."""
    context: dict[str, Any] = json.loads((REPO / "cdk.json").read_text())["context"]
    return {
        **context,
        **extra,
        "aws:cdk:enable-asset-metadata": False,
        "aws:cdk:enable-path-metadata": False,
    }


def real_settings(request: PackageRequest) -> Settings:
    """The settings from ``cdk.json`` and the request's context (parameter defaults)."""
    return Settings.from_mapping(fixed_settings(request))


def synthesize(outdir: Path, request: PackageRequest, real: Settings) -> Platform:
    """The platform, sentinels in, knob parameters on, synthesized into ``outdir``.

    cdk-nag's AwsSolutions checks run as for ``cdk synth`` (a finding raises).
    """
    synthesizer = cdk.CliCredentialsStackSynthesizer(
        file_assets_bucket_name=request.bucket, bucket_prefix=f"{request.base}/assets/"
    )
    marked = {PREFIX + s.key: s.value for s in all_sentinels(request, real)}
    if request.existing_vpc_zones:
        marked[PREFIX + "publicSubnetIds"] = ""
    app = cdk.App(
        outdir=str(outdir),
        context=app_context({**request.context, **marked}),
        analytics_reporting=False,
        default_stack_synthesizer=synthesizer,
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    platform = add_platform(app, Settings.from_context(app.node))
    add_knob_parameters(platform, real)
    app.synth()
    return platform


def read_templates(outdir: Path, platform: Platform, real: Settings) -> dict[str, Template]:
    """``{stack name with the real prefix: template}``, in deployment order."""
    return {
        real.name(_role(stack)): json.loads((outdir / stack.template_file).read_text())
        for stack in platform.stacks
    }


def _role(stack: cdk.Stack) -> str:
    """``network`` for the stack ``<prefix>-network``."""
    return stack.node.id.rsplit("-", 1)[-1]


def all_sentinels(request: PackageRequest, real: Settings) -> list[Sentinel]:
    """The sentinels of this request (the VPC's only for an existing VPC)."""
    zones = request.existing_vpc_zones
    return sentinels(real) + (existing_vpc_sentinels(real, zones) if zones else [])


def substitute_sentinels(
    templates: Mapping[str, Template], request: PackageRequest, real: Settings
) -> None:
    """Every sentinel replaced by its parameter; raises if a fragment remains."""
    logical_prefix = re.sub(r"[^A-Za-z0-9]", "", real.name_prefix)
    used = all_sentinels(request, real)
    for sentinel in used:
        for template in templates.values():
            if sentinel.text:
                rename_ids(template, sentinel.text, logical_prefix)
            substitute(template, sentinel)
    for name, template in templates.items():
        if leftovers(template, used):
            raise NotPortable(f"{name}: a packaging sentinel ({MARK}) was not replaced")


def describe_typed_parameters(templates: Mapping[str, Template]) -> None:
    """Give CDK's SSM-typed parameters (the engine AMI) a description."""
    for template in templates.values():
        for parameter in template.get("Parameters", {}).values():
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value<"):
                parameter.setdefault(
                    "Description",
                    f"Public SSM parameter resolved at deployment ({parameter['Default']}); "
                    "the type makes CloudFormation check the value",
                )


def check_portable(templates: Mapping[str, Template]) -> None:
    """Raise :class:`NotPortable` if a template refers to bootstrap resources or local files."""
    for name, template in templates.items():
        found = FORBIDDEN.search(json.dumps(template))
        if found:
            raise NotPortable(f"{name} still refers to {found.group(0)!r}")


def check_order(order: list[str], links: list[Link]) -> None:
    """Every linked output comes from a stack created earlier."""
    position = {name: index for index, name in enumerate(order)}
    for link in links:
        if position[link.producer] >= position[link.consumer]:
            raise NotPortable(f"{link.consumer} needs {link.producer}, which comes later")


def _parameters(template: Template, links: list[Link], stack: str) -> list[dict[str, Any]]:
    sources = {link.parameter: link for link in links if link.consumer == stack}
    rows = []
    for name, parameter in template.get("Parameters", {}).items():
        source = sources.get(name)
        rows.append(
            {
                "name": name,
                **parameter,
                "from_output": {"stack": source.producer, "output": source.output}
                if source
                else None,
            }
        )
    return rows


def manifest(
    request: PackageRequest,
    order: list[str],
    templates: Mapping[str, Template],
    links: list[Link],
    uploaded_templates: Mapping[str, Published],
    assets: list[tuple[Any, Published]],
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The manifest written next to the templates (see the README)."""
    stacks = []
    for index, name in enumerate(order, start=1):
        published = uploaded_templates[name]
        stacks.append(
            {
                "order": index,
                "name": name,
                "template": f"{name}.template.json",
                "template_key": published.key,
                "template_url": f"https://{request.bucket}.s3.amazonaws.com/{published.key}",
                "template_sha256": published.sha256,
                "parameters": _parameters(templates[name], links, name),
                "outputs": sorted(templates[name].get("Outputs", {})),
            }
        )
    return {
        "format": MANIFEST_FORMAT,
        "kit_version": request.version,
        "bucket": request.bucket,
        "prefix": request.base,
        "vpc": f"existing ({request.existing_vpc_zones} zones)"
        if request.existing_vpc_zones
        else "new",
        "settings": settings,
        "stacks": stacks,
        "assets": [
            {
                "id": asset.asset_id,
                "stacks": [n for n in order if published.key in json.dumps(templates[n])],
                **asdict(published),
            }
            for asset, published in assets
        ],
    }


def fixed_settings(request: PackageRequest) -> dict[str, Any]:
    """The ``ironside:*`` context values the templates were built with (not parameters)."""
    context = app_context(request.context)
    return {key: context[PREFIX + key] for key in KNOWN_KEYS if PREFIX + key in context}


def write_dist(dist: Path, templates: Mapping[str, Template], data: dict[str, Any]) -> None:
    """Replace ``dist/``'s templates and manifest."""
    dist.mkdir(parents=True, exist_ok=True)
    for old in [*dist.glob("*.template.json"), dist / "manifest.json"]:
        old.unlink(missing_ok=True)
    for name, template in templates.items():
        (dist / f"{name}.template.json").write_text(json.dumps(template, indent=1) + "\n")
    (dist / "manifest.json").write_text(json.dumps(data, indent=1) + "\n")


def package(request: PackageRequest, client: Any) -> dict[str, Any]:
    """Synthesize, rewrite, publish and write ``dist/``; returns the manifest."""
    with tempfile.TemporaryDirectory(prefix="ironside-package-") as tmp:
        outdir = Path(tmp)
        real = real_settings(request)
        platform = synthesize(outdir, request, real)
        templates = read_templates(outdir, platform, real)
        order = list(templates)
        links = link_stacks(templates, {real.name(_role(s)): _role(s) for s in platform.stacks})
        substitute_sentinels(templates, request, real)
        describe_typed_parameters(templates)
        check_portable(templates)
        check_order(order, links)
        assets = [(asset, publish_asset(client, asset)) for asset in file_assets(outdir)]
    uploaded = {
        name: upload(
            client,
            request.bucket,
            f"{request.base}/templates/{name}.template.json",
            (json.dumps(templates[name], indent=1) + "\n").encode(),
            "application/json",
        )
        for name in order
    }
    data = manifest(request, order, templates, links, uploaded, assets, fixed_settings(request))
    write_dist(request.dist, templates, data)
    return data
