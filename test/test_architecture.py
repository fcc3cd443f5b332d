"""The subpackages' import directions, and that only ``specprune_ros.ros`` imports rclpy.

Allowed (module -> what it may import of ours): ``errors`` -> nothing; ``schema`` (the generic
config machinery) -> errors; ``vla`` -> errors, schema; ``specprune`` -> errors, schema, vla;
``sim`` -> errors, schema, vla; ``control`` (the ROS-free chunk executor) -> errors, schema,
vla.action_space;
``tools`` -> errors, schema, vla, specprune, sim, control; ``ros`` -> everything. Inside
``ros`` and ``tools`` the rooms (one per node, one per command) import only the shared room
(``ros.common``; the top of ``tools``) and the rooms named in :data:`ROOMS`, so no node
depends on another node. Checked on the source
(every ``import`` statement, also those inside functions) and at run time (a fresh interpreter
imports the ROS-free subpackages and must not have loaded rclpy).
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
    'schema': {'errors'},
    'vla': {'errors', 'schema'},
    'specprune': {'errors', 'schema', 'vla'},
    'sim': {'errors', 'schema', 'vla'},
    'control': {'errors', 'schema', 'vla'},  # vla: only its numpy action_space (checked below)
    'tools': {'errors', 'schema', 'vla', 'specprune', 'sim', 'control'},
    'ros': {'errors', 'schema', 'vla', 'specprune', 'sim', 'control', 'tools', 'msg'},
}
# room -> the other rooms of its subpackage it may import (besides the shared one)
ROOMS = {
    'ros': {'common': set(), 'policy': set(), 'executor': set(), 'replay': set(),
            'sim_bridge': {'policy'}},  # the main job's policy parameters
    'tools': {'eval': {'train'}, 'train': set(), 'bench': set(), 'probe': {'eval', 'train'}},
}
ROOM_EXCEPTIONS = {'ros/common/entry_points.py': {'policy', 'executor', 'sim_bridge'}}
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
    assert top == ['__init__.py', 'errors.py', 'schema.py'], \
        f'modules directly under specprune_ros/: {top}'
    rooms = [f'{sub}/{room}' for sub, names in ROOMS.items() for room in names]
    for role in ('vla', 'specprune', 'sim', 'control', 'ros', 'tools', *rooms):
        init = PKG / role / '__init__.py'
        assert init.is_file(), f'{init} is missing'
        assert ast.get_docstring(ast.parse(init.read_text())), f'{init} has no docstring'


def test_control_takes_only_the_action_space_of_vla() -> None:
    uses = {name for path in (PKG / 'control').glob('*.py') for _, name in _imports(path)
            if name.startswith('specprune_ros.vla')}
    assert uses <= {'specprune_ros.vla.action_space'}, uses


def room_violations(rel: Path, imports: list[tuple[int, str]]) -> list[str]:
    """Imports of another room that the room of ``rel`` (under specprune_ros/) may not use."""
    parts = rel.parts
    sub, room = parts[0], (parts[1] if len(parts) > 2 else None)  # room None: the shared top
    if sub not in ROOMS:
        return []
    allowed = ROOMS[sub].get(room, set()) | ROOM_EXCEPTIONS.get(rel.as_posix(), set())
    if sub == 'ros':
        allowed |= {'common'}
    bad = []
    for line, name in imports:
        target = name.split('.')
        if target[:2] != ['specprune_ros', sub] or len(target) < 3 or target[2] not in ROOMS[sub]:
            continue
        if target[2] != room and target[2] not in allowed:
            bad.append(f'line {line}: {name} (room {sub}/{room or "(shared)"} may import '
                       f'{sorted(allowed)} of {sub})')
    return bad


@pytest.mark.parametrize('path', _sources(), ids=lambda p: str(p.relative_to(PKG)))
def test_rooms_import_only_the_shared_room(path: Path) -> None:
    bad = room_violations(path.relative_to(PKG), _imports(path))
    assert not bad, f'{path.relative_to(REPO)}:\n' + '\n'.join(bad)


def test_a_wrong_arrow_between_rooms_is_caught() -> None:
    node = PKG / 'ros' / 'executor' / 'node.py'
    wrong = _imports(node) + [(999, 'specprune_ros.ros.policy.node')]
    assert room_violations(node.relative_to(PKG), _imports(node)) == []
    assert room_violations(node.relative_to(PKG), wrong) == [
        "line 999: specprune_ros.ros.policy.node (room ros/executor may import ['common'] of ros)"]
    assert room_violations(Path('tools/train/loop.py'), [(1, 'specprune_ros.tools.eval.cli')])


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
            'specprune_ros.tools.bench.run, specprune_ros.ros.policy.config\n'
            'import specprune_ros.control.executor, specprune_ros.control.executor_config\n'
            'print(sorted(m for m in sys.modules if m.split(".")[0] in {!r}))'.format(
                set(ROS_MODULES)))
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == '[]', f'ROS modules loaded: {run.stdout}'
