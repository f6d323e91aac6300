"""The project runs on exactly what requirements.lock names, and the lock satisfies
pyproject.toml: an upgrade is a visible change of the lock (`make lock`)."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PINNED = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", re.M)


def locked() -> dict[str, str]:
    text = (ROOT / "requirements.lock").read_text()
    return {canonicalize_name(name): pin for name, pin in PINNED.findall(text)}


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = project["dependencies"] + project["optional-dependencies"]["test"]
    return [Requirement(spec) for spec in names]


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared but not in requirements.lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock has {name}=={pins[name]}, outside {requirement.specifier}")


def test_every_locked_package_carries_its_hashes() -> None:
    text = (ROOT / "requirements.lock").read_text()
    for block in re.split(r"\n(?=[A-Za-z0-9._-]+==)", text.split("\n\n", 1)[-1]):
        if PINNED.match(block):
            assert "--hash=sha256:" in block, block.splitlines()[0]


def test_what_is_installed_is_what_the_lock_names() -> None:
    for name, pin in locked().items():
        assert version(name) == pin, f"{name} {version(name)} is installed, the lock says {pin}"


def test_the_dependencies_whose_internals_the_engine_uses_are_pinned_exactly() -> None:
    exact = {canonicalize_name(r.name): str(r.specifier) for r in declared()}
    for name in ("spiffworkflow", "tortoise-orm", "aiosqlite"):
        assert exact[name].startswith("=="), f"{name} must be pinned exactly ({exact[name]})"
