"""Builds pwguard's optional C accelerator (pwguard.rules._walk, see its source); the rest of
the package is declared in pyproject.toml. Without a C compiler the build goes on without it
and pwguard.rules.engine does the same work in Python."""

from setuptools import Extension, setup


def _lxml_includes() -> list[str]:
    try:
        import lxml  # (pyproject's build requirements: the headers of the libxml2 lxml ships)
    except ImportError:
        return []
    return list(lxml.get_include())


setup(
    ext_modules=[
        Extension(
            "pwguard.rules._walk",
            ["server/pwguard/rules/_walk.c"],
            include_dirs=_lxml_includes(),
            optional=True,
        )
    ]
)
