"""The one Dockerfile (every service, the ops console and the simulators), checked without Docker.

A small parser turns the Dockerfile into stages of instructions, and ``render`` expands the build
arguments docker-compose.yml gives each image the way Docker does (``ARG`` defaults, ``ENV``,
``${VAR}`` in COPY, LABEL, ENV, EXPOSE and RUN), so each image is checked as it would be built.
hadolint is not a dependency of the workspace, so ``lint`` below implements the handful of its
rules that matter for this file (pinned base tags and no ``latest``, ``--no-cache-dir`` and pinned
versions for pip, no ``sudo``, no ``cd`` in RUN, absolute WORKDIR, JSON-form CMD/ENTRYPOINT, COPY
rather than ADD, non-root final USER). When a ``hadolint`` binary is on PATH, it runs too.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import posixpath
import re
import shlex
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from unit.deploy.contract import SERVICE_PORTS

from stocksync_common.settings import CommonSettings
from workspace import members

ROOT = Path(__file__).resolve().parents[3]
DOCKERFILE = ROOT / "Dockerfile"

SIMULATOR_MODULES = ("stocksync_sim.shopify", "stocksync_sim.wms", "stocksync_sim.sink")
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - a container listens on all of its interfaces
OCI_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.source",
    "org.opencontainers.image.licenses",
)
BUILD_TOOLS = re.compile(
    r"\b(build-essential|gcc|g\+\+|make|cmake|git|curl|wget|python3?-dev|libc6?-dev|pkg-config)\b"
)


# --- a small Dockerfile parser --------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


def stage_named(stages: list[Stage], name: str) -> Stage:
    found = [stage for stage in stages if stage.name == name]
    assert len(found) == 1, f"one stage named {name}"
    return found[0]


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join continuation lines; drop comments and blank lines (also inside continuations)."""
    buf: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not buf:
            start = number
        if stripped.endswith("\\"):
            buf.append(stripped[:-1].strip())
            continue
        buf.append(stripped)
        yield start, " ".join(part for part in buf if part)
        buf = []
    if buf:
        raise ValueError(f"line {start}: continuation runs past the end of the file")


def parse_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for number, line in _logical_lines(text):
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif not stages:
            if keyword != "ARG":
                raise ValueError(f"line {number}: {keyword} before the first FROM")
        else:
            stages[-1].instructions.append(Instruction(keyword, args, number))
    return stages


def split_flags(args: str) -> tuple[dict[str, str], str]:
    """Leading ``--flag=value`` options (COPY, HEALTHCHECK) and the rest of the arguments."""
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        key, _, value = word[2:].partition("=")
        flags[key] = value
        rest = rest.strip()
    return flags, rest


def exec_form(args: str) -> list[str] | None:
    if not args.startswith("["):
        return None
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def pairs(args: str) -> dict[str, str]:
    """``KEY=value`` pairs of LABEL and ENV (quotes removed)."""
    out: dict[str, str] = {}
    for word in shlex.split(args):
        key, sep, value = word.partition("=")
        assert sep, f"expected KEY=value, got {word!r}"
        out[key] = value
    return out


def copy_sources(inst: Instruction) -> tuple[dict[str, str], list[str], str]:
    flags, rest = split_flags(inst.args)
    words = exec_form(rest) or shlex.split(rest)
    return flags, words[:-1], words[-1]


def uv_syncs(stage: Stage) -> list[list[str]]:
    return [
        shlex.split(i.args) for i in stage.all("RUN") if re.search(r"(^|&&|;)\s*uv sync\b", i.args)
    ]


# --- hadolint-style rules ---------------------------------------------------------------------


def _image_tag(ref: str) -> str | None:
    ref = ref.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def _pip_problems(run: str, line: int) -> list[str]:
    problems: list[str] = []
    for command in re.split(r"&&|;|\|\|", run):
        words = shlex.split(command)
        if "pip" not in {posixpath.basename(w) for w in words[:3]} or "install" not in words:
            continue
        if "--no-cache-dir" not in words:
            problems.append(f"DL3042 line {line}: pip install without --no-cache-dir")
        packages = [w for w in words[words.index("install") + 1 :] if not w.startswith("-")]
        unpinned = [p for p in packages if "==" not in p and not p.startswith((".", "/"))]
        if unpinned:
            problems.append(f"DL3013 line {line}: pin versions in pip install: {unpinned}")
    return problems


def _run_problems(run: str, line: int) -> list[str]:
    problems = _pip_problems(run, line)
    if re.search(r"(^|&&|;|\|)\s*sudo\b", run):
        problems.append(f"DL3004 line {line}: do not use sudo")
    if re.search(r"(^|&&|;)\s*cd\s", run):
        problems.append(f"DL3003 line {line}: use WORKDIR to switch to a directory")
    if re.search(r"apt-get\s+(-\S+\s+)*install", run) and "--no-install-recommends" not in run:
        problems.append(f"DL3015 line {line}: apt-get install without --no-install-recommends")
    return problems


def lint(stages: list[Stage]) -> list[str]:  # noqa: C901 - one branch per rule
    problems: list[str] = []
    aliases: set[str] = set()
    for stage in stages:
        if stage.base not in aliases and stage.base != "scratch":
            tag = _image_tag(stage.base)
            if tag is None and "@" not in stage.base:
                problems.append(f"DL3006 FROM {stage.base}: tag the image version explicitly")
            if tag == "latest":
                problems.append(f"DL3007 FROM {stage.base}: do not use latest")
        workdir_set = False
        for inst in stage.instructions:
            if inst.keyword == "RUN":
                problems.extend(_run_problems(inst.args, inst.line))
            elif inst.keyword == "WORKDIR":
                workdir_set = True
                if not inst.args.startswith(("/", "$")):
                    problems.append(f"DL3000 line {inst.line}: use an absolute WORKDIR")
            elif inst.keyword in {"CMD", "ENTRYPOINT"} and exec_form(inst.args) is None:
                problems.append(f"DL3025 line {inst.line}: use JSON form for {inst.keyword}")
            elif inst.keyword == "ADD" and "://" not in inst.args and ".tar" not in inst.args:
                problems.append(f"DL3020 line {inst.line}: use COPY instead of ADD for files")
            elif inst.keyword == "COPY":
                flags, _, dest = copy_sources(inst)
                if "from" in flags and flags["from"] not in aliases and not flags["from"].isdigit():
                    problems.append(f"DL3022 line {inst.line}: COPY --from an unknown stage")
                if not dest.startswith("/") and not workdir_set:
                    problems.append(f"DL3045 line {inst.line}: relative COPY without WORKDIR")
            elif inst.keyword == "MAINTAINER":
                problems.append(f"DL4000 line {inst.line}: MAINTAINER is deprecated")
        if stage.name:
            aliases.add(stage.name)
    last_user = stages[-1].last("USER") if stages else None
    if last_user is not None and last_user.args.split(":")[0] in {"root", "0"}:
        problems.append(f"DL3002 line {last_user.line}: last USER should not be root")
    return problems


# --- .dockerignore ----------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's .dockerignore pattern (Go filepath.Match plus ``**``) as a regex."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            out, i = out + "[" + ("^" + body[1:] if body.startswith("!") else body) + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignore() -> list[tuple[bool, re.Pattern[str]]]:
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip().strip("/"))
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def in_build_context(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """A path is excluded when the last pattern matching it or one of its parents is not a !."""
    parts = path.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negate, rx in rules:
        if any(rx.fullmatch(c) for c in candidates):
            excluded = not negate
    return not excluded


# --- the workspace, read from its pyproject files -----------------------------------------------


def workspace_members() -> dict[str, Path]:
    """Package name -> member folder (relative to the root), from the root's member globs."""
    return {m.package: m.folder for m in members()}


def workspace_closure(package: str) -> set[Path]:
    """The member folders a package needs: itself and its workspace dependencies."""
    members = workspace_members()
    needed: set[Path] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        folder = members[name]
        if folder in needed:
            continue
        needed.add(folder)
        project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]
        for dep in project.get("dependencies", []):
            dep_name = re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0]
            if dep_name in members:
                todo.append(dep_name)
    return needed


def settings_class(service: str) -> type[CommonSettings]:
    module = importlib.import_module(f"{service.replace('-', '_')}.settings")
    cls = module.Settings
    assert isinstance(cls, type) and issubclass(cls, CommonSettings)
    return cls


# --- build arguments, expanded as Docker expands them ------------------------------------------

VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")
# Docker expands variables in these instructions itself; RUN gets them from its shell, where
# build arguments and ENV values are environment variables, so the expansion is the same.
# CMD and HEALTHCHECK in JSON form are not expanded: they see the image's ENV at run time.
EXPANDED = {"ADD", "COPY", "ENV", "EXPOSE", "LABEL", "RUN", "USER", "VOLUME", "WORKDIR"}
BASE_IMAGE_ENV = {"PATH"}  # set by the base image, unknown here: left as written


def expand(text: str, variables: dict[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if variables.get(name):
            return variables[name]
        if match.group(2) is not None:
            return match.group(2)
        return "" if name in variables else match.group(0)

    return VARIABLE.sub(one, text)


def unresolved(text: str) -> set[str]:
    return {m.group(1) or m.group(3) for m in VARIABLE.finditer(text)} - BASE_IMAGE_ENV


def _arg(args: str) -> tuple[str, str | None]:
    name, sep, default = args.partition("=")
    return name, (shlex.split(default)[0] if default else "") if sep else None


def declared_args(text: str) -> dict[str, str | None]:
    """Every ARG of the file and its default as written (None: it has none)."""
    out: dict[str, str | None] = {}
    for _, line in _logical_lines(text):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "ARG":
            name, default = _arg(args.strip())
            if out.get(name) is None:
                out[name] = default
    return out


def render(text: str, build_args: dict[str, str]) -> list[Stage]:
    """The stages as one image is built: ARG defaults, build arguments and ENV substituted.

    An ARG before the first FROM is global: a stage sees it only when it declares it again.
    A variable nobody set stays as written, so a test can tell a missing build argument.
    """
    global_args: dict[str, str] = {}
    for _, line in _logical_lines(text):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            break
        name, default = _arg(args.strip())
        if name in build_args or default is not None:
            global_args[name] = build_args.get(name, default or "")
    stages = parse_dockerfile(text)
    for stage in stages:
        stage.base = expand(stage.base, global_args)
        scope: dict[str, str] = {}
        rendered: list[Instruction] = []
        for inst in stage.instructions:
            args = inst.args
            if inst.keyword == "ARG":
                name, default = _arg(args)
                if name in build_args:
                    scope[name] = build_args[name]
                elif default is not None:
                    scope[name] = expand(default, scope)
                elif name in global_args:
                    scope[name] = global_args[name]
            elif inst.keyword in EXPANDED:
                args = expand(args, scope)
            if inst.keyword == "ENV":
                scope.update(pairs(args))
            rendered.append(Instruction(inst.keyword, args, inst.line))
        stage.instructions = rendered
    return stages


# --- the images docker-compose.yml builds from it ----------------------------------------------


@cache
def compose_builds() -> dict[str, dict[str, object]]:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {name: svc["build"] for name, svc in services.items() if "build" in svc}


@dataclass(frozen=True)
class Image:
    name: str
    port: int
    modules: tuple[str, ...]
    compose_service: str

    @property
    def package(self) -> str:
        return f"stocksync-{self.name}"

    @property
    def is_service(self) -> bool:
        return self.name in SERVICE_PORTS

    def stages(self) -> list[Stage]:
        args = compose_builds()[self.compose_service].get("args", {})
        assert isinstance(args, dict)
        return render(DOCKERFILE.read_text(), {str(k): str(v) for k, v in args.items()})

    def env(self) -> dict[str, str]:
        """The final stage's ENV: what the container starts with."""
        env: dict[str, str] = {}
        for inst in self.stages()[-1].all("ENV"):
            env.update(pairs(inst.args))
        return env


IMAGES = [
    Image(name, port, (name.replace("-", "_"),), name) for name, port in SERVICE_PORTS.items()
] + [Image("simulators", 8092, SIMULATOR_MODULES, "sink")]
IDS = [image.name for image in IMAGES]


def command_argv(image: Image, bin_dir: Path) -> list[str]:
    """What the container runs: CMD through a real /bin/sh, python replaced by an echo of argv."""
    final = image.stages()[-1]
    cmd = final.last("CMD")
    assert cmd is not None and final.last("ENTRYPOINT") is None
    argv = exec_form(cmd.args)
    assert argv is not None, "CMD in JSON form"
    fake = bin_dir / "python"
    fake.write_text("#!/bin/sh\nprintf 'python\\n'\nprintf '%s\\n' \"$@\"\n")
    fake.chmod(0o755)
    run_env = image.env() | {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    result = subprocess.run(
        argv, env=run_env, capture_output=True, text=True, timeout=30, check=True
    )
    return result.stdout.splitlines()


# --- the parser and the rules on known input ------------------------------------------------------

SAMPLE = """\
# syntax=docker/dockerfile:1
ARG X=1
FROM python:3.11-slim AS builder
RUN pip install --no-cache-dir \\
    # a comment inside a continuation
    uv==1.2.3
FROM python:3.11-slim
COPY --from=builder ["a b", "/dst/"]
LABEL a="one two" \\
      b=three
CMD ["python", "-m", "x"]
"""

BAD = """\
FROM python AS builder
FROM debian:latest
WORKDIR app
RUN sudo apt-get install -y gcc && cd /tmp && pip install uv
ADD . /src
COPY --from=nowhere /a /b
USER root
CMD python -m x
"""


def test_parser_reads_stages_continuations_comments_and_forms() -> None:
    stages = parse_dockerfile(SAMPLE)
    assert [(s.base, s.name) for s in stages] == [
        ("python:3.11-slim", "builder"),
        ("python:3.11-slim", None),
    ]
    run = stages[0].all("RUN")[0]
    assert run.args == "pip install --no-cache-dir uv==1.2.3"
    assert run.line == 4
    flags, sources, dest = copy_sources(stages[1].all("COPY")[0])
    assert (flags, sources, dest) == ({"from": "builder"}, ["a b"], "/dst/")
    assert pairs(stages[1].all("LABEL")[0].args) == {"a": "one two", "b": "three"}
    assert exec_form(stages[1].all("CMD")[0].args) == ["python", "-m", "x"]
    assert lint(stages) == []


def test_lint_rules_catch_a_bad_dockerfile() -> None:
    codes = {problem.split()[0] for problem in lint(parse_dockerfile(BAD))}
    assert codes == {
        "DL3006", "DL3007", "DL3000", "DL3004", "DL3003", "DL3015", "DL3042", "DL3013",
        "DL3020", "DL3022", "DL3002", "DL3025",
    }  # fmt: skip


def test_dockerignore_matcher_follows_docker_semantics() -> None:
    rules = [(False, _pattern_regex("*")), (True, _pattern_regex("keep/*/src"))]
    rules.append((False, _pattern_regex("**/__pycache__")))
    assert in_build_context("keep/a/src/m.py", rules)
    assert not in_build_context("keep/a/other.py", rules)
    assert not in_build_context("keep/a/src/__pycache__/m.pyc", rules)
    assert not in_build_context("top.txt", rules)


# --- the file as written ------------------------------------------------------------------------


def test_hadolint_when_installed() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not on PATH; test_image_passes_the_hadolint_style_rules ran")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_other_dockerfile_in_the_tree() -> None:
    found = {
        p.relative_to(ROOT).as_posix()
        for folder in ("services", "simulators", "libs", "deploy")
        for p in (ROOT / folder).rglob("Dockerfile*")
    }
    assert found == set(), "every image is built from the one Dockerfile at the root"


def test_multi_stage_on_one_pinned_slim_python_and_one_uv() -> None:
    stages = parse_dockerfile(DOCKERFILE.read_text())
    assert len(stages) >= 2
    builder = stage_named(stages, "builder")
    assert {stage.base for stage in stages} == {stages[-1].base}, "the venv's python path"
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", stages[-1].base), stages[-1].base
    runs = [i.args for i in builder.all("RUN")]
    assert any(
        re.fullmatch(r"pip install --no-cache-dir uv==\d+\.\d+\.\d+", run) for run in runs
    ), runs
    assert not any("--index-url" in run or "://" in run for run in runs), "no registry hosts"


# What the manifests stage does with the whole build context: keep the files of these names.
KEEP_MANIFESTS = (
    "find . -type f ! -name pyproject.toml ! -name uv.lock -delete"
    " && find . -mindepth 1 -type d -empty -delete"
)


def context_files() -> list[str]:
    """The repository's files (tracked or not, git's ignores applied), as .dockerignore sends
    them."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    rules = dockerignore()
    return [f for f in listed if (ROOT / f).is_file() and in_build_context(f, rules)]


def test_lock_and_every_member_manifest_are_copied_before_the_first_sync() -> None:
    """The builder copies, before its first sync, only what the manifests stage kept: of the
    build context, the files named pyproject.toml or uv.lock, which are exactly the root's,
    the lock and every member's (none listed by hand)."""
    stages = parse_dockerfile(DOCKERFILE.read_text())
    manifests, builder = stage_named(stages, "manifests"), stage_named(stages, "builder")
    assert [copy_sources(i) for i in manifests.all("COPY")] == [({}, ["."], ".")]
    assert [i.args for i in manifests.all("RUN")] == [KEEP_MANIFESTS]
    kept = {f for f in context_files() if posixpath.basename(f) in {"pyproject.toml", "uv.lock"}}
    first_sync = next(i.line for i in builder.all("RUN") if "uv sync" in i.args)
    copied: set[str] = set()
    for inst in builder.all("COPY"):
        if inst.line > first_sync:
            continue
        flags, sources, dest = copy_sources(inst)
        assert (flags, sources, dest) == ({"from": "manifests"}, ["/src"], "./"), inst.args
        copied |= kept
    expected = {"pyproject.toml", "uv.lock"} | {
        f"{folder.as_posix()}/pyproject.toml" for folder in workspace_members().values()
    }
    assert copied == expected, "only the manifests and the lock before the first uv sync"


def test_dockerignore_keeps_the_context_small_and_free_of_secrets() -> None:
    rules = dockerignore()
    for path in ("pyproject.toml", "uv.lock", "libs/common/src/stocksync_common/settings.py"):
        assert in_build_context(path, rules), path
    for path in (
        ".git/config",
        ".venv/bin/python",
        ".work/local/kafka/server.log",
        ".cache/kafka/x.jar",
        "tests/unit/deploy/test_dockerfiles.py",
        "deploy/compose/stores.yaml",
        "config/stores.example.yaml",
        ".env",
        "libs/common/src/stocksync_common/__pycache__/settings.cpython-311.pyc",
    ):
        assert not in_build_context(path, rules), path


def test_final_stage_holds_only_the_venv() -> None:
    final = parse_dockerfile(DOCKERFILE.read_text())[-1]
    assert final.all("ADD") == []
    copies = final.all("COPY")
    assert copies, "the final stage copies the venv"
    for inst in copies:
        flags, sources, dest = copy_sources(inst)
        assert flags.get("from") == "builder"
        assert (sources, dest) == (["/app/.venv"], "/app/.venv")
    for inst in final.all("RUN"):
        installs = re.search(r"(apt-get|apt|apk)\s+(-\S+\s+)*(install|add)\b.*", inst.args)
        assert not (installs and BUILD_TOOLS.search(installs.group(0))), inst.args
        assert not re.search(r"\b(pip|uv)\s+(install|sync)\b", inst.args), inst.args


def test_final_stage_runs_as_a_non_root_uid() -> None:
    final = parse_dockerfile(DOCKERFILE.read_text())[-1]
    user = final.last("USER")
    assert user is not None
    uid = user.args.split(":")[0]
    assert uid.isdigit() and int(uid) == 10001, "numeric, so runAsNonRoot can verify it"
    assert any(f"--uid {uid}" in run.args for run in final.all("RUN")), "the user exists"
    assert user.line > max(run.line for run in final.all("RUN"))


# --- the build arguments ------------------------------------------------------------------------

SAMPLE_ARGS = """\
ARG NAME
ARG BASE=python:3.11-slim
FROM ${BASE} AS builder
ARG NAME
ARG DIR=services/${NAME}
COPY ${DIR}/src ${DIR}/src
RUN uv sync --package "stocksync-${NAME}"
FROM python:3.11-slim
ARG PORT
ENV PATH="/app/bin:${PATH}" P="${PORT}" N="${NAME}"
EXPOSE ${PORT}
CMD ["sh", "-c", "exec python -m \\"$M\\""]
"""


def test_render_expands_arguments_defaults_and_env_as_docker_does() -> None:
    builder, final = render(SAMPLE_ARGS, {"NAME": "order-consumer", "PORT": "8081"})
    assert builder.base == "python:3.11-slim", "a global ARG in FROM"
    _, sources, dest = copy_sources(builder.all("COPY")[0])
    assert (sources, dest) == (["services/order-consumer/src"], "services/order-consumer/src")
    assert builder.all("RUN")[0].args == 'uv sync --package "stocksync-order-consumer"'
    env = pairs(final.all("ENV")[0].args)
    # NAME was not declared again in the final stage: Docker leaves it empty there.
    assert env == {"PATH": "/app/bin:${PATH}", "P": "8081", "N": "${NAME}"}
    assert final.all("EXPOSE")[0].args == "8081"
    assert "$M" in final.all("CMD")[0].args, "CMD is left to the shell at run time"
    assert declared_args(SAMPLE_ARGS) == {
        "NAME": None, "BASE": "python:3.11-slim", "DIR": "services/${NAME}", "PORT": None,
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(compose_builds()))
def test_compose_gives_every_build_argument_the_dockerfile_needs(name: str) -> None:
    build = compose_builds()[name]
    assert build["dockerfile"] == "Dockerfile"
    args = build.get("args", {})
    assert isinstance(args, dict)
    declared = declared_args(DOCKERFILE.read_text())
    assert set(args) <= set(declared), (
        f"not build arguments of the Dockerfile: {set(args) - set(declared)}"
    )
    required = {arg for arg, default in declared.items() if default is None}
    assert required <= set(args), f"{name} misses {required - set(args)}"
    stages = render(DOCKERFILE.read_text(), {str(k): str(v) for k, v in args.items()})
    left = {
        var
        for stage in stages
        for inst in stage.instructions
        if inst.keyword in EXPANDED
        for var in unresolved(inst.args)
    }
    assert left == set(), f"{name}: variables no argument sets: {left}"


# --- every image, as built with its arguments -------------------------------------------------


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_image_passes_the_hadolint_style_rules(image: Image) -> None:
    assert lint(image.stages()) == []


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_uv_sync_is_frozen_without_dev_and_scoped_to_the_package(image: Image) -> None:
    builder = stage_named(image.stages(), "builder")
    syncs = uv_syncs(builder)
    assert len(syncs) >= 1
    for argv in syncs:
        assert "--frozen" in argv
        assert "--no-dev" in argv
        assert argv[argv.index("--package") + 1] == image.package
    assert "--no-editable" in syncs[-1], "the final stage has no sources to point at"
    if len(syncs) > 1:
        assert "--no-install-workspace" in syncs[0], "the first sync is the dependency layer"
    env: dict[str, str] = {}
    for inst in builder.all("ENV"):
        env.update(pairs(inst.args))
    assert env.get("UV_PROJECT_ENVIRONMENT") == "/app/.venv"
    assert env.get("UV_PYTHON_DOWNLOADS") == "never", "use the base image's python"


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_builder_copies_the_sources_the_package_needs(image: Image) -> None:
    copied = {
        source
        for inst in stage_named(image.stages(), "builder").all("COPY")
        if "from" not in copy_sources(inst)[0]  # from the context, not the manifests stage
        for source in copy_sources(inst)[1]
        if source.endswith("/src")
    }
    needed = {f"{folder.as_posix()}/src" for folder in workspace_closure(image.package)}
    assert needed <= copied
    # The one file copies stocksync-common for every image; the `--package` sync (checked
    # above) installs it only into the images whose package depends on it.
    assert copied - needed <= {"libs/common/src"}, copied - needed


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_copied_paths_exist_and_are_in_the_build_context(image: Image) -> None:
    rules = dockerignore()
    for stage in image.stages():
        for inst in stage.all("COPY"):
            flags, sources, _ = copy_sources(inst)
            if "from" in flags:
                continue
            for source in sources:
                if source == ".":
                    continue  # the whole build context: what .dockerignore lets in
                path = ROOT / source
                assert path.exists(), f"line {inst.line}: {source} does not exist"
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                wanted = [
                    f.relative_to(ROOT).as_posix()
                    for f in files
                    if "__pycache__" not in f.parts and f.suffix != ".pyc"
                ]
                assert wanted, f"{source} has no files"
                left_out = [f for f in wanted if not in_build_context(f, rules)]
                assert left_out == [], f".dockerignore drops what line {inst.line} copies"


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_runtime_environment(image: Image) -> None:
    env = image.env()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert env["STOCKSYNC_HTTP_PORT"] == str(image.port), "the healthcheck reads it"
    if image.is_service:
        assert env["STOCKSYNC_HTTP_HOST"] == ALL_INTERFACES
        assert env["STOCKSYNC_SERVICE_NAME"] == image.name
        fields = {f"STOCKSYNC_{name.upper()}" for name in settings_class(image.name).model_fields}
        unknown = {k for k in env if k.startswith("STOCKSYNC_")} - fields
        assert unknown == set(), f"not settings of {image.name}: {unknown}"


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_exposes_its_port(image: Image) -> None:
    exposed = {
        int(port.split("/")[0])
        for inst in image.stages()[-1].all("EXPOSE")
        for port in inst.args.split()
    }
    assert exposed == {image.port}


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_cmd_runs_the_module(image: Image, tmp_path: Path) -> None:
    argv = command_argv(image, tmp_path)
    assert argv[:2] == ["python", "-m"], argv
    assert argv[2] in image.modules
    if image.is_service:
        assert argv == ["python", "-m", image.modules[0]]
    else:  # a simulator listens on every interface of its container, on the image's port
        assert argv[3:] == ["--host", ALL_INTERFACES, "--port", str(image.port)]
    for module in image.modules:
        assert importlib.util.find_spec(f"{module}.__main__") is not None, module


@pytest.mark.parametrize("image", IMAGES, ids=IDS)
def test_oci_labels(image: Image) -> None:
    labels: dict[str, str] = {}
    for inst in image.stages()[-1].all("LABEL"):
        labels.update(pairs(inst.args))
    missing = [key for key in OCI_LABELS if not labels.get(key)]
    assert missing == []
    assert labels["org.opencontainers.image.title"] == f"stocksync-{image.name}"


# --- the HEALTHCHECK, run against a local HTTP server -------------------------------------------


def healthcheck_argv() -> list[str]:
    final = parse_dockerfile(DOCKERFILE.read_text())[-1]
    inst = final.last("HEALTHCHECK")
    assert inst is not None, "no HEALTHCHECK"
    _, rest = split_flags(inst.args)
    assert rest.startswith("CMD ")
    argv = exec_form(rest[4:].strip())
    assert argv is not None, "HEALTHCHECK CMD in JSON form"
    return argv


def test_healthcheck_calls_healthz_with_urllib_on_the_configured_port() -> None:
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"]
    code = argv[2]
    compile(code, "<healthcheck>", "exec")
    assert "urllib.request" in code and "/healthz" in code
    assert "STOCKSYNC_HTTP_PORT" in code, "the port each image sets (test_runtime_environment)"
    assert not any(tool in " ".join(argv) for tool in ("curl", "wget"))


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    class Handler(_Health):
        status = 200

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_port, Handler
    finally:
        server.shutdown()
        server.server_close()


def test_healthcheck_passes_on_200_and_fails_otherwise(
    health_server: tuple[int, type[_Health]],
) -> None:
    port, handler = health_server
    code = healthcheck_argv()[2]
    env = {**os.environ, "STOCKSYNC_HTTP_PORT": str(port)}

    def run() -> int:
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, timeout=30, check=False
        ).returncode

    assert run() == 0
    handler.status = 503
    assert run() != 0
