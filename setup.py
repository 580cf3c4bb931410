"""Package layout only; all metadata lives in pyproject.toml.

The repo's top-level folders keep the design card's names (plugins/, bridges/, training/);
installed, they get audiogan_-prefixed import names so they never shadow a generic
`plugins` or `training` module in site-packages.
"""
from setuptools import find_packages, setup

FOLDERS = {
    "audiogan_core": "audiogan_core",
    "audiogan_plugins": "plugins",
    "audiogan_bridges": "bridges",
    "audiogan_training": "training",
}

packages = []
for name, folder in FOLDERS.items():
    packages.append(name)
    # plugins/examples holds separately installed example packages, not part of audiogan.
    packages += [f"{name}.{sub}" for sub in find_packages(folder, exclude=["examples", "examples.*"])]

setup(packages=packages, package_dir=FOLDERS)
