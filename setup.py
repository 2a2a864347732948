"""Build hook for the one compiled module; all other metadata lives in pyproject.toml.

``ztgate.guard.injection._kernel`` is the injection model's scoring loop in C (see the
header of its source). It is optional: without a compiler the package still installs and
scores with numpy, to the same numbers, more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ztgate.guard.injection._kernel",
            sources=["src/ztgate/guard/injection/_kernel.c"],
            optional=True,
        )
    ]
)
