"""The image a job actually pulls: Docker Hub images through the configured mirror.

With ``docker-mirror.dockerhub`` enabled, a Docker Hub image (no registry host,
or ``docker.io`` / ``index.docker.io`` / ``registry-1.docker.io``) becomes
``<address>/<repository>``, with ``library/`` added for official images, which
is the layout an ECR pull-through cache expects. Each other enabled
``docker-mirror.<key>`` (``ecr-public``, ``quay``, ``ghcr``) maps images of its
registry host to ``<address>/<rest>``; other registries are untouched.
"""

from __future__ import annotations

from .settings import DockerMirror

DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})


def split_registry(image: str) -> tuple[str | None, str]:
    """(registry host or None, the rest) of an image reference."""
    first, slash, rest = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, image


def is_docker_hub(image: str) -> bool:
    """Whether the image is served by Docker Hub."""
    host, _ = split_registry(image)
    return host is None or host in DOCKER_HUB_HOSTS


def pulled_image(image: str, mirror: DockerMirror) -> str:
    """The image reference to put in the job definition for a requested ``image``."""
    host, rest = split_registry(image)
    for mirrored, address in mirror.others:
        if host == mirrored:
            return f"{address}/{rest}"
    if not mirror.enabled or not mirror.address or not is_docker_hub(image):
        return image
    _, repository = split_registry(image)
    if "/" not in repository:
        repository = f"library/{repository}"
    return f"{mirror.address}/{repository}"
