"""The ament linters over the package, with fall-backs where an ament linter is missing.

ament_flake8 and ament_pep257 are on PyPI (scripts/setup_ros.sh installs them);
ament_copyright and ament_xmllint are not, so a small header check and Python's XML parser
(or ``xmllint``) stand in for them. Docstrings follow PEP 257 with the summary on the first
line: D213 (summary on the second line) is the opposite of D212, which ament already
ignores, and D401/D403 misfire on noun-phrase docstrings of properties and on identifiers
such as ``rclpy`` or ``FLOPs``.
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

REPO = Path(__file__).resolve().parent.parent
APACHE_HEADER = """Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License."""
PATHS = [str(REPO / d) for d in ('specprune_ros', 'test', 'scripts', 'launch')]
EXCLUDE = ['.ros_build', 'build', 'install', 'log', '.venv', '.hypothesis', '__pycache__']
PEP257_EXTRA_IGNORE = ['D213', 'D401', 'D403']
AMENT_PEP257_IGNORE = ['D100', 'D101', 'D102', 'D103', 'D104', 'D105', 'D106', 'D107',
                       'D203', 'D212', 'D404']

pytestmark = pytest.mark.linter


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _python_files() -> list[Path]:
    files: list[Path] = []
    for root in PATHS:
        for path in sorted(Path(root).rglob('*.py')):
            if not any(part in EXCLUDE for part in path.relative_to(REPO).parts):
                files.append(path)
    return files


@pytest.mark.flake8
def test_flake8() -> None:
    if _has('ament_flake8'):
        from ament_flake8.main import main_with_errors

        rc, errors = main_with_errors(argv=[*PATHS, '--exclude', *EXCLUDE])
        assert rc == 0, f'{len(errors)} flake8 errors:\n' + '\n'.join(errors)
        return
    if not _has('flake8'):
        pytest.skip('neither ament_flake8 nor flake8 is installed')
    run = subprocess.run([sys.executable, '-m', 'flake8', '--config',
                          str(REPO / 'setup.cfg'), *PATHS], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.pep257
def test_pep257() -> None:
    if _has('ament_pep257'):
        args = ['-m', 'ament_pep257.main', *PATHS, '--exclude', *EXCLUDE, '--add-ignore',
                *PEP257_EXTRA_IGNORE]
    elif _has('pydocstyle'):
        ignore = ','.join(AMENT_PEP257_IGNORE + PEP257_EXTRA_IGNORE)
        args = ['-m', 'pydocstyle', f'--ignore={ignore}', *map(str, _python_files())]
    else:
        pytest.skip('neither ament_pep257 nor pydocstyle is installed')
    run = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO,
                         timeout=300)
    errors = [line for line in (run.stdout + run.stderr).splitlines()
              if ': D' in line or line.endswith(' errors')]
    assert run.returncode == 0, '\n'.join(errors) or run.stdout + run.stderr


def test_copyright() -> None:
    if _has('ament_copyright'):
        from ament_copyright.main import main

        assert main(argv=[*PATHS, '--exclude', *EXCLUDE]) == 0, 'copyright check failed'
        return
    # ament_copyright's rule: a comment block (anywhere after a shebang) with a
    # "Copyright YEAR NAME" line followed by the whole Apache-2.0 file header, compared with
    # whitespace collapsed (so the licence text may be reflowed to fewer lines).
    licence = ' '.join(APACHE_HEADER.split())
    missing = []
    for path in _python_files():
        comments = [line[1:] for line in path.read_text(errors='replace').splitlines()
                    if line.startswith('#') and not line.startswith('#!')]
        text = ' '.join(' '.join(comments).split())
        if not re.search(r'Copyright \d{4} \S', text) or licence not in text:
            missing.append(str(path.relative_to(REPO)))
    assert not missing, f'files without the Apache-2.0 copyright header: {missing}'


def test_xmllint() -> None:
    package = REPO / 'package.xml'
    if _has('ament_xmllint'):
        from ament_xmllint.main import main

        assert main(argv=[str(package)]) == 0, 'xmllint failed'
        return
    xmllint = shutil.which('xmllint')
    if xmllint:
        run = subprocess.run([xmllint, '--noout', str(package)], capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stderr
    root = ET.parse(package).getroot()  # well-formed, else ParseError
    assert root.tag == 'package' and root.get('format') == '3'
    for tag in ('name', 'version', 'description', 'maintainer', 'license'):
        assert root.find(tag) is not None and (root.find(tag).text or '').strip(), tag
    assert root.findtext('name') == 'specprune_ros'
    assert root.findtext('export/build_type') == 'ament_cmake'
    schema = package.read_text().split('?>', 2)[1]
    assert 'package_format3.xsd' in schema


def test_ruff() -> None:
    ruff = shutil.which('ruff') or str(Path(sys.executable).with_name('ruff'))
    if not os.path.exists(ruff):
        pytest.skip('ruff is not installed')
    run = subprocess.run([ruff, 'check', '--no-cache', *PATHS], capture_output=True,
                         text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
