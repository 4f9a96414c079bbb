"""Everything about the package is in pyproject.toml except this one mapping, which its tables cannot say.

The repository keeps its data in the top-level assets/ folder; the installed package carries it as
`stepformer_assets`, so the presets and lessons travel inside the wheel.
"""
from setuptools import find_packages, setup

setup(
    # the lessons and presets folders are listed too: setuptools installs data folders only as (namespace) packages
    packages=find_packages(include=["simulator", "simulator.*", "ui", "ui.*"])
    + ["stepformer_assets", "stepformer_assets.lessons", "stepformer_assets.presets"],
    package_dir={"stepformer_assets": "assets"},
)
