"""What README.md and docs/*.md tell a user to run or open exists.

Every repository path written in backquotes, every console script, and every ``--flag`` given to
one of our console scripts in a command line of the docs must exist: a path in the checkout, a
script in setup.py, a flag in that script's ``--help``. (Stale paths and flags are what a
newcomer meets first.)
"""

# Copyright 2026 The specprune_ros Authors
# Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except
# in compliance with the License. You may obtain a copy of the License at
# http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in
# writing, software distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific
# language governing permissions and limitations under the License.

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
import re
import subprocess
import sys

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
TOP = ('specprune_ros/', 'scripts/', 'docs/', 'config/', 'launch/', 'test/', 'models/', 'msg/',
       '.ci/')
# console script -> the module whose --help lists its flags (python -m MODULE --help)
HELP_MODULES = {
    'specprune-eval': 'specprune_ros.tools.eval.cli',
    'specprune-train': 'specprune_ros.tools.train.cli',
    'specprune-bench': 'specprune_ros.tools.bench.cli',
    'specprune-probe': 'specprune_ros.tools.probe.cli',
    'specprune-demo': 'specprune_ros.tools.demo',
    'specprune-sim': 'specprune_ros.sim.cli',
    'specprune-sim-demo': 'specprune_ros.ros.sim_bridge.demo',
    'specprune-ros-demo': 'specprune_ros.ros.replay.demo',
}
SCRIPTS = set(re.findall(r"'([\w-]+) = specprune_ros", (REPO / 'setup.py').read_text()))


def _code(text: str) -> list[str]:
    """Backquoted spans and the lines of fenced blocks."""
    blocks = re.findall(r'```[^\n]*\n(.*?)```', text, flags=re.S)
    rest = re.sub(r'```.*?```', '', text, flags=re.S)
    lines = [line for b in blocks for line in b.splitlines()]
    return lines + re.findall(r'`([^`\n]+)`', rest)


def _paths(doc: Path) -> list[str]:
    out = []
    for span in _code(doc.read_text()):
        for token in re.findall(r'(?<![\w./-])((?:%s)[\w./*<>{}-]*)' % '|'.join(
                re.escape(t) for t in TOP), span):
            token = token.rstrip('.,:;)')
            last = token.rsplit('/', 1)[-1]
            message_type = last[:1].isupper() and '.' not in last  # specprune_ros/ActionChunk
            if not any(c in token for c in '*<>{}') and '/out' not in token and \
                    not message_type:
                out.append(token)
    return out


def _commands(doc: Path) -> list[tuple[str, list[str]]]:
    """(console script, its --flags) of each command line, continuation lines joined."""
    text = re.sub(r'\\\n\s*', ' ', doc.read_text())
    out = []
    for line in _code(text):
        words = line.split()
        for i, word in enumerate(words):
            demo = word == 'scripts/demo.sh' and i and words[i - 1] == 'bash'
            if word in HELP_MODULES or demo:
                script = 'specprune-sim-demo' if word == 'scripts/demo.sh' else word
                rest = []
                for w in words[i + 1:]:
                    if w in ('|', '&&', ';', '#') or w.startswith('#'):
                        break
                    rest.append(w)
                if word == 'scripts/demo.sh' and '--replay' in rest:
                    script, rest = 'specprune-ros-demo', rest[rest.index('--replay') + 1:]
                flags = [re.split(r'[=\s]', w)[0] for w in rest if w.startswith('--')]
                if script == 'specprune-sim' and rest and not rest[0].startswith('-'):
                    script = f'{script} {rest[0]}'  # a subcommand's flags
                out.append((script, flags))
                break
    return out


@lru_cache(maxsize=None)
def _help(script: str) -> str:
    name, *sub = script.split()
    proc = subprocess.run([sys.executable, '-m', HELP_MODULES[name], *sub, '--help'], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f'{script} --help failed: {proc.stderr[-500:]}'
    return proc.stdout


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.name)
def test_every_path_named_exists(doc: Path) -> None:
    missing = sorted({p for p in _paths(doc) if not (REPO / p).exists()})
    assert not missing, f'{doc.name} names paths that do not exist: {missing}'


@pytest.mark.parametrize('doc', DOCS, ids=lambda p: p.name)
def test_every_console_script_and_flag_exists(doc: Path) -> None:
    named = set(re.findall(r'\bspecprune[-_][a-z_-]+[a-z]\b', ' '.join(_code(doc.read_text()))))
    unknown = sorted(n for n in named if n not in SCRIPTS and n != 'specprune_ros')
    assert not unknown, f'{doc.name} names console scripts setup.py does not have: {unknown}'
    bad = sorted({f'{script} {flag}' for script, flags in _commands(doc) for flag in flags
                  if not re.search(rf'(?<![\w-]){re.escape(flag)}(?![\w-])', _help(script))})
    assert not bad, f'{doc.name} gives flags the command does not take: {bad}'


def test_the_check_catches_a_stale_path_and_flag(tmp_path: Path) -> None:
    doc = tmp_path / 'stale.md'
    doc.write_text('See `specprune_ros/node_config.py`.\n\n```bash\nspecprune-eval --tasks 0 '
                   '--no-such-flag\n```\n')
    assert _paths(doc) == ['specprune_ros/node_config.py']
    assert _commands(doc) == [('specprune-eval', ['--tasks', '--no-such-flag'])]
    assert '--no-such-flag' not in _help('specprune-eval')
