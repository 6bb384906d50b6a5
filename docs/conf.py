"""Sphinx configuration for the neurodyn documentation (built by ``make docs``).

The build needs no network: no intersphinx inventories are downloaded (types from
Python, NumPy, JAX and other libraries are listed in ``nitpick_ignore_regex`` below,
with the reason), tutorials are executed locally by myst-nb, and the gallery runs the
``examples/`` scripts with their fast-size arguments (see ``_gallery.py``).

``make docs`` runs four checks, each failing on its own kind of fault
(``tests/docs/test_docs.py`` injects one of each):

1. ``sphinx-build -W --keep-going -n -b html``: any warning, a broken cross-reference to
   a neurodyn name (nitpicky), a tutorial cell that raises, a gallery example that
   fails or misses the number it states (``_gallery.py``);
2. ``sphinx-build -b doctest``: the ``{doctest}`` blocks of the pages (the docstrings'
   examples are run by pytest, in their module's namespace);
3. ``_check_links.py --html``: a relative link or ``#anchor`` in the built pages that
   leads nowhere (offline; Sphinx's ``linkcheck`` would need the network);
4. ``_check_coverage.py --built``: a name in a public ``__all__`` without a docstring or
   without an entry in the API reference; a new public method without a docstring.

Environment:
    NEURODYN_DOCS_FULL=1   run tutorials and gallery examples at their full size.
    NEURODYN_DOCS_GALLERY  a regular expression; only gallery examples whose file name
                           matches are executed (default: the fast list in _gallery.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))

import _apipages  # noqa: E402
import _gallery  # noqa: E402
import _performance  # noqa: E402

import neurodyn  # noqa: E402

project = "neurodyn"
author = "the neurodyn authors"
copyright = "2026, the neurodyn authors"
release = version = neurodyn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    # no sphinx.ext.viewcode: with names re-exported from private modules its "[docs]"
    # back-links point to anchors that do not exist (found by _check_links.py --html)
    "myst_nb",
    "sphinx_gallery.gen_gallery",
]

# -- sources -----------------------------------------------------------------------------
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
exclude_patterns = [
    "_build",
    "_templates",
    "_generated",
    "_gallery_src",
    "gallery/*.ipynb",
    "Thumbs.db",
    ".DS_Store",
]
templates_path = ["_templates"]
nitpicky = True
suppress_warnings: list[str] = []

# -- MyST / myst-nb ------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"  # every tutorial runs on every build
nb_execution_timeout = 300
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True

# -- autodoc / autosummary -------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autosummary_ignore_module_all = False  # document exactly __all__
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autosummary_context = {"submodule_names": ["math", "random", "surrogate", "nir", "nwb", "sonata"]}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
autoclass_content = "both"
napoleon_google_docstring = True
napoleon_numpy_docstring = True  # a few analysis docstrings use NumPy style
napoleon_use_rtype = False
napoleon_use_param = False  # types in Args are text, not cross-references
napoleon_use_ivar = True  # Attributes: sections as fields (no second description)
napoleon_custom_sections = [("Reference", "notes"), ("References", "notes")]

# -- doctest builder -------------------------------------------------------------------------
# The doctest builder runs the ``{doctest}`` blocks of the pages. The ``>>>`` examples of
# the docstrings use their module's namespace: pytest runs them there
# (``--doctest-modules`` in ``make test``), so they are not run a second time here.
doctest_global_setup = "import neurodyn as nd\nimport neurodyn.units as u"
doctest_test_doctest_blocks = ""

# -- external types ---------------------------------------------------------------------------
# No intersphinx (the build is offline and inventories are not shipped on PyPI): a
# reference to a type that lives outside neurodyn cannot resolve, so those exact
# namespaces are ignored here, and only those. A broken reference to a neurodyn name
# still fails the build.
_EXTERNAL = [
    r"(jax|jaxlib|jnp|np|numpy|optax|matplotlib|scipy|h5py|pynwb|nir|neo|numba|tqdm)(\..*)?",
    r"(collections\.abc|typing|types|os|pathlib|enum|dataclasses|contextlib|functools)\..*",
    r"(Array|ArrayLike|ndarray|DTypeLike|Path|PathLike|Callable|Sequence|Mapping|Iterable"
    r"|Iterator|Any|Literal|Optional|Union|NamedTuple|Self|TypeVar|Axes|Figure|PRNGKey)",
    # names from JAX's own annotations, shown in the signatures of the wrappers in
    # neurodyn.units.math and neurodyn.state (jax.numpy's type aliases)
    r"(Axis|DimSize|Shape|StaticScalar|SupportsNdim|SupportsShape|SupportsSize|P"
    r"|NamedSharding|lax\..*|slicing\..*|datetime\..*|fractions\..*|abc\..*)",
    # Python built-ins: types, constants and exceptions
    r"(int|float|complex|bool|str|bytes|object|type|tuple|list|dict|set|frozenset|slice"
    r"|None|NoneType|Ellipsis|NotImplemented|Exception|ValueError|TypeError|KeyError"
    r"|RuntimeError|IndexError|AttributeError|ArithmeticError|Warning|UserWarning"
    r"|RuntimeWarning|ImportError|ModuleNotFoundError|NotImplementedError|OSError"
    r"|FileNotFoundError|ZeroDivisionError|StopIteration|LookupError)",
]
nitpick_ignore_regex = [
    (f"py:{role}", pattern)
    for role in ("class", "obj", "exc", "data", "func", "meth", "attr", "mod")
    for pattern in _EXTERNAL
]
# Private helper types that appear in public signatures but are not part of the API
# (no page of their own, by design). Each is named exactly; anything else under
# neurodyn.* must resolve. Private *base classes* are not listed: _private_bases()
# below replaces them by their public ancestors in "Bases:".
nitpick_ignore = [
    ("py:class", "neurodyn.state._module._Slot"),
    ("py:class", "neurodyn.dyn._groups.LinkedVar"),
    ("py:class", "neurodyn.dyn._channels.AbstractGate"),
    ("py:class", "neurodyn.dendrite._painted._MechView"),
    ("py:class", "neurodyn.dendrite._painted._NodeView"),
    ("py:class", "neurodyn.dendrite._swc.SWCData"),
    ("py:class", "neurodyn.io._nir_nodes.Options"),
    ("py:class", "neurodyn.online._step.StepFunction"),
]
# -- gallery -----------------------------------------------------------------------------------
sphinx_gallery_conf = _gallery.conf(DOCS, ROOT)

# -- HTML ----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = "neurodyn"
html_static_path = ["_static"]
html_css_files = ["custom.css"]  # wide tables scroll inside the article
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "navbar_align": "left",
}
html_show_sourcelink = False
# pages without sub-pages: no (empty) section navigation on the left
html_sidebars = {
    page: []
    for page in (
        "index",
        "getting_started",
        "coming_from_brian2",
        "coming_from_brainpy",
        "design",
        "performance",
    )
}


def _private_bases(app, name, obj, options, bases):
    """Show public ancestors instead of private base classes (``_Kinetic``, ...)."""
    public = _CANON

    def expand(b):
        if id(b) in public or b.__module__.split(".")[0] != "neurodyn":
            return [b]
        return [x for bb in b.__bases__ for x in expand(bb)]

    new = []
    for b in bases:
        for x in expand(b):
            if x not in new and x is not object:
                new.append(x)
    bases[:] = new or [object]


def _data_docstring(app, what, name, obj, options, lines):
    """A value in ``__all__`` (a unit, a table) has no docstring of its own: autodoc
    would repeat its type's. Say what it is instead (its type and value)."""
    import inspect

    from neurodyn.dyn import Parameter

    if what == "attribute" and isinstance(obj, Parameter):
        unit = "dimensionless" if obj.unit is None else f"``{obj.unit}``"
        default = "required" if repr(obj.default) == "REQUIRED" else f"``{obj.default}``"
        check = f", must be {obj.check}" if isinstance(obj.check, str) else ""
        head = (obj.doc.strip().rstrip(".") or "A declared model parameter") + "."
        lines[:] = [f"{head} Unit {unit}; default {default}{check}."]
        return
    if what != "data":
        return
    type_doc = " ".join((inspect.getdoc(type(obj)) or "").split())
    if lines and " ".join(" ".join(lines).split()) != type_doc:
        return  # a documented value (#: comment)
    text = repr(obj)
    if len(text) > 120:
        text = text[:117] + "..."
    kind = _CANON.get(id(type(obj)), f"{type(obj).__module__}.{type(obj).__qualname__}")
    lines[:] = [f"A :class:`{kind}`: ``{text}``"]
    if type(obj).__module__ == "builtins":
        lines[:] = [f"A ``{type(obj).__name__}``: ``{text}``"]


def _colon_summary(app, what, name, obj, options, lines):
    """Napoleon reads ``"Short label: LP, H, ..."`` on a property as ``type: text``;
    a first line whose part before the colon is a phrase (it has a space) is not a
    type, so the colon becomes a dash before napoleon sees it."""
    import re

    if what in ("attribute", "property") and lines:
        m = re.match(r"^([A-Za-z][^:`]* [^:`]*): (.*)$", lines[0])
        if m:
            lines[0] = f"{m.group(1)} \N{EM DASH} {m.group(2)}"


_CANON: dict[int, str] = {}


def setup(app):
    _CANON.update(_apipages.canonical_names())
    _performance.generate(ROOT / "benchmarks" / "results", DOCS / "_generated")
    _apipages.write_top_level(DOCS / "api" / "neurodyn.rst")
    app.connect("autodoc-process-bases", _private_bases)
    app.connect("autodoc-process-docstring", _data_docstring, priority=400)
    app.connect("autodoc-process-docstring", _colon_summary, priority=400)  # before napoleon
