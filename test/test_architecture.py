"""The subpackages' import directions, and that only ``specprune_ros.ros`` imports rclpy.

Allowed (module -> what it may import of ours): ``errors`` -> nothing; ``vla`` -> errors;
``specprune`` -> errors, vla; ``sim`` -> errors, vla; ``control`` (the ROS-free chunk
executor) -> errors, vla, specprune (its params schema); ``tools`` -> errors, vla, specprune,
sim, control; ``ros`` -> everything. Checked on the source (every ``import`` statement, also
those inside functions) and at run time (a fresh interpreter imports the ROS-free subpackages
and must not have loaded rclpy).
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import ast
from pathlib import Path
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / 'specprune_ros'
ALLOWED = {
    'errors': set(),
    'vla': {'errors'},
    'specprune': {'errors', 'vla'},
    'sim': {'errors', 'vla'},
    'control': {'errors', 'vla', 'specprune'},
    'tools': {'errors', 'vla', 'specprune', 'sim', 'control'},
    'ros': {'errors', 'vla', 'specprune', 'sim', 'control', 'tools', 'msg'},
}
ROS_MODULES = ('rclpy', 'rosidl_runtime_py', 'sensor_msgs', 'geometry_msgs', 'std_msgs',
               'diagnostic_msgs', 'lifecycle_msgs', 'rcl_interfaces', 'builtin_interfaces',
               'std_srvs', 'launch', 'launch_ros')


def _role(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = '.'.join(path.relative_to(REPO).with_suffix('').parts[:-1])
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split('.')[:len(package.split('.')) - node.level + 1]
                name = '.'.join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ''
            out.append((node.lineno, name))
            if name == 'specprune_ros':
                out += [(node.lineno, f'specprune_ros.{a.name}') for a in node.names]
    return out


def _sources() -> list[Path]:
    return sorted(p for p in PKG.rglob('*.py') if p.name != '__init__.py' or p.parent != PKG)


def test_layout_has_the_role_subpackages() -> None:
    top = sorted(p.name for p in PKG.glob('*.py'))
    assert top == ['__init__.py', 'errors.py'], f'modules directly under specprune_ros/: {top}'
    for role in ('vla', 'specprune', 'sim', 'control', 'ros', 'tools'):
        init = PKG / role / '__init__.py'
        assert init.is_file(), f'{init} is missing'
        assert ast.get_docstring(ast.parse(init.read_text())), f'{init} has no docstring'


@pytest.mark.parametrize('path', _sources(), ids=lambda p: str(p.relative_to(PKG)))
def test_import_directions(path: Path) -> None:
    role = _role(path)
    assert role in ALLOWED, f'{path}: not in a known subpackage ({sorted(ALLOWED)})'
    bad = []
    for line, name in _imports(path):
        parts = name.split('.')
        if parts[0] == 'specprune_ros' and len(parts) > 1:
            target = parts[1]
            if target != role and target not in ALLOWED[role]:
                bad.append(f'line {line}: {name} ({role} may import {sorted(ALLOWED[role])})')
        elif parts[0] in ROS_MODULES and role != 'ros':
            bad.append(f'line {line}: {name} (only specprune_ros.ros may import ROS)')
    assert not bad, f'{path.relative_to(REPO)}:\n' + '\n'.join(bad)


def test_ros_free_subpackages_load_no_rclpy() -> None:
    code = ('import sys, specprune_ros.vla, specprune_ros.specprune, specprune_ros.tools\n'
            'import specprune_ros.vla.policy, specprune_ros.specprune.engine, '
            'specprune_ros.tools.bench, specprune_ros.ros.node_config\n'
            'import specprune_ros.control.executor, specprune_ros.control.executor_config\n'
            'print(sorted(m for m in sys.modules if m.split(".")[0] in {!r}))'.format(
                set(ROS_MODULES)))
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == '[]', f'ROS modules loaded: {run.stdout}'
