"""
Sphinx directives that build the site's tables from the code and the recorded results at build time.

- ``.. param-table:: RobustHopper-v0``: the env's :class:`~robust_envs.params.ParamSpace` (name, nominal value,
  bounds, unit, the MuJoCo field it edits, meaning), its parameter groups and its registration;
- ``.. preset-table:: RobustHopper-v0``: the env's uncertainty-set presets and parameterisations with their sources;
- ``.. env-summary::``: one row per registered id (family, parameters, time limit, upstream env);
- ``.. status-rows::`` with ``:match: <regex>``: the rows of the status table of ``benchmarks/RESULTS.md`` whose claim
  matches, as a table (a sentence when none does yet);
- ``.. api-modules:: robust_envs``: one section per module of a package, each an ``automodule``;
- ``.. if-importable:: <module>``: its content only when the module exists (pages on work in progress).

At start-up it writes one API page per package under ``api/generated/`` (ignored by git). It also renders the
Gymnasium-style markdown of env class docstrings (``## Section`` headings and pipe tables, STYLE.md 3.3) as reST
when autodoc reads them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"

# ---- tables as docutils nodes (no reST escaping of the cell text needed) --------------------------------------------
_CODE = re.compile(r"``(.+?)``|`([^`]+)`")


def inline(text: str) -> list[nodes.Node]:
    """:return: ``text`` as Text and literal nodes (markdown or reST inline code becomes a literal)."""
    out: list[nodes.Node] = []
    pos = 0
    for match in _CODE.finditer(text):
        if match.start() > pos:
            out.append(nodes.Text(text[pos : match.start()]))
        code = match.group(1) or match.group(2)
        out.append(nodes.literal(code, code))
        pos = match.end()
    if pos < len(text):
        out.append(nodes.Text(text[pos:]))
    return out


def _cell(value: Any) -> nodes.entry:
    entry = nodes.entry()
    if isinstance(value, nodes.Node):
        entry += value if not isinstance(value, nodes.Inline | nodes.Text) else nodes.paragraph("", "", value)
    else:
        entry += nodes.paragraph("", "", *inline(str(value)))
    return entry


def make_table(header: list[str], rows: list[list[Any]], widths: list[int] | None = None, title: str = "") -> nodes.table:
    """
    :param header: column titles
    :param rows: cells: strings (inline code in backticks) or docutils nodes
    :param widths: relative column widths
    :param title: the table's caption
    :return: a table node
    """
    table = nodes.table(classes=["robust-table"])
    if title:
        table += nodes.title(title, title)
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths or [1] * len(header):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    row = nodes.row()
    for text in header:
        row += _cell(text)
    head += row
    body = nodes.tbody()
    group += body
    for cells in rows:
        row = nodes.row()
        for value in cells:
            row += _cell(value)
        body += row
    return table


def literal(text: str) -> nodes.literal:
    """:return: ``text`` in code style."""
    return nodes.literal(text, text)


def xref(target: str, text: str, reftype: str = "class") -> nodes.Node:
    """:return: a python-domain cross reference shown as ``text`` in code style."""
    from sphinx.addnodes import pending_xref

    ref = pending_xref("", refdomain="py", reftype=reftype, reftarget=target, refexplicit=True)
    ref += nodes.literal(text, text)
    return ref


def number(value: float) -> str:
    """:return: ``value`` in at most 6 significant digits, exponents without padding (``1e6``, ``1e-4``)."""
    return re.sub(r"e([+-])0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), f"{value:.6g}")


# ---- env tables ---------------------------------------------------------------------------------------------------------
def _entries() -> dict[str, Any]:
    from robust_envs.registration import ENVS, OTHER_ENVS

    return {entry.env_id: entry for entry in (*ENVS, *OTHER_ENVS)}


def _env_class(env_id: str) -> type:
    entry = _entries()[env_id]
    module, name = entry.entry_point.split(":")
    return getattr(importlib.import_module(module), name)


def _note_sources(directive: SphinxDirective, *objects: Any) -> None:
    """Re-read the page when the source of any of ``objects`` (modules or classes) changes."""
    for obj in objects:
        try:
            path = inspect.getsourcefile(obj)
        except TypeError:
            path = None
        if path:
            directive.env.note_dependency(path)


class _EnvDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def env_id(self) -> str:
        import robust_envs.params
        import robust_envs.presets
        import robust_envs.registration
        import robust_envs.suite.presets

        env_id = self.arguments[0]
        known = _entries()
        if env_id not in known:
            raise self.error(f"{self.name}: unknown env id {env_id!r}; registered ids: {sorted(known)}")
        modules = (robust_envs.params, robust_envs.presets, robust_envs.registration, robust_envs.suite.presets)
        _note_sources(self, _env_class(env_id), *modules)
        return env_id


class ParamTable(_EnvDirective):
    """``.. param-table:: <env id>``: the env's parameters from its ``ParamSpace``, read at build time."""

    def run(self) -> list[nodes.Node]:
        env_id = self.env_id()
        cls = _env_class(env_id)
        space = getattr(cls, "param_space", None)
        entry = _entries()[env_id]
        facts = [
            nodes.Text("Entry point "),
            xref(f"{cls.__module__}.{cls.__name__}", entry.entry_point),
        ]
        if entry.max_episode_steps:
            facts.append(nodes.Text(f"; time limit {entry.max_episode_steps} steps"))
        upstream = getattr(cls, "upstream_id", None)
        if upstream:
            facts += [nodes.Text("; reproduces "), literal(upstream), nodes.Text(" at nominal parameters")]
        out: list[nodes.Node] = [nodes.paragraph("", "", *facts, nodes.Text("."))]
        if space is None:
            out.append(nodes.paragraph("", "No physical parameters (this id is outside the perturbable family)."))
            return out
        rows = [
            [literal(s.name), number(s.nominal), f"[{number(s.low)}, {number(s.high)}]", s.unit, s.mujoco_field, s.description]
            for s in space.specs
        ]
        out.append(
            make_table(
                ["name", "nominal", "bounds", "unit", "MuJoCo field", "meaning"],
                rows,
                widths=[14, 7, 12, 8, 26, 33],
                title=f"{env_id}: {len(space)} parameters (from {cls.__name__}.param_space)",
            )
        )
        for group in space.groups:
            out.append(
                nodes.paragraph(
                    "",
                    "",
                    nodes.Text("Group "),
                    literal(group.name),
                    nodes.Text(f" sets {', '.join(group.members)} to one value: {group.description}."),
                )
            )
        return out


class PresetTable(_EnvDirective):
    """``.. preset-table:: <env id>``: the env's uncertainty-set presets and parameterisations, with their sources."""

    def run(self) -> list[nodes.Node]:
        from robust_envs.presets import get_parameterisation, list_parameterisations, presets_by_env

        env_id = self.env_id()
        out: list[nodes.Node] = []
        presets = presets_by_env().get(env_id, ())
        if presets:
            rows = [[literal(p.name), p.describe(), p.source] for p in presets]
            out.append(make_table(["preset", "set", "source"], rows, widths=[25, 35, 40], title=f"Presets of {env_id}"))
        names = list_parameterisations(env_id)
        if names:
            rows = [
                [literal(name), ", ".join(get_parameterisation(name).names), get_parameterisation(name).source]
                for name in names
            ]
            title = f"Parameterisations of {env_id}"
            out.append(make_table(["parameterisation", "varies", "source"], rows, widths=[25, 35, 40], title=title))
        if not out:
            out.append(nodes.paragraph("", f"{env_id} has no presets."))
        return out


def _family(cls: type) -> str:
    from robust_envs.mujoco_env import RobustMujocoEnv

    module = cls.__module__
    if module.startswith("robust_envs.suite"):
        return "dm_control suite"
    if module == "robust_envs.shadow_hand":
        return "Shadow hand"
    if module == "robust_envs.linear_quadratic":
        return "LQ game"
    return "Gymnasium MuJoCo" if issubclass(cls, RobustMujocoEnv) else "classic (numpy)"


class EnvSummary(SphinxDirective):
    """``.. env-summary::``: every registered id with its family, parameter count and time limit."""

    def run(self) -> list[nodes.Node]:
        rows = []
        for env_id, entry in _entries().items():
            cls = _env_class(env_id)
            space = getattr(cls, "param_space", None)
            rows.append(
                [
                    literal(env_id),
                    _family(cls),
                    str(len(space)) if space is not None else "-",
                    str(entry.max_episode_steps or "own"),
                    literal(getattr(cls, "upstream_id", None) or "-"),
                ]
            )
        return [make_table(["id", "family", "parameters", "time limit", "upstream"], rows, widths=[32, 20, 10, 10, 28])]


# ---- the status table of RESULTS.md ----------------------------------------------------------------------------------
def status_table() -> tuple[list[str], list[list[str]]]:
    """:return: header and rows of the first markdown table under "Status of the papers' claims" in RESULTS.md."""
    lines = RESULTS.read_text(encoding="utf-8").splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith("## Status of the papers' claims"))
    except StopIteration:
        raise ValueError(f"{RESULTS}: no '## Status of the papers' claims' section") from None
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    if len(table) < 2:
        raise ValueError(f"{RESULTS}: the status section has no table")

    def split(line: str) -> list[str]:
        return [cell.strip() for cell in line.strip().strip("|").split("|")]

    header = split(table[0])
    rows = [split(line) for line in table[2:]]
    bad = [row for row in rows if len(row) != len(header)]
    if bad:
        raise ValueError(f"{RESULTS}: status rows with {len(bad[0])} cells instead of {len(header)}: {bad[0]}")
    return header, rows


class StatusRows(SphinxDirective):
    """``.. status-rows::`` with ``:match: regex``: the matching rows of the status table (claim column)."""

    has_content = False
    option_spec: ClassVar[dict[str, Any]] = {"match": directives.unchanged_required}

    def run(self) -> list[nodes.Node]:
        self.env.note_dependency(str(RESULTS))
        try:
            header, rows = status_table()
        except (OSError, ValueError) as exc:
            raise self.error(str(exc)) from None
        pattern = re.compile(self.options.get("match", "."))
        chosen = [row for row in rows if pattern.search(row[0])]
        source = nodes.paragraph(
            "",
            "",
            nodes.Text("From the status table of "),
            literal("benchmarks/RESULTS.md"),
            nodes.Text(
                ", read when this page was built; the sections of that file give each run's protocol, command and "
                "result files, and "
            ),
            literal("python -m benchmarks.seed_tests"),
            nodes.Text(" re-computes the tests."),
        )
        if not chosen:
            return [
                nodes.paragraph(
                    "",
                    "",
                    nodes.Text("No claim of this paper is in the status table of "),
                    literal("benchmarks/RESULTS.md"),
                    nodes.Text(" yet."),
                )
            ]
        return [make_table(header, chosen, widths=[30, 15, 25, 6, 12, 14]), source]


# ---- the API reference: one automodule per module ---------------------------------------------------------------------
#: modules that are not API: running ``__main__`` starts the CLI
_SKIP = {"robust_envs.__main__"}


class ApiModules(SphinxDirective):
    """``.. api-modules:: <package>``: the package's docstring, then a section per direct submodule (not subpackages)."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        package = importlib.import_module(self.arguments[0])
        names = [self.arguments[0]]
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
            full = f"{package.__name__}.{info.name}"
            if info.ispkg or info.name.startswith("_") or full in _SKIP:
                continue
            names.append(full)
        lines = []
        for name in names:
            if name != names[0]:
                lines += [f"``{name}``", "-" * (len(name) + 4), ""]
            lines += [f".. automodule:: {name}", "   :members:", ""]
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source=f"<api-modules {self.arguments[0]}>"), container)
        return container.children


# ---- Gymnasium-style markdown in env docstrings ------------------------------------------------------------------------
_HEADING = re.compile(r"^(\s*)#{2,4}\s+(.+?)\s*$")
_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def markdown_sections_to_rst(lines: list[str]) -> None:
    """
    Rewrite, in place, ``## Heading`` lines as rubrics and markdown pipe tables as ``list-table`` directives.

    Only docstrings that use the markdown layout change; reST docstrings have neither form.
    """
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _HEADING.match(line)
        if heading:
            out += ["", f"{heading.group(1)}.. rubric:: {heading.group(2)}", ""]
            i += 1
            continue
        if line.lstrip().startswith("|") and i + 1 < len(lines) and _RULE.match(lines[i + 1]):
            indent = line[: len(line) - len(line.lstrip())]
            block = [line]
            j = i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                block.append(lines[j])
                j += 1
            rows = [[c.strip() for c in row.strip().strip("|").split("|")] for row in block]
            out += ["", f"{indent}.. list-table::", f"{indent}   :header-rows: 1", ""]
            for row in rows:
                for k, cell in enumerate(row):
                    out.append(f"{indent}   {'* -' if k == 0 else '  -'} {_escape_cell(cell)}")
            out.append("")
            i = j
            continue
        out.append(line)
        i += 1
    lines[:] = out


def _escape_cell(cell: str) -> str:
    """:return: a markdown table cell as reST inline text: ``*`` outside literals is a character, not emphasis."""
    parts = re.split(r"(``.+?``)", cell)
    return "".join(part if part.startswith("``") else part.replace("*", "\\*") for part in parts)


def _process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    if what == "class" and any(_HEADING.match(line) for line in lines):
        markdown_sections_to_rst(lines)


#: the packages whose modules the API reference documents: one generated page per package and subpackage
API_ROOTS = ("robust_envs", "robust_sb3")
#: where the API pages are generated (ignored by git; ``api/index.rst`` lists them with a glob)
API_FOLDER = Path("api") / "generated"


def api_packages() -> list[str]:
    """:return: every package under :data:`API_ROOTS` (importing them), sorted."""
    names = []
    for root in API_ROOTS:
        package = importlib.import_module(root)
        names.append(root)
        names += [info.name for info in pkgutil.walk_packages(package.__path__, f"{root}.") if info.ispkg]
    return sorted(names)


def _write_api_pages(app: Sphinx) -> None:
    """Generate ``api/generated/<package>.rst`` for every package, so that a new one is documented without edits."""
    folder = Path(app.srcdir) / API_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for name in api_packages():
        title = f"``{name}``"
        wanted[f"{name}.rst"] = f"{title}\n{'=' * len(title)}\n\n.. api-modules:: {name}\n"
    for path in folder.glob("*.rst"):
        if path.name not in wanted:
            path.unlink()
    for file_name, text in wanted.items():
        path = folder / file_name
        if not path.exists() or path.read_text(encoding="utf-8") != text:  # unchanged pages are not re-read
            path.write_text(text, encoding="utf-8")


# ---- content that exists only with its module -------------------------------------------------------------------------
class IfImportable(SphinxDirective):
    """``.. if-importable:: <module>``: the directive's content (sections allowed) if the module imports, else nothing."""

    required_arguments = 1
    has_content = True

    def run(self) -> list[nodes.Node]:
        try:
            importlib.import_module(self.arguments[0])
        except ModuleNotFoundError as exc:
            if exc.name is None or not self.arguments[0].startswith(exc.name):
                raise self.error(f"{self.arguments[0]} exists but does not import: {exc}") from None
            return []
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, self.content, container, self.content_offset)
        return container.children


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the directives and the docstring hook (Sphinx's extension entry point)."""
    app.setup_extension("sphinx.ext.autodoc")  # api-modules and the docstring hook need it
    app.add_directive("param-table", ParamTable)
    app.add_directive("preset-table", PresetTable)
    app.add_directive("env-summary", EnvSummary)
    app.add_directive("status-rows", StatusRows)
    app.add_directive("api-modules", ApiModules)
    app.connect("autodoc-process-docstring", _process_docstring)
    app.add_directive("if-importable", IfImportable)
    app.connect("builder-inited", _write_api_pages)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
