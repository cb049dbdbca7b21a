"""A small Dockerfile reader and a runner of its steps on this machine (no Docker engine here).

Absolute paths of the image (/opt/venv, /app, /data, ...) are mapped under a temporary root,
so the RUN commands, ENV values and CMD run unchanged otherwise.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [a for i, a in self.steps if i == instruction]


def parse(path: Path) -> list[Stage]:
    """Stages of a Dockerfile, each with its (INSTRUCTION, arguments) in order."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            parts = args.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 else None))
        else:
            stages[-1].steps.append((instruction, args.strip()))
    return stages


def env_pairs(args: str) -> list[tuple[str, str]]:
    """`ENV A=1 B="x y"` -> [(A, 1), (B, x y)]."""
    return [tuple(token.split("=", 1)) for token in shlex.split(args)]  # type: ignore[misc]


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list)
    return [str(v) for v in value]


class ImageRoot:
    """A temporary stand-in for the image's filesystem root."""

    def __init__(self, root: Path, absolute: list[str]) -> None:
        self.root = root
        # longest first, so /opt/venv/bin maps before /opt/venv
        self.absolute = sorted(set(absolute), key=len, reverse=True)

    def local(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def remap(self, text: str) -> str:
        """Replace each image path in `text` by its stand-in under the temporary root."""
        pattern = "|".join(re.escape(p) for p in self.absolute)
        return re.sub(rf"(?<![\w.-])({pattern})(?=/|\b|$)", lambda m: str(self.local(m.group(1))), text)


def absolute_paths(stages: list[Stage]) -> list[str]:
    """Every absolute path the Dockerfile names (WORKDIR, COPY destinations, ENV values)."""
    found: list[str] = []
    for stage in stages:
        for instruction, args in stage.steps:
            if instruction == "WORKDIR":
                found.append(args)
            elif instruction == "COPY":
                found.append(args.split()[-1])
            elif instruction == "ENV":
                for _, value in env_pairs(args):
                    found += re.findall(r"(?<![\w/.-])(/[\w.-][\w./-]*)", value)
    return [p.rstrip("/") for p in found if p.startswith("/") and p != "/"]


def run_stage(stage: Stage, image: ImageRoot, env: dict[str, str], *, timeout: float,
              commands: bool = True) -> Path:
    """ENV, WORKDIR, COPY (from the repository) and RUN (unless `commands` is false: system
    set-up such as useradd) of one stage; returns the last WORKDIR."""
    cwd = image.root
    for instruction, args in stage.steps:
        if instruction == "ENV":
            for key, value in env_pairs(args):
                env[key] = image.remap(os.path.expandvars(value.replace("$PATH", env.get("PATH", ""))))
        elif instruction == "WORKDIR":
            cwd = image.local(args)
            cwd.mkdir(parents=True, exist_ok=True)
        elif instruction == "COPY" and not args.startswith("--from"):
            *sources, dest = args.split()
            target = cwd / dest if not dest.startswith("/") else image.local(dest)
            for source in sources:
                src = ROOT / source
                into = target / src.name if dest.endswith("/") or len(sources) > 1 else target
                if src.is_dir():
                    shutil.copytree(src, into, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    into.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(src, into)
        elif instruction == "RUN" and commands:
            subprocess.run(["bash", "-euo", "pipefail", "-c", args], cwd=cwd, env=env, check=True,
                           timeout=timeout, stdout=subprocess.DEVNULL)
    return cwd
