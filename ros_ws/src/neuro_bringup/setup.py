"""ament_python package: installs the node executables, launch/ and config/."""

from pathlib import Path

from setuptools import setup

PACKAGE = "neuro_bringup"
HERE = Path(__file__).resolve().parent


def node_entry_points() -> list[str]:
    lines = (HERE / "nodes.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def share_files(folder: str) -> list[tuple[str, list[str]]]:
    files = sorted(p for p in (HERE / folder).rglob("*") if p.is_file())
    groups: dict[str, list[str]] = {}
    for path in files:
        rel = path.relative_to(HERE)
        groups.setdefault(f"share/{PACKAGE}/{rel.parent}", []).append(str(rel))
    return sorted(groups.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=[PACKAGE],
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *share_files("launch"),
        *share_files("config"),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="neuro_nodes developers",
    maintainer_email="dev@neuro-nodes.invalid",
    description="Executables, launch files and configuration of neuro_nodes",
    license="Apache-2.0",
    entry_points={"console_scripts": node_entry_points()},
)
